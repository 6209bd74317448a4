package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * ggml's Q6_K block format (GGUF type 14): a super-block of 256 values in 16 sub-blocks of 16, each with a signed
 * 8-bit scale sc_j, all scaled by one fp16 d; 6-bit codes. Value of an element of sub-block j: d·sc_j·(q &minus; 32).
 *
 * <table>
 *   <caption>block_q6_K, 210 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>128</td><td>{@code u8 ql[128]}: low 4 bits. In each 128-element half h (bytes 64h..64h+63):
 *   for l &lt; 32, ql[64h + l] holds element 128h + l (low nibble) and 128h + 64 + l (high nibble), ql[64h + 32 + l]
 *   holds 128h + 32 + l and 128h + 96 + l</td></tr>
 *   <tr><td>128</td><td>64</td><td>{@code u8 qh[64]}: high 2 bits: qh[32h + l] bits 0&ndash;1, 2&ndash;3, 4&ndash;5,
 *   6&ndash;7 belong to elements 128h + l, + 32, + 64, + 96</td></tr>
 *   <tr><td>192</td><td>16</td><td>{@code i8 scales[16]}: sc_j for elements 16j..16j+15</td></tr>
 *   <tr><td>208</td><td>2</td><td>{@code f16 d}</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q6_K_ref}, reproduced byte for byte; see {@link KQuants}): per sub-block,
 * {@code make_qx_quants(16, 32, x, rmse_type = 1)} (weights x&sup2;, 18 trial scales around the signed value of largest
 * |x|) gives a float scale s_j; with S the s_j of largest |s_j| (first on ties): if |S| &lt; 10<sup>&minus;15</sup> the
 * block is all zero bytes; else iscale = &minus;128/S, d = fp16(1/iscale), sc_j = min(127, nearest_int(iscale·s_j)) as
 * int8, and every sub-block with d·sc_j &ne; 0 is re-coded q = clamp(nearest_int(x/(d·sc_j)), &minus;32, 31) + 32;
 * others keep their search codes (an all-zero sub-block keeps code 0, not 32).
 *
 * <p>Scale underflow: when |S|/128 is below half the least fp16 subnormal, d is stored as 0 as ggml does and the
 * block decodes to zeros. Non-finite input is rejected by default ({@link NonFinitePolicy}).
 */
public final class Q6_K {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q6_K;
    /** Elements per super-block. */
    public static final int BLOCK_SIZE = 256;
    /** Bytes per super-block. */
    public static final int BLOCK_BYTES = 210;

    private Q6_K() {
    }

    /** Bytes of a row of n elements; n must be a multiple of 256. */
    public static long rowBytes(long n) {
        return TYPE.rowBytes(n);
    }

    /** Encodes {@code src[srcOff, srcOff+n)} into {@code dst} at byte {@code dstOff}, rejecting non-finite input. */
    public static void quantizeRow(float[] src, int srcOff, MemorySegment dst, long dstOff, int n) {
        quantizeRow(src, srcOff, dst, dstOff, n, NonFinitePolicy.REJECT);
    }

    /**
     * Encodes {@code n} floats (a multiple of 256) into n/256 blocks at byte {@code dstOff} of {@code dst}.
     *
     * @throws IllegalArgumentException for a bad length, a read-only destination, or (under REJECT) a non-finite value
     * @throws IndexOutOfBoundsException when the source range or the destination is too short
     */
    public static void quantizeRow(float[] src, int srcOff, MemorySegment dst, long dstOff, int n, NonFinitePolicy policy) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkSource(TYPE, src, srcOff, n, policy);
        Blocks.checkBytes(TYPE, "destination", dst, dstOff, (long) nb * BLOCK_BYTES);
        Blocks.checkWritable(TYPE, dst);
        int[] q = new int[256];
        float[] scales = new float[16];
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * BLOCK_SIZE;
            long off = dstOff + (long) b * BLOCK_BYTES;
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++) {
                float scale = KQuants.makeQxQuants(16, 32, src, x + 16 * ib, q, 16 * ib);
                scales[ib] = scale;
                float abs = Math.abs(scale);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < KQuants.GROUP_MAX_EPS) {
                dst.asSlice(off, BLOCK_BYTES).fill((byte) 0);
                continue;
            }
            float iscale = -128.f / maxScale;
            float d = KQuants.putF16(dst, off + 208, 1 / iscale);
            for (int ib = 0; ib < 16; ib++) {
                byte sc = (byte) Math.min(127, KQuants.nearestInt(iscale * scales[ib]));
                dst.set(ValueLayout.JAVA_BYTE, off + 192 + ib, sc);
                float dj = d * sc;
                if (dj == 0) {
                    continue; // the search's codes stay
                }
                for (int ii = 0; ii < 16; ii++) {
                    int l = KQuants.nearestInt(src[x + 16 * ib + ii] / dj);
                    q[16 * ib + ii] = Math.max(-32, Math.min(31, l)) + 32;
                }
            }
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int e = 128 * h + l;
                    KQuants.putByte(dst, off + 64 * h + l, (q[e] & 0xF) | ((q[e + 64] & 0xF) << 4));
                    KQuants.putByte(dst, off + 64 * h + 32 + l, (q[e + 32] & 0xF) | ((q[e + 96] & 0xF) << 4));
                    KQuants.putByte(dst, off + 128 + 32 * h + l,
                            (q[e] >> 4) | ((q[e + 32] >> 4) << 2) | ((q[e + 64] >> 4) << 4) | ((q[e + 96] >> 4) << 6));
                }
            }
        }
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /**
     * Decodes {@code n} values (a multiple of 256): element e of a block is (d·sc_{e/16})·(q_e &minus; 32), in that
     * float order as ggml's {@code dequantize_row_q6_K}.
     */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 208);
            int o = dstOff + b * BLOCK_SIZE;
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int ql0 = KQuants.getByte(src, off + 64 * h + l);
                    int ql1 = KQuants.getByte(src, off + 64 * h + 32 + l);
                    int qh = KQuants.getByte(src, off + 128 + 32 * h + l);
                    int e = 128 * h + l;
                    dst[o + e] = d * sc(src, off, e) * (((ql0 & 0xF) | ((qh & 3) << 4)) - 32);
                    dst[o + e + 32] = d * sc(src, off, e + 32) * (((ql1 & 0xF) | (((qh >> 2) & 3) << 4)) - 32);
                    dst[o + e + 64] = d * sc(src, off, e + 64) * (((ql0 >> 4) | (((qh >> 4) & 3) << 4)) - 32);
                    dst[o + e + 96] = d * sc(src, off, e + 96) * (((ql1 >> 4) | (((qh >> 6) & 3) << 4)) - 32);
                }
            }
        }
    }

    private static int sc(MemorySegment src, long off, int e) {
        return src.get(ValueLayout.JAVA_BYTE, off + 192 + e / 16);
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

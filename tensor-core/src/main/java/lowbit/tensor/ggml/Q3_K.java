package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.simd.ScalarKQuantKernels;

/**
 * ggml's Q3_K block format (GGUF type 11): a super-block of 256 values in 16 sub-blocks of 16, each with a 6-bit
 * scale sc_j (stored biased by 32), all scaled by one fp16 d; 3-bit codes. Value: d·(sc_j &minus; 32)·(q &minus; 4).
 *
 * <table>
 *   <caption>block_q3_K, 110 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>32</td><td>{@code u8 hmask[32]}: bit k of hmask[l] is the high bit (worth 4) of element
 *   32k + l</td></tr>
 *   <tr><td>32</td><td>64</td><td>{@code u8 qs[64]}: low 2 bits; in each 128-element half h, bits 2s..2s+1 of
 *   qs[32h + l] belong to element 128h + 32s + l</td></tr>
 *   <tr><td>96</td><td>12</td><td>{@code u8 scales[12]}: sc_j has its low 4 bits in the low nibble of byte j (j &lt; 8)
 *   or the high nibble of byte j&minus;8, and its top 2 bits in bits 2(j/4)..2(j/4)+1 of byte 8 + j mod 4</td></tr>
 *   <tr><td>108</td><td>2</td><td>{@code f16 d}</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q3_K_ref}, reproduced byte for byte; see {@link KQuants}): per sub-block,
 * {@code make_q3_quants(16, 4, x, do_rmse = true)} gives a float scale s_j; with S the s_j of largest |s_j| (first
 * on ties): if S = 0 the scales and d are 0; else iscale = &minus;32/S, sc_j = clamp((int8) nearest_int(iscale·s_j),
 * &minus;32, 31) + 32 and d = fp16(1/iscale); every sub-block with d·(sc_j &minus; 32) &ne; 0 is re-coded
 * q = clamp(nearest_int(x/(d·(sc_j &minus; 32))), &minus;4, 3) + 4, others keep their search codes. Scale underflow
 * stores d = 0 as ggml does (the block decodes to zeros). Non-finite input is rejected by default.
 */
public final class Q3_K {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q3_K;
    /** Elements per super-block. */
    public static final int BLOCK_SIZE = 256;
    /** Bytes per super-block. */
    public static final int BLOCK_BYTES = 110;

    private Q3_K() {
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
        int[] s = new int[12];
        int[] hmask = new int[32];
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * BLOCK_SIZE;
            long off = dstOff + (long) b * BLOCK_BYTES;
            float maxScale = 0;
            float amax = 0;
            for (int j = 0; j < 16; j++) {
                scales[j] = KQuants.makeQ3Quants(16, 4, src, x + 16 * j, q, 16 * j);
                float scale = Math.abs(scales[j]);
                if (scale > amax) {
                    amax = scale;
                    maxScale = scales[j];
                }
            }
            java.util.Arrays.fill(s, 0);
            float d;
            if (maxScale != 0) {
                float iscale = -32.f / maxScale;
                for (int j = 0; j < 16; j++) {
                    int l = (byte) KQuants.nearestInt(iscale * scales[j]); // int8_t l = nearest_int(...)
                    l = Math.max(-32, Math.min(31, l)) + 32;
                    if (j < 8) {
                        s[j] = l & 0xF;
                    } else {
                        s[j - 8] |= (l & 0xF) << 4;
                    }
                    l >>= 4;
                    s[j % 4 + 8] |= l << (2 * (j / 4));
                }
                d = KQuants.putF16(dst, off + 108, 1 / iscale);
            } else {
                d = KQuants.putF16(dst, off + 108, 0f);
            }
            for (int i = 0; i < 12; i++) {
                KQuants.putByte(dst, off + 96 + i, s[i]);
            }
            for (int j = 0; j < 16; j++) {
                float dj = d * (ScalarKQuantKernels.scaleQ3K(dst, off + 96, j) - 32);
                if (dj == 0) {
                    continue; // the search's codes stay
                }
                for (int ii = 0; ii < 16; ii++) {
                    int l = KQuants.nearestInt(src[x + 16 * j + ii] / dj);
                    q[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
                }
            }
            java.util.Arrays.fill(hmask, 0);
            for (int j = 0; j < 256; j++) {
                if (q[j] > 3) {
                    hmask[j % 32] |= 1 << (j / 32);
                    q[j] -= 4;
                }
            }
            for (int l = 0; l < 32; l++) {
                KQuants.putByte(dst, off + l, hmask[l]);
            }
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int e = 128 * h + l;
                    KQuants.putByte(dst, off + 32 + 32 * h + l, q[e] | (q[e + 32] << 2) | (q[e + 64] << 4) | (q[e + 96] << 6));
                }
            }
        }
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /**
     * Decodes {@code n} values (a multiple of 256): element e of a block is (d·(sc_{e/16} &minus; 32))·(q &minus; 4)
     * with the high bit from hmask, as ggml's {@code dequantize_row_q3_K}.
     */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 108);
            int o = dstOff + b * BLOCK_SIZE;
            for (int e = 0; e < 256; e++) {
                int l = e % 32, h = e / 128, sft = 2 * ((e % 128) / 32);
                int q = ((KQuants.getByte(src, off + 32 + 32 * h + l) >> sft) & 3)
                        - (((KQuants.getByte(src, off + l) >> (e / 32)) & 1) != 0 ? 0 : 4);
                dst[o + e] = d * (ScalarKQuantKernels.scaleQ3K(src, off + 96, e / 16) - 32) * q;
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

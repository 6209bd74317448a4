package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.simd.ScalarKQuantKernels;

/**
 * ggml's Q5_K block format (GGUF type 13): as {@link Q4_K} (8 sub-blocks of 32 with 6-bit scales and minimums, fp16
 * d and dmin) with 5-bit codes: value of an element of sub-block j is d·sc_j·q &minus; dmin·m_j, q in 0..31.
 *
 * <table>
 *   <caption>block_q5_K, 176 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>2</td><td>{@code f16 d}</td></tr>
 *   <tr><td>2</td><td>2</td><td>{@code f16 dmin}</td></tr>
 *   <tr><td>4</td><td>12</td><td>{@code u8 scales[12]}: 6-bit sc_j and m_j packed as in Q4_K ({@code get_scale_min_k4})</td></tr>
 *   <tr><td>16</td><td>32</td><td>{@code u8 qh[32]}: bit 2g of qh[l] is the fifth bit of element l of sub-block 2g,
 *   bit 2g+1 that of element l of sub-block 2g+1 (g = 0..3)</td></tr>
 *   <tr><td>48</td><td>128</td><td>{@code u8 qs[128]}: low 4 bits, packed as Q4_K's qs</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q5_K_ref}, reproduced byte for byte): as Q4_K's with
 * {@code make_qkx2_quants(32, 31, x, w, rmin = −0.5, rdelta = 0.1, nstep = 15, use_mad = false)} and the re-coding
 * clamp at 31. Scale underflow and overflow behave as in Q4_K (stored as ggml stores them). Non-finite input is
 * rejected by default ({@link NonFinitePolicy}).
 */
public final class Q5_K {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q5_K;
    /** Elements per super-block. */
    public static final int BLOCK_SIZE = 256;
    /** Bytes per super-block. */
    public static final int BLOCK_BYTES = 176;

    private Q5_K() {
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
        KQuantEncoder enc = new KQuantEncoder(31, -0.5f, 0.1f, 15);
        int[] qh = new int[32];
        for (int b = 0; b < nb; b++) {
            long off = dstOff + (long) b * BLOCK_BYTES;
            int[] q = enc.encodeScalesMins(src, srcOff + b * BLOCK_SIZE, dst, off);
            java.util.Arrays.fill(qh, 0);
            for (int g = 0; g < 4; g++) {
                for (int l = 0; l < 32; l++) {
                    int l1 = q[64 * g + l], l2 = q[64 * g + 32 + l];
                    if (l1 > 15) {
                        l1 -= 16;
                        qh[l] |= 1 << (2 * g);
                    }
                    if (l2 > 15) {
                        l2 -= 16;
                        qh[l] |= 2 << (2 * g);
                    }
                    KQuants.putByte(dst, off + 48 + 32 * g + l, l1 | (l2 << 4));
                }
            }
            for (int l = 0; l < 32; l++) {
                KQuants.putByte(dst, off + 16 + l, qh[l]);
            }
        }
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /**
     * Decodes {@code n} values (a multiple of 256): element 32j + l of a block is (d·sc_j)·q &minus; dmin·m_j as
     * ggml's {@code dequantize_row_q5_K}.
     */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            float min = f16(src, off + 2);
            int o = dstOff + b * BLOCK_SIZE;
            for (int g = 0; g < 4; g++) {
                float d1 = d * ScalarKQuantKernels.scaleK4(src, off + 4, 2 * g);
                float m1 = min * ScalarKQuantKernels.minK4(src, off + 4, 2 * g);
                float d2 = d * ScalarKQuantKernels.scaleK4(src, off + 4, 2 * g + 1);
                float m2 = min * ScalarKQuantKernels.minK4(src, off + 4, 2 * g + 1);
                for (int l = 0; l < 32; l++) {
                    int q = KQuants.getByte(src, off + 48 + 32 * g + l);
                    int h = KQuants.getByte(src, off + 16 + l);
                    dst[o + 64 * g + l] = d1 * ((q & 0xF) + ((h >> (2 * g) & 1) << 4)) - m1;
                    dst[o + 64 * g + 32 + l] = d2 * ((q >> 4) + ((h >> (2 * g + 1) & 1) << 4)) - m2;
                }
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.simd.ScalarKQuantKernels;

/**
 * ggml's Q4_K block format (GGUF type 12): a super-block of 256 values in 8 sub-blocks of 32, each with a 6-bit scale
 * sc_j and a 6-bit minimum m_j, themselves scaled by the fp16 super-block factors d and dmin; 4-bit codes.
 * Value of element i of sub-block j: d·sc_j·q &minus; dmin·m_j.
 *
 * <table>
 *   <caption>block_q4_K, 144 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>2</td><td>{@code f16 d}: scale of the sub-block scales</td></tr>
 *   <tr><td>2</td><td>2</td><td>{@code f16 dmin}: scale of the sub-block minimums</td></tr>
 *   <tr><td>4</td><td>12</td><td>{@code u8 scales[12]}: for j &lt; 4, sc_j = scales[j] &amp; 63 and
 *   m_j = scales[j+4] &amp; 63; for j &ge; 4, sc_j = (scales[j+4] &amp; 15) | (scales[j&minus;4] &gt;&gt; 6) &lt;&lt; 4
 *   and m_j = (scales[j+4] &gt;&gt; 4) | (scales[j] &gt;&gt; 6) &lt;&lt; 4 ({@code get_scale_min_k4})</td></tr>
 *   <tr><td>16</td><td>128</td><td>{@code u8 qs[128]}: in four 32-byte groups g = 0..3, byte 32g + l holds element l of
 *   sub-block 2g in its low nibble and element l of sub-block 2g+1 in its high nibble</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q4_K_ref}, reproduced byte for byte; see {@link KQuants}): per sub-block, weights
 * w_i = av_x + |x_i| with av_x = sqrt(&Sigma;x&sup2;/32), and {@code make_qkx2_quants(32, 15, x, w, rmin = −1,
 * rdelta = 0.1, nstep = 20, use_mad = false)} gives a float scale s_j and minimum m_j &ge; 0. Then with S = max s_j and
 * M = max m_j: sc_j = min(63, nearest_int(63/S·s_j)), m_j likewise with 63/M (0 when S or M is 0);
 * d = fp16(S/63), dmin = fp16(M/63); finally every sub-block with d·sc_j &ne; 0 (fp16 d) is re-coded
 * q = clamp(nearest_int((x + dmin·m_j)/(d·sc_j)), 0, 15), while a sub-block whose d·sc_j is 0 keeps the codes of its
 * search. {@code nearest_int} rounds half to even.
 *
 * <p>Scale underflow: when S/63 is below half the smallest fp16 subnormal (|x| spans less than about 10<sup>&minus;5</sup>)
 * d is stored as 0, exactly as ggml does; such a block decodes to &minus;dmin·m_j (0 when the minimums underflow too).
 * Non-finite input is rejected by default ({@link NonFinitePolicy}).
 */
public final class Q4_K {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q4_K;
    /** Elements per super-block. */
    public static final int BLOCK_SIZE = 256;
    /** Bytes per super-block. */
    public static final int BLOCK_BYTES = 144;

    private Q4_K() {
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
        KQuantEncoder enc = new KQuantEncoder(15, -1f, 0.1f, 20);
        for (int b = 0; b < nb; b++) {
            long off = dstOff + (long) b * BLOCK_BYTES;
            int[] q = enc.encodeScalesMins(src, srcOff + b * BLOCK_SIZE, dst, off);
            for (int g = 0; g < 4; g++) {
                for (int l = 0; l < 32; l++) {
                    KQuants.putByte(dst, off + 16 + 32 * g + l, q[64 * g + l] | (q[64 * g + 32 + l] << 4));
                }
            }
        }
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /**
     * Decodes {@code n} values (a multiple of 256) from the blocks at byte {@code srcOff} of {@code src}:
     * element 32j + l of a block is d·sc_j·q &minus; dmin·m_j, computed as ggml's {@code dequantize_row_q4_K}
     * (float d1 = d·sc_j, m1 = dmin·m_j, then d1·q &minus; m1).
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
                    int q = KQuants.getByte(src, off + 16 + 32 * g + l);
                    dst[o + 64 * g + l] = d1 * (q & 0xF) - m1;
                    dst[o + 64 * g + 32 + l] = d2 * (q >> 4) - m2;
                }
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

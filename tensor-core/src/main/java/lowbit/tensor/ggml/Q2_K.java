package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * ggml's Q2_K block format (GGUF type 10): a super-block of 256 values in 16 sub-blocks of 16, each with a 4-bit
 * scale sc_j and a 4-bit minimum m_j, scaled by the fp16 d and dmin; 2-bit codes. Value: d·sc_j·q &minus; dmin·m_j.
 *
 * <table>
 *   <caption>block_q2_K, 84 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>16</td><td>{@code u8 scales[16]}: sc_j in the low nibble of byte j, m_j in the high nibble</td></tr>
 *   <tr><td>16</td><td>64</td><td>{@code u8 qs[64]}: in each 128-element half h, bits 2s..2s+1 of qs[32h + l] belong
 *   to element 128h + 32s + l</td></tr>
 *   <tr><td>80</td><td>2</td><td>{@code f16 d}</td></tr>
 *   <tr><td>82</td><td>2</td><td>{@code f16 dmin}</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q2_K_ref}, reproduced byte for byte; see {@link KQuants}): per sub-block,
 * {@code make_qkx2_quants(16, 3, x, w = |x|, rmin = −0.5, rdelta = 0.1, nstep = 15, use_mad = true)} gives a scale s_j
 * and minimum m_j; with S = max s_j, M = max m_j: sc_j = nearest_int(15/S·s_j), d = fp16(S/15) (0 when S = 0),
 * m_j = nearest_int(15/M·m_j), dmin = fp16(M/15) (0 when M = 0), both kept modulo 256 as ggml's byte stores do; then
 * every sub-block with d·sc_j &ne; 0 is re-coded q = clamp(nearest_int((x + dmin·m_j)/(d·sc_j)), 0, 3), others keep
 * their search codes. Scale underflow stores 0 as ggml does. Non-finite input is rejected by default.
 */
public final class Q2_K {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q2_K;
    /** Elements per super-block. */
    public static final int BLOCK_SIZE = 256;
    /** Bytes per super-block. */
    public static final int BLOCK_BYTES = 84;

    private Q2_K() {
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
        int[] aux = new int[16];
        float[] weights = new float[16];
        float[] scales = new float[16];
        float[] mins = new float[16];
        int[] sb = new int[16];
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * BLOCK_SIZE;
            long off = dstOff + (long) b * BLOCK_BYTES;
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 16; j++) {
                for (int l = 0; l < 16; l++) {
                    weights[l] = Math.abs(src[x + 16 * j + l]);
                }
                scales[j] = KQuants.makeQkx2Quants(16, 3, src, x + 16 * j, weights, q, 16 * j, mins, j, aux, -0.5f, 0.1f,
                        15, true);
                if (scales[j] > maxScale) {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin) {
                    maxMin = mins[j];
                }
            }
            float d;
            if (maxScale > 0) {
                float iscale = 15.f / maxScale;
                for (int j = 0; j < 16; j++) {
                    sb[j] = KQuants.nearestInt(iscale * scales[j]) & 0xFF;
                }
                d = KQuants.putF16(dst, off + 80, maxScale / 15.f);
            } else {
                java.util.Arrays.fill(sb, 0);
                d = KQuants.putF16(dst, off + 80, 0f);
            }
            float dmin;
            if (maxMin > 0) {
                float iscale = 15.f / maxMin;
                for (int j = 0; j < 16; j++) {
                    sb[j] = (sb[j] | (KQuants.nearestInt(iscale * mins[j]) << 4)) & 0xFF;
                }
                dmin = KQuants.putF16(dst, off + 82, maxMin / 15.f);
            } else {
                dmin = KQuants.putF16(dst, off + 82, 0f);
            }
            for (int j = 0; j < 16; j++) {
                KQuants.putByte(dst, off + j, sb[j]);
                float dj = d * (sb[j] & 0xF);
                if (dj == 0) {
                    continue; // the search's codes stay
                }
                float dm = dmin * (sb[j] >> 4);
                for (int ii = 0; ii < 16; ii++) {
                    int l = KQuants.nearestInt((src[x + 16 * j + ii] + dm) / dj);
                    q[16 * j + ii] = Math.max(0, Math.min(3, l));
                }
            }
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int e = 128 * h + l;
                    KQuants.putByte(dst, off + 16 + 32 * h + l, q[e] | (q[e + 32] << 2) | (q[e + 64] << 4) | (q[e + 96] << 6));
                }
            }
        }
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /**
     * Decodes {@code n} values (a multiple of 256): element e of a block is (d·sc_{e/16})·q &minus; dmin·m_{e/16} as
     * ggml's {@code dequantize_row_q2_K}.
     */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 80);
            float min = f16(src, off + 82);
            int o = dstOff + b * BLOCK_SIZE;
            for (int e = 0; e < 256; e++) {
                int sc = KQuants.getByte(src, off + e / 16);
                int q = (KQuants.getByte(src, off + 16 + 32 * (e / 128) + e % 32) >> (2 * ((e % 128) / 32))) & 3;
                dst[o + e] = (d * (sc & 0xF)) * q - min * (sc >> 4);
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

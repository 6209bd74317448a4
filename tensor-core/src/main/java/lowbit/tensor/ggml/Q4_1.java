package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.F16_LE;
import static lowbit.tensor.simd.ScalarGgmlKernels.cCastToInt8;
import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * ggml's Q4_1 block format (GGUF type 3): 32 values, fp16 scale and minimum, 4-bit codes; value = q·d + m.
 *
 * <table>
 *   <caption>block_q4_1, 20 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>2</td><td>{@code f16 d}: scale</td></tr>
 *   <tr><td>2</td><td>2</td><td>{@code f16 m}: minimum</td></tr>
 *   <tr><td>4</td><td>16</td><td>{@code u8 qs[16]}: element j in the low nibble of qs[j], element j+16 in the high
 *   nibble</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q4_1_ref}, reproduced byte for byte): min, max of the block (starting from
 * &plusmn;FLT_MAX); d = (max &minus; min)/15; id = 1/d (0 when d = 0) from the float d; q = min(15,
 * (int8)((x &minus; min)·id + 0.5)); stores fp16(d) and fp16(min). Reconstruction error &le; d/2 plus the fp16
 * rounding of m and d (m is rounded to fp16 independently of the codes, so the error is not centred).
 */
public final class Q4_1 {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q4_1;
    /** Elements per block. */
    public static final int BLOCK_SIZE = 32;
    /** Bytes per block. */
    public static final int BLOCK_BYTES = 20;

    private Q4_1() {
    }

    /** Bytes of a row of n elements; n must be a multiple of 32. */
    public static long rowBytes(long n) {
        return TYPE.rowBytes(n);
    }

    /** Encodes {@code src[srcOff, srcOff+n)} into {@code dst} at byte {@code dstOff}, rejecting non-finite input. */
    public static void quantizeRow(float[] src, int srcOff, MemorySegment dst, long dstOff, int n) {
        quantizeRow(src, srcOff, dst, dstOff, n, NonFinitePolicy.REJECT);
    }

    /**
     * Encodes {@code n} floats (a multiple of 32) into n/32 blocks at byte {@code dstOff} of {@code dst}.
     *
     * @throws IllegalArgumentException for a bad length, a read-only destination, or (under REJECT) a non-finite value
     * @throws IndexOutOfBoundsException when the source range or the destination is too short
     */
    public static void quantizeRow(float[] src, int srcOff, MemorySegment dst, long dstOff, int n, NonFinitePolicy policy) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkSource(TYPE, src, srcOff, n, policy);
        Blocks.checkBytes(TYPE, "destination", dst, dstOff, (long) nb * BLOCK_BYTES);
        Blocks.checkWritable(TYPE, dst);
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * BLOCK_SIZE;
            long off = dstOff + (long) b * BLOCK_BYTES;
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < 32; j++) {
                float v = src[x + j];
                if (v < min) {
                    min = v;
                }
                if (v > max) {
                    max = v;
                }
            }
            float d = (max - min) / 15f;
            float id = d != 0f ? 1f / d : 0f;
            dst.set(F16_LE, off, Float.floatToFloat16(d));
            dst.set(F16_LE, off + 2, Float.floatToFloat16(min));
            for (int j = 0; j < 16; j++) {
                int q0 = Math.min(15, cCastToInt8((src[x + j] - min) * id + 0.5f)) & 0xFF;
                int q1 = Math.min(15, cCastToInt8((src[x + 16 + j] - min) * id + 0.5f)) & 0xFF;
                dst.set(ValueLayout.JAVA_BYTE, off + 4 + j, (byte) (q0 | (q1 << 4)));
            }
        }
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /** Decodes {@code n} values (a multiple of 32): {@code dst[dstOff + 32b + j] = q_j·d_b + m_b}. */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            float m = f16(src, off + 2);
            int o = dstOff + b * BLOCK_SIZE;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 4 + j);
                dst[o + j] = (q & 0xF) * d + m;
                dst[o + 16 + j] = ((q >> 4) & 0xF) * d + m;
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.F16_LE;
import static lowbit.tensor.simd.ScalarGgmlKernels.I32_LE;
import static lowbit.tensor.simd.ScalarGgmlKernels.cCastToInt8;
import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * ggml's Q5_0 block format (GGUF type 6): 32 values, one fp16 scale, 5-bit codes; value = (q &minus; 16)·d.
 *
 * <table>
 *   <caption>block_q5_0, 22 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>2</td><td>{@code f16 d}: scale</td></tr>
 *   <tr><td>2</td><td>4</td><td>{@code u8 qh[4]}: a little-endian u32 whose bit j is bit 4 of element j</td></tr>
 *   <tr><td>6</td><td>16</td><td>{@code u8 qs[16]}: low 4 bits of element j in the low nibble of qs[j], of element
 *   j+16 in the high nibble</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q5_0_ref}, reproduced byte for byte): as {@link Q4_0} with d = max/&minus;16 and
 * q = min(31, (int8)(x·id + 16.5)). Reconstruction error &le; |d|/2 up to rounding (|d| at the clamped end).
 */
public final class Q5_0 {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q5_0;
    /** Elements per block. */
    public static final int BLOCK_SIZE = 32;
    /** Bytes per block. */
    public static final int BLOCK_BYTES = 22;

    private Q5_0() {
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
            float amax = 0f;
            float max = 0f;
            for (int j = 0; j < 32; j++) {
                float v = src[x + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -16f;
            float id = d != 0f ? 1f / d : 0f;
            dst.set(F16_LE, off, Float.floatToFloat16(d));
            int qh = 0;
            for (int j = 0; j < 16; j++) {
                int q0 = Math.min(31, cCastToInt8(src[x + j] * id + 16.5f)) & 0xFF;
                int q1 = Math.min(31, cCastToInt8(src[x + 16 + j] * id + 16.5f)) & 0xFF;
                dst.set(ValueLayout.JAVA_BYTE, off + 6 + j, (byte) ((q0 & 0xF) | ((q1 & 0xF) << 4)));
                qh |= ((q0 & 0x10) >>> 4) << j;
                qh |= ((q1 & 0x10) >>> 4) << (j + 16);
            }
            dst.set(I32_LE, off + 2, qh);
        }
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /** Decodes {@code n} values (a multiple of 32): {@code dst[dstOff + 32b + j] = (q_j − 16)·d_b}. */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            int qh = src.get(I32_LE, off + 2);
            int o = dstOff + b * BLOCK_SIZE;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 6 + j);
                dst[o + j] = (((q & 0xF) | (((qh >>> j) & 1) << 4)) - 16) * d;
                dst[o + 16 + j] = ((((q >> 4) & 0xF) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

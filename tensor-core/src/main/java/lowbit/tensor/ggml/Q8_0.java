package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * ggml's Q8_0 block format (GGUF type 8): 32 values, one fp16 scale, signed 8-bit codes; value = q·d. Also the
 * activation format of the integer dot products with Q4_0, Q5_0 and Q8_0 weights.
 *
 * <table>
 *   <caption>block_q8_0, 34 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>2</td><td>{@code f16 d}: scale</td></tr>
 *   <tr><td>2</td><td>32</td><td>{@code i8 qs[32]}: element j in qs[j]</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q8_0_ref}, reproduced byte for byte): amax = max |x|; d = amax/127;
 * id = 1/d (0 when d = 0) from the float d; q = roundf(x·id), C's round half away from zero; d is stored rounded to
 * fp16. Codes lie in [&minus;127, 127]. Reconstruction error |x &minus; q·d| &le; d/2 up to float/fp16 rounding.
 * (ggml's AVX quantizer for activations rounds halves to even instead; lowbit always follows the reference.)
 */
public final class Q8_0 {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q8_0;
    /** Elements per block. */
    public static final int BLOCK_SIZE = 32;
    /** Bytes per block. */
    public static final int BLOCK_BYTES = 34;

    private static final GgmlKernels K = VectorizationProvider.get().ggml();

    private Q8_0() {
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
        K.quantizeQ8_0(src, srcOff, dst, dstOff, nb);
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /** Decodes {@code n} values (a multiple of 32): {@code dst[dstOff + 32b + j] = q_j·d_b}. */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            int o = dstOff + b * BLOCK_SIZE;
            for (int j = 0; j < 32; j++) {
                dst[o + j] = src.get(ValueLayout.JAVA_BYTE, off + 2 + j) * d;
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

package lowbit.tensor.ggml;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * ggml's Q4_0 block format (GGUF type 2): 32 values, one fp16 scale, 4-bit codes; value = (q &minus; 8)·d.
 *
 * <table>
 *   <caption>block_q4_0, 18 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>2</td><td>{@code f16 d}: scale</td></tr>
 *   <tr><td>2</td><td>16</td><td>{@code u8 qs[16]}: element j (0..15) in the low nibble of qs[j], element j+16 in
 *   the high nibble</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q4_0_ref}, reproduced byte for byte): max = the signed value of largest |x| in
 * the block (the first one on ties; 0 if all are zero); d = max/&minus;8 in float; id = 1/d (0 when d = 0), from the
 * float d before it is rounded to fp16 (round-to-nearest-even); q = min(15, (int8)(x·id + 8.5)) with C's
 * truncating cast. So the largest-magnitude value maps to code 0 exactly, and an all-zero block stores d = &minus;0.
 * Reconstruction error: |x &minus; (q &minus; 8)·d| &le; |d|/2 up to float/fp16 rounding, except that values at
 * +8·|d| (the opposite sign of max) clamp to code 15 with an error of |d|.
 */
public final class Q4_0 {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q4_0;
    /** Elements per block. */
    public static final int BLOCK_SIZE = 32;
    /** Bytes per block. */
    public static final int BLOCK_BYTES = 18;

    private static final GgmlKernels K = VectorizationProvider.get().ggml();

    private Q4_0() {
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
        K.quantizeQ4_0(src, srcOff, dst, dstOff, nb);
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /**
     * Decodes {@code n} values (a multiple of 32) from the blocks at byte {@code srcOff} of {@code src}:
     * {@code dst[dstOff + 32b + j] = (q_j − 8)·d_b}.
     */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            int o = dstOff + b * BLOCK_SIZE;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 2 + j);
                dst[o + j] = ((q & 0xF) - 8) * d;
                dst[o + 16 + j] = (((q >> 4) & 0xF) - 8) * d;
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

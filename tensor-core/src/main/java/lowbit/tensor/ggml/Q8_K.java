package lowbit.tensor.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.ScalarKQuantKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * ggml's Q8_K block format (GGUF type 15): 256 values, one float32 scale, signed 8-bit codes and the sums of each 16
 * codes; value = q·d. It is the activation format of the k-quant integer dot products ({@link GgmlOps}); ggml never
 * stores weights in it.
 *
 * <table>
 *   <caption>block_q8_K, 292 bytes, little-endian</caption>
 *   <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 *   <tr><td>0</td><td>4</td><td>{@code f32 d}: scale</td></tr>
 *   <tr><td>4</td><td>256</td><td>{@code i8 qs[256]}: element j in qs[j]</td></tr>
 *   <tr><td>260</td><td>32</td><td>{@code i16 bsums[16]}: bsums[j] = &Sigma; qs[16j .. 16j+15]</td></tr>
 * </table>
 *
 * <p>Encoding ({@code quantize_row_q8_K_ref}, reproduced byte for byte): max = the signed value of largest |x| (the
 * first on ties); iscale = &minus;127/max; q = min(127, nearest_int(iscale·x)) (round half to even); d = 1/iscale, kept
 * in float32. So max maps to &minus;127 and codes lie in [&minus;127, 127]. An all-zero block stores d = 0 and zero
 * codes and sums (ggml leaves its sums unwritten). Reconstruction error |x &minus; q·d| &le; |d|/2 up to float
 * rounding. Non-finite input is rejected by default ({@link NonFinitePolicy}).
 */
public final class Q8_K {
    /** The GGUF type. */
    public static final GgmlType TYPE = GgmlType.Q8_K;
    /** Elements per block. */
    public static final int BLOCK_SIZE = 256;
    /** Bytes per block. */
    public static final int BLOCK_BYTES = 292;

    private static final KQuantKernels K = VectorizationProvider.get().kquants();

    private Q8_K() {
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
        K.quantizeQ8_K(src, srcOff, dst, dstOff, nb);
    }

    /** {@code byte[]} form of {@link #quantizeRow(float[], int, MemorySegment, long, int)}. */
    public static void quantizeRow(float[] src, int srcOff, byte[] dst, int dstOff, int n) {
        quantizeRow(src, srcOff, MemorySegment.ofArray(Objects.requireNonNull(dst, "dst")), dstOff, n);
    }

    /** Decodes {@code n} values (a multiple of 256): {@code dst[dstOff + 256b + j] = d_b·q_j}. */
    public static void dequantizeRow(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int nb = Blocks.blocks(TYPE, n);
        Blocks.checkBytes(TYPE, "source", src, srcOff, (long) nb * BLOCK_BYTES);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int b = 0; b < nb; b++) {
            long off = srcOff + (long) b * BLOCK_BYTES;
            float d = src.get(ScalarKQuantKernels.F32_LE, off);
            int o = dstOff + b * BLOCK_SIZE;
            for (int j = 0; j < 256; j++) {
                dst[o + j] = d * src.get(ValueLayout.JAVA_BYTE, off + 4 + j);
            }
        }
    }

    /** {@code byte[]} form of {@link #dequantizeRow(MemorySegment, long, float[], int, int)}. */
    public static void dequantizeRow(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        dequantizeRow(MemorySegment.ofArray(Objects.requireNonNull(src, "src")), srcOff, dst, dstOff, n);
    }
}

package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Kernels for ggml's 32-element block formats (see {@code lowbit.tensor.ggml}): the reference encoders whose speed
 * matters (Q4_0, Q8_0, Q8_1) and the integer dot products that llama.cpp pairs with each weight type (the activation
 * row quantized to Q8_0, or to Q8_1 for Q4_1/Q5_1). Encoded data lives in {@link MemorySegment}s (heap or native);
 * offsets into them are in bytes, offsets into float arrays in elements, lengths in blocks of 32. Implementations
 * trust their arguments: {@code lowbit.tensor.ggml.GgmlOps} and the format classes validate.
 *
 * <p><b>Encoders</b> must be byte-identical to {@link ScalarGgmlKernels} (which follows ggml's
 * {@code quantize_row_*_ref}) for every input, finite or not.
 *
 * <p><b>Dot products</b> compute, per block b, the exact integer sum S_b of the code products, then
 * &Sigma;_b c_b&middot;S_b (+ m_b&middot;s_b for the types with a minimum) in float, with c_b = d_w&middot;d_a from
 * the fp16 scales. The scalar twin adds blocks left to right in ggml's {@code ggml_vec_dot_*_generic} order; a vector
 * implementation may, like ggml's own SIMD code, multiply per lane partial sums of a block by c_b and add them in
 * another order, so results agree within the float summation error bound, not bitwise.
 */
public interface GgmlKernels {
    /** Encodes {@code nBlocks}·32 floats from {@code x[xOff]} into Q4_0 blocks (18 bytes each) at {@code dst[dstOff]}. */
    void quantizeQ4_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks);

    /** Encodes into Q8_0 blocks (34 bytes each). */
    void quantizeQ8_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks);

    /** Encodes into Q8_1 blocks (36 bytes each: d, s = fp16(d·&Sigma;q), 32 codes). */
    void quantizeQ8_1(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks);

    /** &Sigma; over {@code nBlocks} blocks of a Q4_0 row at {@code w[wOff]} times a Q8_0 row at {@code a[aOff]}. */
    float dotQ4_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q4_1 row times Q8_1 row. */
    float dotQ4_1Q8_1(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q5_0 row times Q8_0 row. */
    float dotQ5_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q5_1 row times Q8_1 row. */
    float dotQ5_1Q8_1(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q8_0 row times Q8_0 row. */
    float dotQ8_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /**
     * {@code y[yOff + r] = dotQ4_0Q8_0(w, wOff + r·rowStride, a, aOff, nBlocks)} for r &lt; rows, with the same bits
     * as the one-row dot (an implementation may share activation loads between rows).
     */
    default void dotRowsQ4_0Q8_0(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = dotQ4_0Q8_0(w, wOff + r * rowStride, a, aOff, nBlocks);
        }
    }

    /** As {@link #dotRowsQ4_0Q8_0} for Q8_0 weights. */
    default void dotRowsQ8_0Q8_0(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = dotQ8_0Q8_0(w, wOff + r * rowStride, a, aOff, nBlocks);
        }
    }
}

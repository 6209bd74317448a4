package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Kernels for ggml's k-quant super-block formats (256 elements; see {@code lowbit.tensor.ggml.Q4_K} etc.): the Q8_K
 * activation encoder and the integer dot products of Q2_K..Q6_K weight rows with a Q8_K activation row, the path
 * llama.cpp's CPU backend uses for k-quant weights. Offsets into segments are in bytes, into float arrays in
 * elements, lengths in super-blocks of 256. Implementations trust their arguments: {@code lowbit.tensor.ggml.GgmlOps}
 * and the format classes validate.
 *
 * <p><b>Q8_K</b> (ggml's {@code block_q8_K}, 292 bytes): {@code f32 d; i8 qs[256]; i16 bsums[16]} with bsums[j] the
 * sum of qs[16j, 16j+16). The encoder must be byte-identical to {@link ScalarKQuantKernels#quantizeBlockQ8_K}
 * ({@code quantize_row_q8_K_ref}) for every input.
 *
 * <p><b>Dot products</b> compute per super-block the exact integer sums of ggml's {@code ggml_vec_dot_*_q8_K_generic}
 * (&Sigma;_j sc_j&middot;&Sigma;_l q_l&middot;a_l over sub-blocks j, and for Q2_K/Q4_K/Q5_K the minimum term
 * &Sigma;_j m_j&middot;bsum_j) and combine them in float with d = d_w&middot;d_a and dmin = dmin_w&middot;d_a as ggml
 * does. The scalar twin reproduces the generic C function's float operations in order (its result has the same bits
 * as ggml's generic code); a vector implementation adds the same exact integer sums in another order (as ggml's own
 * SIMD code does), so it agrees within the float summation error bound, not bitwise.
 */
public interface KQuantKernels {
    /** Encodes {@code nBlocks}·256 floats from {@code x[xOff]} into Q8_K blocks (292 bytes each) at {@code dst[dstOff]}. */
    void quantizeQ8_K(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks);

    /** &Sigma; over {@code nBlocks} super-blocks of a Q2_K row (84 bytes each) at {@code w[wOff]} times a Q8_K row. */
    float dotQ2_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q3_K row (110 bytes per block) times Q8_K row. */
    float dotQ3_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q4_K row (144 bytes per block) times Q8_K row. */
    float dotQ4_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q5_K row (176 bytes per block) times Q8_K row. */
    float dotQ5_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q6_K row (210 bytes per block) times Q8_K row. */
    float dotQ6_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /**
     * {@code y[yOff + r] = dotQ4_KQ8_K(w, wOff + r·rowStride, a, aOff, nBlocks)} for r &lt; rows, with the same bits
     * as the one-row dot (an implementation may share activation loads between rows).
     */
    default void dotRowsQ4_KQ8_K(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = dotQ4_KQ8_K(w, wOff + r * rowStride, a, aOff, nBlocks);
        }
    }

    /**
     * GEMV over Q4_K rows in {@code lowbit.tensor.ggml.KQuantInterleaved}'s 16-row tiles: {@code tiles} tiles of
     * {@code nBlocks} tile blocks (2304 bytes each) from {@code w[wOff]} times the Q8_K row at {@code a[aOff]}; writes
     * {@code y[yOff + i]} for i &lt; {@code rowCount} (&le; 16·tiles; padding rows of the last tile are not written).
     * Per row and block the exact integer sums S = &Sigma;_j sc_j·&Sigma; q·a and M = &Sigma;_j m_j·bsum-pair_j, then
     * acc = fma((float) S, d·d_a, acc) and macc = fma((float) M, dmin·d_a, macc) in block order, y = acc &minus; macc:
     * every implementation gives the same bits.
     */
    void gemvQ4_Kx16(MemorySegment w, long wOff, int tiles, MemorySegment a, long aOff, int nBlocks, float[] y,
            int yOff, int rowCount);

    /** As {@link #dotRowsQ4_KQ8_K} for Q6_K weights. */
    default void dotRowsQ6_KQ8_K(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = dotQ6_KQ8_K(w, wOff + r * rowStride, a, aOff, nBlocks);
        }
    }
}

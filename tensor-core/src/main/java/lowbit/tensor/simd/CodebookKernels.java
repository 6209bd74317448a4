package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Kernels of the 4-bit codebook layouts (bitsandbytes' NF4 and FP4, {@code lowbit.tensor.layout.Codebook4Matrix}):
 * Ŵ[e] = table[q_e]·absmax[e / blockSize] over the row-major element index e = r·cols + c.
 *
 * <p><b>Codes</b> (bitsandbytes' packing): element e is a nibble of byte {@code e / 2} of {@code codes}, the
 * <em>high</em> nibble for even e and the low nibble for odd e. Blocks run over the flat index, so when cols is not a
 * multiple of the block size a block continues into the next row. {@code absmax[b − blockOff]} is the scale of block
 * b; {@code table} has 16 entries.
 *
 * <p><b>Dequantize</b> writes {@code fl(table[q]·absmax)}: every implementation gives the same bits. <b>GEMV</b>
 * computes, per row, Σ_b absmax_b·Σ_{e ∈ b ∩ row} table[q_e]·x[c_e] in an implementation-defined but fixed order (a
 * row's bits never depend on the row range of the call), so implementations agree within the float summation bound
 * γ_m·Σ_c |Ŵ[r, c]·x[c]|, m = cols + cols/blockSize + 3. Implementations trust their arguments (the layouts validate);
 * pass native segments (see {@link AffineKernels}).
 */
public interface CodebookKernels {
    /** {@code dst[dstOff + i] = Ŵ[first + i]} for i &lt; count (flat element indices). */
    void dequantize(MemorySegment codes, float[] table, int blockSize, float[] absmax, long blockOff, long first,
            int count, float[] dst, int dstOff);

    /** {@code y[yOff + r] = Σ_c Ŵ[r·cols + c]·x[xOff + c]} for r in [rowFrom, rowTo). */
    void gemv(MemorySegment codes, float[] table, int cols, int blockSize, float[] absmax, long blockOff, float[] x,
            int xOff, int rowFrom, int rowTo, float[] y, int yOff);

    /**
     * Whether {@link #gemvPrepared} applies: blocks within rows (cols a multiple of the block size) made of whole
     * chunks of {@value AffineKernels#NIBBLE_CHUNK} elements.
     */
    static boolean preparedShape(int cols, int blockSize) {
        return cols > 0 && blockSize > 0 && blockSize % AffineKernels.NIBBLE_CHUNK == 0 && cols % blockSize == 0;
    }

    /**
     * Whether a layout should prepare x for {@link #gemvPrepared} (it must still accept any {@link #preparedShape}):
     * by default for every such shape; an implementation for which the prepared kernel is no faster than {@link #gemv}
     * (the Vector API one at 128 bits, where it puts x back in column order) says no.
     */
    default boolean prefersPrepared(int cols, int blockSize) {
        return preparedShape(cols, blockSize);
    }

    /**
     * {@code y[yOff + r] = Σ_c Ŵ[r·cols + c]·x[c]} for r in [rowFrom, rowTo) ({@link #preparedShape} only), x given
     * as a nibble input {@code xp[xpOff ..]} of {@link AffineKernels#prepareNibbleInput} (only its first cols floats
     * are read: x in chunks of 32 as 16 even then 16 odd elements), in an implementation-defined fixed order within
     * the bound of {@link #gemv} (the vector kernels and the scalar twin add the products of the dequantized weights
     * fl(table[q]·absmax) with x, within γ_(cols+1)·Σ_c |Ŵ·x|).
     */
    void gemvPrepared(MemorySegment codes, float[] table, int cols, int blockSize, float[] absmax, long blockOff,
            float[] xp, int xpOff, int rowFrom, int rowTo, float[] y, int yOff);
}

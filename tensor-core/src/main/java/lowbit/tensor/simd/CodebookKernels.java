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
}

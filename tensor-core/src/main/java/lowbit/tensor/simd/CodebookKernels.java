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

    // ---- 16-row tiles (lowbit.tensor.layout.Codebook4Tiles) ----

    /** Rows per tile of {@link #gemvTiles}. */
    int TILE_ROWS = 16;
    /** Bytes per tile and 8-column chunk: 16 rows × 8 codes of 4 bits. */
    int TILE_CHUNK_BYTES = 64;

    /**
     * Byte offset of W[r, c] in a tiled matrix of {@code cols} columns (see {@link #gemvTiles}): tile r / 16 starts at
     * byte (r / 16)·cols·8, its 8-column chunk c / 8 at 64·(c / 8) within it, and row r % 16's 32-bit word of the
     * chunk at 4·(r % 16) within that; column c's code is the nibble at bits [4k, 4k + 4) of that little-endian word,
     * k = c % 8, so it lies in byte k / 2 of the word, in the low nibble for even k.
     */
    static long tileByte(int cols, int r, int c) {
        return (long) (r / TILE_ROWS) * cols * 8 + (long) TILE_CHUNK_BYTES * (c / 8) + 4 * (r % TILE_ROWS)
                + (c % 8) / 2;
    }

    /** Shift of column c's nibble within its byte {@link #tileByte}: 0 for even c % 8, 4 for odd. */
    static int tileNibbleShift(int c) {
        return 4 * (c & 1);
    }

    /**
     * {@code y[yOff + r − 16·tileFrom] = Σ_c Ŵ[r, c]·x[xOff + c]} for the rows r of tiles [tileFrom, tileTo) below
     * {@code rows}, over a tiled matrix (layout of {@link #tileByte}, codes in {@code tiles} from byte 0; cols a
     * multiple of blockSize, blockSize a multiple of 8) with Ŵ[r, c] = table[q]·absmax[(r / 16·(cols / blockSize) +
     * c / blockSize)·16 + r % 16]. The float order is fixed, so every implementation gives the same bits: per row and
     * block, the products table[q_c]·x_c of the block's even columns are accumulated left to right into e, those of
     * the odd ones into o (each starting from 0); then E = absmax·e + E and O = absmax·o + O over the blocks left to
     * right (from 0), and the row's result is E + O. Each "a·b + s" is one fused multiply-add when {@code fma},
     * otherwise a rounded product then a rounded sum; this is within γ_m·Σ_c |Ŵ[r, c]·x_c| of the exact value,
     * m = blockSize/2 + cols/blockSize + 1.
     */
    void gemvTiles(MemorySegment tiles, float[] table, int cols, int blockSize, float[] absmax, int tileFrom,
            int tileTo, int rows, float[] x, int xOff, float[] y, int yOff, boolean fma);

    /** Whether {@link #gemvTiles} runs vector code here (the scalar twin otherwise). */
    default boolean tilesVectorized() {
        return false;
    }
}

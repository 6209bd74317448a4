package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Kernels of the sparse weight layouts: N:M compressed rows ({@code lowbit.tensor.layout.NmSparseMatrix}, and its
 * quantized twin {@code NmSparseAffine}) and the column-subset product of activation sparsity (WINA).
 *
 * <p><b>N:M rows.</b> A row of {@code cols} weights is cut into groups of M consecutive columns, of which N are kept;
 * a row holds {@code kept = cols/M·N} values, group g's values at positions [g·N, g·N + N) in ascending column order.
 * Value k of a row sits in column {@code (k / N)·M + i_k}, where the in-group index i_k in [0, M) is an unsigned
 * {@code idxBits}-bit code at bit {@code k·idxBits} of the row's index stream ({@link lowbit.tensor.PackedInts} order:
 * bit j is bit {@code j mod 8} of byte {@code j / 8}); row r's stream starts at byte {@code idxOff + r·idxStride} of
 * {@code idx}. Indices within a group are strictly increasing (the layouts validate this; kernels trust it).
 *
 * <p><b>Float values</b> ({@link #gemvNm}): row r's kept values are {@code vals[valOff + r·kept + k]}; the array must
 * extend at least {@value #VALUE_PADDING} floats past the last row's values (vector kernels load whole vectors that
 * start inside the row). <b>Quantized values</b> ({@link #gemvNmAffine}): value k of row r is
 * {@code s·(q_k − z)} with q_k the unsigned {@code bits}-bit code k of row r's code stream (byte
 * {@code codeOff + r·codeStride}, PackedInts order), and (s, z) the scale and zero point of the group of
 * {@code group} original columns that holds the value's column: {@code scales[scaleOff + r·scaleStride + c/group]},
 * {@code zeros[...] & 0xFF} or the constant {@code zero} when {@code zeros} is null.
 *
 * <p><b>Column subset</b> ({@link #gemvColumns}): W is given transposed, {@code wt[c·ldw + r] = W[r, c]}, and only the
 * listed columns contribute: {@code y[yOff + r] = Σ_j x[xOff + cols[j]]·W[r, cols[j]]} in list order, for r in
 * [rowFrom, rowTo).
 *
 * <p>Sums are in float in an implementation-defined order that depends only on the shape (never on the row range or
 * thread), so implementations agree within the summation bound γ_m·Σ|w·x| (m = kept values plus groups plus 3), not
 * bitwise. Implementations trust their arguments.
 */
public interface SparseKernels {
    /** Floats that a values array must hold past the last row's kept values. */
    int VALUE_PADDING = 16;

    /**
     * {@code y[yOff + r] = Σ_k vals[valOff + r·kept + k]·x[xOff + col(r, k)]} for r in [0, rows).
     */
    void gemvNm(int n, int m, int idxBits, int cols, float[] vals, int valOff, MemorySegment idx, long idxOff,
            long idxStride, float[] x, int xOff, float[] y, int yOff, int rows);

    /**
     * {@code y[yOff + r] = Σ_groups s·Σ_{k ∈ group} (q_k − z)·x[xOff + col(r, k)]} for r in [0, rows); groups of
     * {@code group} original columns (a multiple of M dividing cols).
     */
    void gemvNmAffine(int n, int m, int idxBits, int cols, MemorySegment codes, long codeOff, long codeStride,
            int bits, int group, float[] scales, int scaleOff, int scaleStride, byte[] zeros, int zero,
            MemorySegment idx, long idxOff, long idxStride, float[] x, int xOff, float[] y, int yOff, int rows);

    /**
     * x[xOff, xOff + cols) in the form this provider's 2:4 kernels (n = 2, m = 4, 2-bit indices) read it, for the
     * {@code xs} overloads of {@link #gemvNm} and {@link #gemvNmAffine}; {@code null} when they read x as it is (the
     * default). A layout builds it once per product and hands it to every row range: it costs about as much as one
     * pass over x, which a few rows of work would not pay back.
     */
    default float[] prepareTwoFour(float[] x, int xOff, int cols) {
        return null;
    }

    /**
     * {@link #gemvNm} with {@code xs} = {@link #prepareTwoFour}(x, xOff, cols) of this provider (null is allowed:
     * the kernel then prepares x itself, or reads it directly). Same result, bit for bit.
     */
    default void gemvNm(int n, int m, int idxBits, int cols, float[] vals, int valOff, MemorySegment idx, long idxOff,
            long idxStride, float[] x, int xOff, float[] xs, float[] y, int yOff, int rows) {
        gemvNm(n, m, idxBits, cols, vals, valOff, idx, idxOff, idxStride, x, xOff, y, yOff, rows);
    }

    /** {@link #gemvNmAffine} with {@code xs} as in {@link #gemvNm(int, int, int, int, float[], int, MemorySegment,
     * long, long, float[], int, float[], float[], int, int) gemvNm}. Same result, bit for bit. */
    default void gemvNmAffine(int n, int m, int idxBits, int cols, MemorySegment codes, long codeOff, long codeStride,
            int bits, int group, float[] scales, int scaleOff, int scaleStride, byte[] zeros, int zero,
            MemorySegment idx, long idxOff, long idxStride, float[] x, int xOff, float[] xs, float[] y, int yOff,
            int rows) {
        gemvNmAffine(n, m, idxBits, cols, codes, codeOff, codeStride, bits, group, scales, scaleOff, scaleStride, zeros,
                zero, idx, idxOff, idxStride, x, xOff, y, yOff, rows);
    }

    // ---- int4 + 2:4 in 16-row tiles with an int8 activation (lowbit.tensor.layout.NmSparseInt4Tiles) ----

    /** Code bytes of one 32-column block of a 16-row int4 + 2:4 tile: 4 chunks of 32 bytes. */
    int NM24_TILE_CODE_BYTES = 128;
    /** Index words (longs) of one 32-column block of a tile: one per group of 4 columns. */
    int NM24_TILE_INDEX_WORDS = 8;

    /**
     * The lane (0..31) of kept value {@code kb} (0..15, in block order) of tile row {@code r} (0..15) in its group's
     * code chunk and index word ({@link #gemvNm24Int4Tiles}): row r at position kb mod 2.
     */
    static int nm24Lane(int r, int kb) {
        return 16 * (kb & 1) + r;
    }

    /** The byte (0..127) of a block's codes that holds kept value {@code kb} of {@code lane}: chunk kb/4, byte lane. */
    static int nm24CodeByte(int kb, int lane) {
        return 32 * (kb >> 2) + lane;
    }

    /** Kept value {@code kb}'s code in its code byte {@code v}: the low nibble for an even group kb/2, else the high. */
    static int nm24Code(int v, int kb) {
        return ((kb & 2) == 0 ? v : v >> 4) & 0xF;
    }

    /** The bit of a group's index word where {@code lane}'s 2-bit in-group index starts. */
    static int nm24IndexBit(int lane) {
        return 16 * (lane & 3) + 2 * (lane >> 2);
    }

    /**
     * {@code y = Ŵ·x̂} over 16-row int4 + 2:4 tiles ({@code lowbit.tensor.layout.NmSparseInt4Tiles}), x̂ the input
     * quantized to Q8_0: block b (32 columns) has int8 codes a and scale {@code d[dOff + b]}; {@code act[actOff + j]}
     * holds the four codes of columns 4j..4j+3 as 16-bit lanes (column 4j + i in bits [16i, 16i + 16)).
     *
     * <p><b>Lanes.</b> In block b of tile t a row keeps 16 values, two per group G of 4 columns (kept value 2G + p,
     * p = 0, 1, at column 32b + 4G + i). Lane l (0..31) of a chunk or a word stands for row {@code l & 15} and
     * position {@code p = l >> 4}. Code chunk h (h = 0..3, at byte {@code codeOff + (t·nBlocks + b)·128 + 32h}) byte
     * l holds lane l's code of group 2h in its low nibble and of group 2h + 1 in its high nibble (codes 0..15
     * unsigned). Index word {@code idx[idxOff + (t·nBlocks + b)·8 + G]} holds lane l's in-group index i in bits
     * {@code 16·(l & 3) + 2·(l >> 2)} and the next. Groups of {@code groupBlocks} blocks share a scale
     * {@code scales[sOff + (t·G' + g)·16 + r]} and zero point {@code zeros[zOff + (t·G' + g)·32 + l]} (the row's, at
     * both of its lanes), G' = nBlocks / groupBlocks.
     *
     * <p>For each row r with 16t + r &lt; {@code rows}: per group, f = &Sigma;_b fma(float(S_b), d_b, f) over its
     * blocks in order, S_b = &Sigma; (q − z)·a over the row's 16 kept values of the block, an exact integer; then
     * acc = fma(s, f, acc) over the groups in order ({@code a + b·c} in place of each fma where the hardware has
     * none); {@code y[yOff + 16t + r] = acc}. Every implementation gives these bits.
     */
    void gemvNm24Int4Tiles(MemorySegment codes, long codeOff, long[] idx, int idxOff, int tiles, int nBlocks,
            int groupBlocks, float[] scales, int sOff, short[] zeros, int zOff, long[] act, int actOff, float[] d,
            int dOff, float[] y, int yOff, int rows);

    /** {@code y[yOff + r] = Σ_{j < count} x[xOff + cols[j]]·wt[cols[j]·ldw + r]} for r in [rowFrom, rowTo). */
    void gemvColumns(float[] wt, int ldw, int[] cols, int count, float[] x, int xOff, float[] y, int yOff, int rowFrom,
            int rowTo);
}

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

    /** {@code y[yOff + r] = Σ_{j < count} x[xOff + cols[j]]·wt[cols[j]·ldw + r]} for r in [rowFrom, rowTo). */
    void gemvColumns(float[] wt, int ldw, int[] cols, int count, float[] x, int xOff, float[] y, int yOff, int rowFrom,
            int rowTo);
}

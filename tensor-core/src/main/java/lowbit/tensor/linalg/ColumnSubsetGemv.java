package lowbit.tensor.linalg;

import java.util.Objects;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.SparseKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * The matrix-vector product over a subset of the input columns, {@code y = W[:, K]·x[K] + b}, for activation sparsity
 * (WINA, TEAL, CATS: only the inputs in K are used). W [rows, cols] is given <em>transposed</em>, {@code wt[c·rows + r]
 * = W[r, c]} (a row-major [cols, rows] array), so that each selected column is one contiguous run and the product
 * reads only |K|·rows weights: at 50 % activation sparsity half of a dense GEMV's memory traffic.
 *
 * <p>Every y element is accumulated over the listed columns in list order (pass them ascending for the best memory
 * order), whatever rows it is computed with, so the rows can be split across {@link Parallel} threads by the thread
 * count and the result still has the same bits for any thread count. Compared with the exact sum the error is within γ_|K|·Σ_{c∈K}|W[r, c]·x[c]|.
 */
public final class ColumnSubsetGemv {
    private static final SparseKernels K = VectorizationProvider.get().sparse();
    /**
     * Rows per parallel task at most: y's chunk (16 KB) stays in L1 while the columns stream through. Longer runs per
     * column stream faster (4096×14336 at 50 %, one Zen 1 core: 7.0 ms with 4096-row chunks, 9.0 with 2048, 9.4 with
     * 1024, the former fixed chunk: a fresh hardware-prefetch stream per 4 KB), so a task takes as many rows as
     * this and the thread count allow, but not fewer than {@link #MIN_CHUNK}.
     */
    static final int MAX_CHUNK = 4096;
    /** Rows per parallel task at least. */
    static final int MIN_CHUNK = 1024;

    private ColumnSubsetGemv() {
    }

    /**
     * {@code y[r] = Σ_{j < count} x[columns[j]]·W[r, columns[j]] + bias[r]} with {@code wt} = Wᵀ ([cols, rows]
     * row-major); {@code bias} may be null.
     *
     * @throws IllegalArgumentException for lengths that do not match the shape, a count outside [0, columns.length], a
     *     column outside [0, cols) (named with its position), or y being x or the bias
     */
    public static void multiply(float[] wt, int rows, int cols, int[] columns, int count, float[] x, float[] bias,
            float[] y) {
        String op = "column-subset gemv";
        MatrixChecks.nonNegative(op, "rows", rows);
        MatrixChecks.nonNegative(op, "cols", cols);
        Objects.requireNonNull(wt, op + ": Wᵀ is null");
        Objects.requireNonNull(columns, op + ": column list is null");
        Objects.requireNonNull(x, op + ": x is null");
        Objects.requireNonNull(y, op + ": y is null");
        String shape = "Wᵀ [" + cols + ", " + rows + "]";
        MatrixChecks.length(op, "Wᵀ", wt.length, (long) rows * cols, shape);
        MatrixChecks.length(op, "x", x.length, cols, shape);
        MatrixChecks.length(op, "y", y.length, rows, shape);
        if (bias != null) {
            MatrixChecks.length(op, "bias", bias.length, rows, shape);
        }
        MatrixChecks.notSame(op, y, "y", x, "x");
        MatrixChecks.notSame(op, y, "y", bias, "bias");
        MatrixChecks.notSame(op, y, "y", wt, "Wᵀ");
        if (count < 0 || count > columns.length) {
            throw new IllegalArgumentException(op + ": count " + count + " is outside [0, " + columns.length + "]");
        }
        for (int j = 0; j < count; j++) {
            if (columns[j] < 0 || columns[j] >= cols) {
                throw new IllegalArgumentException(op + ": column " + columns[j] + " at position " + j
                        + " is outside [0, " + cols + ")");
            }
        }
        int chunk = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, (rows + Parallel.parallelism() - 1) / Parallel.parallelism()));
        Parallel.forRange(0, rows, (chunk + 63) & ~63, (from, to) -> {
            K.gemvColumns(wt, rows, columns, count, x, 0, y, 0, (int) from, (int) to);
            if (bias != null) {
                for (int r = (int) from; r < to; r++) {
                    y[r] += bias[r];
                }
            }
        });
    }
}

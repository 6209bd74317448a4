package lowbit.nn.sparse;

import java.util.Objects;

/**
 * Masks from a score tensor S [rows, cols] (larger = more important; e.g. from a {@link PruningCriterion}): the N:M
 * pattern, unstructured sparsity compared within each row (Wanda's comparison group) or over the whole matrix
 * (magnitude pruning's), and structured masks that keep whole output channels (rows) or input channels (columns).
 * Ties are broken toward the lower index (flat row-major index for the matrix-wide comparison), so masks are
 * deterministic.
 *
 * <p>Counts: a row of c columns at sparsity s prunes ⌊c·s⌋ weights (Wanda's {@code int(W.shape[1]·sparsity_ratio)});
 * the whole matrix prunes ⌊rows·cols·s⌋.
 */
public final class Masks {
    private Masks() {
    }

    /**
     * In every group of M consecutive columns of every row, keep the N largest scores.
     *
     * @throws IllegalArgumentException for a wrong length, cols not a multiple of M, or a NaN score (named)
     */
    public static PruningMask nm(float[] scores, int rows, int cols, NmPattern p) {
        Objects.requireNonNull(p, "pattern");
        check(scores, rows, cols);
        p.checkShape(rows, cols);
        boolean[] keep = new boolean[scores.length];
        float[] scratch = new float[p.m()];
        for (int g = 0; g < scores.length; g += p.m()) {
            TopK.mark(scores, g, p.m(), p.n(), keep, g, scratch);
        }
        return PruningMask.wrap(keep, rows, cols);
    }

    /**
     * In every row keep the cols − ⌊cols·sparsity⌋ largest scores.
     *
     * @throws IllegalArgumentException for a sparsity outside [0, 1), a wrong length or a NaN score
     */
    public static PruningMask perRow(float[] scores, int rows, int cols, double sparsity) {
        check(scores, rows, cols);
        checkSparsity(sparsity);
        int keepPerRow = cols - (int) (cols * sparsity);
        boolean[] keep = new boolean[scores.length];
        float[] scratch = new float[cols];
        for (int r = 0; r < rows; r++) {
            TopK.mark(scores, r * cols, cols, keepPerRow, keep, r * cols, scratch);
        }
        return PruningMask.wrap(keep, rows, cols);
    }

    /**
     * Over the whole matrix keep the rows·cols − ⌊rows·cols·sparsity⌋ largest scores.
     *
     * @throws IllegalArgumentException for a sparsity outside [0, 1), a wrong length or a NaN score
     */
    public static PruningMask perMatrix(float[] scores, int rows, int cols, double sparsity) {
        check(scores, rows, cols);
        checkSparsity(sparsity);
        int total = scores.length;
        int keepCount = total - (int) ((long) total * sparsity);
        boolean[] keep = new boolean[total];
        TopK.mark(scores, 0, total, keepCount, keep, 0, null);
        return PruningMask.wrap(keep, rows, cols);
    }

    /**
     * Keeps whole rows (output channels) where {@code keepRows[r]} is true.
     *
     * @throws IllegalArgumentException when keepRows does not have {@code rows} entries
     */
    public static PruningMask rows(boolean[] keepRows, int rows, int cols) {
        Objects.requireNonNull(keepRows, "keepRows");
        if (keepRows.length != rows) {
            throw new IllegalArgumentException("row selection has " + keepRows.length + " entries for " + rows + " rows");
        }
        boolean[] keep = new boolean[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) {
            java.util.Arrays.fill(keep, r * cols, (r + 1) * cols, keepRows[r]);
        }
        return PruningMask.wrap(keep, rows, cols);
    }

    /**
     * Keeps whole columns (input channels) where {@code keepCols[c]} is true (the consumer side of a pruned channel:
     * an FFN down-projection after its up-projection's rows were pruned, an attention output after its heads).
     *
     * @throws IllegalArgumentException when keepCols does not have {@code cols} entries
     */
    public static PruningMask columns(boolean[] keepCols, int rows, int cols) {
        Objects.requireNonNull(keepCols, "keepCols");
        if (keepCols.length != cols) {
            throw new IllegalArgumentException("column selection has " + keepCols.length + " entries for " + cols
                    + " columns");
        }
        boolean[] keep = new boolean[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(keepCols, 0, keep, r * cols, cols);
        }
        return PruningMask.wrap(keep, rows, cols);
    }

    static void check(float[] scores, int rows, int cols) {
        Objects.requireNonNull(scores, "scores");
        if (rows < 0 || cols < 0 || scores.length != (long) rows * cols) {
            throw new IllegalArgumentException("scores have " + scores.length + " entries, expected [" + rows + ", "
                    + cols + "] = " + (long) rows * cols);
        }
        for (int i = 0; i < scores.length; i++) {
            if (Float.isNaN(scores[i])) {
                throw new IllegalArgumentException("score at row " + i / cols + ", col " + i % cols
                        + " is NaN (are the weights or the calibration statistics finite?)");
            }
        }
    }

    static void checkSparsity(double s) {
        if (!(s >= 0 && s < 1)) {
            throw new IllegalArgumentException("sparsity must be in [0, 1), got " + s);
        }
    }
}

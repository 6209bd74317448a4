package lowbit.nn.sparse;

import java.util.Arrays;
import java.util.Objects;
import lowbit.nn.DenseWeight;
import lowbit.nn.LinearWeight;
import lowbit.tensor.DType;
import lowbit.tensor.layout.NmSparseMatrix;

/**
 * Which weights of a W [rows, cols] ({@code nn.Linear}'s [out, in]) are kept: true = kept, false = pruned (set to 0).
 * Immutable; built by {@link Masks} from scores, by the pruners ({@link SparseGpt}, {@link MaskLlm}) or from a boolean
 * array ({@link #of}).
 */
public final class PruningMask {
    private final int rows;
    private final int cols;
    private final boolean[] keep;
    private final int kept;

    private PruningMask(int rows, int cols, boolean[] keep) {
        this.rows = rows;
        this.cols = cols;
        this.keep = keep;
        int c = 0;
        for (boolean b : keep) {
            if (b) {
                c++;
            }
        }
        this.kept = c;
    }

    /**
     * A mask over a copy of {@code keep} (row-major [rows, cols]).
     *
     * @throws IllegalArgumentException for a negative shape or a length that is not rows·cols
     */
    public static PruningMask of(boolean[] keep, int rows, int cols) {
        Objects.requireNonNull(keep, "keep");
        if (rows < 0 || cols < 0 || keep.length != (long) rows * cols) {
            throw new IllegalArgumentException("mask has " + keep.length + " entries, expected [" + rows + ", " + cols
                    + "] = " + (long) rows * cols);
        }
        return new PruningMask(rows, cols, keep.clone());
    }

    /** Wraps without copying (package use: the builders hand over fresh arrays). */
    static PruningMask wrap(boolean[] keep, int rows, int cols) {
        return new PruningMask(rows, cols, keep);
    }

    /** The mask that keeps everything. */
    public static PruningMask dense(int rows, int cols) {
        boolean[] k = new boolean[Math.multiplyExact(rows, cols)];
        Arrays.fill(k, true);
        return new PruningMask(rows, cols, k);
    }

    /** The mask of the non-zero entries of {@code w}. */
    public static PruningMask nonZeros(float[] w, int rows, int cols) {
        Objects.requireNonNull(w, "weights");
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException("weights have " + w.length + " entries, expected [" + rows + ", " + cols
                    + "]");
        }
        boolean[] k = new boolean[w.length];
        for (int i = 0; i < w.length; i++) {
            k[i] = w[i] != 0;
        }
        return new PruningMask(rows, cols, k);
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** Whether W[r, c] is kept. */
    public boolean kept(int r, int c) {
        Objects.checkIndex(r, rows);
        Objects.checkIndex(c, cols);
        return keep[r * cols + c];
    }

    /** Kept entries. */
    public int keptCount() {
        return kept;
    }

    /** Kept entries of row r. */
    public int keptInRow(int r) {
        Objects.checkIndex(r, rows);
        int c = 0;
        for (int j = 0; j < cols; j++) {
            if (keep[r * cols + j]) {
                c++;
            }
        }
        return c;
    }

    /** The pruned fraction, 1 − kept/(rows·cols) (0 for an empty matrix). */
    public double sparsity() {
        return keep.length == 0 ? 0 : 1 - (double) kept / keep.length;
    }

    /** The mask as a new row-major array. */
    public boolean[] toArray() {
        return keep.clone();
    }

    /** Whether every group of M along every row keeps exactly N. */
    public boolean isNm(NmPattern p) {
        if (cols % p.m() != 0) {
            return false;
        }
        for (int g = 0; g < keep.length; g += p.m()) {
            int c = 0;
            for (int i = 0; i < p.m(); i++) {
                if (keep[g + i]) {
                    c++;
                }
            }
            if (c != p.n()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Checks that this mask fits a [rows, cols] weight.
     *
     * @throws IllegalArgumentException naming both shapes otherwise
     */
    public void checkShape(int r, int c) {
        if (r != rows || c != cols) {
            throw new IllegalArgumentException("mask of shape [" + rows + ", " + cols + "] does not fit a weight of shape ["
                    + r + ", " + c + "]");
        }
    }

    /**
     * W ⊙ mask as a new array.
     *
     * @throws IllegalArgumentException when w's length is not rows·cols
     */
    public float[] apply(float[] w) {
        Objects.requireNonNull(w, "weights");
        if (w.length != keep.length) {
            throw new IllegalArgumentException("mask of shape [" + rows + ", " + cols + "] does not fit " + w.length
                    + " weights");
        }
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            out[i] = keep[i] ? w[i] : 0f;
        }
        return out;
    }

    /** W ⊙ mask of a Linear weight, as a frozen dense F32 weight. */
    public DenseWeight apply(LinearWeight w) {
        checkShape(w.outFeatures(), w.inFeatures());
        return DenseWeight.of(apply(w.toFloats()), rows, cols).frozen();
    }

    /**
     * The kept values of {@code w} in the compressed N:M layout (values stored as {@code valueType}).
     *
     * @throws IllegalArgumentException when this mask is not exactly N:M, or as
     *     {@link NmSparseMatrix#compress(float[], boolean[], int, int, int, int, DType)}
     */
    public NmSparseMatrix compress(float[] w, NmPattern p, DType valueType) {
        return NmSparseMatrix.compress(w, keep, rows, cols, p.n(), p.m(), valueType);
    }

    /** Entries kept by both masks. */
    public PruningMask and(PruningMask other) {
        other.checkShape(rows, cols);
        boolean[] k = new boolean[keep.length];
        for (int i = 0; i < k.length; i++) {
            k[i] = keep[i] && other.keep[i];
        }
        return new PruningMask(rows, cols, k);
    }

    /** Entries where the two masks differ. */
    public int differences(PruningMask other) {
        other.checkShape(rows, cols);
        int d = 0;
        for (int i = 0; i < keep.length; i++) {
            if (keep[i] != other.keep[i]) {
                d++;
            }
        }
        return d;
    }

    boolean[] raw() {
        return keep;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PruningMask p && p.rows == rows && p.cols == cols && Arrays.equals(p.keep, keep);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * rows + cols) + Arrays.hashCode(keep);
    }

    @Override
    public String toString() {
        return String.format("PruningMask[%d, %d], %.1f%% sparse", rows, cols, 100 * sparsity());
    }
}

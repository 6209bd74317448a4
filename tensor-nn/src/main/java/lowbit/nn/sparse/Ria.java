package lowbit.nn.sparse;

import lowbit.quant.CalibrationStats;

/**
 * RIA, Relative Importance and Activations (Zhang et al. 2024, "Plug-and-Play: An Efficient Post-training Pruning
 * Method for Large Language Models", ICLR): score
 * <pre>
 *   S_ij = (|W_ij| / Σ_k |W_kj| + |W_ij| / Σ_k |W_ik|) · ‖X_j‖₂^a,     a = 0.5
 * </pre>
 * the weight's share of its input channel's (column's) and of its output channel's (row's) absolute sums, times the
 * input norm to the power a. Checked against the authors' code (biomedical-cybernetics/Relative-importance-and-
 * activation-pruning, {@code lib/prune.py}: {@code (|W|/sum(|W|, dim=0) + |W|/sum(|W|, dim=1)) · sqrt(scaler_row)^a},
 * {@code --a} default 0.5). As for {@link Wanda}, ‖X_j‖₂ is taken as √(mean x_j²) (a constant factor N^(a/2) that no
 * comparison sees). A row or column whose absolute sum is 0 contributes 0 (all its weights are 0). The reference's
 * optional channel reallocation and linear-sum-assignment refinements of N:M masks are not implemented.
 */
public final class Ria implements PruningCriterion {
    /** The paper's exponent of the activation norm. */
    public static final double DEFAULT_A = 0.5;

    private final double a;

    private Ria(double a) {
        this.a = a;
    }

    /** RIA with a = 0.5. */
    public static Ria get() {
        return new Ria(DEFAULT_A);
    }

    /**
     * RIA with exponent a.
     *
     * @throws IllegalArgumentException for a negative or non-finite a
     */
    public static Ria withExponent(double a) {
        if (!(a >= 0) || Double.isInfinite(a)) {
            throw new IllegalArgumentException("RIA exponent a must be finite and >= 0, got " + a);
        }
        return new Ria(a);
    }

    /** The activation exponent a. */
    public double exponent() {
        return a;
    }

    @Override
    public String name() {
        return a == DEFAULT_A ? "ria" : "ria(a=" + a + ")";
    }

    @Override
    public boolean needsCalibration() {
        return a != 0;
    }

    @Override
    public float[] scores(float[] w, int rows, int cols, CalibrationStats stats) {
        PruningCriterion.checkWeights(name(), w, rows, cols);
        float[] act = new float[cols];
        if (a == 0) {
            java.util.Arrays.fill(act, 1f);
        } else {
            float[] norm = PruningCriterion.inputNorms(name(), stats, cols);
            for (int j = 0; j < cols; j++) {
                act[j] = (float) Math.pow(norm[j], a);
            }
        }
        double[] colSum = new double[cols];
        double[] rowSum = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                double v = Math.abs(w[r * cols + j]);
                colSum[j] += v;
                rowSum[r] += v;
            }
        }
        float[] s = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                double v = Math.abs(w[r * cols + j]);
                double rel = (colSum[j] > 0 ? v / colSum[j] : 0) + (rowSum[r] > 0 ? v / rowSum[r] : 0);
                s[r * cols + j] = (float) (rel * act[j]);
            }
        }
        return s;
    }

    @Override
    public String toString() {
        return "Ria[a=" + a + "]";
    }
}

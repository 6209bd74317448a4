package lowbit.nn.sparse;

import lowbit.quant.CalibrationStats;

/**
 * Wanda (Sun, Liu, Bair, Kolter 2023, "A Simple and Effective Pruning Approach for Large Language Models"): score
 * S_ij = |W_ij|·‖X_j‖₂, the weight times the norm of its input feature over the calibration tokens, compared within
 * each output row (unstructured, {@link Masks#perRow}) or within each N:M group.
 *
 * <p>As the reference (locuslab/wanda, {@code lib/prune.py}) lowbit uses √(mean x_j²) — its {@code scaler_row} is
 * ‖X_j‖²/N — which is ‖X_j‖₂/√N: the same ranking in every comparison group.
 */
public final class Wanda implements PruningCriterion {
    private static final Wanda INSTANCE = new Wanda();

    private Wanda() {
    }

    /** The criterion. */
    public static Wanda get() {
        return INSTANCE;
    }

    @Override
    public String name() {
        return "wanda";
    }

    @Override
    public boolean needsCalibration() {
        return true;
    }

    @Override
    public float[] scores(float[] w, int rows, int cols, CalibrationStats stats) {
        PruningCriterion.checkWeights(name(), w, rows, cols);
        float[] norm = PruningCriterion.inputNorms(name(), stats, cols);
        float[] s = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                s[r * cols + j] = Math.abs(w[r * cols + j]) * norm[j];
            }
        }
        return s;
    }
}

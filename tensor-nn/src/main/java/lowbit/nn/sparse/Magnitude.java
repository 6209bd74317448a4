package lowbit.nn.sparse;

import lowbit.quant.CalibrationStats;

/** Magnitude pruning: score |W_ij| (data-free; Han et al. 2015, the baseline of every pruning paper). */
public final class Magnitude implements PruningCriterion {
    private static final Magnitude INSTANCE = new Magnitude();

    private Magnitude() {
    }

    /** The criterion. */
    public static Magnitude get() {
        return INSTANCE;
    }

    @Override
    public String name() {
        return "magnitude";
    }

    @Override
    public boolean needsCalibration() {
        return false;
    }

    @Override
    public float[] scores(float[] w, int rows, int cols, CalibrationStats stats) {
        PruningCriterion.checkWeights(name(), w, rows, cols);
        float[] s = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            s[i] = Math.abs(w[i]);
        }
        return s;
    }
}

package lowbit.nn.sparse;

import java.util.Arrays;
import java.util.Objects;

/**
 * How much of each layer to prune so that a whole model reaches a target sparsity: uniformly, or by layer importance
 * — the more important a layer, the less it is pruned (OWL, Yin et al. 2024, "Outlier Weighed Layerwise Sparsity
 * (OWL): A Missing Secret Sauce for Pruning LLMs to High Sparsity": importance = the layer's share of outlier scores,
 * sparsities spread over [s − λ, s + λ]).
 *
 * <p>{@link #byImportance}: importance I_l is mapped linearly to v_l ∈ [0, 1] (min → 0, max → 1), the layer gets
 * s_l = clamp(s + λ·(1 − 2·v_l) + δ, 0, max) and the shift δ is found by bisection so that the weighted mean
 * Σ size_l·s_l / Σ size_l equals s (so the model's weight count shrinks exactly as asked, up to clamping).
 */
public final class SparsityAllocation {
    private SparsityAllocation() {
    }

    /** The same sparsity for every layer. */
    public static double[] uniform(int layers, double target) {
        Masks.checkSparsity(target);
        double[] s = new double[layers];
        Arrays.fill(s, target);
        return s;
    }

    /**
     * Per-layer sparsities by importance (see the class comment).
     *
     * @param importance I_l (any scale; larger = more important)
     * @param sizes weights per layer (the weighting of the mean)
     * @param target the model's sparsity s in [0, 1)
     * @param spread λ ≥ 0, the half-width of the spread before the shift
     * @param max the largest sparsity any layer may get, in (0, 1)
     * @throws IllegalArgumentException for lengths that differ, a NaN importance, non-positive sizes, or parameters
     *     out of range
     */
    public static double[] byImportance(double[] importance, long[] sizes, double target, double spread, double max) {
        Objects.requireNonNull(importance, "importance");
        Objects.requireNonNull(sizes, "sizes");
        Masks.checkSparsity(target);
        if (importance.length != sizes.length || importance.length == 0) {
            throw new IllegalArgumentException("importance (" + importance.length + ") and sizes (" + sizes.length
                    + ") must have the same non-zero length");
        }
        if (!(spread >= 0) || Double.isInfinite(spread) || !(max > 0 && max < 1) || max < target) {
            throw new IllegalArgumentException("spread must be finite and >= 0 and max in [target, 1), got spread "
                    + spread + ", max " + max);
        }
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        double total = 0;
        for (int l = 0; l < importance.length; l++) {
            if (!Double.isFinite(importance[l])) {
                throw new IllegalArgumentException("importance of layer " + l + " is " + importance[l]);
            }
            if (sizes[l] <= 0) {
                throw new IllegalArgumentException("size of layer " + l + " is " + sizes[l]);
            }
            lo = Math.min(lo, importance[l]);
            hi = Math.max(hi, importance[l]);
            total += sizes[l];
        }
        double[] base = new double[importance.length];
        for (int l = 0; l < base.length; l++) {
            double v = hi > lo ? (importance[l] - lo) / (hi - lo) : 0.5;
            base[l] = target + spread * (1 - 2 * v);
        }
        double a = -1, b = 1; // δ range: weighted mean is monotone in δ
        for (int it = 0; it < 200; it++) {
            double mid = (a + b) / 2;
            if (mean(base, sizes, total, mid, max) < target) {
                a = mid;
            } else {
                b = mid;
            }
        }
        double delta = (a + b) / 2;
        double[] s = new double[base.length];
        for (int l = 0; l < s.length; l++) {
            s[l] = clamp(base[l] + delta, max);
        }
        return s;
    }

    private static double clamp(double v, double max) {
        return Math.max(0, Math.min(max, v));
    }

    private static double mean(double[] base, long[] sizes, double total, double delta, double max) {
        double s = 0;
        for (int l = 0; l < base.length; l++) {
            s += sizes[l] * clamp(base[l] + delta, max);
        }
        return s / total;
    }

    /**
     * OWL's layer-wise outlier distribution: the fraction of a layer's scores (e.g. Wanda's |W|·‖X‖) above
     * {@code ratio} times their mean (OWL uses M = 5).
     */
    public static double outlierFraction(float[] scores, double ratio) {
        Objects.requireNonNull(scores, "scores");
        if (scores.length == 0) {
            return 0;
        }
        double mean = 0;
        for (float v : scores) {
            mean += v;
        }
        mean /= scores.length;
        long c = 0;
        for (float v : scores) {
            if (v > ratio * mean) {
                c++;
            }
        }
        return (double) c / scores.length;
    }
}

package lowbit.quant;

import java.util.Objects;
import lowbit.tensor.layout.Outliers;

/**
 * Chooses which weights of W [rows, cols] a quantizer keeps exact (as {@link Outliers}): the composition point of
 * "outliers with GPTQ" ({@link Gptq#withOutliers}) and of GWQ's RTN path. Selectors return flat indices r·cols + c in
 * ascending order, without duplicates, and are deterministic (ties go to the lower index).
 *
 * <ul>
 *   <li>{@link #topGradient}: GWQ's rule, the top fraction of a caller-supplied |∂L/∂W|;</li>
 *   <li>{@link #easyQuant}: EasyQuant's per-row n·σ outliers (Tang et al. 2023), as {@link EasyQuant} selects them;</li>
 *   <li>{@link #topSaliency}: the top fraction of w_ij²·H_jj (the output-error weight of dropping w_ij, with the
 *       calibration Hessian's diagonal; plain |w| without statistics).</li>
 * </ul>
 * A selector sees the matrix that is actually quantized: inside {@link Awq} that is W·diag(s) (same positions), inside
 * a rotation ({@link HadamardQuantizer}, {@link Rsq}) the rotated W·Rᵀ, where a gradient of W no longer describes the
 * positions — do not combine {@link #topGradient} with a rotation.
 */
@FunctionalInterface
public interface OutlierSelector {
    /**
     * The positions to keep exact.
     *
     * @param stats calibration statistics of the layer's inputs, or null
     */
    int[] select(float[] w, int rows, int cols, CalibrationStats stats);

    /** A short name for reports. */
    default String name() {
        return "outliers";
    }

    /**
     * GWQ: the top round(fraction·rows·cols) entries of |gradient| (a tensor of W's shape).
     *
     * @throws IllegalArgumentException for a fraction outside [0, 1]; when selecting, for a gradient of the wrong
     *     length or with a non-finite entry
     */
    static OutlierSelector topGradient(float[] gradient, double fraction) {
        Objects.requireNonNull(gradient, "gradient is null");
        checkFraction(fraction);
        return new OutlierSelector() {
            @Override
            public int[] select(float[] w, int rows, int cols, CalibrationStats stats) {
                if (gradient.length != (long) rows * cols) {
                    throw new IllegalArgumentException("gradient has " + gradient.length + " entries for a [" + rows
                            + ", " + cols + "] weight");
                }
                float[] a = new float[gradient.length];
                for (int i = 0; i < a.length; i++) {
                    if (!Float.isFinite(gradient[i])) {
                        throw new IllegalArgumentException("gradient at row " + i / cols + ", col " + i % cols + " is "
                                + gradient[i]);
                    }
                    a[i] = Math.abs(gradient[i]);
                }
                return top(a, fraction);
            }

            @Override
            public String name() {
                return "top-gradient " + fraction;
            }
        };
    }

    /** The top fraction of w_ij²·H_jj (H from the statistics; |w| when there is no Hessian). */
    static OutlierSelector topSaliency(double fraction) {
        checkFraction(fraction);
        return new OutlierSelector() {
            @Override
            public int[] select(float[] w, int rows, int cols, CalibrationStats stats) {
                double[] h = stats == null ? null : stats.hessian();
                float[] a = new float[w.length];
                for (int i = 0; i < a.length; i++) {
                    int c = i % cols;
                    a[i] = h == null ? Math.abs(w[i]) : (float) ((double) w[i] * w[i] * h[c * cols + c]);
                }
                return top(a, fraction);
            }

            @Override
            public String name() {
                return "top-saliency " + fraction;
            }
        };
    }

    /** EasyQuant's outliers: per row, |w − μ_row| &gt; n·σ_row, at most the options' fraction per row. */
    static OutlierSelector easyQuant(EasyQuant.Options options) {
        EasyQuant eq = EasyQuant.of(Objects.requireNonNull(options, "options"));
        return new OutlierSelector() {
            @Override
            public int[] select(float[] w, int rows, int cols, CalibrationStats stats) {
                Outliers o = eq.isolate(w, rows, cols).outliers();
                int[] out = new int[o.count()];
                for (int r = 0, k = 0; r < rows; r++) {
                    for (int i = o.rowStart(r); i < o.rowEnd(r); i++) {
                        out[k++] = r * cols + o.col(i);
                    }
                }
                return out;
            }

            @Override
            public String name() {
                return "easyquant " + options.sigmas() + " sigma";
            }
        };
    }

    private static void checkFraction(double fraction) {
        if (!(fraction >= 0 && fraction <= 1)) {
            throw new IllegalArgumentException("outlier fraction must be in [0, 1], got " + fraction);
        }
    }

    /** Flat indices (ascending) of the round(fraction·n) largest values of a ≥ 0, ties to the lower index. */
    static int[] top(float[] a, double fraction) {
        int k = (int) Math.round(fraction * a.length);
        if (k == 0) {
            return new int[0];
        }
        float threshold = kthLargest(a.clone(), k);
        int[] out = new int[k];
        int m = 0;
        for (int i = 0; i < a.length && m < k; i++) {
            if (a[i] > threshold) {
                out[m++] = i;
            }
        }
        for (int i = 0; i < a.length && m < k; i++) {
            if (a[i] == threshold) {
                out[m++] = i;
            }
        }
        java.util.Arrays.sort(out);
        return out;
    }

    /**
     * The k-th largest value (1-based, 1 ≤ k ≤ v.length) of v, by quickselect with median-of-three pivots, in linear
     * expected time; v is reordered and must hold no NaN. Shared with the pruning masks of {@code lowbit.nn.sparse}.
     */
    public static float kthLargest(float[] v, int k) {
        int target = v.length - k; // the k-th largest is the (n − k)-th smallest, 0-based
        int lo = 0;
        int hi = v.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            float p = Math.max(Math.min(v[lo], v[mid]), Math.min(Math.max(v[lo], v[mid]), v[hi]));
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (v[i] < p) {
                    i++;
                }
                while (v[j] > p) {
                    j--;
                }
                if (i <= j) {
                    float t = v[i];
                    v[i] = v[j];
                    v[j] = t;
                    i++;
                    j--;
                }
            }
            if (target <= j) {
                hi = j;
            } else if (target >= i) {
                lo = i;
            } else {
                return v[target];
            }
        }
        return v[target];
    }
}

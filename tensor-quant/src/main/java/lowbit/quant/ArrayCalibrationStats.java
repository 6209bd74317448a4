package lowbit.quant;

import java.util.Objects;

/**
 * {@link CalibrationStats} held in arrays (for tests and for callers that computed the statistics themselves).
 * {@link #fromActivations} computes all of them from a whole activation matrix in one pass (double accumulation).
 *
 * @param features input features
 * @param tokens tokens the statistics cover (&ge; 1)
 * @param meanAbs per-channel mean |x|, length features
 * @param meanSquare per-channel mean x², length features
 * @param mean per-channel mean x, length features, or null
 * @param hessian 2XᵀX/N row-major [features, features], or null
 */
public record ArrayCalibrationStats(int features, long tokens, float[] meanAbs, float[] meanSquare, float[] mean,
        double[] hessian) implements CalibrationStats {

    /**
     * Validates lengths, signs and finiteness.
     *
     * @throws IllegalArgumentException for a non-positive feature or token count, a wrong array length, a negative or
     *     non-finite mean |x| or mean x², a non-finite mean or Hessian entry
     */
    public ArrayCalibrationStats {
        if (features < 1) {
            throw new IllegalArgumentException("calibration stats: features must be >= 1, got " + features);
        }
        if (tokens < 1) {
            throw new IllegalArgumentException("calibration stats: tokens must be >= 1, got " + tokens);
        }
        checkNonNegative("meanAbs", meanAbs, features);
        checkNonNegative("meanSquare", meanSquare, features);
        if (mean != null) {
            checkLength("mean", mean.length, features);
            for (int j = 0; j < features; j++) {
                if (!Float.isFinite(mean[j])) {
                    throw new IllegalArgumentException("calibration stats: mean[" + j + "] = " + mean[j]);
                }
            }
        }
        if (hessian != null) {
            checkLength("hessian", hessian.length, (long) features * features);
            for (int i = 0; i < hessian.length; i++) {
                if (!Double.isFinite(hessian[i])) {
                    throw new IllegalArgumentException("calibration stats: hessian[" + i / features + ", " + i % features
                            + "] = " + hessian[i]);
                }
            }
        }
    }

    private static void checkNonNegative(String name, float[] a, int features) {
        Objects.requireNonNull(a, "calibration stats: " + name + " is null");
        checkLength(name, a.length, features);
        for (int j = 0; j < a.length; j++) {
            if (!(a[j] >= 0) || a[j] == Float.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("calibration stats: " + name + "[" + j + "] = " + a[j]
                        + " must be finite and >= 0");
            }
        }
    }

    private static void checkLength(String name, long length, long expected) {
        if (length != expected) {
            throw new IllegalArgumentException("calibration stats: " + name + " has " + length + " entries, expected "
                    + expected);
        }
    }

    /** Statistics without mean or Hessian. */
    public static ArrayCalibrationStats of(long tokens, float[] meanAbs, float[] meanSquare) {
        Objects.requireNonNull(meanAbs, "meanAbs");
        return new ArrayCalibrationStats(meanAbs.length, tokens, meanAbs, meanSquare, null, null);
    }

    /**
     * All statistics of X [n, features] (row-major): mean |x|, mean x², mean x and H = 2XᵀX/n (the Hessian only when
     * {@code withHessian}; it costs n·features² operations).
     *
     * @throws IllegalArgumentException for n &lt; 1, a length that is not n·features, or a non-finite activation
     */
    public static ArrayCalibrationStats fromActivations(float[] x, int n, int features, boolean withHessian) {
        Objects.requireNonNull(x, "activations");
        if (n < 1 || features < 1) {
            throw new IllegalArgumentException("activations need n >= 1 and features >= 1, got [" + n + ", " + features
                    + "]");
        }
        if (x.length != (long) n * features) {
            throw new IllegalArgumentException("activations have " + x.length + " values, expected " + n + "x"
                    + features);
        }
        double[] abs = new double[features];
        double[] sq = new double[features];
        double[] sum = new double[features];
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < features; j++) {
                float v = x[t * features + j];
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("activation [" + t + ", " + j + "] is " + v);
                }
                abs[j] += Math.abs(v);
                sq[j] += (double) v * v;
                sum[j] += v;
            }
        }
        float[] meanAbs = new float[features];
        float[] meanSq = new float[features];
        float[] mean = new float[features];
        for (int j = 0; j < features; j++) {
            meanAbs[j] = (float) (abs[j] / n);
            meanSq[j] = (float) (sq[j] / n);
            mean[j] = (float) (sum[j] / n);
        }
        double[] h = null;
        if (withHessian) {
            h = new double[features * features];
            for (int t = 0; t < n; t++) {
                int row = t * features;
                for (int i = 0; i < features; i++) {
                    double xi = x[row + i];
                    if (xi == 0) {
                        continue;
                    }
                    for (int j = 0; j < features; j++) {
                        h[i * features + j] += xi * x[row + j];
                    }
                }
            }
            for (int i = 0; i < h.length; i++) {
                h[i] = 2 * h[i] / n;
            }
        }
        return new ArrayCalibrationStats(features, n, meanAbs, meanSq, mean, h);
    }
}

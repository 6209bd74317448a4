package lowbit.quant;

import java.util.SplittableRandom;

/** Synthetic calibration data with the structure that makes GPTQ/AWQ matter: correlated channels, a few loud ones. */
final class CalibTesting {
    private CalibTesting() {
    }

    /**
     * Activations X [n, features]: x = z·M with z ~ N(0, I_k) (k = features/4 + 1 latent factors, so channels are
     * strongly correlated), plus small independent noise, and {@code loud} channels scaled by 20 (activation
     * outliers, as in LLMs). Seeded.
     */
    static float[] activations(int n, int features, int loud, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int k = features / 4 + 1;
        double[] mix = new double[k * features];
        for (int i = 0; i < mix.length; i++) {
            mix[i] = QuantTesting.gaussian(rnd) / Math.sqrt(k);
        }
        double[] scale = new double[features];
        java.util.Arrays.fill(scale, 1);
        for (int i = 0; i < loud; i++) {
            scale[rnd.nextInt(features)] = 20;
        }
        float[] x = new float[n * features];
        double[] z = new double[k];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < k; i++) {
                z[i] = QuantTesting.gaussian(rnd);
            }
            for (int j = 0; j < features; j++) {
                double s = 0.1 * QuantTesting.gaussian(rnd);
                for (int i = 0; i < k; i++) {
                    s += z[i] * mix[i * features + j];
                }
                x[t * features + j] = (float) (s * scale[j]);
            }
        }
        return x;
    }

    /** H = 2XᵀX/n in double, straight from the definition. */
    static double[] hessian(float[] x, int n, int features) {
        double[] h = new double[features * features];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < features; i++) {
                double xi = x[t * features + i];
                for (int j = 0; j < features; j++) {
                    h[i * features + j] += xi * x[t * features + j];
                }
            }
        }
        for (int i = 0; i < h.length; i++) {
            h[i] = 2 * h[i] / n;
        }
        return h;
    }

    /** ‖X(W − Ŵ)ᵀ‖ / ‖XWᵀ‖ through H (= the same ratio over the calibration tokens). */
    static double relativeOutputError(float[] w, float[] wq, int rows, int cols, double[] h) {
        return Math.sqrt(GptqReference.outputError(w, wq, rows, cols, h) / GptqReference.outputEnergy(w, rows, cols, h));
    }
}

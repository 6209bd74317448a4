package lowbit.quant;

import java.util.Objects;

/**
 * D²Quant's deviation-aware correction at block level (Yan et al. 2026): over L calibration tokens, the per-channel
 * mean of the activation residual ΔY = H − H̃ between the full-precision block output H and the quantized one H̃
 * (both [L, channels], e.g. after the post-attention LayerNorm), μ_j = (1/L)·Σ_t ΔY_tj. Adding μ to that LayerNorm's
 * β (or to the preceding bias) aligns the quantized model's mean activation with the original's.
 */
public final class MeanShift {
    private MeanShift() {
    }

    /**
     * μ = mean over tokens of (reference − quantized), both row-major [tokens, channels] (double accumulation).
     *
     * @throws IllegalArgumentException for tokens &lt; 1, mismatched lengths or a non-finite activation
     */
    public static float[] correction(float[] reference, float[] quantized, int tokens, int channels) {
        Objects.requireNonNull(reference, "reference activations");
        Objects.requireNonNull(quantized, "quantized activations");
        if (tokens < 1 || channels < 1) {
            throw new IllegalArgumentException("mean shift needs tokens >= 1 and channels >= 1, got [" + tokens + ", "
                    + channels + "]");
        }
        long n = (long) tokens * channels;
        if (reference.length != n || quantized.length != n) {
            throw new IllegalArgumentException("mean shift: activations have " + reference.length + " and "
                    + quantized.length + " values, expected " + tokens + "x" + channels);
        }
        double[] sum = new double[channels];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < channels; j++) {
                float a = reference[t * channels + j];
                float b = quantized[t * channels + j];
                if (!Float.isFinite(a) || !Float.isFinite(b)) {
                    throw new IllegalArgumentException("mean shift: activation [" + t + ", " + j + "] is "
                            + (Float.isFinite(a) ? b : a));
                }
                sum[j] += (double) a - b;
            }
        }
        float[] mu = new float[channels];
        for (int j = 0; j < channels; j++) {
            mu[j] = (float) (sum[j] / tokens);
        }
        return mu;
    }
}

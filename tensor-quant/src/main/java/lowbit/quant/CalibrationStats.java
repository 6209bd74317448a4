package lowbit.quant;

/**
 * What a calibration-aware quantizer may know about the inputs X [N, in] of one linear layer (rows of X are tokens,
 * columns are the layer's input channels). Data-free quantizers take {@code null} instead.
 *
 * <p>Per-input-channel statistics, j in [0, in):
 * <ul>
 *   <li>{@link #meanAbs()}: (1/N)·Σ_t |x_tj| — AWQ's activation scale s_x;</li>
 *   <li>{@link #meanSquare()}: (1/N)·Σ_t x_tj² — the diagonal of XᵀX/N, the weight of column j in the output error
 *       ‖X(W − Ŵ)ᵀ‖² when the columns are treated as uncorrelated (activation-weighted clip search, AdaDim);</li>
 *   <li>{@link #mean()} (optional): (1/N)·Σ_t x_tj — the mean input, from which a quantization-induced output mean
 *       shift (W − Ŵ)·E[x] follows (D²Quant's mean-shift correction);</li>
 *   <li>{@link #hessian()} (optional): the proxy Hessian H = 2XᵀX/N as a row-major [in, in] double array (GPTQ, RSQ;
 *       the output error of a row error e is N/2 · e H eᵀ).</li>
 * </ul>
 * Implementations are immutable; arrays returned are not copied, callers must not modify them. This package only
 * defines the interface and the array-backed {@link ArrayCalibrationStats}; a streaming collector that accumulates
 * these over batches belongs to the calibration-aware quantizers.
 */
public interface CalibrationStats {
    /** Input features (columns of X, columns of the weight). */
    int features();

    /** Tokens N the statistics were collected over (&ge; 1). */
    long tokens();

    /** Per-input-channel mean |x_j|, length {@link #features()}. */
    float[] meanAbs();

    /** Per-input-channel mean x_j², length {@link #features()}. */
    float[] meanSquare();

    /** Per-input-channel mean x_j, length {@link #features()}, or null when not collected. */
    default float[] mean() {
        return null;
    }

    /** H = 2XᵀX/N, row-major [features, features], or null when not collected. */
    default double[] hessian() {
        return null;
    }

    /**
     * Checks that these statistics describe inputs of a layer with {@code cols} input features.
     *
     * @throws IllegalArgumentException when the feature count or an array length does not match
     */
    default void checkFeatures(int cols) {
        if (features() != cols) {
            throw new IllegalArgumentException("calibration stats have " + features() + " input features, the weight has "
                    + cols + " columns");
        }
    }
}

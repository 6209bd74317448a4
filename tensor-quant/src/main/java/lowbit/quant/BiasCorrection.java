package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;

/**
 * Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias
 * Correction", §4.2, with the expectation taken over calibration inputs): quantization shifts the layer's mean output
 * by (W − Ŵ_eff)·E[x]; adding c = (W − Ŵ_eff)·E[x] to the bias removes that shift,
 * <pre>
 *   E[W·x + b] = E[Ŵ_eff·x + b + c].
 * </pre>
 * A wrapper around any quantizer: it runs the inner one and returns its result with c added to the
 * {@link InputTransform}'s output bias ({@link InputTransform#foldOutputBias} adds it to the layer's bias). E[x] is
 * {@link CalibrationStats#mean()} of the layer's inputs (a {@link CalibrationCollector} collects it); in a
 * sequential pipeline these are the inputs of the already partly quantized model, so c also absorbs the mean error
 * of earlier layers as seen here. c is computed in double from the float weights.
 */
public final class BiasCorrection implements Quantizer {
    private final Quantizer inner;

    private BiasCorrection(Quantizer inner) {
        this.inner = Objects.requireNonNull(inner, "bias correction: inner quantizer is null");
    }

    /** {@code inner} followed by the bias correction. */
    public static BiasCorrection of(Quantizer inner) {
        return new BiasCorrection(inner);
    }

    @Override
    public String name() {
        return inner.name() + "+bias";
    }

    /**
     * @throws IllegalArgumentException when the statistics are null or carry no mean, besides the inner quantizer's
     *     errors
     */
    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        if (stats == null || stats.mean() == null) {
            throw new IllegalArgumentException("bias correction: needs calibration statistics with the mean input, got "
                    + (stats == null ? "none" : "statistics without it"));
        }
        QuantResult q = inner.quantize(w, rows, cols, spec, stats);
        float[] eff = q.effectiveWeight();
        float[] mu = stats.mean();
        float[] c = q.transform().outputBias();
        if (c == null) {
            c = new float[rows];
        }
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int j = 0; j < cols; j++) {
                s += ((double) w[r * cols + j] - eff[r * cols + j]) * mu[j];
            }
            c[r] += (float) s;
        }
        InputTransform tr = q.transform().withOutputBias(c);
        Map<String, String> opts = new LinkedHashMap<>(q.report().options());
        opts.put("bias correction", "(W - W_eff) E[x]");
        long nanos = System.nanoTime() - t0;
        QuantReport r = q.report();
        return new QuantResult(q.matrix(), tr, new QuantReport(name(), r.spec(), rows, cols, r.squaredError(),
                r.rowSquaredError(), r.groupSquaredError(), r.outliers(), nanos, opts));
    }
}

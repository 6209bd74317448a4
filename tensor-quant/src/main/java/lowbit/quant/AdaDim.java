package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineSpec.Granularity;

/**
 * AdaDim (Heo et al. 2024, "Rethinking Channel Dimensions to Isolate Outliers for Low-bit Weight Quantization of Large
 * Language Models"): besides the usual per-output-channel groups (g consecutive inputs of one row), quantize with
 * per-input-channel groups (g consecutive output rows of one column, {@link Granularity#GROUP_ALONG_OUT}), so that
 * an input channel carrying activation outliers gets scales of its own; per matrix keep the dimension with the lower
 * error. The error is the weight MSE when no statistics are given, otherwise the output error
 * ‖X(W − Ŵ)ᵀ‖²/N: with the Hessian, (1/2)·Σ_r e_r·H·e_rᵀ; without it the diagonal form Σ_{r,c} E[x_c²]·e_rc².
 *
 * <p>The spec names the bits, symmetry, scale type and group size; its granularity says which side the pair is built
 * from (groups along in ↔ along out with the same g, per-row ↔ per-column). When g does not divide the other
 * dimension only the given granularity is tried. Both candidates are quantized by the inner quantizer (default
 * {@link Rtn#defaults()}; AdaDim's paper also pairs it with GPTQ). The report names the chosen dimension
 * ({@code "dimension" = "out-channel"} or {@code "in-channel"}) and both errors.
 */
public final class AdaDim implements Quantizer {
    /** Which dimensions to consider. */
    public enum Mode {
        /** Try both, keep the lower error. */
        ADAPTIVE,
        /** Only per-output-channel groups (the spec as given when it runs along a row). */
        PER_OUTPUT_CHANNEL,
        /** Only per-input-channel groups. */
        PER_INPUT_CHANNEL
    }

    private final Quantizer inner;
    private final Mode mode;

    private AdaDim(Quantizer inner, Mode mode) {
        this.inner = Objects.requireNonNull(inner, "inner quantizer");
        this.mode = Objects.requireNonNull(mode, "mode");
    }

    /** Adaptive over RTN. */
    public static AdaDim defaults() {
        return new AdaDim(Rtn.defaults(), Mode.ADAPTIVE);
    }

    /** With another inner quantizer and mode. */
    public static AdaDim of(Quantizer inner, Mode mode) {
        return new AdaDim(inner, mode);
    }

    @Override
    public String name() {
        return "adadim";
    }

    /** The spec of the other dimension, or null when it does not fit. */
    static AffineSpec transposed(AffineSpec spec, int rows, int cols) {
        AffineSpec t = switch (spec.granularity()) {
            case GROUP_ALONG_IN -> new AffineSpec(spec.bits(), spec.symmetric(), Granularity.GROUP_ALONG_OUT,
                    spec.groupSize(), spec.scaleType());
            case GROUP_ALONG_OUT -> new AffineSpec(spec.bits(), spec.symmetric(), Granularity.GROUP_ALONG_IN,
                    spec.groupSize(), spec.scaleType());
            case PER_OUTPUT_CHANNEL -> AffineSpec.perInputChannel(spec.bits(), spec.symmetric())
                    .withScaleType(spec.scaleType());
            case PER_INPUT_CHANNEL -> AffineSpec.perOutputChannel(spec.bits(), spec.symmetric())
                    .withScaleType(spec.scaleType());
            case PER_TENSOR -> null;
        };
        if (t == null) {
            return null;
        }
        try {
            t.checkShape(rows, cols);
            return t;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean alongOut(AffineSpec s) {
        return s.granularity() == Granularity.GROUP_ALONG_OUT || s.granularity() == Granularity.PER_INPUT_CHANNEL;
    }

    /** The error AdaDim compares (see the class comment). */
    static double error(float[] w, int rows, int cols, QuantResult r, CalibrationStats stats) {
        if (stats == null) {
            return r.report().mse();
        }
        float[] q = r.effectiveWeight();
        double[] h = stats.hessian();
        float[] d = stats.meanSquare();
        double sum = 0;
        double[] e = new double[cols];
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < cols; c++) {
                e[c] = (double) q[i * cols + c] - w[i * cols + c];
            }
            if (h != null) {
                for (int a = 0; a < cols; a++) {
                    if (e[a] == 0) {
                        continue;
                    }
                    double t = 0;
                    for (int b = 0; b < cols; b++) {
                        t += h[a * cols + b] * e[b];
                    }
                    sum += 0.5 * e[a] * t;
                }
            } else {
                for (int c = 0; c < cols; c++) {
                    sum += d[c] * e[c] * e[c];
                }
            }
        }
        return sum / rows;
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        AffineSpec other = transposed(spec, rows, cols);
        AffineSpec outSpec = alongOut(spec) ? other : spec;
        AffineSpec inSpec = alongOut(spec) ? spec : other;
        QuantResult oc = null;
        QuantResult ic = null;
        if (mode != Mode.PER_INPUT_CHANNEL && outSpec != null) {
            oc = inner.quantize(w, rows, cols, outSpec, stats);
        }
        if (mode != Mode.PER_OUTPUT_CHANNEL && inSpec != null) {
            ic = inner.quantize(w, rows, cols, inSpec, stats);
        }
        if (oc == null && ic == null) {
            throw new IllegalArgumentException("adadim: mode " + mode + " has no granularity that fits "
                    + spec.describe() + " on a [" + rows + ", " + cols + "] matrix");
        }
        double eo = oc == null ? Double.POSITIVE_INFINITY : error(w, rows, cols, oc, stats);
        double ei = ic == null ? Double.POSITIVE_INFINITY : error(w, rows, cols, ic, stats);
        QuantResult best = ei < eo ? ic : oc;
        Map<String, String> opts = new LinkedHashMap<>(best.report().options());
        opts.put("inner", inner.name());
        opts.put("dimension", best == ic ? "in-channel" : "out-channel");
        opts.put("criterion", stats == null ? "weight mse" : (stats.hessian() != null ? "output error (H)"
                : "output error (diag)"));
        opts.put("errorOutChannel", oc == null ? "n/a" : String.format("%.6g", eo));
        opts.put("errorInChannel", ic == null ? "n/a" : String.format("%.6g", ei));
        QuantReport r = best.report();
        QuantReport report = new QuantReport(name(), r.spec(), rows, cols, r.squaredError(), r.rowSquaredError(),
                r.groupSquaredError(), r.outliers(), System.nanoTime() - t0, opts);
        return new QuantResult(best.matrix(), best.transform(), report);
    }
}

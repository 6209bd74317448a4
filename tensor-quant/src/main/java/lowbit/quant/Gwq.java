package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineSpec.Granularity;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Outliers;
import lowbit.tensor.parallel.Parallel;

/**
 * GWQ, gradient-aware weight quantization (Shao et al. 2024, "GWQ: Gradient-Aware Weight Quantization for Large
 * Language Models"): the weights with the largest first-order sensitivity |∂L/∂W| — a tensor the caller supplies,
 * e.g. accumulated by the nn backward over a few calibration samples — are kept exact, the top {@code fraction}
 * (1 % by default, k = round(fraction·rows·cols)), and the rest is quantized:
 * <ul>
 *   <li>with {@link #rtn} by round-to-nearest on group ranges that leave the exact weights out;</li>
 *   <li>with {@link #gptq} by GPTQ, which keeps them exact as outliers (zero error, so zero feedback) and also
 *       leaves them out of the ranges — outliers combined with GPTQ, as SpQR does.</li>
 * </ul>
 * Selection is deterministic: ties in |g| go to the lower flat index. Because the gradient is per matrix, a GWQ is
 * bound to one gradient with {@link #forGradient} (which gives a {@link Quantizer}) or called directly with
 * {@link #quantize(float[], int, int, AffineSpec, CalibrationStats, float[])}.
 */
public final class Gwq {
    private final double fraction;
    private final Gptq gptq;

    private Gwq(double fraction, Gptq gptq) {
        if (!(fraction >= 0 && fraction <= 1)) {
            throw new IllegalArgumentException("gwq: fraction must be in [0, 1], got " + fraction);
        }
        this.fraction = fraction;
        this.gptq = gptq;
    }

    /** Top {@code fraction} exact, the rest RTN (by the spec's default range rule). */
    public static Gwq rtn(double fraction) {
        return new Gwq(fraction, null);
    }

    /** Top {@code fraction} exact, the rest {@code gptq} (which needs a Hessian). */
    public static Gwq gptq(double fraction, Gptq gptq) {
        return new Gwq(fraction, Objects.requireNonNull(gptq, "gwq: gptq is null"));
    }

    /** Top 1 % exact, the rest default GPTQ. */
    public static Gwq defaults() {
        return gptq(0.01, Gptq.defaults());
    }

    /** The fraction kept exact. */
    public double fraction() {
        return fraction;
    }

    /**
     * The flat indices (r·cols + c, ascending) of the top round(fraction·rows·cols) entries of |gradient|
     * ({@link OutlierSelector#topGradient}).
     *
     * @throws IllegalArgumentException for a wrong length or a non-finite gradient entry (named)
     */
    public int[] select(float[] gradient, int rows, int cols) {
        return OutlierSelector.topGradient(gradient, fraction).select(null, rows, cols, null);
    }

    /** A quantizer bound to this gradient (checked against the weight's shape when it runs). */
    public Quantizer forGradient(float[] gradient) {
        Objects.requireNonNull(gradient, "gwq: gradient is null");
        Gwq self = this;
        return new Quantizer() {
            @Override
            public String name() {
                return self.name();
            }

            @Override
            public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
                return self.quantize(w, rows, cols, spec, stats, gradient);
            }
        };
    }

    /** {@code "gwq+gptq"} or {@code "gwq+rtn"}. */
    public String name() {
        return gptq == null ? "gwq+rtn" : "gwq+gptq";
    }

    /**
     * Quantizes W keeping the top entries of |gradient| exact.
     *
     * @throws IllegalArgumentException for the common input errors, a gradient of the wrong shape or not finite,
     *     a column-family spec with RTN, or (with GPTQ) statistics without a Hessian
     */
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats,
            float[] gradient) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        int[] exact = select(gradient, rows, cols);
        QuantResult q;
        if (gptq != null) {
            q = gptq.quantize(w, rows, cols, spec, stats, exact);
        } else {
            q = rtnExcluding(w, rows, cols, spec, exact, t0);
        }
        Map<String, String> opts = new LinkedHashMap<>(q.report().options());
        opts.put("exact fraction", Double.toString(fraction));
        opts.put("exact", Integer.toString(exact.length));
        long nanos = System.nanoTime() - t0;
        return new QuantResult(q.matrix(), q.transform(), QuantReport.measure(name(), w, rows, cols, q.matrix(),
                q.report().spec(), q.transform(), nanos, opts));
    }

    /** RTN whose group ranges leave the exact positions out; those positions become outliers holding w. */
    static QuantResult rtnExcluding(float[] w, int rows, int cols, AffineSpec spec, int[] exact, long t0) {
        Granularity g = spec.granularity();
        if (g != Granularity.GROUP_ALONG_IN && g != Granularity.PER_OUTPUT_CHANNEL) {
            throw new IllegalArgumentException("gwq: RTN with exact weights needs a row-wise spec (groups along in or "
                    + "per output channel), got " + spec.describe());
        }
        boolean[] mask = Gptq.outlierMask(exact, rows, cols);
        int gs = g == Granularity.GROUP_ALONG_IN ? spec.groupSize() : cols;
        int groups = cols / gs;
        Groupwise.Fitter fitter = Rtn.defaults().fitter(spec);
        float[] scales = new float[rows * groups];
        int[] zeros = spec.symmetric() ? null : new int[scales.length];
        Parallel.forRange(0, rows, Math.max(1, 4096 / cols), (from, to) -> {
            float[] buf = new float[gs];
            for (int r = (int) from; r < to; r++) {
                for (int k = 0; k < groups; k++) {
                    int off = r * cols + k * gs;
                    int len = 0;
                    for (int i = 0; i < gs; i++) {
                        if (mask == null || !mask[off + i]) {
                            buf[len++] = w[off + i];
                        }
                    }
                    long p = len == 0 ? AffineGrid.pack(1f, spec.symmetric() ? spec.symmetricZero() : 0)
                            : fitter.fit(buf, 0, len, null, 0);
                    scales[r * groups + k] = AffineGrid.scale(p);
                    if (zeros != null) {
                        zeros[r * groups + k] = AffineGrid.zero(p);
                    }
                }
            }
        });
        int[] or = new int[exact.length];
        int[] oc = new int[exact.length];
        float[] ov = new float[exact.length];
        for (int k = 0; k < exact.length; k++) {
            or[k] = exact[k] / cols;
            oc[k] = exact[k] % cols;
            ov[k] = w[exact[k]];
        }
        Outliers outliers = Outliers.of(rows, cols, or, oc, ov, DType.F32);
        GroupwiseAffine m = Groupwise.encode(w, rows, cols, spec, new Groupwise.Grid(scales, zeros), outliers);
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("range", Rtn.defaults().ruleName(spec));
        return Groupwise.result("gwq+rtn", w, rows, cols, m, null, t0, opts);
    }
}

package lowbit.quant;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.Outliers;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.AffineFitKernels;

/**
 * EasyQuant (Tang et al. 2023, "EasyQuant: An Efficient Data-free Quantization Algorithm for LLMs"), data-free:
 * <ol>
 *   <li><b>Outliers.</b> In each output channel (row) c with mean μ_c and standard deviation σ_c, weights with
 *       |w − μ_c| &gt; n·σ_c stay exact (F32) in the layout's {@link Outliers} list; at most
 *       {@code maxOutlierFraction} of the row (the largest deviations) is kept, matching the paper's "less than 1 %".
 *       They are excluded from the range: in the working copy they are replaced by μ_c, which lies inside the range
 *       of the remaining weights, so their (overridden) codes do not widen any group.</li>
 *   <li><b>Range.</b> Per group of the spec, the scale s (and for asymmetric specs the zero point) is optimized by
 *       gradient descent (Adam) on L(s) = Σ (w − Q(w; s))² with the straight-through estimator for the rounding:
 *       ∂Q/∂s = round(w/s) − w/s inside the range and the clamp bound (q_min − z or q_max − z) outside; for the zero
 *       point ∂Q/∂z = −s outside the range and 0 inside (LSQ+). It starts from the min/max (max-abs) range of the
 *       remaining weights and returns the best point seen, so the error never exceeds that RTN start.</li>
 * </ol>
 * Groups are independent and run in parallel (deterministic for any thread count). The paper's constants are not
 * all published; the defaults here (n = 3, at most 1 % per row, at most 100 Adam steps, learning rate 0.03 on
 * s/s₀, stop after 8 steps without a new best) are lowbit's choices: on Gaussian weights with 0.1 % outliers
 * (1024², w4 g128, w3 g128, w2 g32) they reach the same or a lower MSE than lr 0.01 with patience 20, in about
 * half the steps (15–21 per group instead of 34–57). Each step is one pass of the fused
 * {@link lowbit.tensor.simd.AffineFitKernels#steGradient} kernel over the group.
 */
public final class EasyQuant implements Quantizer {
    /** Adam's β₁, β₂ (Kingma &amp; Ba's defaults) and ε. */
    private static final double ADAM_B1 = 0.9;
    private static final double ADAM_B2 = 0.999;
    private static final double ADAM_EPS = 1e-12;

    /**
     * @param sigmas n: outliers are |w − μ| &gt; n·σ in their row (&gt; 0; {@code Float.POSITIVE_INFINITY} for none)
     * @param maxOutlierFraction the most outliers per row, as a fraction of the row, in [0, 0.5]
     * @param steps Adam steps per group (&ge; 0; 0 keeps the start)
     * @param learningRate Adam's step on s/s₀ (and on z in code units), &gt; 0
     * @param patience stop a group after this many steps without a new best (&ge; 1)
     */
    public record Options(float sigmas, float maxOutlierFraction, int steps, float learningRate, int patience) {
        /** Validates. */
        public Options {
            if (!(sigmas > 0)) {
                throw new IllegalArgumentException("easyquant: sigmas must be > 0, got " + sigmas);
            }
            if (!(maxOutlierFraction >= 0 && maxOutlierFraction <= 0.5f)) {
                throw new IllegalArgumentException("easyquant: maxOutlierFraction must be in [0, 0.5], got "
                        + maxOutlierFraction);
            }
            if (steps < 0) {
                throw new IllegalArgumentException("easyquant: steps must be >= 0, got " + steps);
            }
            if (!(learningRate > 0) || !Float.isFinite(learningRate)) {
                throw new IllegalArgumentException("easyquant: learningRate must be finite and > 0, got "
                        + learningRate);
            }
            if (patience < 1) {
                throw new IllegalArgumentException("easyquant: patience must be >= 1, got " + patience);
            }
        }

        /** n = 3, ≤ 1 % per row, 100 steps, lr 0.03, patience 8. */
        public static Options defaults() {
            return new Options(3f, 0.01f, 100, 0.03f, 8);
        }

        /** These options with another n. */
        public Options withSigmas(float n) {
            return new Options(n, maxOutlierFraction, steps, learningRate, patience);
        }

        /** These options with another step count. */
        public Options withSteps(int s) {
            return new Options(sigmas, maxOutlierFraction, s, learningRate, patience);
        }
    }

    private final Options options;

    private EasyQuant(Options options) {
        this.options = options;
    }

    /** Default options. */
    public static EasyQuant defaults() {
        return new EasyQuant(Options.defaults());
    }

    /** With the given options. */
    public static EasyQuant of(Options options) {
        return new EasyQuant(Objects.requireNonNull(options, "options"));
    }

    @Override
    public String name() {
        return "easyquant";
    }

    /** Outlier positions and values per row, and the working copy with them replaced by the row mean. */
    record Isolated(float[] work, Outliers outliers) {
    }

    /** Σ w[off .. off+n) in double, four accumulators (the adds are independent: no latency-bound chain). */
    static double rowSum(float[] w, int off, int n) {
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            a0 += w[off + i];
            a1 += w[off + i + 1];
            a2 += w[off + i + 2];
            a3 += w[off + i + 3];
        }
        for (; i < n; i++) {
            a0 += w[off + i];
        }
        return (a0 + a1) + (a2 + a3);
    }

    /** Σ (w − mu)² over w[off .. off+n) in double, four accumulators. */
    static double rowSquaredDeviation(float[] w, int off, int n, double mu) {
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            double d0 = w[off + i] - mu;
            double d1 = w[off + i + 1] - mu;
            double d2 = w[off + i + 2] - mu;
            double d3 = w[off + i + 3] - mu;
            a0 += d0 * d0;
            a1 += d1 * d1;
            a2 += d2 * d2;
            a3 += d3 * d3;
        }
        for (; i < n; i++) {
            double d = w[off + i] - mu;
            a0 += d * d;
        }
        return (a0 + a1) + (a2 + a3);
    }

    Isolated isolate(float[] w, int rows, int cols) {
        float[] work = w.clone();
        int cap = (int) Math.floor(options.maxOutlierFraction() * cols);
        int[][] rowCols = new int[rows][];
        if (cap > 0 && Float.isFinite(options.sigmas())) {
            Parallel.forRange(0, rows, Math.max(1, (1 << 15) / cols), (from, to) -> {
                float[] dev = new float[cols];
                for (int r = (int) from; r < to; r++) {
                    int base = r * cols;
                    double mu = rowSum(w, base, cols) / cols;
                    double limit = options.sigmas() * Math.sqrt(rowSquaredDeviation(w, base, cols, mu) / cols);
                    int n = 0;
                    for (int c = 0; c < cols; c++) {
                        dev[c] = (float) Math.abs(w[base + c] - mu);
                        if (dev[c] > limit) {
                            n++;
                        }
                    }
                    if (n == 0) {
                        continue;
                    }
                    int keep = Math.min(n, cap);
                    // the `keep` largest deviations above the limit, ties to the lower column
                    long[] keys = new long[n];
                    int k = 0;
                    for (int c = 0; c < cols; c++) {
                        if (dev[c] > limit) {
                            keys[k++] = ((long) Float.floatToIntBits(dev[c]) << 32) | (0xFFFF_FFFFL - c);
                        }
                    }
                    Arrays.sort(keys);
                    int[] chosen = new int[keep];
                    for (int i = 0; i < keep; i++) {
                        chosen[i] = (int) (0xFFFF_FFFFL - (keys[n - 1 - i] & 0xFFFF_FFFFL));
                    }
                    Arrays.sort(chosen);
                    rowCols[r] = chosen;
                    for (int c : chosen) {
                        work[base + c] = (float) mu;
                    }
                }
            });
        }
        int total = 0;
        for (int[] rc : rowCols) {
            total += rc == null ? 0 : rc.length;
        }
        int[] ri = new int[total];
        int[] ci = new int[total];
        float[] vi = new float[total];
        int k = 0;
        for (int r = 0; r < rows; r++) {
            if (rowCols[r] != null) {
                for (int c : rowCols[r]) {
                    ri[k] = r;
                    ci[k] = c;
                    vi[k++] = w[r * cols + c];
                }
            }
        }
        return new Isolated(work, Outliers.of(rows, cols, ri, ci, vi, DType.F32));
    }

    Groupwise.Fitter fitter(AffineSpec spec) {
        int bits = spec.bits();
        int maxq = (1 << bits) - 1;
        boolean sym = spec.symmetric();
        DType st = spec.scaleType();
        int steps = options.steps();
        float lr = options.learningRate();
        int patience = options.patience();
        AffineFitKernels k = Groupwise.FIT;
        double[] c1 = new double[steps + 1];
        double[] c2 = new double[steps + 1];
        for (int t = 1; t <= steps; t++) {
            c1[t] = lr / (1 - Math.pow(ADAM_B1, t));
            c2[t] = 1 / (1 - Math.pow(ADAM_B2, t));
        }
        return (w, off, len, h, hOff) -> {
            long start = AffineGrid.minMax(w, off, len, spec, false, false);
            if (steps == 0) {
                return start;
            }
            float s0 = AffineGrid.scale(start);
            int z0 = AffineGrid.zero(start);
            long best = start;
            float bestErr = Float.POSITIVE_INFINITY;
            float[] out = new float[3];
            double u = 1;              // s = u·s0
            double zf = z0;            // zero point in code units (rounded when used)
            double mu = 0, vu = 0, mz = 0, vz = 0;
            int sinceBest = 0;
            // step 1 evaluates the start itself (u = 1, z = z0): the error and gradient come from one kernel pass
            for (int step = 1; step <= steps; step++) {
                float s = AffineGrid.storable((float) (u * s0), st);
                int z = sym ? z0 : (int) Math.min(Math.max(Math.rint(zf), 0), maxq);
                k.steGradient(w, off, len, s, z, bits, out);
                float err = out[0];
                if (err < bestErr) {
                    bestErr = err;
                    best = AffineGrid.pack(s, z);
                    sinceBest = 0;
                    if (err == 0) {
                        break;
                    }
                } else if (++sinceBest >= patience) {
                    break;
                }
                // Adam on u (gradient 2·Σ e·∂r·s0) and on zf (gradient 2·Σ_clamped e·(−s), in code units)
                // (the bias corrections lr/(1 − β₁ᵗ) and 1/(1 − β₂ᵗ) come from a table: no divisions in the chain)
                double gu = 2.0 * out[1] * s0;
                mu = ADAM_B1 * mu + (1 - ADAM_B1) * gu;
                vu = ADAM_B2 * vu + (1 - ADAM_B2) * gu * gu;
                u -= c1[step] * mu / (Math.sqrt(vu * c2[step]) + ADAM_EPS);
                u = Math.max(u, 1e-3);
                if (!sym) {
                    double g = -2.0 * out[2] * s;
                    mz = ADAM_B1 * mz + (1 - ADAM_B1) * g;
                    vz = ADAM_B2 * vz + (1 - ADAM_B2) * g * g;
                    zf -= c1[step] * maxq * mz / (Math.sqrt(vz * c2[step]) + ADAM_EPS);
                }
            }
            return best;
        };
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        Isolated iso = isolate(w, rows, cols);
        Groupwise.Grid grid = Groupwise.fit(iso.work(), rows, cols, spec, fitter(spec), null);
        Groupwise.Encoded m = Groupwise.encodeMeasured(iso.work(), w, rows, cols, spec, grid, iso.outliers());
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("sigmas", Float.toString(options.sigmas()));
        opts.put("outlierFraction", String.format("%.4f", iso.outliers().count() / ((double) rows * cols)));
        opts.put("steps", Integer.toString(options.steps()));
        return Groupwise.result(name(), w, rows, cols, m, t0, opts);
    }
}

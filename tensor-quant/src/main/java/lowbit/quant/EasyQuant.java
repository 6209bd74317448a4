package lowbit.quant;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Outliers;
import lowbit.tensor.parallel.Parallel;

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
 * all published; the defaults here (n = 3, at most 1 % per row, 100 Adam steps, learning rate 0.01 on s/s₀,
 * stop after 20 steps without improvement) are lowbit's choices.
 */
public final class EasyQuant implements Quantizer {
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

        /** n = 3, ≤ 1 % per row, 100 steps, lr 0.01, patience 20. */
        public static Options defaults() {
            return new Options(3f, 0.01f, 100, 0.01f, 20);
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

    Isolated isolate(float[] w, int rows, int cols) {
        float[] work = w.clone();
        int cap = (int) Math.floor(options.maxOutlierFraction() * cols);
        int[][] rowCols = new int[rows][];
        if (cap > 0 && Float.isFinite(options.sigmas())) {
            Parallel.forRange(0, rows, Math.max(1, (1 << 15) / cols), (from, to) -> {
                float[] dev = new float[cols];
                for (int r = (int) from; r < to; r++) {
                    int base = r * cols;
                    double sum = 0;
                    for (int c = 0; c < cols; c++) {
                        sum += w[base + c];
                    }
                    double mu = sum / cols;
                    double ss = 0;
                    for (int c = 0; c < cols; c++) {
                        double d = w[base + c] - mu;
                        ss += d * d;
                    }
                    double limit = options.sigmas() * Math.sqrt(ss / cols);
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
        return (w, off, len, h, hOff) -> {
            long start = AffineGrid.minMax(w, off, len, spec, false, false);
            float s0 = AffineGrid.scale(start);
            int z0 = AffineGrid.zero(start);
            float bestErr = AffineGrid.squaredError(w, off, len, s0, z0, bits);
            long best = start;
            if (bestErr == 0 || steps == 0) {
                return best;
            }
            double u = 1;              // s = u·s0
            double zf = z0;            // zero point in code units (rounded when used)
            double mu = 0, vu = 0, mz = 0, vz = 0;
            final double b1 = 0.9, b2 = 0.999, eps = 1e-12;
            double b1t = 1, b2t = 1;
            int sinceBest = 0;
            for (int step = 1; step <= steps; step++) {
                float s = AffineGrid.storable((float) (u * s0), st);
                int z = sym ? z0 : (int) Math.min(Math.max(Math.rint(zf), 0), maxq);
                float lo = -z;
                float hi = maxq - z;
                double gs = 0;
                double gz = 0;
                double err = 0;
                for (int i = 0; i < len; i++) {
                    float x = w[off + i];
                    float t = x / s;
                    float tc = Math.min(Math.max(t, lo), hi);
                    float r = (tc + AffineGrid.ROUND_MAGIC) - AffineGrid.ROUND_MAGIC;
                    float e = s * r - x; // ŵ − w
                    err += (double) e * e;
                    float dq = t < lo ? lo : (t > hi ? hi : r - t);
                    gs += e * dq;
                    if (t < lo || t > hi) {
                        gz -= e * s;
                    }
                }
                if (err < bestErr) {
                    bestErr = (float) err;
                    best = AffineGrid.pack(s, z);
                    sinceBest = 0;
                } else if (++sinceBest >= patience) {
                    break;
                }
                // Adam on u (gradient 2·gs·s0) and on zf (gradient 2·gz, in code units)
                double gu = 2 * gs * s0;
                b1t *= b1;
                b2t *= b2;
                mu = b1 * mu + (1 - b1) * gu;
                vu = b2 * vu + (1 - b2) * gu * gu;
                u -= lr * (mu / (1 - b1t)) / (Math.sqrt(vu / (1 - b2t)) + eps);
                u = Math.max(u, 1e-3);
                if (!sym) {
                    double g = 2 * gz;
                    mz = b1 * mz + (1 - b1) * g;
                    vz = b2 * vz + (1 - b2) * g * g;
                    zf -= lr * maxq * (mz / (1 - b1t)) / (Math.sqrt(vz / (1 - b2t)) + eps);
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
        GroupwiseAffine m = Groupwise.encode(iso.work(), rows, cols, spec, grid, iso.outliers());
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("sigmas", Float.toString(options.sigmas()));
        opts.put("outlierFraction", String.format("%.4f", iso.outliers().count() / ((double) rows * cols)));
        opts.put("steps", Integer.toString(options.steps()));
        return Groupwise.result(name(), w, rows, cols, m, null, t0, opts);
    }
}

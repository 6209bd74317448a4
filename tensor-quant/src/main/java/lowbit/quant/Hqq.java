package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.simd.AffineFitKernels;

/**
 * HQQ, half-quadratic quantization (Badri &amp; Shaji 2023, mobiusml/hqq), data-free: the scale comes from min/max
 * and the zero point is optimized for a sparsity-promoting l_p error (p &lt; 1) by alternating, per group,
 * <pre>
 *   W_q ← clamp(round(W/s + z), 0, maxq),  W_r ← s·(W_q − z)
 *   W_e ← shrink_p(W − W_r, β) = sign(x)·max(|x| − |x|^(p−1)/β, 0)     (generalised soft threshold)
 *   z   ← mean over the group of (W_q − (W − W_e)/s)
 *   β   ← β·κ
 * </pre>
 * with the constants of hqq's {@code optimize_weights_proximal}: p = 0.7, β = 10, κ = 1.01, 20 iterations, stopping
 * early as soon as the mean absolute error mean|W − W_r| stops decreasing (then the last better z is kept, as hqq's
 * {@code early_stop}). Differences from hqq, which keeps a float zero point: the layout stores an integer z, so the
 * optimized z is rounded to the floor or ceiling with the lower mean absolute error; hqq measures its stopping error
 * over the whole tensor, here each group stops on its own error (groups stay independent and parallel). Options
 * {@link Options#l2Guard()} (default on): HQQ minimizes an l_p error, not the squared error, so per group the RTN
 * zero point is kept when it has the lower squared error; the report counts those groups. Asymmetric specs only (a
 * symmetric spec has no zero point to optimize).
 *
 * <p>Because the layout's zero point is an integer, rounding hqq's float z usually lands back on RTN's z; so after
 * rounding, the same proximal alternation runs on the scale (the remaining continuous unknown), with the closed-form
 * least-squares scale of the shrunk target, s ← Σ (W − W_e)(q − z)/Σ (q − z)², early-stopped on the mean absolute
 * error. This second phase is lowbit's adaptation, not in hqq.
 */
public final class Hqq implements Quantizer {
    /**
     * @param p the l_p exponent, in (0, 1]
     * @param beta the initial β &gt; 0
     * @param kappa β's growth per iteration, &gt; 1
     * @param iterations &ge; 1
     * @param earlyStop stop when the mean absolute error increases
     * @param l2Guard keep RTN's zero point where it has the lower squared error
     */
    public record Options(float p, float beta, float kappa, int iterations, boolean earlyStop, boolean l2Guard) {
        /** Validates. */
        public Options {
            if (!(p > 0 && p <= 1)) {
                throw new IllegalArgumentException("hqq: p must be in (0, 1], got " + p);
            }
            if (!(beta > 0) || !Float.isFinite(beta)) {
                throw new IllegalArgumentException("hqq: beta must be finite and > 0, got " + beta);
            }
            if (!(kappa > 1) || !Float.isFinite(kappa)) {
                throw new IllegalArgumentException("hqq: kappa must be finite and > 1, got " + kappa);
            }
            if (iterations < 1) {
                throw new IllegalArgumentException("hqq: iterations must be >= 1, got " + iterations);
            }
        }

        /** hqq's defaults: p 0.7, β 10, κ 1.01, 20 iterations, early stop; plus the l2 guard. */
        public static Options defaults() {
            return new Options(0.7f, 10f, 1.01f, 20, true, true);
        }

        /** These options without the l2 guard (pure HQQ zero points). */
        public Options withoutL2Guard() {
            return new Options(p, beta, kappa, iterations, earlyStop, false);
        }
    }

    private final Options options;

    private Hqq(Options options) {
        this.options = options;
    }

    /** hqq's defaults. */
    public static Hqq defaults() {
        return new Hqq(Options.defaults());
    }

    /** With the given options. */
    public static Hqq of(Options options) {
        return new Hqq(Objects.requireNonNull(options, "options"));
    }

    @Override
    public String name() {
        return "hqq";
    }

    Groupwise.Fitter fitter(AffineSpec spec, AtomicInteger guarded) {
        int bits = spec.bits();
        int maxq = (1 << bits) - 1;
        float p = options.p();
        float kappa = options.kappa();
        AffineFitKernels k = Groupwise.FIT;
        return (w, off, len, h, hOff) -> {
            float[] lo1 = new float[1];
            float[] hi1 = new float[1];
            k.groupMinMax(w, off, len, len, lo1, hi1, 0);
            float lo = lo1[0];
            float hi = hi1[0];
            long rtn = AffineGrid.asymmetric(lo, hi, bits, false, spec.scaleType());
            float s = AffineGrid.scale(rtn);
            if (!(hi > lo)) {
                return rtn;
            }
            float[] out = new float[3];
            double z = -lo / s; // hqq's unrounded zero
            double bestZ = z;
            float bestErr = Float.POSITIVE_INFINITY;
            double beta = options.beta();
            for (int it = 0; it < options.iterations(); it++) {
                // |x| ≤ β^(−1/(2−p)) shrinks to exactly 0: the kernel skips pow there
                k.hqqZeroStep(w, off, len, s, (float) z, maxq, p, (float) (1 / beta), threshold(beta, p), out);
                float errAbs = out[0];
                if (options.earlyStop()) {
                    if (errAbs < bestErr) {
                        bestErr = errAbs;
                        bestZ = z;
                    } else {
                        break;
                    }
                } else {
                    bestZ = z;
                }
                z = out[1] / len;
                beta *= kappa;
            }
            int zLo = (int) Math.min(Math.max(Math.floor(bestZ), 0), maxq);
            int zHi = (int) Math.min(Math.max(Math.ceil(bestZ), 0), maxq);
            int zi = zLo == zHi || k.absError(w, off, len, s, zLo, maxq) <= k.absError(w, off, len, s, zHi, maxq)
                    ? zLo : zHi;
            // with z now an integer the scale is the continuous unknown: the same half-quadratic alternation on s,
            // W_e ← shrink_p(W − s(q − z), β), s ← Σ (W − W_e)(q − z) / Σ (q − z)² (least squares), q re-rounded;
            // one pass per iteration gives the candidate's error and the sums for the next step
            beta = options.beta();
            k.hqqScaleStep(w, off, len, s, zi, maxq, p, (float) (1 / beta), threshold(beta, p), out);
            float sBest = s;
            float errBest = out[2];
            for (int it = 0; it < options.iterations(); it++) {
                float num = out[0];
                float den = out[1];
                if (!(den > 0) || !(num > 0)) {
                    break;
                }
                float next = AffineGrid.storable(num / den, spec.scaleType());
                beta *= kappa;
                k.hqqScaleStep(w, off, len, next, zi, maxq, p, (float) (1 / beta), threshold(beta, p), out);
                if (out[2] < errBest) {
                    errBest = out[2];
                    sBest = next;
                } else if (options.earlyStop()) {
                    break;
                }
            }
            long hqq = AffineGrid.pack(sBest, zi);
            if (options.l2Guard() && hqq != rtn
                    && k.squaredError(w, off, len, AffineGrid.scale(rtn), AffineGrid.zero(rtn), bits)
                    <= k.squaredError(w, off, len, sBest, zi, bits)) {
                guarded.incrementAndGet();
                return rtn;
            }
            return hqq;
        };
    }

    /** β^(−1/(2−p)): errors at or below it shrink to exactly 0. */
    private static float threshold(double beta, float p) {
        return (float) Math.pow(beta, -1.0 / (2 - p));
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        if (spec.symmetric()) {
            throw new IllegalArgumentException("hqq optimizes the zero point and needs an asymmetric spec, got "
                    + spec.describe());
        }
        AtomicInteger guarded = new AtomicInteger();
        Groupwise.Grid grid = Groupwise.fit(w, rows, cols, spec, fitter(spec, guarded), null);
        Groupwise.Encoded m = Groupwise.encodeMeasured(w, w, rows, cols, spec, grid, null);
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("p", Float.toString(options.p()));
        opts.put("beta", Float.toString(options.beta()));
        opts.put("kappa", Float.toString(options.kappa()));
        opts.put("iterations", Integer.toString(options.iterations()));
        opts.put("l2GuardedGroups", Integer.toString(guarded.get()));
        return Groupwise.result(name(), w, rows, cols, m, t0, opts);
    }
}

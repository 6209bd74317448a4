package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineSpec.Granularity;
import lowbit.tensor.linalg.Gemm;

/**
 * AWQ (Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration"; as
 * mit-han-lab/llm-awq's {@code auto_scale}): salient input channels — those with large activations — are protected by
 * scaling them up before quantization. With s_x = mean over tokens of |x_j| ({@link CalibrationStats#meanAbs()}):
 * <pre>
 *   for α in {0, 1/grid, …, (grid − 1)/grid}:   s = max(s_x^α, 10⁻⁴),  s ← s / √(max s · min s)
 *       Ŵ(α) = Q(W·diag(s))·diag(s)⁻¹,   loss(α) = ‖XWᵀ − XŴ(α)ᵀ‖²
 *   keep the α of least loss (α = 0 is plain RTN, so AWQ never does worse than RTN by this loss)
 * </pre>
 * with Q the spec's RTN. Then W·diag(s) is quantized by the {@code inner} quantizer — by default the MSE clip
 * search ({@link ClipSearch}, AWQ's {@code auto_clip}, activation-weighted by mean x'² of the scaled inputs
 * x' = x/s) — and the result's {@link InputTransform} carries the channel multiplier m = 1/s: the layer computes
 * Ŵ'·(x ⊙ m). Fold m into the previous op ({@link InputTransform#foldIntoLayerNorm},
 * {@link InputTransform#foldIntoPreviousLinear}) or apply it to x. Any quantizer can be the inner one: with
 * {@link Gptq} (AWQ before GPTQ) it receives the scaled statistics H' = diag(s)⁻¹·H·diag(s)⁻¹.
 *
 * <p><b>The loss</b> is evaluated exactly over all calibration tokens through the Hessian,
 * ‖X·Δᵀ‖² = (N/2)·Σ_r Δ_r·H·Δ_rᵀ (a float GEMM Δ·H), instead of on a token sample as llm-awq does (which also
 * measures a whole block's output; per-Linear is what this quantizer can see). Its cost is rows·in² multiply-adds per
 * grid point, so for large layers it runs on an evenly strided subset of the rows: all rows while rows·in² ≤
 * {@code maxLossMacs} (2³¹ by default), else ⌈maxLossMacs / in²⌉ of them (128 rows for in = 4096); the report says
 * how many ({@code loss rows}). Without a Hessian the loss falls back to its diagonal, Σ_j E[x_j²]·Σ_r Δ_rj².
 *
 * <p>Row-wise granularities only (groups along in, per output channel), as AWQ. Deterministic for any thread count.
 */
public final class Awq implements Quantizer {
    /**
     * @param grid number of α values, α = i/grid for i in [0, grid) (20 in the paper)
     * @param maxLossMacs the multiply-add budget of one loss evaluation (rows·in² above it: row subset)
     */
    public record Options(int grid, long maxLossMacs) {
        /** Validates. */
        public Options {
            if (grid < 1 || grid > 1000) {
                throw new IllegalArgumentException("awq: grid must be 1..1000, got " + grid);
            }
            if (maxLossMacs < 1) {
                throw new IllegalArgumentException("awq: maxLossMacs must be >= 1, got " + maxLossMacs);
            }
        }

        /** A grid of 20, loss budget 2³¹ multiply-adds. */
        public static Options defaults() {
            return new Options(20, 1L << 31);
        }
    }

    private final Options options;
    private final Quantizer inner;

    private Awq(Options options, Quantizer inner) {
        this.options = Objects.requireNonNull(options, "awq: options are null");
        this.inner = Objects.requireNonNull(inner, "awq: inner quantizer is null");
    }

    /** AWQ scales, then the activation-weighted MSE clip search. */
    public static Awq defaults() {
        return new Awq(Options.defaults(), ClipSearch.defaults());
    }

    /** AWQ scales, then {@code inner} on W·diag(s) with the scaled statistics (e.g. {@link Gptq}). */
    public static Awq of(Options options, Quantizer inner) {
        return new Awq(options, inner);
    }

    @Override
    public String name() {
        return "awq+" + inner.name();
    }

    /** The chosen scales s and α for W (the search only). */
    public record Scales(float[] s, float alpha, double loss, int lossRows) {
    }

    /**
     * Runs the α search.
     *
     * @throws IllegalArgumentException for null statistics, a column-family or per-tensor spec, or the common input
     *     errors
     */
    public Scales search(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        if (stats == null) {
            throw new IllegalArgumentException("awq: needs calibration statistics (mean |x| per input channel)");
        }
        if (spec.granularity() != Granularity.GROUP_ALONG_IN && spec.granularity() != Granularity.PER_OUTPUT_CHANNEL) {
            throw new IllegalArgumentException("awq: needs a row-wise spec (groups along in or per output channel), got "
                    + spec.describe());
        }
        float[] sx = stats.meanAbs();
        double[] h = stats.hessian();
        int[] lossRows = lossRows(rows, cols);
        int m = lossRows.length;
        float[] wr = new float[m * cols];
        for (int k = 0; k < m; k++) {
            System.arraycopy(w, lossRows[k] * cols, wr, k * cols, cols);
        }
        float[] hf = null;
        if (h != null) {
            hf = new float[cols * cols];
            for (int i = 0; i < hf.length; i++) {
                hf[i] = (float) h[i];
            }
        }
        float[] sq = stats.meanSquare();
        Rtn rtn = Rtn.defaults();
        float[] best = null;
        float bestAlpha = 0;
        double bestLoss = Double.POSITIVE_INFINITY;
        float[] scaled = new float[m * cols];
        float[] delta = new float[m * cols];
        float[] prod = hf == null ? null : new float[m * cols];
        for (int i = 0; i < options.grid(); i++) {
            float alpha = (float) i / options.grid();
            float[] s = scales(sx, alpha);
            for (int k = 0; k < m; k++) {
                for (int j = 0; j < cols; j++) {
                    scaled[k * cols + j] = wr[k * cols + j] * s[j];
                }
            }
            float[] q = rtn.quantize(scaled, m, cols, spec).matrix().dequantize();
            for (int k = 0; k < m; k++) {
                for (int j = 0; j < cols; j++) {
                    delta[k * cols + j] = wr[k * cols + j] - q[k * cols + j] / s[j];
                }
            }
            double loss = 0;
            if (hf != null) {
                Gemm.gemm(false, false, m, cols, cols, 1f, delta, 0, cols, hf, 0, cols, 0f, prod, 0, cols);
                for (int e = 0; e < delta.length; e++) {
                    loss += (double) prod[e] * delta[e];
                }
                loss /= 2; // ½·Δ·H·Δᵀ = ‖XΔᵀ‖²/N
            } else {
                for (int e = 0; e < delta.length; e++) {
                    loss += (double) sq[e % cols] * delta[e] * delta[e];
                }
            }
            if (loss < bestLoss) {
                bestLoss = loss;
                best = s;
                bestAlpha = alpha;
            }
        }
        return new Scales(best, bestAlpha, bestLoss, m);
    }

    /** s = max(s_x^α, 10⁻⁴) normalized by √(max·min) (llm-awq's order: power, clamp, normalize). */
    static float[] scales(float[] sx, float alpha) {
        int n = sx.length;
        float[] s = new float[n];
        float max = 0;
        float min = Float.POSITIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            s[j] = Math.max((float) Math.pow(sx[j], alpha), 1e-4f);
            max = Math.max(max, s[j]);
            min = Math.min(min, s[j]);
        }
        float norm = (float) Math.sqrt((double) max * min);
        for (int j = 0; j < n; j++) {
            s[j] /= norm;
        }
        return s;
    }

    private int[] lossRows(int rows, int cols) {
        long perRow = (long) cols * cols;
        long fit = Math.max(1, options.maxLossMacs() / perRow);
        int m = (int) Math.min(rows, fit);
        int[] idx = new int[m];
        for (int k = 0; k < m; k++) {
            idx[k] = (int) ((long) k * rows / m);
        }
        return idx;
    }

    /**
     * The statistics of x' = x/s: mean|x'| = mean|x|/s, mean x'² = mean x²/s², mean x' = mean x/s and
     * H' = diag(s)⁻¹·H·diag(s)⁻¹.
     */
    static CalibrationStats scaledStats(CalibrationStats stats, float[] s) {
        int n = stats.features();
        float[] abs = stats.meanAbs().clone();
        float[] sq = stats.meanSquare().clone();
        float[] mean = stats.mean() == null ? null : stats.mean().clone();
        for (int j = 0; j < n; j++) {
            abs[j] /= s[j];
            sq[j] /= s[j] * s[j];
            if (mean != null) {
                mean[j] /= s[j];
            }
        }
        double[] h = stats.hessian();
        double[] hs = null;
        if (h != null) {
            hs = new double[h.length];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    hs[i * n + j] = h[i * n + j] / ((double) s[i] * s[j]);
                }
            }
        }
        return new ArrayCalibrationStats(n, stats.tokens(), abs, sq, mean, hs);
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Scales sc = search(w, rows, cols, spec, stats);
        float[] s = sc.s();
        float[] ws = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                ws[r * cols + j] = w[r * cols + j] * s[j];
            }
        }
        QuantResult q = inner.quantize(ws, rows, cols, spec, scaledStats(stats, s));
        float[] m = new float[cols];
        for (int j = 0; j < cols; j++) {
            m[j] = 1 / s[j];
        }
        InputTransform tr = q.transform().withInputScaling(m);
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("alpha", Float.toString(sc.alpha()));
        opts.put("grid", Integer.toString(options.grid()));
        opts.put("loss rows", sc.lossRows() + "/" + rows);
        opts.put("inner", inner.name());
        q.report().options().forEach((k, v) -> opts.putIfAbsent(k, v));
        long nanos = System.nanoTime() - t0;
        return new QuantResult(q.matrix(), tr, QuantReport.measure(name(), w, rows, cols, q.matrix(),
                q.report().spec(), tr, nanos, opts));
    }

    @Override
    public String toString() {
        return "Awq[" + options + ", inner=" + inner.name() + "]";
    }
}

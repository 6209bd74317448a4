package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;

/**
 * D²Quant's Dual-Scale Quantizer (Yan et al. 2026, "D²Quant: Accurate Low-bit Post-Training Weight Quantization for
 * LLMs"), meant for FFN down-projections: besides the layout's group scales S, a per-input-channel scale t that the
 * previous layer absorbs (the up projection's rows, which feed the down projection's input channels elementwise even
 * through a gated activation), W ≈ (S ⊙ Q)·diag(t). The layout stores Q(W·diag(t)⁻¹) and the result's
 * {@link InputTransform} carries m = t (x' = t ⊙ x).
 *
 * <p>Optimization, alternating as in the paper's figure ("initialize, iterative optimization, merging"):
 * start from t = 1; quantize W·diag(t)⁻¹ with RTN; then set each t_c to the least-squares fit of column c,
 * t_c = Σ_r w_rc·ŵ'_rc / Σ_r ŵ'_rc² (ŵ' the dequantized matrix; unchanged when the column quantized to zero);
 * repeat. The pair (Ŵ', t) with the least weight error ‖W − Ŵ'·diag(t)‖² is kept, so the result is never worse
 * than RTN (the first pair already improves on it). The paper's code is not published (its repository holds only the
 * README); the initialization t = 1, the closed-form t update and the iteration count (default 8) are lowbit's
 * choices.
 *
 * <p><b>Deviation-aware correction.</b> When the statistics carry the input mean E[x], the result also carries the
 * output mean shift c = (W − Ŵ_eff)·E[x] as {@link InputTransform#outputBias()}: adding it to the layer's output
 * (or to the bias, or the next LayerNorm's β through the residual) removes the quantization-induced shift of the
 * mean activation. D²Quant measures that shift at the post-attention LayerNorm over calibration data; for a whole
 * block use {@link MeanShift#correction}.
 */
public final class DualScale implements Quantizer {
    private final int iterations;

    private DualScale(int iterations) {
        if (iterations < 1 || iterations > 1000) {
            throw new IllegalArgumentException("dual scale: iterations must be 1..1000, got " + iterations);
        }
        this.iterations = iterations;
    }

    /** 8 alternations. */
    public static DualScale defaults() {
        return new DualScale(8);
    }

    /** With {@code iterations} alternations. */
    public static DualScale of(int iterations) {
        return new DualScale(iterations);
    }

    @Override
    public String name() {
        return "d2quant";
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        Rtn rtn = Rtn.defaults();
        float[] t = new float[cols];
        java.util.Arrays.fill(t, 1f);
        float[] scaled = new float[w.length];
        GroupwiseAffine best = null;
        float[] bestT = null;
        double bestErr = Double.POSITIVE_INFINITY;
        int bestIt = -1;
        for (int it = 0; it < iterations; it++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    scaled[r * cols + c] = w[r * cols + c] / t[c];
                }
            }
            GroupwiseAffine q = Groupwise.encode(scaled, rows, cols, spec, rtn.grid(scaled, rows, cols, spec), null);
            float[] d = q.dequantize();
            double[] num = new double[cols];
            double[] den = new double[cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    double v = d[r * cols + c];
                    num[c] += v * w[r * cols + c];
                    den[c] += v * v;
                }
            }
            float[] next = t.clone();
            for (int c = 0; c < cols; c++) {
                if (den[c] > 0) {
                    float v = (float) (num[c] / den[c]);
                    if (Float.isFinite(v) && v > 0) {
                        next[c] = v;
                    }
                }
            }
            double err = 0;
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    double e = (double) d[r * cols + c] * next[c] - w[r * cols + c];
                    err += e * e;
                }
            }
            if (err < bestErr) {
                bestErr = err;
                best = q;
                bestT = next;
                bestIt = it;
            }
            t = next;
        }
        InputTransform tr = InputTransform.channelMultiplier(bestT);
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("iterations", Integer.toString(iterations));
        opts.put("bestIteration", Integer.toString(bestIt));
        float[] mean = stats == null ? null : stats.mean();
        if (mean != null) {
            float[] eff = best.dequantize();
            tr.effectiveWeight(eff, rows, cols);
            float[] c = new float[rows];
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int j = 0; j < cols; j++) {
                    s += ((double) w[r * cols + j] - eff[r * cols + j]) * mean[j];
                }
                c[r] = (float) s;
            }
            tr = tr.withOutputBias(c);
            opts.put("meanShiftCorrection", "yes");
        }
        return Groupwise.result(name(), w, rows, cols, best, tr, t0, opts);
    }
}

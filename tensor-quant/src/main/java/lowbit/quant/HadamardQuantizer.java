package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;

/**
 * Quantizes in a randomized Hadamard basis (QuaRot; RSQ, Sun et al. 2025, "RSQ: Learning from Important Tokens Leads
 * to Better Quantized LLMs", rotates before GPTQ): W' = W·Rᵀ (each row rotated by {@link HadamardRotation} R) is
 * quantized by the inner quantizer and the result's {@link InputTransform} carries R, so the layer computes
 * Ŵ'·(R·x) — apply R to x at inference or fold it into the previous linear layer. Because R is orthogonal the error
 * of Ŵ_eff = Ŵ'·R equals the error of Ŵ' against W'; rotation spreads large weights over a block, which helps
 * groups that hold outliers and can cost a little on groups that had none.
 *
 * <p>Calibration statistics are passed to the inner quantizer rotated when they carry a Hessian (H' = R·H·Rᵀ, with
 * mean x² = diag(H')/2 and mean |x| approximated by √(mean x²)); per-channel statistics alone do not survive a
 * rotation, so otherwise the inner quantizer runs data-free.
 */
public final class HadamardQuantizer implements Quantizer {
    private final Quantizer inner;
    private final long seed;
    private final int maxBlock;

    private HadamardQuantizer(Quantizer inner, long seed, int maxBlock) {
        this.inner = Objects.requireNonNull(inner, "inner quantizer");
        if (maxBlock < 1) {
            throw new IllegalArgumentException("hadamard: maxBlock must be >= 1, got " + maxBlock);
        }
        this.seed = seed;
        this.maxBlock = maxBlock;
    }

    /** Rotate with seed {@code seed} (largest power-of-two block), then quantize with {@code inner}. */
    public static HadamardQuantizer of(Quantizer inner, long seed) {
        return new HadamardQuantizer(inner, seed, Integer.MAX_VALUE);
    }

    /** As {@link #of(Quantizer, long)} with blocks of at most {@code maxBlock}. */
    public static HadamardQuantizer of(Quantizer inner, long seed, int maxBlock) {
        return new HadamardQuantizer(inner, seed, maxBlock);
    }

    @Override
    public String name() {
        return "hadamard+" + inner.name();
    }

    static CalibrationStats rotate(CalibrationStats stats, HadamardRotation r) {
        if (stats == null || stats.hessian() == null) {
            return null;
        }
        int n = stats.features();
        double[] h = stats.hessian();
        // H' = R H Rᵀ: rotate columns of each row, then rows (R applied in float to the double matrix, per vector)
        double[] out = new double[h.length];
        float[] v = new float[n];
        double[] tmp = new double[h.length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                v[j] = (float) h[i * n + j];
            }
            r.apply(v, 0);
            for (int j = 0; j < n; j++) {
                tmp[i * n + j] = v[j];
            }
        }
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < n; i++) {
                v[i] = (float) tmp[i * n + j];
            }
            r.apply(v, 0);
            for (int i = 0; i < n; i++) {
                out[i * n + j] = v[i];
            }
        }
        float[] sq = new float[n];
        float[] abs = new float[n];
        for (int j = 0; j < n; j++) {
            sq[j] = (float) Math.max(0, out[j * n + j] / 2);
            abs[j] = (float) Math.sqrt(sq[j]);
        }
        return new ArrayCalibrationStats(n, stats.tokens(), abs, sq, null, out);
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        HadamardRotation r = HadamardRotation.of(cols, maxBlock, seed);
        float[] rotated = w.clone();
        r.applyToRows(rotated, rows);
        QuantResult q = inner.quantize(rotated, rows, cols, spec, rotate(stats, r));
        if (q.transform().changesInput()) {
            throw new IllegalArgumentException("hadamard: the inner quantizer " + inner.name()
                    + " returns its own input transform; compose it outside the rotation");
        }
        InputTransform tr = InputTransform.rotation(r);
        float[] c = q.transform().outputBias();
        if (c != null) {
            tr = tr.withOutputBias(c);
        }
        Map<String, String> opts = new LinkedHashMap<>(q.report().options());
        opts.put("inner", inner.name());
        opts.put("block", Integer.toString(r.block()));
        opts.put("seed", Long.toString(seed));
        long nanos = System.nanoTime() - t0;
        return new QuantResult(q.matrix(), tr, QuantReport.measure(name(), w, rows, cols, q.matrix(),
                q.report().spec(), tr, nanos, opts));
    }
}

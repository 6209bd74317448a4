package lowbit.quant;

import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;

/**
 * RSQ, "rotate, scale, then quantize" (Sung et al. 2025, "RSQ: Learning from Important Tokens Leads to Better
 * Quantized LLMs"):
 * <ol>
 *   <li><b>Rotate</b>: R = H_b·diag(±1)/√b, a seeded randomized Hadamard rotation ({@link HadamardRotation}); the
 *       weight becomes W·Rᵀ and its inputs R·x (the returned {@link InputTransform} carries R: apply it to x or
 *       fold it into the previous linear layer), so outliers are spread over whole blocks.</li>
 *   <li><b>Scale</b>: each calibration token's contribution to the Hessian is weighted by an importance r_t ≥ 0,
 *       H = 2·Xᵀ·diag(r)·X/Σr — give the weights to {@link CalibrationCollector#add(float[], int, float[])} while
 *       collecting (the paper's choice is attention concentration, {@link #attentionConcentration}).</li>
 *   <li><b>Quantize</b> with {@link Gptq} on the rotated W and H' = R·H·Rᵀ.</li>
 * </ol>
 * This class is that composition: {@code HadamardQuantizer.of(Gptq.of(options), seed)} under RSQ's name, so
 * importance-weighted statistics from the collector go in unchanged.
 */
public final class Rsq implements Quantizer {
    private final HadamardQuantizer inner;
    private final long seed;

    private Rsq(Gptq.Options options, long seed) {
        this.inner = HadamardQuantizer.of(Gptq.of(options), seed);
        this.seed = seed;
    }

    /** Rotation with {@code seed}, then GPTQ with {@code options}. */
    public static Rsq of(Gptq.Options options, long seed) {
        return new Rsq(Objects.requireNonNull(options, "rsq: options are null"), seed);
    }

    /** Seed 0, default GPTQ. */
    public static Rsq defaults() {
        return of(Gptq.Options.defaults(), 0);
    }

    @Override
    public String name() {
        return "rsq";
    }

    /**
     * Quantizes W (statistics with a Hessian required; weight the tokens by importance when collecting them).
     *
     * @throws IllegalArgumentException as {@link Gptq#quantize(float[], int, int, AffineSpec, CalibrationStats)}
     */
    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        if (stats == null || stats.hessian() == null) {
            throw new IllegalArgumentException("rsq: needs calibration statistics with a Hessian (collected with "
                    + "token importance weights), got " + (stats == null ? "none" : "statistics without one"));
        }
        return inner.quantize(w, rows, cols, spec, stats);
    }

    /**
     * Attention concentration, RSQ's token importance: how much attention each key token receives,
     * c_t = Σ_h Σ_q A[b, h, q, t] over the heads and the real (unmasked) query positions q of its sequence, mapped
     * per sequence linearly onto [rMin, 1] (the most attended token gets 1, the least rMin; a sequence whose tokens
     * all receive the same attention gets 1 everywhere). The paper's exact normalization could not be confirmed;
     * this min-max mapping (rMin &gt; 0 keeps every token in the Hessian) is lowbit's choice. Padding tokens get 0.
     *
     * @param probs attention probabilities [batch, heads, seq (query), seq (key)], row-major (rows sum to 1)
     * @param mask [batch, seq], 1 for a real token, 0 for padding (null: all real)
     * @return importance weights [batch·seq] for {@link CalibrationCollector#add(float[], int, float[])}
     * @throws IllegalArgumentException for a wrong length, rMin outside [0, 1] or a non-finite probability
     */
    public static float[] attentionConcentration(float[] probs, int batch, int heads, int seq, int[] mask,
            float rMin) {
        Objects.requireNonNull(probs, "rsq: attention probabilities are null");
        if (batch < 1 || heads < 1 || seq < 1 || probs.length != (long) batch * heads * seq * seq) {
            throw new IllegalArgumentException("rsq: " + probs.length + " attention probabilities are not [" + batch
                    + ", " + heads + ", " + seq + ", " + seq + "]");
        }
        if (mask != null && mask.length != batch * seq) {
            throw new IllegalArgumentException("rsq: mask has " + mask.length + " entries, expected " + batch * seq);
        }
        if (!(rMin >= 0 && rMin <= 1)) {
            throw new IllegalArgumentException("rsq: rMin must be in [0, 1], got " + rMin);
        }
        float[] out = new float[batch * seq];
        double[] c = new double[seq];
        for (int b = 0; b < batch; b++) {
            java.util.Arrays.fill(c, 0);
            for (int h = 0; h < heads; h++) {
                for (int q = 0; q < seq; q++) {
                    if (mask != null && mask[b * seq + q] == 0) {
                        continue;
                    }
                    int row = ((b * heads + h) * seq + q) * seq;
                    for (int t = 0; t < seq; t++) {
                        float p = probs[row + t];
                        if (!Float.isFinite(p)) {
                            throw new IllegalArgumentException("rsq: attention probability [" + b + ", " + h + ", " + q
                                    + ", " + t + "] is " + p);
                        }
                        c[t] += p;
                    }
                }
            }
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < seq; t++) {
                if (mask == null || mask[b * seq + t] != 0) {
                    lo = Math.min(lo, c[t]);
                    hi = Math.max(hi, c[t]);
                }
            }
            for (int t = 0; t < seq; t++) {
                if (mask != null && mask[b * seq + t] == 0) {
                    out[b * seq + t] = 0;
                } else {
                    out[b * seq + t] = hi > lo ? (float) (rMin + (1 - rMin) * (c[t] - lo) / (hi - lo)) : 1f;
                }
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "Rsq[seed=" + seed + ", " + inner + "]";
    }
}

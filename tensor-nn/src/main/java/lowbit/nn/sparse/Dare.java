package lowbit.nn.sparse;

import java.util.Objects;
import java.util.SplittableRandom;

/**
 * DARE, Drop And REscale (Yu et al. 2024, "Language Models are Super Mario"; revisited in Deng et al. 2025, "DARE the
 * Extreme: Revisiting Delta-Parameter Pruning For Fine-Tuned Models"): prune the delta parameters of a fine-tuned
 * model, δ = W_ft − W_base, by keeping each with probability 1 − p and rescaling the kept ones,
 * <pre>
 *   δ'_i = m_i · δ_i · k,   m_i ~ Bernoulli(1 − p),   k = 1/(1 − p)
 * </pre>
 * so that E[δ'] = δ (the rescaled, sparser delta can then be merged or stored). The rescale factor k may be given
 * (DAREx-q replaces 1/(1 − p) by a tuned 1/q). The drop decisions come from one {@link SplittableRandom} seeded with
 * {@code seed}, drawn in element order: the same seed gives the same mask on every machine and thread count.
 */
public final class Dare {
    private Dare() {
    }

    /**
     * The rescaled sparse delta δ' of δ = {@code finetuned − base} (both row-major of the same length).
     *
     * @throws IllegalArgumentException for arrays of different lengths, non-finite values, or p outside [0, 1)
     */
    public static float[] delta(float[] base, float[] finetuned, double p, long seed) {
        return delta(base, finetuned, p, 1 / (1 - checkP(p)), seed);
    }

    /** {@link #delta(float[], float[], double, long)} with an explicit rescale factor k (DAREx-q). */
    public static float[] delta(float[] base, float[] finetuned, double p, double rescale, long seed) {
        Objects.requireNonNull(base, "base weights");
        Objects.requireNonNull(finetuned, "fine-tuned weights");
        checkP(p);
        if (!(rescale > 0) || Double.isInfinite(rescale)) {
            throw new IllegalArgumentException("DARE rescale factor must be finite and > 0, got " + rescale);
        }
        if (base.length != finetuned.length) {
            throw new IllegalArgumentException("DARE: base has " + base.length + " weights, fine-tuned "
                    + finetuned.length);
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] d = new float[base.length];
        for (int i = 0; i < d.length; i++) {
            if (!Float.isFinite(base[i]) || !Float.isFinite(finetuned[i])) {
                throw new IllegalArgumentException("DARE: weight " + i + " is not finite (base " + base[i]
                        + ", fine-tuned " + finetuned[i] + ")");
            }
            boolean kept = rnd.nextDouble() >= p;
            d[i] = kept ? (float) (((double) finetuned[i] - base[i]) * rescale) : 0f;
        }
        return d;
    }

    /** W_base + δ': the DARE-pruned fine-tuned weights. */
    public static float[] apply(float[] base, float[] finetuned, double p, long seed) {
        float[] d = delta(base, finetuned, p, seed);
        for (int i = 0; i < d.length; i++) {
            d[i] = base[i] + d[i];
        }
        return d;
    }

    private static double checkP(double p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("DARE drop rate p must be in [0, 1), got " + p);
        }
        return p;
    }
}

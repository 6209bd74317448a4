package lowbit.nn.adapter;

/**
 * Settings of a DyLoRA adapter (Valipour et al., <i>DyLoRA: Parameter-Efficient Tuning of Pre-trained Models using
 * Dynamic Search-Free Low-Rank Adaptation</i>, EACL 2023): maximal rank r_max, the smallest sampled rank r_min, α
 * (the scale at rank b is α/b), the training mode, dropout and a seed.
 *
 * @param rMax A [r_max, in], B [out, r_max]; 1 ≤ r_max ≤ min(in, out)
 * @param rMin 1 ≤ r_min ≤ r_max
 * @param alpha α
 * @param frozen the reference's {@code frozen=True}: at sampled rank b only row b of A and column b of B are
 *     trained (ranks below b detached); false: all of ranks 1..b are trained
 * @param dropout dropout probability in [0, 1)
 * @param seed the seed of the init, the rank sampling and dropout
 */
public record DyLoraConfig(int rMax, int rMin, double alpha, boolean frozen, double dropout, long seed) {
    public DyLoraConfig {
        if (rMax < 1 || rMin < 1 || rMin > rMax) {
            throw new IllegalArgumentException("DyLoRA ranks must satisfy 1 <= r_min <= r_max, got r_min = " + rMin
                    + ", r_max = " + rMax);
        }
        if (!Double.isFinite(alpha)) {
            throw new IllegalArgumentException("DyLoRA alpha must be finite, got " + alpha);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("DyLoRA dropout must be in [0, 1), got " + dropout);
        }
    }

    /** Ranks 1..r_max, α, all ranks up to b trained, no dropout, seed 0. */
    public static DyLoraConfig of(int rMax, double alpha) {
        return new DyLoraConfig(rMax, 1, alpha, false, 0, 0);
    }

    public DyLoraConfig withMinRank(int v) {
        return new DyLoraConfig(rMax, v, alpha, frozen, dropout, seed);
    }

    public DyLoraConfig withFrozen(boolean v) {
        return new DyLoraConfig(rMax, rMin, alpha, v, dropout, seed);
    }

    public DyLoraConfig withDropout(double p) {
        return new DyLoraConfig(rMax, rMin, alpha, frozen, p, seed);
    }

    public DyLoraConfig withSeed(long s) {
        return new DyLoraConfig(rMax, rMin, alpha, frozen, dropout, s);
    }
}

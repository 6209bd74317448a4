package lowbit.nn.adapter;

/**
 * Settings of a LoRA adapter (Hu et al., <i>LoRA: Low-Rank Adaptation of Large Language Models</i>, 2021) as PEFT's
 * {@code LoraConfig}: rank r, {@code lora_alpha} α, scaling s = α/r or, with {@code use_rslora} (Kalajdzievski,
 * <i>A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA</i>, 2023), s = α/√r; dropout on the adapter input;
 * the initialisation; {@code use_dora} for DoRA; a seed for every random draw (init, dropout, randomized SVD).
 *
 * <pre>{@code LoraConfig c = LoraConfig.of(16, 32).withRsLora(true).withDropout(0.05).withSeed(7);}</pre>
 *
 * @param r the rank, 1 ≤ r ≤ min(in, out) (checked when attached)
 * @param alpha lora_alpha
 * @param rsLora use α/√r
 * @param dropout dropout probability in [0, 1)
 * @param init the initialisation
 * @param dora DoRA (Liu et al., <i>DoRA: Weight-Decomposed Low-Rank Adaptation</i>, 2024)
 * @param seed the seed of the adapter's random generator
 */
public record LoraConfig(int r, double alpha, boolean rsLora, double dropout, LoraInit init, boolean dora, long seed) {
    public LoraConfig {
        if (r < 1) {
            throw new IllegalArgumentException("LoRA rank r must be a positive integer, got " + r);
        }
        if (!Double.isFinite(alpha)) {
            throw new IllegalArgumentException("lora_alpha must be finite, got " + alpha);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + dropout);
        }
        if (init == null) {
            throw new IllegalArgumentException("init is null");
        }
    }

    /** Rank r, α, no rsLoRA, no dropout, default init, seed 0. */
    public static LoraConfig of(int r, double alpha) {
        return new LoraConfig(r, alpha, false, 0, LoraInit.DEFAULT, false, 0);
    }

    /** The scaling s: α/r, or α/√r with rsLoRA. */
    public double scaling() {
        return rsLora ? alpha / Math.sqrt(r) : alpha / r;
    }

    public LoraConfig withRsLora(boolean v) {
        return new LoraConfig(r, alpha, v, dropout, init, dora, seed);
    }

    public LoraConfig withDropout(double p) {
        return new LoraConfig(r, alpha, rsLora, p, init, dora, seed);
    }

    public LoraConfig withInit(LoraInit v) {
        return new LoraConfig(r, alpha, rsLora, dropout, v, dora, seed);
    }

    public LoraConfig withDora(boolean v) {
        return new LoraConfig(r, alpha, rsLora, dropout, init, v, seed);
    }

    public LoraConfig withSeed(long v) {
        return new LoraConfig(r, alpha, rsLora, dropout, init, dora, v);
    }
}

package lowbit.nn.adapter;

/**
 * Settings of PaCA (Woo et al., <i>PaCA: Partial Connection Adaptation for Efficient Fine-Tuning</i>, ICLR 2025):
 * the number r of input columns of W to train, α (the reference stores the columns as {@code paca_w} = W_:,P/s with
 * s = α/r; α = r gives s = 1) and the seed of the column choice.
 *
 * @param r columns, 1 ≤ r ≤ in
 * @param alpha α (NaN: α = r)
 * @param seed the seed of the random column subset
 */
public record PacaConfig(int r, double alpha, long seed) {
    public PacaConfig {
        if (r < 1) {
            throw new IllegalArgumentException("PaCA r must be a positive integer, got " + r);
        }
    }

    /** r columns, s = 1, the given seed. */
    public static PacaConfig of(int r, long seed) {
        return new PacaConfig(r, Double.NaN, seed);
    }

    /** s = α/r (1 when α is not given). */
    public double scaling() {
        return Double.isNaN(alpha) ? 1 : alpha / r;
    }
}

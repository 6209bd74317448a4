package lowbit.nn.adapter;

/**
 * Settings of a SORSA adapter (Cao, <i>SORSA: Singular Values and Orthonormal Regularized Singular Vectors
 * Adaptation of Large Language Models</i>, 2024; reference {@code sorsalib}): rank r, optional α (scale s = α/r; the
 * reference uses s = 1 when α is not given), dropout, and the SVD used at init (exact, or randomized with
 * {@code niter} power iterations for large W).
 *
 * @param r the rank, 1 ≤ r ≤ min(in, out)
 * @param alpha α, or NaN for "not given" (s = 1)
 * @param dropout dropout probability in [0, 1)
 * @param niter −1 for the exact SVD, else the power iterations of a randomized SVD
 * @param seed the seed of dropout and of the randomized SVD
 */
public record SorsaConfig(int r, double alpha, double dropout, int niter, long seed) {
    public SorsaConfig {
        if (r < 1) {
            throw new IllegalArgumentException("SORSA rank r must be a positive integer, got " + r);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("SORSA dropout must be in [0, 1), got " + dropout);
        }
        if (niter < -1) {
            throw new IllegalArgumentException("SORSA niter must be -1 (exact SVD) or >= 0, got " + niter);
        }
    }

    /** Rank r, no α (s = 1), no dropout, exact SVD. */
    public static SorsaConfig of(int r) {
        return new SorsaConfig(r, Double.NaN, 0, -1, 0);
    }

    /** s = α/r, or 1 without α. */
    public double scaling() {
        return Double.isNaN(alpha) ? 1 : alpha / r;
    }

    public SorsaConfig withAlpha(double a) {
        return new SorsaConfig(r, a, dropout, niter, seed);
    }

    public SorsaConfig withDropout(double p) {
        return new SorsaConfig(r, alpha, p, niter, seed);
    }

    public SorsaConfig withRandomizedSvd(int powerIterations) {
        return new SorsaConfig(r, alpha, dropout, powerIterations, seed);
    }

    public SorsaConfig withSeed(long s) {
        return new SorsaConfig(r, alpha, dropout, niter, s);
    }
}

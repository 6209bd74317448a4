package lowbit.nn.sparse;

import java.util.Objects;
import java.util.SplittableRandom;
import lowbit.nn.Parameter;
import lowbit.tensor.parallel.Parallel;

/**
 * MaskLLM's learnable N:M mask of one weight W [rows, cols] (Fang et al. 2024, "MaskLLM: Learnable Semi-Structured
 * Sparsity for Large Language Models", NeurIPS): every group of M consecutive weights along a row has logits π over
 * the C(M, N) candidate masks m_1..m_C ({@link NmPattern#candidates}), and the differentiable mask of the group is
 * <pre>
 *   m̃ = Σ_i p_i·m_i,   p = softmax((κ·π + g)/τ),   g_i ~ Gumbel(0, 1)
 * </pre>
 * (Gumbel-softmax, {@code hard=False} as in the training scripts), with temperature τ and logit scale κ annealed
 * linearly over the steps. The final mask is argmax π per group (ties: the first candidate).
 *
 * <p>Confirmed against NVlabs/MaskLLM ({@code learnable_sparsity/differentiable_mask.py}, the
 * {@code scripts/learnable_sparsity/*.sh} arguments): logits initialised N(0, 0.01²); τ from 4 to 0.05 and κ from 1e2
 * to 5e2 linearly in t/T ({@code --gumbel-temperature-range 4 0.05 --gumbel-scale-range 1e2 5e2}); prior
 * initialisation {@code gate += (priors − 1)·std(gate)·strength} where priors_i = |m_i ∩ prior mask| (the number of
 * the prior's kept positions candidate i keeps, so for 2:4 the prior's own candidate gets +std·strength, candidates
 * sharing one position 0 and disjoint ones −std·strength), {@code --prior-strength 3.0}; candidates in lexicographic
 * order ({1,1,0,0}, {1,0,1,0}, ... for 2:4). The logits are the only trainable parameter; W stays frozen.
 *
 * <p>The Gumbel noise of step t comes from {@link SplittableRandom}s seeded from (seed, t, chunk) over chunks of
 * groups fixed by the shape, so sampling is reproducible and independent of the thread count.
 */
public final class LearnableNmMask {
    /** Groups per parallel chunk of sampling and backward. */
    private static final int CHUNK = 2048;
    /** Largest number of candidates per group (C(M, N)). */
    public static final int MAX_CANDIDATES = 4096;

    private final NmPattern pattern;
    private final int rows;
    private final int cols;
    private final int groups;
    private final int[][] candidates;
    private final Parameter logits;
    private final long seed;

    private LearnableNmMask(NmPattern pattern, int rows, int cols, int[][] candidates, Parameter logits, long seed) {
        this.pattern = pattern;
        this.rows = rows;
        this.cols = cols;
        this.groups = rows * (cols / pattern.m());
        this.candidates = candidates;
        this.logits = logits;
        this.seed = seed;
    }

    /**
     * Logits drawn from N(0, initStd²) (seeded) for a [rows, cols] weight.
     *
     * @throws IllegalArgumentException when cols is not a multiple of M, C(M, N) exceeds {@value #MAX_CANDIDATES},
     *     or initStd is negative or not finite
     */
    public static LearnableNmMask random(NmPattern pattern, int rows, int cols, double initStd, long seed) {
        Objects.requireNonNull(pattern, "pattern");
        pattern.checkShape(rows, cols);
        if (!(initStd >= 0) || Double.isInfinite(initStd)) {
            throw new IllegalArgumentException("MaskLLM logit init std must be finite and >= 0, got " + initStd);
        }
        int[][] cand = pattern.candidates(MAX_CANDIDATES);
        int groups = Math.multiplyExact(rows, cols / pattern.m());
        float[] data = new float[Math.multiplyExact(groups, cand.length)];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) (r.nextGaussian() * initStd);
        }
        return new LearnableNmMask(pattern, rows, cols, cand, new Parameter("mask_logits", data, groups, cand.length),
                seed);
    }

    /**
     * {@link #random} then MaskLLM's prior initialisation from a one-shot N:M mask (Wanda, SparseGPT, magnitude):
     * π_i += (|m_i ∩ prior| − 1)·std(π)·strength, std the sample standard deviation of all logits.
     *
     * @throws IllegalArgumentException as {@link #random}, for a prior of another shape or not exactly N:M, or a
     *     negative strength
     */
    public static LearnableNmMask fromPrior(PruningMask prior, NmPattern pattern, double initStd, double strength,
            long seed) {
        Objects.requireNonNull(prior, "prior mask");
        if (!(strength >= 0) || Double.isInfinite(strength)) {
            throw new IllegalArgumentException("MaskLLM prior strength must be finite and >= 0, got " + strength);
        }
        LearnableNmMask m = random(pattern, prior.rows(), prior.cols(), initStd, seed);
        if (!prior.isNm(pattern)) {
            throw new IllegalArgumentException("MaskLLM prior " + prior + " is not exactly " + pattern);
        }
        float[] d = m.logits.data();
        double mean = 0;
        for (float v : d) {
            mean += v;
        }
        mean /= d.length;
        double ss = 0;
        for (float v : d) {
            ss += (v - mean) * (v - mean);
        }
        double std = d.length > 1 ? Math.sqrt(ss / (d.length - 1)) : 0;
        boolean[] keep = prior.raw();
        int c = m.candidates.length;
        int mm = pattern.m();
        for (int g = 0; g < m.groups; g++) {
            int base = g * mm; // groups are row-major over [rows, cols/M], so group g starts at flat index g·M
            for (int i = 0; i < c; i++) {
                int overlap = 0;
                for (int pos : m.candidates[i]) {
                    if (keep[base + pos]) {
                        overlap++;
                    }
                }
                d[g * c + i] += (float) ((overlap - 1) * std * strength);
            }
        }
        m.logits.markUpdated();
        return m;
    }

    public NmPattern pattern() {
        return pattern;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** The logits π [groups, C] (the trainable parameter). */
    public Parameter logits() {
        return logits;
    }

    /** The candidate masks (kept in-group positions), lexicographic. */
    public int[][] candidates() {
        int[][] c = new int[candidates.length][];
        for (int i = 0; i < c.length; i++) {
            c[i] = candidates[i].clone();
        }
        return c;
    }

    /**
     * A sample of the differentiable mask at temperature τ and scale κ with the Gumbel noise of {@code step}.
     *
     * @throws IllegalArgumentException for τ or κ not finite and positive
     */
    public Sample sample(double tau, double kappa, long step) {
        if (!(tau > 0) || Double.isInfinite(tau) || !(kappa > 0) || Double.isInfinite(kappa)) {
            throw new IllegalArgumentException("MaskLLM needs finite positive τ and κ, got τ = " + tau + ", κ = " + kappa);
        }
        int c = candidates.length;
        int mm = pattern.m();
        float[] p = new float[groups * c];
        float[] mask = new float[rows * cols];
        float[] pi = logits.data();
        Parallel.forRange(0, groups, CHUNK, (from, to) -> {
            SplittableRandom r = new SplittableRandom(mix(seed, step, from));
            double[] z = new double[c];
            for (int g = (int) from; g < to; g++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < c; i++) {
                    double u = r.nextDouble();
                    double gumbel = -Math.log(-Math.log(u == 0 ? Double.MIN_VALUE : u));
                    z[i] = (kappa * pi[g * c + i] + gumbel) / tau;
                    max = Math.max(max, z[i]);
                }
                double sum = 0;
                for (int i = 0; i < c; i++) {
                    z[i] = Math.exp(z[i] - max);
                    sum += z[i];
                }
                for (int i = 0; i < c; i++) {
                    float pv = (float) (z[i] / sum);
                    p[g * c + i] = pv;
                    for (int pos : candidates[i]) {
                        mask[g * mm + pos] += pv;
                    }
                }
            }
        });
        return new Sample(this, p, mask, tau, kappa, logits.version());
    }

    private static long mix(long seed, long step, long chunk) {
        long h = seed * 0x9E3779B97F4A7C15L + step;
        h = (h ^ (h >>> 31)) * 0xBF58476D1CE4E5B9L + chunk;
        return h ^ (h >>> 29);
    }

    /**
     * The final mask: in every group the candidate of largest logit (the first on ties).
     */
    public PruningMask hardMask() {
        boolean[] keep = new boolean[rows * cols];
        int c = candidates.length;
        int mm = pattern.m();
        float[] pi = logits.data();
        for (int g = 0; g < groups; g++) {
            int best = 0;
            for (int i = 1; i < c; i++) {
                if (pi[g * c + i] > pi[g * c + best]) {
                    best = i;
                }
            }
            for (int pos : candidates[best]) {
                keep[g * mm + pos] = true;
            }
        }
        return PruningMask.wrap(keep, rows, cols);
    }

    /**
     * One sampled soft mask m̃ [rows, cols] and what its backward needs.
     */
    public static final class Sample {
        private final LearnableNmMask owner;
        private final float[] p;
        private final float[] mask;
        private final double tau;
        private final double kappa;
        private final long version;

        Sample(LearnableNmMask owner, float[] p, float[] mask, double tau, double kappa, long version) {
            this.owner = owner;
            this.p = p;
            this.mask = mask;
            this.tau = tau;
            this.kappa = kappa;
            this.version = version;
        }

        /** m̃ [rows, cols] (live; do not modify). */
        public float[] mask() {
            return mask;
        }

        /** The candidate probabilities p [groups, C] (live). */
        public float[] probabilities() {
            return p;
        }

        /** Mean over groups of max_i p_i (MaskLLM's {@code current_max_prob}: near 1 when the mask has hardened). */
        public double meanMaxProbability() {
            int c = owner.candidates.length;
            double s = 0;
            for (int g = 0; g < owner.groups; g++) {
                float mx = 0;
                for (int i = 0; i < c; i++) {
                    mx = Math.max(mx, p[g * c + i]);
                }
                s += mx;
            }
            return owner.groups == 0 ? 0 : s / owner.groups;
        }

        /**
         * Accumulates dL/dπ into the logits' gradient from dL/dm̃ [rows, cols]: per group dL/dp_i = Σ_{j ∈ m_i}
         * dL/dm̃_j, dL/dz_i = p_i·(dL/dp_i − Σ_k p_k·dL/dp_k), dL/dπ_i = (κ/τ)·dL/dz_i.
         *
         * @throws IllegalArgumentException for a gradient of the wrong length
         * @throws IllegalStateException when the logits changed since the sample was drawn
         */
        public void backward(float[] dMask) {
            Objects.requireNonNull(dMask, "dL/dmask");
            LearnableNmMask o = owner;
            if (dMask.length != o.rows * o.cols) {
                throw new IllegalArgumentException("dL/dmask has " + dMask.length + " entries, expected [" + o.rows + ", "
                        + o.cols + "]");
            }
            if (o.logits.version() != version) {
                throw new IllegalStateException("the mask logits were updated after this sample was drawn");
            }
            int c = o.candidates.length;
            int mm = o.pattern.m();
            float[] grad = o.logits.grad();
            double f = kappa / tau;
            Parallel.forRange(0, o.groups, CHUNK, (from, to) -> {
                double[] dp = new double[c];
                for (int g = (int) from; g < to; g++) {
                    double dot = 0;
                    for (int i = 0; i < c; i++) {
                        double s = 0;
                        for (int pos : o.candidates[i]) {
                            s += dMask[g * mm + pos];
                        }
                        dp[i] = s;
                        dot += p[g * c + i] * s;
                    }
                    for (int i = 0; i < c; i++) {
                        grad[g * c + i] += (float) (f * p[g * c + i] * (dp[i] - dot));
                    }
                }
            });
        }
    }
}

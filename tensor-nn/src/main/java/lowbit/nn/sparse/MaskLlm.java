package lowbit.nn.sparse;

import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import lowbit.nn.Linear;
import lowbit.nn.optim.AdamW;
import lowbit.nn.optim.Loss;
import lowbit.nn.optim.MseLoss;

/**
 * MaskLLM training of one layer's N:M mask by <b>layer-wise distillation</b>: the frozen layer with a
 * {@link LearnableNmMask} ({@link MaskedLinear}) is trained so that its output on calibration inputs X follows the
 * dense layer's,
 * <pre>
 *   L = mean over a batch of tokens of (X·(W ⊙ m̃)ᵀ − X·Wᵀ)²  −  λ_t·Σ (W ⊙ m̃)²
 * </pre>
 * with MaskLLM's schedules (step t of T: τ_t = τ₀ + (τ₁ − τ₀)·t/T, κ_t likewise, λ_t = λ·(1 − t/T)), its prior
 * initialisation from a one-shot mask, and AdamW on the logits only. The final mask is argmax π.
 *
 * <p><b>Why layer-wise.</b> MaskLLM trains all masks end to end on the language-modelling loss of a whole LLM over
 * 2000 steps of 256 sequences. lowbit's MiniLM has no backward through attention, and the end-to-end objective needs
 * far more steps than a test or a 2-core machine allows; the per-layer output error is the quantity the one-shot
 * methods it is compared with (SparseGPT, Wanda) themselves minimise or approximate, so learning the mask against it
 * isolates what a learned mask adds over a one-shot rule. The {@link MaskedLinear} backward returns dX, so the same
 * layers can be trained end to end wherever a model has a backward.
 *
 * <p>Defaults ({@link Options#defaults}) follow the MaskLLM scripts where they apply (τ 4 → 0.05, κ 1e2 → 5e2, prior
 * strength 3, logit init std 0.01, AdamW β = (0.9, 0.95), ε = 1e-5, weight decay 0.1, no regulariser); the
 * learning rate (5e-3 against the scripts' 5e-4 = 5e-5 × lr-mult 10) and the step count are chosen for the short
 * layer-wise runs. Deterministic for a seed: batches and Gumbel noise are seeded, products are thread-count invariant.
 */
public final class MaskLlm {
    /**
     * @param pattern the N:M pattern
     * @param steps T, optimizer steps per layer (≥ 1)
     * @param batchTokens tokens per step (rows of X drawn without replacement; all rows when X has fewer)
     * @param learningRate AdamW learning rate of the logits
     * @param weightDecay AdamW decoupled weight decay
     * @param tauStart τ₀
     * @param tauEnd τ₁
     * @param scaleStart κ₀
     * @param scaleEnd κ₁
     * @param priorStrength the prior bonus (in logit standard deviations)
     * @param initStd standard deviation of the initial logits
     * @param weightRegularization λ of the kept-weight-norm regulariser (0 for none)
     * @param seed seed of the logits, the batches and the Gumbel noise
     */
    public record Options(NmPattern pattern, int steps, int batchTokens, double learningRate, double weightDecay,
            double tauStart, double tauEnd, double scaleStart, double scaleEnd, double priorStrength, double initStd,
            double weightRegularization, long seed) {
        /** Validates. */
        public Options {
            Objects.requireNonNull(pattern, "pattern");
            if (steps < 1) {
                throw new IllegalArgumentException("MaskLLM steps must be >= 1, got " + steps);
            }
            if (batchTokens < 1) {
                throw new IllegalArgumentException("MaskLLM batch must be >= 1 token, got " + batchTokens);
            }
            for (double v : new double[] {tauStart, tauEnd, scaleStart, scaleEnd}) {
                if (!(v > 0) || Double.isInfinite(v)) {
                    throw new IllegalArgumentException("MaskLLM τ and κ must be finite and > 0, got τ " + tauStart
                            + " → " + tauEnd + ", κ " + scaleStart + " → " + scaleEnd);
                }
            }
            if (!(weightRegularization >= 0) || Double.isInfinite(weightRegularization)) {
                throw new IllegalArgumentException("MaskLLM weight regularization must be finite and >= 0, got "
                        + weightRegularization);
            }
        }

        /** MaskLLM's schedules and prior with 200 steps of 256 tokens, learning rate 5e-3. */
        public static Options defaults(NmPattern pattern) {
            return new Options(pattern, 200, 256, 5e-3, 0.1, 4, 0.05, 1e2, 5e2, 3.0, 0.01, 0, 1);
        }

        public Options withSteps(int s) {
            return new Options(pattern, s, batchTokens, learningRate, weightDecay, tauStart, tauEnd, scaleStart,
                    scaleEnd, priorStrength, initStd, weightRegularization, seed);
        }

        public Options withBatchTokens(int b) {
            return new Options(pattern, steps, b, learningRate, weightDecay, tauStart, tauEnd, scaleStart, scaleEnd,
                    priorStrength, initStd, weightRegularization, seed);
        }

        public Options withLearningRate(double lr) {
            return new Options(pattern, steps, batchTokens, lr, weightDecay, tauStart, tauEnd, scaleStart, scaleEnd,
                    priorStrength, initStd, weightRegularization, seed);
        }

        public Options withPriorStrength(double s) {
            return new Options(pattern, steps, batchTokens, learningRate, weightDecay, tauStart, tauEnd, scaleStart,
                    scaleEnd, s, initStd, weightRegularization, seed);
        }

        public Options withWeightRegularization(double r) {
            return new Options(pattern, steps, batchTokens, learningRate, weightDecay, tauStart, tauEnd, scaleStart,
                    scaleEnd, priorStrength, initStd, r, seed);
        }

        public Options withSeed(long s) {
            return new Options(pattern, steps, batchTokens, learningRate, weightDecay, tauStart, tauEnd, scaleStart,
                    scaleEnd, priorStrength, initStd, weightRegularization, s);
        }

        /** τ at step t (0-based) of T. */
        public double tau(long t) {
            return tauStart + (tauEnd - tauStart) * ((double) t / steps);
        }

        /** κ at step t. */
        public double scale(long t) {
            return scaleStart + (scaleEnd - scaleStart) * ((double) t / steps);
        }
    }

    /**
     * The outcome for one layer.
     *
     * @param mask the learned mask (argmax π)
     * @param prior the prior it started from (null for a random start)
     * @param priorError the prior's output error mean((X(W⊙M₀)ᵀ − XWᵀ)²) over all of X (NaN without prior)
     * @param error the learned mask's error on the same tokens
     * @param stepLoss the distillation loss of every step (on its batch, with the soft mask)
     * @param finalMaxProbability mean over groups of the largest candidate probability at the last step
     */
    public record LayerResult(PruningMask mask, PruningMask prior, double priorError, double error, double[] stepLoss,
            double finalMaxProbability) {
    }

    private final Options options;

    private MaskLlm(Options options) {
        this.options = options;
    }

    public static MaskLlm of(Options options) {
        return new MaskLlm(Objects.requireNonNull(options, "options"));
    }

    public Options options() {
        return options;
    }

    /**
     * Learns the mask of {@code layer} on inputs X [n, in] (row-major), starting from {@code prior} (an exact N:M mask
     * of the layer's weight, or null for MaskLLM's random start).
     *
     * @throws IllegalArgumentException for an X of the wrong length, n &lt; 1, a weight width that is not a multiple
     *     of M, or a prior of another shape or pattern
     */
    public LayerResult train(Linear layer, float[] x, int n, PruningMask prior) {
        Objects.requireNonNull(layer, "layer");
        Objects.requireNonNull(x, "X");
        int in = layer.inFeatures(), out = layer.outFeatures();
        if (n < 1 || x.length != (long) n * in) {
            throw new IllegalArgumentException("MaskLLM: X has " + x.length + " values, expected [" + n + ", " + in + "]");
        }
        Options o = options;
        LearnableNmMask mask = prior == null ? LearnableNmMask.random(o.pattern(), out, in, o.initStd(), o.seed())
                : LearnableNmMask.fromPrior(prior, o.pattern(), o.initStd(), o.priorStrength(), o.seed());
        MaskedLinear ml = new MaskedLinear(layer, mask);
        AdamW opt = new AdamW(List.of(mask.logits()), o.learningRate(), 0.9, 0.95, 1e-5, o.weightDecay());
        int b = Math.min(n, o.batchTokens());
        float[] xb = new float[b * in];
        double[] losses = new double[o.steps()];
        SplittableRandom rnd = new SplittableRandom(o.seed() ^ 0x6d61736b4c4c4dL);
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        double lastMax = 0;
        for (int t = 0; t < o.steps(); t++) {
            // b rows without replacement: a partial Fisher–Yates shuffle
            for (int i = 0; i < b; i++) {
                int j = i + rnd.nextInt(n - i);
                int tmp = perm[i];
                perm[i] = perm[j];
                perm[j] = tmp;
                System.arraycopy(x, perm[i] * in, xb, i * in, in);
            }
            float[] target = layer.forward(xb, b);
            MaskedLinear.Activations a = ml.train(xb, b, o.tau(t), o.scale(t), t);
            Loss l = MseLoss.of(a.output(), target);
            double reg = o.weightRegularization() * (1 - (double) t / o.steps());
            losses[t] = l.value() - (reg > 0 ? reg * a.keptNorm() : 0);
            opt.zeroGrad();
            ml.backward(a, l.gradient(), reg);
            opt.step();
            if (t == o.steps() - 1) {
                lastMax = a.sample().meanMaxProbability();
            }
        }
        PruningMask learned = mask.hardMask();
        double priorErr = prior == null ? Double.NaN : outputError(layer, prior, x, n);
        return new LayerResult(learned, prior, priorErr, outputError(layer, learned, x, n), losses, lastMax);
    }

    /** mean((X·(W ⊙ M)ᵀ − X·Wᵀ)²) over all of X [n, in]. */
    public static double outputError(Linear layer, PruningMask mask, float[] x, int n) {
        mask.checkShape(layer.outFeatures(), layer.inFeatures());
        float[] dense = layer.forward(x, n);
        float[] masked = new Linear(mask.apply(layer.weight()), layer.bias()).forward(x, n);
        return MseLoss.value(masked, dense);
    }
}

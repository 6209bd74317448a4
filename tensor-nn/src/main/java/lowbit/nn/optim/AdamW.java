package lowbit.nn.optim;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import lowbit.nn.Parameter;

/**
 * AdamW: Adam with decoupled weight decay (Loshchilov &amp; Hutter, <i>Decoupled Weight Decay Regularization</i>, ICLR
 * 2019), exactly as {@code torch.optim.AdamW} (not amsgrad): for each element, at step t,
 * <pre>
 *   θ ← θ − η·λ·θ                       (decoupled decay, before the moment update)
 *   m ← β₁·m + (1 − β₁)·g
 *   v ← β₂·v + (1 − β₂)·g²
 *   θ ← θ − η · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 * </pre>
 * Defaults as PyTorch: η = 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 0.01. Moments are float arrays per parameter; the
 * bias corrections are computed in double.
 */
public final class AdamW extends Optimizer {
    private double lr;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<Parameter, float[][]> state = new IdentityHashMap<>();

    /** PyTorch's defaults with learning rate {@code lr}. */
    public AdamW(List<Parameter> params, double lr) {
        this(params, lr, 0.9, 0.999, 1e-8, 0.01);
    }

    /**
     * @throws IllegalArgumentException for a negative or non-finite lr, ε or decay, or β outside [0, 1)
     */
    public AdamW(List<Parameter> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super(params);
        checkNonNegative("AdamW learning rate", lr);
        checkNonNegative("AdamW eps", eps);
        checkNonNegative("AdamW weight decay", weightDecay);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("AdamW betas must lie in [0, 1), got (" + beta1 + ", " + beta2 + ")");
        }
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    public double learningRate() {
        return lr;
    }

    /** Sets η for the following steps (a learning-rate schedule, as a PyTorch scheduler edits param_groups). */
    public void setLearningRate(double lr) {
        checkNonNegative("AdamW learning rate", lr);
        this.lr = lr;
    }

    @Override
    protected void update(Parameter p, long t) {
        float[][] mv = state.computeIfAbsent(p, k -> new float[][] {new float[k.size()], new float[k.size()]});
        float[] m = mv[0], v = mv[1], x = p.data(), g = p.grad();
        float decay = (float) (1 - lr * weightDecay);
        float b1 = (float) beta1, b2 = (float) beta2, c1 = (float) (1 - beta1), c2 = (float) (1 - beta2);
        float stepSize = (float) (lr / (1 - Math.pow(beta1, t)));
        float sqrtBc2 = (float) Math.sqrt(1 - Math.pow(beta2, t));
        float e = (float) eps;
        for (int i = 0; i < x.length; i++) {
            float gi = g[i];
            float xi = x[i] * decay;
            float mi = b1 * m[i] + c1 * gi;
            float vi = b2 * v[i] + c2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            x[i] = xi - stepSize * mi / ((float) Math.sqrt(vi) / sqrtBc2 + e);
        }
    }
}

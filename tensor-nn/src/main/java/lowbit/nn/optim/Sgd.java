package lowbit.nn.optim;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import lowbit.nn.Parameter;

/**
 * Stochastic gradient descent with momentum, as {@code torch.optim.SGD} (dampening 0): for each element at step t,
 * <pre>
 *   g ← g + λ·θ                           (L2 weight decay, coupled)
 *   b ← g (t = 1),  b ← μ·b + g (t &gt; 1)
 *   d ← g + μ·b (Nesterov)  or  d ← b
 *   θ ← θ − η·d
 * </pre>
 * With μ = 0 this is plain SGD (no buffer is kept).
 */
public final class Sgd extends Optimizer {
    private double lr;
    private final double momentum;
    private final double weightDecay;
    private final boolean nesterov;
    private final Map<Parameter, float[]> buffers = new IdentityHashMap<>();

    /** Plain SGD. */
    public Sgd(List<Parameter> params, double lr) {
        this(params, lr, 0, 0, false);
    }

    /**
     * @throws IllegalArgumentException for negative or non-finite values, or Nesterov without momentum
     */
    public Sgd(List<Parameter> params, double lr, double momentum, double weightDecay, boolean nesterov) {
        super(params);
        checkNonNegative("SGD learning rate", lr);
        checkNonNegative("SGD momentum", momentum);
        checkNonNegative("SGD weight decay", weightDecay);
        if (nesterov && momentum == 0) {
            throw new IllegalArgumentException("Nesterov momentum needs a momentum > 0");
        }
        this.lr = lr;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    public double learningRate() {
        return lr;
    }

    /** Sets η for the following steps (a learning-rate schedule). */
    public void setLearningRate(double lr) {
        checkNonNegative("SGD learning rate", lr);
        this.lr = lr;
    }

    @Override
    protected void update(Parameter p, long t) {
        float[] x = p.data(), g = p.grad();
        float eta = (float) lr, mu = (float) momentum, wd = (float) weightDecay;
        float[] b = null;
        boolean first = false;
        if (momentum != 0) {
            b = buffers.get(p);
            first = b == null;
            if (first) {
                b = new float[p.size()];
                buffers.put(p, b);
            }
        }
        for (int i = 0; i < x.length; i++) {
            float gi = g[i] + wd * x[i];
            float d = gi;
            if (b != null) {
                float bi = first ? gi : mu * b[i] + gi;
                b[i] = bi;
                d = nesterov ? gi + mu * bi : bi;
            }
            x[i] -= eta * d;
        }
    }
}

package lowbit.nn.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import lowbit.nn.NnTesting;
import lowbit.nn.Parameter;
import org.junit.jupiter.api.Test;

/** AdamW and SGD against their update rules evaluated by hand in double; losses against their definitions. */
class OptimizerTest {
    @Test
    void adamWFollowsTheDecoupledBiasCorrectedRule() {
        float[] g1 = {0.5f, -1f, 0f}, g2 = {0.25f, 2f, 0f};
        Parameter p = new Parameter("w", new float[] {1f, -2f, 3f}, 3);
        double lr = 0.1, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
        AdamW opt = new AdamW(List.of(p), lr, b1, b2, eps, wd);
        double[] x = {1, -2, 3}, m = new double[3], v = new double[3];
        float[][] grads = {g1, g2};
        for (int t = 1; t <= 2; t++) {
            System.arraycopy(grads[t - 1], 0, p.grad(), 0, 3);
            opt.step();
            for (int i = 0; i < 3; i++) {
                double g = grads[t - 1][i];
                x[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                x[i] -= lr * (m[i] / (1 - Math.pow(b1, t))) / (Math.sqrt(v[i] / (1 - Math.pow(b2, t))) + eps);
            }
            for (int i = 0; i < 3; i++) {
                // float arithmetic of a handful of operations per element: a few ulps of |x| ≈ 3
                assertThat((double) p.data()[i]).as("step %d element %d", t, i).isCloseTo(x[i], within(2e-6));
            }
        }
        // a zero gradient only decays (decoupled): element 2 is 3·(1 − 0.01)²
        assertThat(p.data()[2]).isCloseTo((float) (3 * 0.99 * 0.99), within(1e-6f));
        assertThat(p.version()).isEqualTo(2);
    }

    @Test
    void sgdWithMomentumAndNesterovFollowTorchRules() {
        for (boolean nesterov : new boolean[] {false, true}) {
            Parameter p = new Parameter("w", new float[] {1f, 2f}, 2);
            double lr = 0.05, mu = 0.9, wd = 0.01;
            Sgd opt = new Sgd(List.of(p), lr, mu, wd, nesterov);
            double[] x = {1, 2}, buf = new double[2];
            float[][] grads = {{1f, -1f}, {0.5f, 0.5f}, {-2f, 1f}};
            for (int t = 0; t < 3; t++) {
                System.arraycopy(grads[t], 0, p.grad(), 0, 2);
                opt.step();
                for (int i = 0; i < 2; i++) {
                    double g = grads[t][i] + wd * x[i];
                    buf[i] = t == 0 ? g : mu * buf[i] + g;
                    x[i] -= lr * (nesterov ? g + mu * buf[i] : buf[i]);
                    assertThat((double) p.data()[i]).isCloseTo(x[i], within(1e-6));
                }
            }
        }
        assertThatThrownBy(() -> new Sgd(List.of(), 0.1, 0, 0, true)).hasMessageContaining("Nesterov");
        Parameter q = new Parameter("q", new float[1], 1);
        assertThatThrownBy(() -> new AdamW(List.of(q, q), 1e-3)).hasMessageContaining("listed twice");
        assertThatThrownBy(() -> new AdamW(List.of(q), -1)).hasMessageContaining("learning rate");
        q.grad()[0] = Float.POSITIVE_INFINITY;
        assertThatThrownBy(() -> new Sgd(List.of(q), 0.1).step()).hasMessageContaining("gradient of q [1] is Infinity");
    }

    @Test
    void mseAndCrossEntropyMatchTheirDefinitions() {
        Loss mse = MseLoss.of(new float[] {1, 2, 4}, new float[] {0, 2, 1});
        assertThat(mse.value()).isCloseTo((1 + 0 + 9) / 3.0, within(1e-12));
        assertThat(mse.gradient()).containsExactly(2f / 3, 0f, 2f);
        float[] z = {1f, 2f, 3f, -1f, 0f, 5f};
        int[] t = {2, 0};
        Loss ce = CrossEntropyLoss.of(z, 2, 3, t);
        double l0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3;
        double l1 = Math.log(Math.exp(-1) + Math.exp(0) + Math.exp(5)) + 1;
        assertThat(ce.value()).isCloseTo((l0 + l1) / 2, within(1e-9));
        double[] fd = NnTesting.finiteDifferences(v -> {
            double s = 0;
            for (int i = 0; i < 2; i++) {
                double lse = Math.log(Math.exp(v[3 * i]) + Math.exp(v[3 * i + 1]) + Math.exp(v[3 * i + 2]));
                s += lse - v[3 * i + t[i]];
            }
            return s / 2;
        }, NnTesting.toDouble(z));
        NnTesting.assertClose("dCE/dz", 0, ce.gradient(), fd, 1e-7);
        // a huge logit does not overflow
        assertThat(CrossEntropyLoss.of(new float[] {1000f, 0f}, 1, 2, new int[] {1}).value()).isCloseTo(1000, within(1e-9));
        assertThatThrownBy(() -> CrossEntropyLoss.of(z, 2, 3, new int[] {3, 0})).hasMessageContaining("label 3");
        assertThatThrownBy(() -> MseLoss.of(new float[2], new float[3])).hasMessageContaining("target 3");
    }
}

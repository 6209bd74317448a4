package lowbit.nn;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.finiteDifferences;
import static lowbit.nn.NnTesting.gamma;
import static lowbit.nn.NnTesting.toDouble;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class NormTest {
    private static final int N = 7;
    private static final int D = 45;

    /** LayerNorm in double: returns y, or x̂ when {@code xhatOnly}. */
    private static double[] layerNorm(double[] x, double[] g, double[] b, int n, int d, double eps, boolean xhatOnly) {
        double[] y = new double[x.length];
        for (int r = 0; r < n; r++) {
            double mu = 0, var = 0;
            for (int j = 0; j < d; j++) {
                mu += x[r * d + j];
            }
            mu /= d;
            for (int j = 0; j < d; j++) {
                var += (x[r * d + j] - mu) * (x[r * d + j] - mu);
            }
            var /= d;
            double rs = 1 / Math.sqrt(var + eps);
            for (int j = 0; j < d; j++) {
                double xh = (x[r * d + j] - mu) * rs;
                y[r * d + j] = xhatOnly ? xh : g[j] * xh + b[j];
            }
        }
        return y;
    }

    private static double[] rmsNorm(double[] x, double[] g, int n, int d, double eps) {
        double[] y = new double[x.length];
        for (int r = 0; r < n; r++) {
            double ms = 0;
            for (int j = 0; j < d; j++) {
                ms += x[r * d + j] * x[r * d + j];
            }
            double rs = 1 / Math.sqrt(ms / d + eps);
            for (int j = 0; j < d; j++) {
                y[r * d + j] = g[j] * x[r * d + j] * rs;
            }
        }
        return y;
    }

    @Test
    void layerNormForwardMatchesDouble() {
        long seed = 101;
        Random r = new Random(seed);
        float[] x = NnTesting.randn(r, N * D, 3);
        for (int i = 0; i < D; i++) {
            x[i] += 1000; // row 0 far from zero: the two-pass variance must not cancel
        }
        float[] g = NnTesting.randn(r, D, 1);
        float[] b = NnTesting.randn(r, D, 1);
        LayerNorm ln = new LayerNorm(g, b, 1e-12f);
        double[] ref = layerNorm(toDouble(x), toDouble(g), toDouble(b), N, D, 1e-12, false);
        double[] xh = layerNorm(toDouble(x), toDouble(g), toDouble(b), N, D, 1e-12, true);
        // error model: μ carries γ_d·mean|x| absolute error, which becomes r·γ_d·mean|x| in x̂ (r = 1/σ); σ² and r
        // carry a few γ_d relative, which scale |x̂|; then one multiply and one add. 4·γ_(d+4) covers the constants.
        double[] tol = new double[ref.length];
        for (int row = 0; row < N; row++) {
            double meanAbs = 0, sd = 0;
            for (int j = 0; j < D; j++) {
                meanAbs += Math.abs(x[row * D + j]) / D;
            }
            double[] xr = toDouble(java.util.Arrays.copyOfRange(x, row * D, row * D + D));
            double mu = java.util.Arrays.stream(xr).average().orElse(0);
            for (double v : xr) {
                sd += (v - mu) * (v - mu) / D;
            }
            double rs = 1 / Math.sqrt(sd);
            for (int j = 0; j < D; j++) {
                int i = row * D + j;
                tol[i] = 4 * gamma(D + 4) * (Math.abs(g[j]) * (Math.abs(xh[i]) + rs * meanAbs) + Math.abs(b[j]));
            }
        }
        assertClose("LayerNorm forward", seed, ln.forward(x, N), ref, tol);
        float[] inPlace = x.clone();
        ln.forward(inPlace, N, inPlace);
        assertThat(inPlace).isEqualTo(ln.forward(x, N));
    }

    @Test
    void layerNormBackwardMatchesFiniteDifferences() {
        long seed = 102;
        Random r = new Random(seed);
        float[] x = NnTesting.randn(r, N * D, 2);
        float[] g = NnTesting.randn(r, D, 1);
        float[] b = NnTesting.randn(r, D, 1);
        float[] dy = NnTesting.randn(r, N * D, 1);
        float eps = 1e-5f;
        LayerNorm.Gradients grads = new LayerNorm(g, b, eps).backward(x, dy, N);
        double[] gx = finiteDifferences(xd -> NnTesting.dot(layerNorm(xd, toDouble(g), toDouble(b), N, D, eps, false), dy),
                toDouble(x));
        double[] gg = finiteDifferences(gd -> NnTesting.dot(layerNorm(toDouble(x), gd, toDouble(b), N, D, eps, false), dy),
                toDouble(g));
        double[] gb = finiteDifferences(bd -> NnTesting.dot(layerNorm(toDouble(x), toDouble(g), bd, N, D, eps, false), dy),
                toDouble(b));
        // dx_j = r·(g_j − mean(g) − x̂_j·mean(g·x̂)): three float means of d terms (|g|, |x̂| ≲ 4, r ≈ 1/2), so
        // |error| ≲ r·4·γ_d·(|g_j| + mean|g| + |x̂_j|·mean|g·x̂|) ≤ 8·γ_d·16; plus the FD error (≈ 1e-9 here).
        assertClose("LayerNorm dx", seed, grads.dx(), gx, 1e-7 + 8 * gamma(D) * 16);
        // dγ and dβ: sums over N rows of products of O(1) values (|dy·x̂| ≲ 16)
        assertClose("LayerNorm dgamma", seed, grads.dGamma(), gg, 1e-7 + 4 * gamma(N + D) * 16 * N);
        assertClose("LayerNorm dbeta", seed, grads.dBeta(), gb, 1e-7 + 2 * gamma(N) * 4 * N);
    }

    @Test
    void rmsNormForwardAndBackward() {
        long seed = 103;
        Random r = new Random(seed);
        float[] x = NnTesting.randn(r, N * D, 2);
        float[] g = NnTesting.randn(r, D, 1);
        float[] dy = NnTesting.randn(r, N * D, 1);
        float eps = 1e-6f;
        RmsNorm norm = new RmsNorm(g, eps);
        double[] ref = rmsNorm(toDouble(x), toDouble(g), N, D, eps);
        double[] tol = new double[ref.length];
        for (int i = 0; i < ref.length; i++) {
            // r carries γ_d relative error from the sum of squares, then two multiplies
            tol[i] = 2 * gamma(D + 3) * Math.abs(ref[i]) + 1e-30;
        }
        assertClose("RmsNorm forward", seed, norm.forward(x, N), ref, tol);
        RmsNorm.Gradients grads = norm.backward(x, dy, N);
        double[] gx = finiteDifferences(xd -> NnTesting.dot(rmsNorm(xd, toDouble(g), N, D, eps), dy), toDouble(x));
        double[] gg = finiteDifferences(gd -> NnTesting.dot(rmsNorm(toDouble(x), gd, N, D, eps), dy), toDouble(g));
        // as for LayerNorm: dx_j = r·(g_j − x̂_j·mean(g·x̂)) with O(1) factors
        assertClose("RmsNorm dx", seed, grads.dx(), gx, 1e-7 + 8 * gamma(D) * 16);
        assertClose("RmsNorm dgamma", seed, grads.dGamma(), gg, 1e-7 + 4 * gamma(N + D) * 16 * N);
    }

    @Test
    void badArgumentsAreNamed() {
        assertThatThrownBy(() -> new LayerNorm(new float[3], new float[4], 1e-5f)).hasMessageContaining("beta has 4");
        assertThatThrownBy(() -> new LayerNorm(new float[3], new float[3], 0f)).hasMessageContaining("eps");
        LayerNorm ln = new LayerNorm(new float[3], new float[3], 1e-5f);
        assertThatThrownBy(() -> ln.forward(new float[7], 2)).hasMessageContaining("x has 7 elements, expected [2, 3]");
        assertThatThrownBy(() -> new RmsNorm(new float[2], Float.NaN)).hasMessageContaining("eps");
    }
}

package lowbit.nn.adapter;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.finiteDifferences;
import static lowbit.nn.NnTesting.gamma;

import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import lowbit.nn.NnTesting;
import lowbit.nn.Parameter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every adapter's backward against central finite differences of its double-precision twin (the loss
 * L = Σ dY ⊙ y). Tolerances: each float gradient element is a chain of at most three float products whose inner
 * dimensions add up to at most K = in + out + n + 4·r + 8; the chain's rounding error is at most γ_K times the same
 * chain taken over absolute values (Higham, <i>Accuracy and Stability of Numerical Algorithms</i>, §3.5, products
 * of matrices), doubled for blocked summation orders. Because every twin is multilinear in the adapter parameters and
 * x (DoRA's norm is a constant, as in PEFT), that absolute chain is exactly the gradient of the twin evaluated at
 * |W|, |θ|, |x| with upstream |dY| — computed here by finite differences as well. The base's own dX product adds
 * γ_out·|dY|·|W|.
 */
class AdapterGradientTest {
    /** Rounding of the double finite differences (≈ 1e-11·|L|, |L| < 1e2 here). */
    private static final double FD_SLACK = 1e-7;

    static Stream<Twins.Case> cases() {
        return Twins.all(100).stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gradientsMatchFiniteDifferencesOfTheTwin(Twins.Case c) {
        long seed = 7 + c.name.hashCode();
        Random r = new Random(seed);
        int n = 5;
        float[] x = NnTesting.randn(r, n * c.in, 1);
        float[] dy = NnTesting.randn(r, n * c.out, 1);
        AdaptedLinear.Activations act = c.layer.train(x, n);
        if (c.adapter instanceof DyLoraAdapter d) {
            c.rank[0] = d.lastTrainingRank();
        }
        float[] dx = c.layer.backward(act, dy, true);
        check(c, seed, x, dy, dx, n);
    }

    static void check(Twins.Case c, long seed, float[] x, float[] dy, float[] dx, int n) {
        double[] w = c.w(), b = c.bias();
        double[][] p = c.params();
        double[] xd = NnTesting.toDouble(x);
        double[] aw = abs(w), ab = abs(b), ax = abs(xd);
        double[][] ap = new double[p.length][];
        for (int i = 0; i < p.length; i++) {
            ap[i] = abs(p[i]);
        }
        float[] ady = new float[dy.length];
        for (int i = 0; i < dy.length; i++) {
            ady[i] = Math.abs(dy[i]);
        }
        int rank = 0;
        for (Adapter ad : c.layer.adapters()) {
            rank += ad.rank();
        }
        double k2 = 2 * gamma(c.in + c.out + n + 4L * rank + 8);
        List<Parameter> ps = c.layer.parameters();
        for (int i = 0; i < p.length; i++) {
            final int idx = i;
            double[] fd = finiteDifferences(v -> NnTesting.dot(c.twin.forward(w, b, with(p, idx, v), xd, n), dy), p[i]);
            double[] bound = finiteDifferences(v -> NnTesting.dot(c.absTwin.forward(aw, ab, with(ap, idx, v), ax, n), ady),
                    ap[i]);
            double[] tol = new double[fd.length];
            for (int j = 0; j < tol.length; j++) {
                tol[j] = FD_SLACK + k2 * bound[j];
            }
            if (c.adapter instanceof DyLoraAdapter d && d.config().frozen()) {
                frozenRanksOnly(d, i, fd, c.rank[0]);
            }
            assertClose(c + " d" + ps.get(i).name(), seed, ps.get(i).grad(), fd, tol);
        }
        double[] fdx = finiteDifferences(v -> NnTesting.dot(c.twin.forward(w, b, p, v, n), dy), xd);
        double[] bx = finiteDifferences(v -> NnTesting.dot(c.absTwin.forward(aw, ab, ap, v, n), ady), ax);
        double[] baseX = Twins.mm(NnTesting.toDouble(ady), n, c.out, aw, c.in);
        double[] tol = new double[fdx.length];
        for (int j = 0; j < tol.length; j++) {
            tol[j] = FD_SLACK + k2 * (bx[j] + baseX[j]);
        }
        assertClose(c + " dX", seed, dx, fdx, tol);
    }

    /** In DyLoRA's frozen mode only rank b−1 (0-based) is trained: the expected gradient is 0 elsewhere. */
    private static void frozenRanksOnly(DyLoraAdapter d, int param, double[] fd, int rb) {
        int rMax = d.rank(), in = d.inFeatures();
        for (int j = 0; j < fd.length; j++) {
            int k = param == 0 ? j / in : j % rMax;
            if (k != rb - 1) {
                fd[j] = 0;
            }
        }
    }

    static double[][] with(double[][] p, int i, double[] v) {
        double[][] q = p.clone();
        q[i] = v;
        return q;
    }

    static double[] abs(double[] a) {
        double[] b = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Math.abs(a[i]);
        }
        return b;
    }
}

package lowbit.nn;

import static org.assertj.core.api.Assertions.fail;

import java.util.Random;
import java.util.function.ToDoubleFunction;

/** Test helpers: random data, double-precision finite differences, and element-wise comparisons that name the index. */
public final class NnTesting {
    private NnTesting() {
    }

    /** Unit roundoff of float. */
    public static final double U = 0x1p-24;

    /** γ_n = n·u/(1 − n·u) (Higham eq. 3.4): the relative error bound of a float sum or dot product of n terms. */
    public static double gamma(long n) {
        return n * U / (1 - n * U);
    }

    public static float[] randn(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextGaussian() * scale);
        }
        return a;
    }

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /**
     * Central finite differences of a double function at x: g_i = (L(x + h·e_i) − L(x − h·e_i)) / (2h) with
     * h = 1e-5·max(1, |x_i|). The truncation error is h²·|L'''|/6 (≈ 1e-10 for the smooth losses used here) and the
     * rounding error about u_double·|L|/h ≈ 1e-11·|L|: both far below float precision, so the result is the exact
     * gradient for the purpose of checking a float implementation.
     */
    public static double[] finiteDifferences(ToDoubleFunction<double[]> loss, double[] x) {
        double[] g = new double[x.length];
        double[] p = x.clone();
        for (int i = 0; i < x.length; i++) {
            double h = 1e-5 * Math.max(1, Math.abs(x[i]));
            p[i] = x[i] + h;
            double up = loss.applyAsDouble(p);
            p[i] = x[i] - h;
            double down = loss.applyAsDouble(p);
            p[i] = x[i];
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    /** Σ w_i·y_i: the scalar loss whose gradient w.r.t. y is w (used to turn a backward pass into a gradient check). */
    public static double dot(double[] y, float[] w) {
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += y[i] * w[i];
        }
        return s;
    }

    /** |actual_i − expected_i| ≤ tol_i for every i, else a failure naming the index, the values and the seed. */
    public static void assertClose(String what, long seed, float[] actual, double[] expected, double[] tol) {
        if (actual.length != expected.length) {
            fail(what + " (seed " + seed + "): length " + actual.length + " vs " + expected.length);
        }
        for (int i = 0; i < actual.length; i++) {
            double err = Math.abs(actual[i] - expected[i]);
            if (!(err <= tol[i])) {
                fail(what + " (seed " + seed + "): index " + i + " is " + actual[i] + ", expected " + expected[i]
                        + " ± " + tol[i] + " (error " + err + ")");
            }
        }
    }

    /** {@link #assertClose(String, long, float[], double[], double[])} with one tolerance for every element. */
    public static void assertClose(String what, long seed, float[] actual, double[] expected, double tol) {
        double[] t = new double[actual.length];
        java.util.Arrays.fill(t, tol);
        assertClose(what, seed, actual, expected, t);
    }
}

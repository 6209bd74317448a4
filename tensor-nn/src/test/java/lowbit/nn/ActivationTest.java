package lowbit.nn;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.finiteDifferences;
import static lowbit.nn.NnTesting.toDouble;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import lowbit.tensor.simd.ElementwiseMath;
import org.junit.jupiter.api.Test;

class ActivationTest {
    /**
     * erf in double from the series erf(x) = (2/√π)·e^(−x²)·Σ_n 2ⁿ·x^(2n+1)/(1·3·…·(2n+1)) (Abramowitz and Stegun
     * 7.1.6): all terms positive, so no cancellation; accurate to a few double ulps for |x| ≤ 6; ±1 beyond.
     */
    static double erfReference(double x) {
        double a = Math.abs(x);
        if (a > 6) {
            return Math.signum(x);
        }
        double term = a, sum = a;
        for (int n = 1; term > 1e-18 * sum; n++) {
            term *= 2 * a * a / (2 * n + 1);
            sum += term;
        }
        return Math.signum(x) * 2 / Math.sqrt(Math.PI) * Math.exp(-a * a) * sum;
    }

    @Test
    void referenceErfMatchesTabulatedValues() {
        // Abramowitz and Stegun, Table 7.1
        assertThat(erfReference(0.5)).isCloseTo(0.5204998778130465, org.assertj.core.data.Offset.offset(1e-15));
        assertThat(erfReference(1.0)).isCloseTo(0.8427007929497149, org.assertj.core.data.Offset.offset(1e-15));
        assertThat(erfReference(2.0)).isCloseTo(0.9953222650189527, org.assertj.core.data.Offset.offset(1e-15));
        assertThat(erfReference(-1.5)).isCloseTo(-0.9661051464753108, org.assertj.core.data.Offset.offset(1e-15));
    }

    @Test
    void erfIsWithinOneUlp() {
        for (int i = -600_000; i <= 600_000; i++) {
            float x = i * 1e-5f;
            check(x);
        }
        for (float x : new float[] {1e-30f, -1e-30f, Float.MIN_VALUE, 3.9999f, 4f, 4.0001f, 10f, -10f, 1e30f}) {
            check(x);
        }
        assertThat(Erf.erf(Float.POSITIVE_INFINITY)).isEqualTo(1f);
        assertThat(Erf.erf(Float.NEGATIVE_INFINITY)).isEqualTo(-1f);
        assertThat(Erf.erf(Float.NaN)).isNaN();
        assertThat(Float.floatToRawIntBits(Erf.erf(-0f))).isEqualTo(Float.floatToRawIntBits(-0f));
    }

    private static void check(float x) {
        double ref = erfReference(x);
        float e = Erf.erf(x);
        if (!(Math.abs(e - ref) <= Math.ulp((float) ref))) {
            fail("erf(" + x + ") = " + e + ", reference " + ref);
        }
    }

    @Test
    void geluErfMatchesDoubleReference() {
        float[] x = grid();
        float[] y = Gelu.ERF.forward(x);
        for (int i = 0; i < x.length; i++) {
            double ref = 0.5 * x[i] * (1 + erfReference(x[i] / Math.sqrt(2)));
            // the float-evaluated erf's absolute error (≤ 4e-7, see Gelu) is scaled by |x|/2; then the roundings of
            // Φ and of x·Φ (2 ulp)
            double tol = 2 * Math.ulp((float) ref) + 2e-7 * Math.abs(x[i]);
            if (!(Math.abs(y[i] - ref) <= tol)) {
                fail("GELU(erf)(" + x[i] + ") = " + y[i] + ", reference " + ref);
            }
            assertThat(Gelu.ERF.apply(x[i])).isEqualTo(y[i]);
        }
    }

    /** The float GELU in tensor-core uses Erf's fitted coefficients, rounded to float. */
    @Test
    void geluErfCoefficientsAreErfsRoundedToFloat() {
        assertThat(new float[] {ElementwiseMath.P0, ElementwiseMath.P1, ElementwiseMath.P2, ElementwiseMath.P3,
            ElementwiseMath.P4, ElementwiseMath.P5, ElementwiseMath.P6, ElementwiseMath.Q1, ElementwiseMath.Q2,
            ElementwiseMath.Q3, ElementwiseMath.Q4, ElementwiseMath.Q5, ElementwiseMath.ERF_CLAMP})
                .containsExactly((float) Erf.P0, (float) Erf.P1, (float) Erf.P2, (float) Erf.P3, (float) Erf.P4,
                        (float) Erf.P5, (float) Erf.P6, (float) Erf.Q1, (float) Erf.Q2, (float) Erf.Q3, (float) Erf.Q4,
                        (float) Erf.Q5, (float) Erf.CLAMP);
    }

    @Test
    void geluErfTailsAreExact() {
        assertThat(Gelu.ERF.apply(-6f)).isEqualTo(-0f);
        assertThat(Gelu.ERF.apply(-1e30f)).isEqualTo(-0f);
        assertThat(Gelu.ERF.apply(6f)).isEqualTo(6f);
        assertThat(Gelu.ERF.apply(1e30f)).isEqualTo(1e30f);
        assertThat(Gelu.ERF.apply(0f)).isZero();
        assertThat(Gelu.ERF.apply(Float.NaN)).isNaN();
    }

    @Test
    void geluTanhAndSiluMatchDoubleReferences() {
        float[] x = grid();
        check(Gelu.TANH, v -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))), x);
        check(Silu.INSTANCE, v -> v / (1 + Math.exp(-v)), x);
    }

    private static void check(Activation f, DoubleUnaryOperator ref, float[] x) {
        float[] y = f.forward(x);
        double[] expected = new double[x.length];
        double[] tol = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            expected[i] = ref.applyAsDouble(x[i]);
            // both evaluated in double with the same library functions (tanh/exp within 1 double ulp): one rounding
            tol[i] = Math.ulp((float) expected[i]);
        }
        assertClose(f.toString(), 0, y, expected, tol);
    }

    private static float[] grid() {
        float[] x = new float[2001];
        for (int i = 0; i < x.length; i++) {
            x[i] = (i - 1000) * 0.01f; // [-10, 10]
        }
        return x;
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        long seed = 201;
        Random r = new Random(seed);
        float[] x = NnTesting.randn(r, 300, 3);
        float[] dy = NnTesting.randn(r, 300, 1);
        checkBackward(Gelu.ERF, v -> 0.5 * v * (1 + erfReference(v / Math.sqrt(2))), x, dy, seed);
        checkBackward(Gelu.TANH, v -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))),
                x, dy, seed);
        checkBackward(Silu.INSTANCE, v -> v / (1 + Math.exp(-v)), x, dy, seed);
    }

    private static void checkBackward(Activation f, DoubleUnaryOperator ref, float[] x, float[] dy, long seed) {
        float[] dx = f.backward(x, dy);
        double[] fd = finiteDifferences(xd -> {
            double s = 0;
            for (int i = 0; i < xd.length; i++) {
                s += dy[i] * ref.applyAsDouble(xd[i]);
            }
            return s;
        }, toDouble(x));
        double[] tol = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            // f'(x) evaluated in double (erf within 2.5e-9) and rounded, times dy: two float roundings of dy·f'(x),
            // plus the FD error (≈ 1e-9 for these smooth functions)
            tol[i] = 2 * Math.ulp((float) fd[i]) + 5e-9 * Math.abs(dy[i]) + 1e-8;
        }
        assertClose(f + " backward", seed, dx, fd, tol);
    }
}

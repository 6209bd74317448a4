package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The scalar definitions of {@link ElementwiseMath} against double-precision references: {@link Math#exp} (within
 * 1 ulp of e^x in double, far below a float ulp) and, for GELU, x·Φ(x) with erf from a 40-term Taylor/continued evaluation in double.
 */
class ElementwiseMathTest {
    /** ulps between a float and the exact value (a double), counted at the float's exponent. */
    private static double ulps(float got, double exact) {
        return Math.abs(got - exact) / Math.ulp((float) exact);
    }

    @Test
    void expIsWithinOneUlpOverTheNormalRange() {
        Random r = new Random(11);
        double worst = 0;
        float worstAt = 0;
        for (int i = 0; i < 2_000_000; i++) {
            float x = i < 1_000_000 ? -87.3f + (87.3f + 88.7f) * r.nextFloat() : (float) (r.nextGaussian() * 3);
            double u = ulps(ElementwiseMath.exp(x), Math.exp(x));
            if (u > worst) {
                worst = u;
                worstAt = x;
            }
        }
        // Math.exp is within 1 ulp of e^x (in double: far below a float ulp), so this is the error of the float code
        System.out.println("exp: worst error " + worst + " ulp at x = " + worstAt);
        assertThat(worst).as("worst ulp error, at x = " + worstAt).isLessThanOrEqualTo(1.0);
    }

    @Test
    void expEdgesAreExact() {
        assertThat(ElementwiseMath.exp(0f)).isEqualTo(1f);
        assertThat(ElementwiseMath.exp(-0f)).isEqualTo(1f);
        assertThat(ElementwiseMath.exp(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(ElementwiseMath.exp(-200f)).isEqualTo(0f);
        assertThat(ElementwiseMath.exp(-104f)).isEqualTo(0f);
        assertThat(ElementwiseMath.exp(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(ElementwiseMath.exp(89f)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(ElementwiseMath.exp(88.72f)).isEqualTo((float) Math.exp(88.72f)); // just below FLT_MAX
        assertThat(ElementwiseMath.exp(Float.NaN)).isNaN();
        // results below the smallest normal float are flushed to 0; just above it they are normal and accurate
        for (float x = -87.34f; x > -103.9f; x -= 0.37f) {
            assertThat(ElementwiseMath.exp(x)).as("exp(" + x + ")").isZero();
        }
        float lo = ElementwiseMath.EXP_MIN;
        assertThat(ElementwiseMath.exp(Math.nextDown(lo))).isZero();
        assertThat((double) ElementwiseMath.exp(Math.nextUp(lo))).isCloseTo(Math.exp(Math.nextUp(lo)),
                org.assertj.core.data.Offset.offset(2.0 * Math.ulp(Float.MIN_NORMAL)));
        // EXP_MIN is the threshold it claims: e^EXP_MIN is normal, e^(the float below) is not
        assertThat(Math.exp(lo)).isGreaterThanOrEqualTo(Float.MIN_NORMAL);
        assertThat(Math.exp(Math.nextDown(lo))).isLessThan(Float.MIN_NORMAL);
    }

    /** erf in double by its Maclaurin series (|u| ≤ 3) or the complementary continued fraction beyond. */
    private static double erf(double u) {
        double a = Math.abs(u);
        double e;
        if (a <= 3) {
            double term = a, sum = a;
            for (int k = 1; k < 200; k++) {
                term *= -a * a / k;
                double t = term / (2 * k + 1);
                sum += t;
                if (Math.abs(t) < 1e-20) {
                    break;
                }
            }
            e = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            double f = 0;
            for (int k = 60; k >= 1; k--) {
                f = k / 2.0 / (a + f);
            }
            e = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
        }
        return Math.copySign(e, u);
    }

    @Test
    void geluIsWithinItsStatedBound() {
        Random r = new Random(12);
        for (int i = 0; i < 300_000; i++) {
            float x = (float) (r.nextGaussian() * 4);
            double exact = 0.5 * x * (1 + erf(x / Math.sqrt(2)));
            float got = ElementwiseMath.geluErf(x);
            // the class's bound: 2·10⁻⁷·|x| + 2 ulp
            double bound = 2e-7 * Math.abs(x) + 2 * Math.ulp((float) exact) + Float.MIN_VALUE;
            assertThat((double) got).as("gelu(" + x + ")").isCloseTo(exact, org.assertj.core.data.Offset.offset(bound));
        }
        assertThat(ElementwiseMath.geluErf(-6f)).isEqualTo(-0f);
        assertThat(ElementwiseMath.geluErf(6f)).isEqualTo(6f);
        assertThat(ElementwiseMath.geluErf(0f)).isZero();
        assertThat(ElementwiseMath.geluErf(Float.NaN)).isNaN();
        assertThat(ElementwiseMath.geluErf(Float.NEGATIVE_INFINITY)).isNaN();
        assertThat(ElementwiseMath.geluErf(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
    }
}

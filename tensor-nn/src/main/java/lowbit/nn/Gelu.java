package lowbit.nn;

import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.ElementwiseMath;
import lowbit.tensor.simd.FloatOps;

/**
 * The Gaussian error linear unit (Hendrycks and Gimpel, <i>Gaussian Error Linear Units (GELUs)</i>, 2016), in its two
 * common forms:
 * <pre>
 *   ERF:   gelu(x) = x·Φ(x) = ½·x·(1 + erf(x/√2))                            (BERT, torch's default)
 *          gelu'(x) = Φ(x) + x·φ(x),   φ(x) = e^(−x²/2)/√(2π)
 *   TANH:  gelu(x) ≈ ½·x·(1 + tanh(u)),   u = √(2/π)·(x + 0.044715·x³)      (GPT-2, torch approximate="tanh")
 *          gelu'(x) = ½·(1 + tanh(u)) + ½·x·(1 − tanh²(u))·√(2/π)·(1 + 3·0.044715·x²)
 * </pre>
 * The tanh form and both derivatives are evaluated in double (the erf derivative with {@link Erf}, within one float
 * ulp of erf) and rounded to float. The erf form's value is the hot path of BERT's FFN and is evaluated in float with
 * the same rational approximation as {@link Erf} (coefficients rounded to float; {@link ElementwiseMath#geluErf},
 * vectorized by {@link FloatOps#geluErf}): its erf is
 * within 4·10⁻⁷ of the true erf (a few ulps near ±1, float rounding of the rational), so
 * {@code |Δgelu(x)| ≤ 2·10⁻⁷·|x| + 2 ulp}; Φ is exactly 0 for x ≤ −4√2 and exactly 1 for x ≥ 4√2 (branch-free, by
 * clamping steps), so the far tails are exact. NaN gives NaN; −∞ gives NaN (−∞·0), +∞ gives +∞.
 */
public enum Gelu implements Activation {
    /** The exact form with erf. */
    ERF,
    /** The tanh approximation. */
    TANH;

    private static final double INV_SQRT2 = 0.7071067811865476;
    private static final double INV_SQRT_2PI = 0.3989422804014327;
    private static final double SQRT_2_OVER_PI = 0.7978845608028654;
    private static final double K = 0.044715;

    @Override
    public float apply(float x) {
        return this == ERF ? erfForm(x) : (float) tanhForm(x);
    }

    @Override
    public float derivative(float x) {
        double xd = x;
        if (this == ERF) {
            double cdf = 0.5 * (1.0 + Erf.erf(xd * INV_SQRT2));
            return (float) (cdf + xd * INV_SQRT_2PI * Math.exp(-0.5 * xd * xd));
        }
        double u = SQRT_2_OVER_PI * (xd + K * xd * xd * xd);
        double th = Math.tanh(u);
        return (float) (0.5 * (1 + th) + 0.5 * xd * (1 - th * th) * SQRT_2_OVER_PI * (1 + 3 * K * xd * xd));
    }

    @Override
    public void forward(float[] x, float[] y) {
        if (this == TANH) {
            Activation.super.forward(x, y);
            return;
        }
        RowChecks.sameLength("GELU", "x", x, "y", y);
        Parallel.forRange(0, x.length, 1 << 14, (a, b) -> erfRange(x, y, (int) a, (int) b));
    }

    /** The erf form over a range, by the vectorized {@link FloatOps#geluErf} (same bits as {@link #apply}). */
    private static void erfRange(float[] x, float[] y, int from, int to) {
        FloatOps.geluErf(x, from, y, from, to - from);
    }

    /** x·Φ(x) in float: {@link ElementwiseMath#geluErf} (see the class comment). */
    private static float erfForm(float x) {
        return ElementwiseMath.geluErf(x);
    }

    private static double tanhForm(double x) {
        return 0.5 * x * (1.0 + Math.tanh(SQRT_2_OVER_PI * (x + K * x * x * x)));
    }

    @Override
    public String toString() {
        return this == ERF ? "GELU(erf)" : "GELU(tanh)";
    }
}

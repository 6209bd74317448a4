package lowbit.nn;

import lowbit.tensor.parallel.Parallel;

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
 * the same rational approximation as {@link Erf} (coefficients rounded to float, loops C2 can vectorize): its erf is
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

    /**
     * The erf form over a range. C2 (JDK 25) vectorizes this branch-free loop only when it runs over a whole array
     * ({@code i < a.length}); over [from, to) of a larger array it stays scalar, where each Math.min/max is a
     * compare-and-branch (measured 10× slower). So the range is processed through a small scratch array.
     */
    private static void erfRange(float[] x, float[] y, int from, int to) {
        float[] t = new float[Math.min(4096, to - from)];
        for (int c = from; c < to; c += t.length) {
            int n = Math.min(t.length, to - c);
            if (n < t.length) {
                t = new float[n];
            }
            System.arraycopy(x, c, t, 0, n);
            erfWhole(t);
            System.arraycopy(t, 0, y, c, n);
        }
    }

    private static void erfWhole(float[] t) {
        for (int i = 0; i < t.length; i++) {
            t[i] = erfForm(t[i]);
        }
    }

    private static final float FP0 = (float) Erf.P0, FP1 = (float) Erf.P1, FP2 = (float) Erf.P2, FP3 = (float) Erf.P3,
            FP4 = (float) Erf.P4, FP5 = (float) Erf.P5, FP6 = (float) Erf.P6;
    private static final float FQ1 = (float) Erf.Q1, FQ2 = (float) Erf.Q2, FQ3 = (float) Erf.Q3, FQ4 = (float) Erf.Q4,
            FQ5 = (float) Erf.Q5;
    private static final float CLAMP = (float) Erf.CLAMP;

    /** x·Φ(x) in float (see the class comment); no branches, so that a loop of it vectorizes. */
    private static float erfForm(float x) {
        float u = x * (float) INV_SQRT2;
        float c = Math.max(-CLAMP, Math.min(CLAMP, u));
        float t = c * c;
        float p = FP0 + t * (FP1 + t * (FP2 + t * (FP3 + t * (FP4 + t * (FP5 + t * FP6)))));
        float q = 1f + t * (FQ1 + t * (FQ2 + t * (FQ3 + t * (FQ4 + t * FQ5))));
        float e = Math.max(-1f, Math.min(1f, c * p / q));
        float phi = 0.5f * (1f + e);
        // exact tails: ×0 for u ≤ −4, max with 1 for u ≥ 4 (each step is 0 or 1 except within 2^-24 of the clamp)
        phi *= Math.min(1f, Math.max(0f, (u + CLAMP) * 0x1p24f));
        phi = Math.max(phi, Math.min(1f, Math.max(0f, (u - CLAMP) * 0x1p24f)));
        return x * phi;
    }

    private static double tanhForm(double x) {
        return 0.5 * x * (1.0 + Math.tanh(SQRT_2_OVER_PI * (x + K * x * x * x)));
    }

    @Override
    public String toString() {
        return this == ERF ? "GELU(erf)" : "GELU(tanh)";
    }
}

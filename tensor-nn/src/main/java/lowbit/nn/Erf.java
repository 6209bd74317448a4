package lowbit.nn;

/**
 * The error function {@code erf(x) = (2/√π)·∫₀ˣ e^(−t²) dt} in float, for the exact form of GELU. Java's
 * {@link Math} has no erf, so lowbit uses a rational approximation evaluated in double:
 * <pre>
 *   erf(x) ≈ x·P(x²)/Q(x²)  for |x| &lt; 4,   P of degree 6, Q of degree 5 (Q(0) = 1);   erf(x) = ±1 beyond
 * </pre>
 * The coefficients were fitted for this library (iteratively reweighted linear least squares on the relative error,
 * Chebyshev nodes on [0, 4], against a double-precision erf). The relative error of the double result is below
 * 2.5·10⁻⁹ on [0, 4], so the float result is within one ulp of erf (most often the correctly rounded value). For
 * |x| ≥ 4, 1 − erf(x) &lt; 1.6·10⁻⁸, less than half an ulp of 1: ±1 is the correctly rounded float. The absolute
 * error is thus at most 1.6·10⁻⁸ everywhere (this bounds GELU's error in the far negative tail, where Φ(x) is tiny:
 * |Δgelu(x)| ≤ 0.8·10⁻⁸·|x|). NaN gives NaN.
 */
public final class Erf {
    /** Beyond this |x|, erf(x) rounds to ±1 in float. */
    static final double CLAMP = 4.0;
    static final double P0 = 1.1283791680853295;
    static final double P1 = 0.18527989553390095;
    static final double P2 = 0.05435403117476267;
    static final double P3 = 0.0038564791180256625;
    static final double P4 = 0.00038086067967202635;
    static final double P5 = 4.715157897119051e-06;
    static final double P6 = -1.3360478622918993e-08;
    static final double Q1 = 0.49753342986176496;
    static final double Q2 = 0.11401400757085897;
    static final double Q3 = 0.015479851335427305;
    static final double Q4 = 0.0013106935650112673;
    static final double Q5 = 6.340394125794924e-05;

    private Erf() {
    }

    /** erf(x) rounded to float (within one ulp). */
    public static float erf(float x) {
        return (float) erf((double) x);
    }

    /**
     * The approximation in double (relative error below 2.5·10⁻⁹; not a full-precision double erf), used by GELU's
     * derivative; GELU's value uses these coefficients rounded to float ({@code ElementwiseMath.geluErf}).
     */
    static double erf(double x) {
        double c = Math.max(-CLAMP, Math.min(CLAMP, x));
        double t = c * c;
        double p = P0 + t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * (P5 + t * P6)))));
        double q = 1.0 + t * (Q1 + t * (Q2 + t * (Q3 + t * (Q4 + t * Q5))));
        double e = c * p / q;
        // beyond the clamp exactly ±1 (so that Φ(x) = (1 + erf(x/√2))/2 is exactly 0 in the far negative tail)
        return Math.abs(x) >= CLAMP ? Math.copySign(1.0, x) : Math.max(-1.0, Math.min(1.0, e));
    }
}

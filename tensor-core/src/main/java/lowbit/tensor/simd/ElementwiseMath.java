package lowbit.tensor.simd;

/**
 * The scalar definitions of the element-wise functions that {@link FloatKernels} vectorizes: {@link #exp} and
 * {@link #geluErf}. Each is written only with operations that a Vector API lane performs with the same IEEE rounding
 * (add, subtract, multiply, divide, comparisons choosing one of two values, float-to-int conversion of an integral
 * value, integer shifts and adds; no fused multiply-add, whose availability differs between machines), so the SIMD
 * kernels and this code give the same bits on every machine, compiled or interpreted. Clamps are written as
 * {@code v > hi ? hi : v} rather than {@code Math.min}: they keep NaN alike, and in the vector code a compare and a
 * blend are much cheaper than a Java min/max.
 */
public final class ElementwiseMath {
    private ElementwiseMath() {
    }

    // ---- exp ----

    /** log2(e) rounded to float. */
    public static final float LOG2E = 1.44269504088896341f;
    /**
     * ln 2 split in two (Cody and Waite): the high part has 9 significant bits, so n·LN2_HI is exact for |n| ≤ 150
     * and x − n·LN2_HI is exact near multiples of ln 2.
     */
    public static final float LN2_HI = 0.693359375f;
    public static final float LN2_LO = -2.12194440e-4f;
    /** Adding and subtracting 1.5·2^23 rounds a float of magnitude below 2^22 to the nearest integer (ties to even). */
    public static final float ROUND = 0x1.8p23f;
    /**
     * The smallest float x with e^x ≥ 2^-126 (ln 2^-126 rounded up). x is clamped to [EXP_MIN, EXP_HI] before the
     * reduction, so no step ever produces a subnormal (each would cost a microcode assist on x86, about 150 cycles:
     * softmax rows with masked keys hit it on every call, measured 2× slower for an attention head), and the result
     * for x below EXP_MIN is then replaced by 0.
     */
    public static final float EXP_MIN = -87.33654022f;
    /** The upper clamp (keeps n in range for the exponent bits): e^89 overflows to +∞. */
    public static final float EXP_HI = 89f;
    /** exp(r) ≈ 1 + r + r²·P(r) on |r| ≤ ln2/2 (S. L. Moshier's Cephes expf coefficients). */
    public static final float E0 = 5.0000001201e-1f;
    public static final float E1 = 1.6666665459e-1f;
    public static final float E2 = 4.1665795894e-2f;
    public static final float E3 = 8.3334519073e-3f;
    public static final float E4 = 1.3981999507e-3f;
    public static final float E5 = 1.9875691500e-4f;

    /**
     * e^x in float, within 1 ulp of the exact value for normal results (worst 0.97 ulp over 2·10⁶ sampled arguments
     * in [−87.3, 88.7], tested against {@link Math#exp}). The argument is reduced as x = n·ln2 + r with n = round(x·log2 e), exp(r) comes from a
     * degree-7 polynomial, and 2^n is applied as two exact power-of-two factors 2^⌊n/2⌋·2^(n−⌊n/2⌋), so that
     * large results overflow to +∞ as they should. Results below the smallest normal float (x &lt; {@link #EXP_MIN})
     * are flushed to 0 (an absolute error below 1.2·10⁻³⁸). exp(−∞) = 0, exp(+∞) = +∞, NaN gives NaN.
     */
    public static float exp(float x) {
        float c = x < EXP_MIN ? EXP_MIN : x; // a clamp that keeps NaN (see the class comment)
        c = c > EXP_HI ? EXP_HI : c;
        float nf = (c * LOG2E + ROUND) - ROUND;
        float r = (c - nf * LN2_HI) - nf * LN2_LO;
        float p = ((((E5 * r + E4) * r + E3) * r + E2) * r + E1) * r + E0;
        float e = (p * (r * r) + r) + 1f;
        int n = (int) nf;
        int n1 = n >> 1;
        int n2 = n - n1;
        float y = e * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
        return x < EXP_MIN ? 0f : y;
    }

    // ---- GELU, erf form ----

    /** 1/√2 rounded to float. */
    public static final float INV_SQRT2 = (float) 0.7071067811865476;
    /** Beyond this |x/√2|, erf rounds to ±1 in float. */
    public static final float ERF_CLAMP = 4f;
    /** erf(u) ≈ u·P(u²)/Q(u²) on |u| &lt; 4 (lowbit's fit; the double coefficients are {@code lowbit.nn.Erf}'s). */
    public static final float P0 = (float) 1.1283791680853295;
    public static final float P1 = (float) 0.18527989553390095;
    public static final float P2 = (float) 0.05435403117476267;
    public static final float P3 = (float) 0.0038564791180256625;
    public static final float P4 = (float) 0.00038086067967202635;
    public static final float P5 = (float) 4.715157897119051e-06;
    public static final float P6 = (float) -1.3360478622918993e-08;
    public static final float Q1 = (float) 0.49753342986176496;
    public static final float Q2 = (float) 0.11401400757085897;
    public static final float Q3 = (float) 0.015479851335427305;
    public static final float Q4 = (float) 0.0013106935650112673;
    public static final float Q5 = (float) 6.340394125794924e-05;

    /**
     * GELU in its erf form, x·Φ(x) = ½·x·(1 + erf(x/√2)), in float: erf by the rational approximation above (within
     * 4·10⁻⁷ of the true erf after float rounding), so |Δgelu(x)| ≤ 2·10⁻⁷·|x| + 2 ulp. Φ is set to exactly 0
     * for x/√2 ≤ −4 and to exactly 1 for x/√2 &gt; 4 (by selections, branch-free in the vector code).
     * NaN gives NaN, −∞ gives NaN (−∞·0), +∞ gives +∞.
     */
    public static float geluErf(float x) {
        float u = x * INV_SQRT2;
        float c = u > ERF_CLAMP ? ERF_CLAMP : u;
        c = c < -ERF_CLAMP ? -ERF_CLAMP : c;
        float t = c * c;
        float p = P0 + t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * (P5 + t * P6)))));
        float q = 1f + t * (Q1 + t * (Q2 + t * (Q3 + t * (Q4 + t * Q5))));
        float e = c * p / q;
        e = e > 1f ? 1f : e;
        e = e < -1f ? -1f : e;
        float phi = 0.5f * (1f + e);
        phi = u <= -ERF_CLAMP ? 0f : phi;
        phi = u > ERF_CLAMP ? 1f : phi;
        return x * phi;
    }
}

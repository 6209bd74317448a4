package lowbit.quant;

import lowbit.tensor.DType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;

/**
 * The arithmetic every affine quantizer shares: choosing (s, z) for a range and rounding weights onto the grid
 * Ŵ = s·(q − z), q ∈ [0, maxq], maxq = 2^bits − 1 (the {@link GroupwiseAffine} layout).
 *
 * <p><b>Rounding</b> is round-half-to-even of w/s (IEEE division, as PyTorch's {@code torch.round(w / s)} in GPTQ
 * and AWQ), then + z and clamped to [0, maxq]: exactly {@link GroupwiseAffine#quantize}. The loops here clamp w/s
 * to [−z, maxq − z] first and round with the float identity rint(t) = (t + 1.5·2²³) − 1.5·2²³ (exact for
 * |t| &lt; 2²²), which gives the same integer (rounding is monotone and fixes the integer bounds) and vectorizes.
 *
 * <p><b>Scales</b> are rounded to the spec's scale type (F16: nearest even) <em>before</em> codes are chosen, so
 * codes are optimal for the grid actually stored; a scale below the smallest positive F16 (2⁻²⁴) is raised to it,
 * an all-zero group gets s = 1 and a constant group c is exact (its range widened to include 0 ends at c).
 *
 * <p>Scale and zero point travel packed in one {@code long} ({@link #pack}) on hot paths so that fitting a group
 * allocates nothing.
 */
public final class AffineGrid {
    /** 1.5·2²³: adding and subtracting it rounds a float of magnitude &lt; 2²² to an integer, half to even. */
    static final float ROUND_MAGIC = 12582912f;
    /** Smallest positive F16 value (a subnormal), the least scale an F16 spec can store. */
    static final float F16_MIN_SCALE = 0x1p-24f;

    private AffineGrid() {
    }

    /** (scale, zero) in one long: zero in the high 32 bits, the scale's float bits in the low 32. */
    public static long pack(float scale, int zero) {
        return ((long) zero << 32) | (Float.floatToRawIntBits(scale) & 0xFFFF_FFFFL);
    }

    /** The scale of a {@link #pack packed} pair. */
    public static float scale(long packed) {
        return Float.intBitsToFloat((int) packed);
    }

    /** The zero point of a {@link #pack packed} pair. */
    public static int zero(long packed) {
        return (int) (packed >> 32);
    }

    /** The scale as the spec's scale type stores it, never below the least storable positive value. */
    public static float storable(float s, DType scaleType) {
        if (scaleType == DType.F16) {
            float st = GroupwiseAffine.storedScale(Math.max(s, F16_MIN_SCALE), DType.F16);
            if (Float.isInfinite(st)) {
                throw new IllegalArgumentException("scale " + s + " overflows F16 (max 65504); use F32 scales");
            }
            return st;
        }
        return Math.max(s, Float.MIN_NORMAL);
    }

    /**
     * Asymmetric (s, z) for the range [lo, hi] (lo ≤ hi): s = (hi − lo)/maxq, z = clamp(round(−lo/s), 0, maxq).
     * Because the layout's z lies in [0, maxq], its grid always contains 0, so the range is widened to include 0
     * (lo ← min(lo, 0), hi ← max(hi, 0), GPTQ's rule) whatever {@code zeroInRange} says: with a range on one side of
     * 0, the plain min/max scale with a clamped z (AutoAWQ's behaviour) could not reach the group's far end. The flag
     * is kept for callers that state the rule explicitly; an empty range (all zeros) gets s = 1, z = 0.
     */
    public static long asymmetric(float lo, float hi, int bits, boolean zeroInRange, DType scaleType) {
        int maxq = (1 << bits) - 1;
        // z ∈ [0, maxq] means the grid s·([0, maxq] − z) always contains 0: a range on one side of 0 is widened to
        // reach it (otherwise clamping z would cut the group off), so both rules agree except where noted below
        lo = Math.min(lo, 0f);
        hi = Math.max(hi, 0f);
        float s;
        int z;
        if (hi - lo > 0) {
            s = storable((hi - lo) / maxq, scaleType);
            z = (int) Math.min(Math.max(Math.rint(-lo / s), 0), maxq);
        } else {
            s = 1f;
            z = 0;
        }
        return pack(s, z);
    }

    /**
     * Symmetric (s, z = 2^(bits−1)) for max|w| = {@code maxAbs}: s = maxAbs/(2^(bits−1) − 1) (signed codes
     * −(2^(bits−1) − 1)..2^(bits−1) − 1, no clipping), or with {@code gptq} GPTQ's s = 2·maxAbs/maxq (uses code 0 =
     * −2^(bits−1) too, clips the positive end); s = 1 for an all-zero group.
     */
    public static long symmetric(float maxAbs, int bits, boolean gptq, DType scaleType) {
        int zero = 1 << (bits - 1);
        if (!(maxAbs > 0)) {
            return pack(1f, zero);
        }
        float s = gptq ? 2 * maxAbs / ((1 << bits) - 1) : maxAbs / (zero - 1);
        return pack(storable(s, scaleType), zero);
    }

    /** (s, z) of the min/max rule for {@code spec} over w[off .. off+n): RTN's choice. */
    static long minMax(float[] w, int off, int n, AffineSpec spec, boolean zeroInRange, boolean gptqSymmetric) {
        float[] lo = new float[1];
        float[] hi = new float[1];
        Groupwise.FIT.groupMinMax(w, off, n, n, lo, hi, 0); // both in one pass
        return minMax(lo[0], hi[0], spec, zeroInRange, gptqSymmetric);
    }

    /** (s, z) of the min/max rule for a group with range [lo, hi] (max|w| = max(−lo, hi)). */
    static long minMax(float lo, float hi, AffineSpec spec, boolean zeroInRange, boolean gptqSymmetric) {
        if (spec.symmetric()) {
            return symmetric(Math.max(-lo, hi), spec.bits(), gptqSymmetric, spec.scaleType());
        }
        return asymmetric(lo, hi, spec.bits(), zeroInRange, spec.scaleType());
    }

    /** Codes of w[off .. off+n) on (s, z): q = clamp(round_half_even(w/s) + z, 0, maxq), into codes[cOff ..]. */
    public static void quantize(float[] w, int off, int n, float s, int z, int bits, int[] codes, int cOff) {
        float lo = -z;
        float hi = ((1 << bits) - 1) - z;
        for (int i = 0; i < n; i++) {
            float t = Math.min(Math.max(w[off + i] / s, lo), hi);
            codes[cOff + i] = (int) ((t + ROUND_MAGIC) - ROUND_MAGIC) + z;
        }
    }

    /** Σ (w − s·(q − z))² over w[off .. off+n) quantized on (s, z), in float (see {@link #quantize}). */
    public static float squaredError(float[] w, int off, int n, float s, int z, int bits) {
        java.util.Objects.checkFromIndexSize(off, n, w.length);
        return Groupwise.FIT.squaredError(w, off, n, s, z, bits);
    }

    /** Σ h_i·(w_i − ŵ_i)² with per-element weights h[hOff + i] (activation-weighted error). */
    public static float weightedSquaredError(float[] w, int off, int n, float s, int z, int bits, float[] h, int hOff) {
        java.util.Objects.checkFromIndexSize(off, n, w.length);
        java.util.Objects.checkFromIndexSize(hOff, n, h.length);
        return Groupwise.FIT.weightedSquaredError(w, off, n, s, z, bits, h, hOff);
    }
}

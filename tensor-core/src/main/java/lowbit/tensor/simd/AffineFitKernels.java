package lowbit.tensor.simd;

/**
 * Kernels that <em>fit</em> the group-wise affine grid Ŵ = s·(q − z), q ∈ [0, maxq], maxq = 2^bits − 1 (the layout
 * of {@code lowbit.tensor.layout.GroupwiseAffine}): per-group ranges, codes with their reconstruction error, and the
 * per-candidate sums that the data-free quantizers of {@code lowbit.quant} evaluate many times per group (clip
 * search, EasyQuant's straight-through gradient, HQQ's proximal steps). All work on contiguous floats of a
 * {@code float[]}; a "segment" is {@code w[off .. off + n)} cut into groups of {@code group} consecutive elements
 * ({@code n} a multiple of {@code group}).
 *
 * <p><b>Codes</b> are q = rint(clamp(w/s, −z, maxq − z)) + z with IEEE division and round-half-to-even, which is
 * clamp(round_half_even(w/s) + z, 0, maxq) (rounding is monotone and fixes the integer bounds): every implementation
 * returns exactly the same codes as {@link ScalarAffineFitKernels}. Ranges (min, max) are exact too. <b>Sums</b>
 * (errors, gradients) are float sums in an implementation-defined but fixed order; an implementation is within
 * γ_n·Σ|terms| of the exact sum (γ_n = n·u/(1 − n·u), u = 2⁻²⁴), so two implementations differ by at most twice
 * that. Implementations trust their arguments (s finite and &gt; 0, 0 ≤ z ≤ maxq, bits 2..8, indices in bounds);
 * {@code lowbit.quant} validates.
 */
public interface AffineFitKernels {
    /**
     * For k &lt; n/group: {@code lo[gOff + k]} = min and {@code hi[gOff + k]} = max of group k of the segment, exactly
     * as {@link Math#min}/{@link Math#max} give them for groups without NaN (−0.0 below +0.0); a group with a NaN gets
     * a NaN lo or hi (at least one of the two), so that callers detect it from the range.
     */
    void groupMinMax(float[] w, int off, int n, int group, float[] lo, float[] hi, int gOff);

    /**
     * Codes and errors of a segment: group k (k &lt; n/group) uses s = {@code scales[gOff + k]} and z =
     * {@code zeros[gOff + k]}, or the constant {@code zero} when {@code zeros} is null; element i gets
     * {@code codes[cOff + i]} = q (exact, see the class comment) and {@code err[gOff + k]} = Σ_{i ∈ k}
     * (w_i − fl(s·(q_i − z)))² (a float sum).
     */
    void quantizeGroups(float[] w, int off, int n, int group, float[] scales, int[] zeros, int zero, int gOff,
            int bits, int[] codes, int cOff, float[] err);

    /** Σ (w_i − fl(s·(q_i − z)))² over w[off .. off + n) on one grid (s, z). */
    float squaredError(float[] w, int off, int n, float s, int z, int bits);

    /** Σ h[hOff + i]·(w_i − fl(s·(q_i − z)))² (an activation-weighted error). */
    float weightedSquaredError(float[] w, int off, int n, float s, int z, int bits, float[] h, int hOff);

    /**
     * The loss and straight-through-estimator gradient sums of EasyQuant's range optimization on one grid (s, z),
     * with t = w/s, r = rint(clamp(t, −z, maxq − z)) and e = fl(s·r) − w: {@code out[0]} = Σ e², {@code out[1]} =
     * Σ e·∂r, where ∂r = −z if t &lt; −z, maxq − z if t &gt; maxq − z, else r − t (the straight-through estimate
     * of ∂Q/∂s for Q = s·r), and {@code out[2]} = Σ of e over the clamped elements (t outside [−z, maxq − z]).
     */
    void steGradient(float[] w, int off, int n, float s, int z, int bits, float[] out);

    /**
     * HQQ's zero-point step (Badri &amp; Shaji 2023) on (s, z) with a float zero point z: with q =
     * clamp(rint(w/s + z), 0, maxq) (rint of the float sum w/s + z), e = w − s·(q − z) and the generalized soft
     * threshold W_e = shrink_p(e) = sign(e)·max(|e| − |e|^(p−1)·invBeta, 0), taken as 0 where |e| ≤ thr (the caller
     * passes thr = β^(−1/(2−p)), below which the shrink is 0), {@code out[0]} = Σ |e| and {@code out[1]} =
     * Σ (q − (w − W_e)/s). |e|^(p−1) is {@link Math#pow} in every implementation.
     */
    void hqqZeroStep(float[] w, int off, int n, float s, float z, int maxq, float p, float invBeta, float thr,
            float[] out);

    /**
     * HQQ's proximal step on the scale for an integer zero point z: with d = clamp(rint(w/s + z), 0, maxq) − z,
     * e = w − s·d and W_e = shrink_p(e) as in {@link #hqqZeroStep}, {@code out[0]} = Σ (w − W_e)·d,
     * {@code out[1]} = Σ d² (the least-squares scale of the shrunk target is out[0]/out[1]) and {@code out[2]} =
     * Σ |e| (= {@link #absError} at (s, z), in the same pass).
     */
    void hqqScaleStep(float[] w, int off, int n, float s, int z, int maxq, float p, float invBeta, float thr,
            float[] out);

    /** Σ |w − s·(q − z)| with q = clamp(rint(w/s + z), 0, maxq) for a float zero point z (HQQ's stopping error). */
    float absError(float[] w, int off, int n, float s, float z, int maxq);
}

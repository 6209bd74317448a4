package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;

/**
 * Round-to-nearest (RTN): per group, the scale and zero point come from the group's range and every weight is rounded
 * to the nearest grid point, q = clamp(round_half_even(w/s) + z, 0, maxq) (see {@link AffineGrid}). The baseline of
 * every paper here (GPTQ, Frantar et al. 2022, calls it RTN), at every granularity of {@link AffineSpec}.
 *
 * <ul>
 *   <li><b>Asymmetric</b> ({@link #asymmetric()}, the default for asymmetric specs): lo = min w, hi = max w,
 *       s = (hi − lo)/maxq, z = round(−lo/s). {@link #asymmetricZeroInRange()} is GPTQ's rule, which first widens
 *       the range to contain 0 (lo ≤ 0 ≤ hi). On this layout the two coincide: its integer zero point lies in
 *       [0, maxq], so every grid contains 0, and a group on one side of 0 must be widened to reach 0 anyway (a
 *       clamped z with the narrow scale, as AutoAWQ does, would cut the group off); see {@link AffineGrid}.</li>
 *   <li><b>Symmetric</b> ({@link #symmetric()}, the default for symmetric specs): s = max|w|/(2^(b−1) − 1), z =
 *       2^(b−1) (no clipping; code 0 unused). {@link #symmetricGptq()} uses GPTQ's s = 2·max|w|/maxq, which uses
 *       all 2^b codes but clips the positive end by one step.</li>
 * </ul>
 * All-zero groups get s = 1, constant groups are exact. With {@link AffineSpec#scaleType() F16 scales} the scale is
 * rounded to F16 before the codes are chosen. Speed: for the row-wise granularities (per tensor, per output channel,
 * groups along in) one fused pass per row with the {@link lowbit.tensor.simd.AffineFitKernels} (group ranges, then
 * codes with their errors, packed straight into the layout's native code segment; the report's errors come from
 * the same pass), rows in parallel; the column granularities go through W transposed.
 */
public final class Rtn implements Quantizer {
    /** Which range rule. */
    private enum Rule { MIN_MAX, ZERO_IN_RANGE, MAX_ABS, GPTQ_SYM, BY_SPEC }

    private final Rule rule;

    private Rtn(Rule rule) {
        this.rule = rule;
    }

    /** Asymmetric min/max for asymmetric specs, max-abs for symmetric ones. */
    public static Rtn defaults() {
        return new Rtn(Rule.BY_SPEC);
    }

    /** Asymmetric min/max (asymmetric specs only). */
    public static Rtn asymmetric() {
        return new Rtn(Rule.MIN_MAX);
    }

    /** Asymmetric with lo ≤ 0 ≤ hi forced, as GPTQ (asymmetric specs only). */
    public static Rtn asymmetricZeroInRange() {
        return new Rtn(Rule.ZERO_IN_RANGE);
    }

    /** Symmetric s = max|w|/(2^(b−1) − 1) (symmetric specs only). */
    public static Rtn symmetric() {
        return new Rtn(Rule.MAX_ABS);
    }

    /** Symmetric s = 2·max|w|/maxq, GPTQ's {@code sym=True} (symmetric specs only). */
    public static Rtn symmetricGptq() {
        return new Rtn(Rule.GPTQ_SYM);
    }

    @Override
    public String name() {
        return "rtn";
    }

    /** The per-group fitter of this rule for {@code spec}. */
    Groupwise.Fitter fitter(AffineSpec spec) {
        boolean sym = spec.symmetric();
        if ((rule == Rule.MIN_MAX || rule == Rule.ZERO_IN_RANGE) && sym) {
            throw new IllegalArgumentException("rtn: the asymmetric rule needs an asymmetric spec, got "
                    + spec.describe() + " (use Rtn.symmetric() or Rtn.defaults())");
        }
        if ((rule == Rule.MAX_ABS || rule == Rule.GPTQ_SYM) && !sym) {
            throw new IllegalArgumentException("rtn: the symmetric rule needs a symmetric spec, got " + spec.describe()
                    + " (use Rtn.asymmetric() or Rtn.defaults())");
        }
        boolean zeroInRange = rule == Rule.ZERO_IN_RANGE;
        boolean gptq = rule == Rule.GPTQ_SYM;
        return (w, off, len, h, hOff) -> AffineGrid.minMax(w, off, len, spec, zeroInRange, gptq);
    }

    String ruleName(AffineSpec spec) {
        return switch (rule) {
            case MIN_MAX -> "min-max";
            case ZERO_IN_RANGE -> "min-max, 0 in range";
            case MAX_ABS -> "max-abs";
            case GPTQ_SYM -> "2*max-abs/maxq";
            case BY_SPEC -> spec.symmetric() ? "max-abs" : "min-max";
        };
    }

    /** Scales and zero points of W on the spec's grid (no codes). */
    Groupwise.Grid grid(float[] w, int rows, int cols, AffineSpec spec) {
        return Groupwise.fit(w, rows, cols, spec, fitter(spec), null);
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Map<String, String> opts = new LinkedHashMap<>();
        if (spec != null && !Groupwise.columnFamily(spec)) {
            // the fast path: per row, group ranges, (s, z), codes and errors in one pass (NaN/±∞ found by the ranges)
            Groupwise.checkInput(name(), w, rows, cols, spec, stats, false);
            fitter(spec); // validates the rule against the spec
            int n = spec.scaleRows(rows) * spec.scaleCols(cols);
            Groupwise.Encoded e = Groupwise.encodeRows(w, w, rows, cols, spec, new float[n],
                    spec.symmetric() ? null : new int[n], null,
                    new Groupwise.MinMaxRule(rule == Rule.ZERO_IN_RANGE, rule == Rule.GPTQ_SYM, name()));
            opts.put("range", ruleName(spec));
            return Groupwise.result(name(), w, rows, cols, e, t0, opts);
        }
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        Groupwise.Grid grid = grid(w, rows, cols, spec);
        GroupwiseAffine m = Groupwise.encode(w, rows, cols, spec, grid, null);
        opts.put("range", ruleName(spec));
        return Groupwise.result(name(), w, rows, cols, m, null, t0, opts);
    }

    @Override
    public String toString() {
        return "Rtn[" + rule + "]";
    }
}

package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineSpec.Granularity;

/**
 * FineQuant's adaptive granularity (Kim, Fahim &amp; Hassan Awadalla 2023, "FineQuant: Unlocking Efficiency with
 * Fine-Grained Weight-Only Quantization for LLMs"): per matrix, from the weights alone, start with coarse groups
 * (per output channel, or the spec's group along in) and halve the group size while the ranges show that groups
 * are dominated by a few large weights, down to {@code minGroup}; then quantize with RTN at the chosen size.
 *
 * <p><b>Criterion</b> (lowbit's reading of the heuristic; the paper gives it in prose and its exact thresholds were
 * not available to confirm): a group of size g is <em>outlier-dominated</em> when its range is at least α times the
 * smaller range of its two halves, range(G)/min(range(G₁), range(G₂)) ≥ α — one half holds weights the other half
 * does not need. The group size is halved while more than a fraction τ of the matrix's groups are outlier-dominated
 * and g/2 divides the columns and is ≥ minGroup. Defaults α = 2, τ = 1 %, minGroup = 32. The report gives the
 * chosen {@code groupSize} and the dominated fraction at each size tried.
 */
public final class FineQuant implements Quantizer {
    /**
     * @param alpha range ratio that marks a group outlier-dominated, &gt; 1
     * @param fraction fraction of dominated groups above which the size is halved, in [0, 1)
     * @param minGroup the finest group size, &ge; 2
     */
    public record Options(float alpha, float fraction, int minGroup) {
        /** Validates. */
        public Options {
            if (!(alpha > 1) || !Float.isFinite(alpha)) {
                throw new IllegalArgumentException("finequant: alpha must be finite and > 1, got " + alpha);
            }
            if (!(fraction >= 0 && fraction < 1)) {
                throw new IllegalArgumentException("finequant: fraction must be in [0, 1), got " + fraction);
            }
            if (minGroup < 2) {
                throw new IllegalArgumentException("finequant: minGroup must be >= 2, got " + minGroup);
            }
        }

        /** α = 2, τ = 0.01, minGroup = 32. */
        public static Options defaults() {
            return new Options(2f, 0.01f, 32);
        }
    }

    private final Options options;

    private FineQuant(Options options) {
        this.options = options;
    }

    /** Default options. */
    public static FineQuant defaults() {
        return new FineQuant(Options.defaults());
    }

    /** With the given options. */
    public static FineQuant of(Options options) {
        return new FineQuant(Objects.requireNonNull(options, "options"));
    }

    @Override
    public String name() {
        return "finequant";
    }

    /** Fraction of groups of size g (along rows) that are outlier-dominated. */
    static double dominatedFraction(float[] w, int rows, int cols, int g, float alpha) {
        int half = g / 2;
        long dominated = 0;
        long groups = 0;
        for (int r = 0; r < rows; r++) {
            for (int c0 = 0; c0 < cols; c0 += g) {
                float r1 = rangeOf(w, r * cols + c0, half);
                float r2 = rangeOf(w, r * cols + c0 + half, g - half);
                float all = rangeOf(w, r * cols + c0, g);
                groups++;
                float small = Math.min(r1, r2);
                if (all > 0 && (small == 0 || all >= alpha * small)) {
                    dominated++;
                }
            }
        }
        return (double) dominated / groups;
    }

    private static float rangeOf(float[] w, int off, int n) {
        return lowbit.tensor.simd.FloatOps.max(w, off, n) - lowbit.tensor.simd.FloatOps.min(w, off, n);
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        if (spec.granularity() != Granularity.PER_OUTPUT_CHANNEL && spec.granularity() != Granularity.GROUP_ALONG_IN) {
            throw new IllegalArgumentException("finequant adapts groups along the input dimension: the spec must be "
                    + "per output channel or groups along in, got " + spec.describe());
        }
        int g = spec.granularity() == Granularity.PER_OUTPUT_CHANNEL ? cols : spec.groupSize();
        StringBuilder trace = new StringBuilder();
        while (g % 2 == 0 && g / 2 >= options.minGroup() && cols % (g / 2) == 0) {
            double f = dominatedFraction(w, rows, cols, g, options.alpha());
            trace.append(trace.length() == 0 ? "" : ", ").append("g").append(g).append(':')
                    .append(String.format("%.4f", f));
            if (f <= options.fraction()) {
                break;
            }
            g /= 2;
        }
        AffineSpec chosen = g == cols && spec.granularity() == Granularity.PER_OUTPUT_CHANNEL ? spec
                : new AffineSpec(spec.bits(), spec.symmetric(), Granularity.GROUP_ALONG_IN, g, spec.scaleType());
        Rtn rtn = Rtn.defaults();
        Groupwise.Grid grid = rtn.grid(w, rows, cols, chosen);
        var m = Groupwise.encodeMeasured(w, w, rows, cols, chosen, grid, null);
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("groupSize", Integer.toString(g));
        opts.put("dominatedFraction", trace.toString());
        opts.put("alpha", Float.toString(options.alpha()));
        return Groupwise.result(name(), w, rows, cols, m, t0, opts);
    }
}

package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.simd.FloatOps;

/**
 * MSE clip search (AWQ's auto-clip, Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for LLM Compression
 * and Acceleration"): per group, shrink the range to r·[lo, hi] (asymmetric) or r·max|w| (symmetric) for
 * r = 1 − i·(1 − minRatio)/steps, i = 0..steps, quantize with RTN on that range (weights outside are clamped to the
 * grid's ends), and keep the r with the least error Σ (w − ŵ)². Ties keep the wider range, and r = 1 is plain RTN, so
 * each group's error is never above RTN's.
 *
 * <p>With calibration statistics the error is activation-weighted, Σ_c E[x_c²]·(w_c − ŵ_c)² (the diagonal of
 * ‖X(W − Ŵ)ᵀ‖²/N), for the granularities whose groups run along a row; inside a column group the weight is
 * constant and does not change the choice. Defaults: 20 steps down to 50 % (r = 1, 0.975, …, 0.5).
 */
public final class ClipSearch implements Quantizer {
    /**
     * @param steps number of shrink steps after r = 1 (&ge; 1)
     * @param minRatio the smallest r, in (0, 1]
     */
    public record Options(int steps, float minRatio) {
        /** Validates. */
        public Options {
            if (steps < 1 || steps > 10_000) {
                throw new IllegalArgumentException("clip search: steps must be 1..10000, got " + steps);
            }
            if (!(minRatio > 0 && minRatio <= 1)) {
                throw new IllegalArgumentException("clip search: minRatio must be in (0, 1], got " + minRatio);
            }
        }

        /** 20 steps down to 0.5. */
        public static Options defaults() {
            return new Options(20, 0.5f);
        }
    }

    private final Options options;

    private ClipSearch(Options options) {
        this.options = options;
    }

    /** Default options. */
    public static ClipSearch defaults() {
        return new ClipSearch(Options.defaults());
    }

    /** With the given options. */
    public static ClipSearch of(Options options) {
        return new ClipSearch(java.util.Objects.requireNonNull(options, "options"));
    }

    @Override
    public String name() {
        return "clip";
    }

    Groupwise.Fitter fitter(AffineSpec spec) {
        int bits = spec.bits();
        int steps = options.steps();
        float shrink = (1 - options.minRatio()) / steps;
        return (w, off, len, h, hOff) -> {
            float lo = FloatOps.min(w, off, len);
            float hi = FloatOps.max(w, off, len);
            float amax = Math.max(-lo, hi);
            long best = 0;
            float bestErr = Float.POSITIVE_INFINITY;
            for (int i = 0; i <= steps; i++) {
                float r = 1 - i * shrink;
                long p = spec.symmetric() ? AffineGrid.symmetric(r * amax, bits, false, spec.scaleType())
                        : AffineGrid.asymmetric(r * lo, r * hi, bits, false, spec.scaleType());
                float s = AffineGrid.scale(p);
                int z = AffineGrid.zero(p);
                float e = h == null ? AffineGrid.squaredError(w, off, len, s, z, bits)
                        : AffineGrid.weightedSquaredError(w, off, len, s, z, bits, h, hOff);
                if (e < bestErr) {
                    bestErr = e;
                    best = p;
                }
                if (amax == 0) {
                    break;
                }
            }
            return best;
        };
    }

    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        Groupwise.Grid grid = Groupwise.fit(w, rows, cols, spec, fitter(spec), stats == null ? null : stats.meanSquare());
        Groupwise.Encoded m = Groupwise.encodeMeasured(w, w, rows, cols, spec, grid, null);
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("steps", Integer.toString(options.steps()));
        opts.put("minRatio", Float.toString(options.minRatio()));
        opts.put("weighting", stats == null ? "none" : "mean x^2");
        return Groupwise.result(name(), w, rows, cols, m, t0, opts);
    }
}

package lowbit.quant;

import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.parallel.Parallel;

/**
 * Pseudo-quantization noise for quantization-aware training (Ahn &amp; Yoo 2025, "Gaussian Weight Sampling for
 * Scalable, Efficient and Stable Pseudo-Quantization Training"): instead of rounding, the forward pass uses
 * W̃ = W + s ⊙ R, with s the quantization step of each weight's group (RTN's scale for the spec) and R drawn per
 * weight from a noise distribution of width one step.
 *
 * <p>R here is ε − round(ε) with ε ~ N(0, σ²): a Gaussian folded into [−½, ½] (round half to even). For σ ≥ 1 it
 * is indistinguishable from the uniform rounding-noise model U(−½, ½) (variance 1/12); for small σ it is a narrower
 * Gaussian, which is how a precision schedule anneals the noise. This is lowbit's reading of the paper's
 * "Gaussian-derived noise within ±½ step"; the paper's exact definition of R could not be confirmed from its text
 * or code here. Deterministic: row r's noise comes from a SplitMix64 stream of (seed, r) through Box–Muller, so
 * results do not depend on the thread count.
 */
public final class PseudoQuantNoise {
    private PseudoQuantNoise() {
    }

    /**
     * W + s ⊙ R as a new array (W row-major [rows, cols], unchanged).
     *
     * @param sigma ε's standard deviation, &gt; 0
     * @throws IllegalArgumentException for bad input (as {@link Quantizer}) or sigma not finite and positive
     */
    public static float[] apply(float[] w, int rows, int cols, AffineSpec spec, long seed, float sigma) {
        Groupwise.checkInput("pseudo-quantization noise", w, rows, cols, spec, null);
        if (!(sigma > 0) || !Float.isFinite(sigma)) {
            throw new IllegalArgumentException("pseudo-quantization noise: sigma must be finite and > 0, got " + sigma);
        }
        Groupwise.Grid grid = Rtn.defaults().grid(w, rows, cols, spec);
        float[] scales = grid.scales();
        int rb = Groupwise.rowBlock(spec, rows);
        int cb = Groupwise.colBlock(spec, cols);
        int sc = spec.scaleCols(cols);
        float[] out = new float[w.length];
        Parallel.forRange(0, rows, Math.max(1, (1 << 15) / cols), (from, to) -> {
            for (int r = (int) from; r < to; r++) {
                long state = mix(seed ^ mix(r + 0x632BE59BD9B4E019L));
                int g0 = (r / rb) * sc;
                for (int c = 0; c < cols; c += 2) {
                    state += 0x9E3779B97F4A7C15L;
                    double u1 = ((mix(state) >>> 11) + 1) * 0x1.0p-53; // (0, 1]
                    state += 0x9E3779B97F4A7C15L;
                    double u2 = (mix(state) >>> 11) * 0x1.0p-53;
                    double rad = Math.sqrt(-2 * Math.log(u1)) * sigma;
                    double e1 = rad * Math.cos(2 * Math.PI * u2);
                    double e2 = rad * Math.sin(2 * Math.PI * u2);
                    int i = r * cols + c;
                    out[i] = w[i] + scales[g0 + c / cb] * (float) (e1 - Math.rint(e1));
                    if (c + 1 < cols) {
                        out[i + 1] = w[i + 1] + scales[g0 + (c + 1) / cb] * (float) (e2 - Math.rint(e2));
                    }
                }
            }
        });
        return out;
    }

    /** The quantization step of every weight (RTN's scale of its group), row-major. */
    public static float[] steps(float[] w, int rows, int cols, AffineSpec spec) {
        Objects.requireNonNull(spec, "spec");
        Groupwise.checkInput("pseudo-quantization noise", w, rows, cols, spec, null);
        Groupwise.Grid grid = Rtn.defaults().grid(w, rows, cols, spec);
        int rb = Groupwise.rowBlock(spec, rows);
        int cb = Groupwise.colBlock(spec, cols);
        int sc = spec.scaleCols(cols);
        float[] out = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = grid.scales()[(r / rb) * sc + c / cb];
            }
        }
        return out;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}

package lowbit.nn;

import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;

/**
 * Root-mean-square normalisation over the last dimension (Zhang and Sennrich, <i>Root Mean Square Layer
 * Normalization</i>, NeurIPS 2019; LLaMA's {@code RMSNorm}): for each row x of length d,
 * <pre>
 *   r = 1/√((1/d)·Σ x_j² + ε),   x̂_j = x_j·r,   y_j = γ_j·x̂_j
 * </pre>
 * Backward for upstream gradient dy, with g_j = dy_j·γ_j:
 * <pre>
 *   dx_j = r·(g_j − x̂_j·mean(g ⊙ x̂)),   dγ = Σ_rows dy ⊙ x̂
 * </pre>
 * Rows run in parallel; dγ is summed over rows in index order (results do not depend on the thread count).
 */
public final class RmsNorm {
    private final float[] gamma;
    private final float eps;

    /**
     * @param gamma γ [d] (not copied)
     * @param eps ε &gt; 0 (LLaMA: 1e-5 or 1e-6)
     */
    public RmsNorm(float[] gamma, float eps) {
        RowChecks.vector("RmsNorm", "gamma", gamma, gamma == null ? 0 : gamma.length);
        if (!(eps > 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("RmsNorm: eps must be positive and finite, got " + eps);
        }
        this.gamma = gamma;
        this.eps = eps;
    }

    public int dim() {
        return gamma.length;
    }

    /** γ (not a copy). */
    public float[] gamma() {
        return gamma;
    }

    /** y for x [n, d] into a new array. */
    public float[] forward(float[] x, int n) {
        float[] y = new float[x.length];
        forward(x, n, y);
        return y;
    }

    /** y for x [n, d] into y [n, d]; y may be x. */
    public void forward(float[] x, int n, float[] y) {
        int d = dim();
        RowChecks.matrix("RmsNorm", "x", x, n, d);
        RowChecks.matrix("RmsNorm", "y", y, n, d);
        Parallel.forRange(0, n, RowChecks.grain(d), (r0, r1) -> {
            for (int r = (int) r0; r < r1; r++) {
                int o = r * d;
                float rstd = rstd(x, o, d);
                for (int j = 0; j < d; j++) {
                    y[o + j] = x[o + j] * rstd * gamma[j];
                }
            }
        });
    }

    private float rstd(float[] x, int o, int d) {
        if (d == 0) {
            return 0f;
        }
        float ms = FloatOps.sumOfSquares(x, o, d) / d;
        return (float) (1.0 / Math.sqrt((double) ms + eps));
    }

    /** dx and dγ for input x [n, d] and upstream gradient dy [n, d]. */
    public Gradients backward(float[] x, float[] dy, int n) {
        int d = dim();
        RowChecks.matrix("RmsNorm backward", "x", x, n, d);
        RowChecks.matrix("RmsNorm backward", "dy", dy, n, d);
        float[] xhat = new float[x.length];
        float[] dx = new float[x.length];
        Parallel.forRange(0, n, RowChecks.grain(d), (r0, r1) -> {
            float[] g = new float[d];
            for (int r = (int) r0; r < r1; r++) {
                int o = r * d;
                float rstd = rstd(x, o, d);
                for (int j = 0; j < d; j++) {
                    xhat[o + j] = x[o + j] * rstd;
                    g[j] = dy[o + j] * gamma[j];
                }
                float meanGx = FloatOps.dot(g, 0, xhat, o, d) / d;
                for (int j = 0; j < d; j++) {
                    dx[o + j] = rstd * (g[j] - xhat[o + j] * meanGx);
                }
            }
        });
        float[] dGamma = new float[d];
        for (int r = 0; r < n; r++) {
            int o = r * d;
            for (int j = 0; j < d; j++) {
                dGamma[j] += dy[o + j] * xhat[o + j];
            }
        }
        return new Gradients(dx, dGamma);
    }

    /**
     * Gradients of an {@link RmsNorm}.
     *
     * @param dx dL/dx [n, d]
     * @param dGamma dL/dγ [d]
     */
    public record Gradients(float[] dx, float[] dGamma) {
    }
}

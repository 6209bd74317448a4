package lowbit.nn;

import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;

/**
 * Layer normalisation over the last dimension (Ba, Kiros, Hinton, <i>Layer Normalization</i>, 2016), as in
 * {@code torch.nn.LayerNorm(d, eps)}: for each row x of length d,
 * <pre>
 *   μ = (1/d)·Σ x_j,   σ² = (1/d)·Σ (x_j − μ)²   (biased variance),   r = 1/√(σ² + ε)
 *   x̂_j = (x_j − μ)·r,   y_j = γ_j·x̂_j + β_j
 * </pre>
 * Backward for upstream gradient dy, with g_j = dy_j·γ_j:
 * <pre>
 *   dx_j = r·(g_j − mean(g) − x̂_j·mean(g ⊙ x̂)),   dγ = Σ_rows dy ⊙ x̂,   dβ = Σ_rows dy
 * </pre>
 * μ and σ² are computed in two passes in float (the centred values are summed, not Σx² − dμ², which cancels). Rows
 * run in parallel; dγ and dβ are summed over rows in index order, so results do not depend on the thread count.
 */
public final class LayerNorm {
    private final float[] gamma;
    private final float[] beta;
    private final float eps;

    /**
     * @param gamma γ [d] (not copied)
     * @param beta β [d] (not copied)
     * @param eps ε &gt; 0 (BERT: 1e-12)
     */
    public LayerNorm(float[] gamma, float[] beta, float eps) {
        RowChecks.sameLength("LayerNorm", "gamma", gamma, "beta", beta);
        if (!(eps > 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("LayerNorm: eps must be positive and finite, got " + eps);
        }
        this.gamma = gamma;
        this.beta = beta;
        this.eps = eps;
    }

    /** The normalised dimension d. */
    public int dim() {
        return gamma.length;
    }

    public float eps() {
        return eps;
    }

    /** γ (not a copy). */
    public float[] gamma() {
        return gamma;
    }

    /** β (not a copy). */
    public float[] beta() {
        return beta;
    }

    /** y for x [n, d] into a new array. */
    public float[] forward(float[] x, int n) {
        float[] y = new float[x.length];
        forward(x, n, y);
        return y;
    }

    /** y for x [n, d] into y [n, d]; y may be x (in place). */
    public void forward(float[] x, int n, float[] y) {
        int d = dim();
        RowChecks.matrix("LayerNorm", "x", x, n, d);
        RowChecks.matrix("LayerNorm", "y", y, n, d);
        Parallel.forRange(0, n, RowChecks.grain(d), (r0, r1) -> {
            for (int r = (int) r0; r < r1; r++) {
                int o = r * d;
                float rstd = center(x, y, o, d);
                FloatOps.scaleMulAdd(y, o, rstd, gamma, 0, beta, 0, y, o, d); // y·rstd·γ + β, same bits as the loop
            }
        });
    }

    /** Writes x − μ to y's row and returns r = 1/√(σ² + ε). */
    private float center(float[] x, float[] y, int o, int d) {
        if (d == 0) {
            return 0f;
        }
        float mean = FloatOps.sum(x, o, d) / d;
        FloatOps.addScalar(x, o, -mean, y, o, d); // x − μ (the same rounding as the subtraction)
        float var = FloatOps.sumOfSquares(y, o, d) / d;
        return (float) (1.0 / Math.sqrt((double) var + eps));
    }

    /** dx, dγ and dβ for input x [n, d] and upstream gradient dy [n, d]. */
    public Gradients backward(float[] x, float[] dy, int n) {
        int d = dim();
        RowChecks.matrix("LayerNorm backward", "x", x, n, d);
        RowChecks.matrix("LayerNorm backward", "dy", dy, n, d);
        float[] xhat = new float[x.length];
        float[] dx = new float[x.length];
        Parallel.forRange(0, n, RowChecks.grain(d), (r0, r1) -> {
            float[] g = new float[d];
            for (int r = (int) r0; r < r1; r++) {
                int o = r * d;
                float rstd = center(x, xhat, o, d);
                FloatOps.scale(rstd, xhat, o, d);
                for (int j = 0; j < d; j++) {
                    g[j] = dy[o + j] * gamma[j];
                }
                float meanG = FloatOps.sum(g, 0, d) / d;
                float meanGx = FloatOps.dot(g, 0, xhat, o, d) / d;
                for (int j = 0; j < d; j++) {
                    dx[o + j] = rstd * (g[j] - meanG - xhat[o + j] * meanGx);
                }
            }
        });
        float[] dGamma = new float[d];
        float[] dBeta = new float[d];
        for (int r = 0; r < n; r++) {
            int o = r * d;
            for (int j = 0; j < d; j++) {
                dGamma[j] += dy[o + j] * xhat[o + j];
            }
            FloatOps.axpy(1f, dy, o, dBeta, 0, d);
        }
        return new Gradients(dx, dGamma, dBeta);
    }

    /**
     * Gradients of a {@link LayerNorm}.
     *
     * @param dx dL/dx [n, d]
     * @param dGamma dL/dγ [d]
     * @param dBeta dL/dβ [d]
     */
    public record Gradients(float[] dx, float[] dGamma, float[] dBeta) {
    }
}

package lowbit.nn;

import java.util.Objects;
import lowbit.tensor.simd.FloatOps;

/**
 * L2 normalisation of rows ({@code torch.nn.functional.normalize(x, p=2, dim=-1, eps)}):
 * <pre>
 *   y = x / max(‖x‖₂, ε),   ‖x‖₂ = √(Σ x_j²)
 * </pre>
 * with ε = 1e-12 by default (a zero row stays zero). ‖x‖₂ is accumulated in double, so rows of large or tiny
 * magnitude neither overflow nor underflow the sum of squares.
 */
public final class L2Norm {
    /** The default ε (torch's). */
    public static final float EPS = 1e-12f;

    private L2Norm() {
    }

    /** Normalises each row of x [rows, cols] in place with ε = {@value #EPS}. */
    public static void inPlace(float[] x, int rows, int cols) {
        inPlace(x, rows, cols, EPS);
    }

    /** Normalises each row of x [rows, cols] in place. */
    public static void inPlace(float[] x, int rows, int cols, float eps) {
        RowChecks.matrix("L2 normalisation", "x", x, rows, cols);
        if (!(eps >= 0)) {
            throw new IllegalArgumentException("L2 normalisation: eps must be >= 0, got " + eps);
        }
        for (int r = 0; r < rows; r++) {
            int o = r * cols;
            double ss = 0;
            for (int j = 0; j < cols; j++) {
                ss += (double) x[o + j] * x[o + j];
            }
            double norm = Math.max(Math.sqrt(ss), eps);
            if (norm > 0) {
                FloatOps.scale((float) (1.0 / norm), x, o, cols);
            }
        }
    }

    /** A normalised copy of x [rows, cols]. */
    public static float[] forward(float[] x, int rows, int cols) {
        Objects.requireNonNull(x, "L2 normalisation: x is null");
        float[] y = x.clone();
        inPlace(y, rows, cols);
        return y;
    }

    /** The cosine similarity of two vectors of equal length, accumulated in double (0 if either is zero). */
    public static double cosine(float[] a, float[] b) {
        RowChecks.sameLength("cosine", "a", a, "b", b);
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return aa == 0 || bb == 0 ? 0 : ab / Math.sqrt(aa * bb);
    }
}

package lowbit.nn;

import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;

/**
 * Row-wise softmax over the last dimension, computed stably by subtracting the row maximum first:
 * <pre>
 *   m = max_j x_j,   y_j = e^(x_j − m) / Σ_k e^(x_k − m)
 * </pre>
 * (every exponent is ≤ 0, so nothing overflows; the largest term is exactly 1, so the sum is ≥ 1 and no division
 * underflows). The exponentials are {@link FloatOps#expShifted} (float, within 1 ulp, vectorized; the same bits with
 * or without SIMD). Backward for upstream gradient dy, from the outputs y:
 * <pre>
 *   dx_j = y_j·(dy_j − Σ_k dy_k·y_k)
 * </pre>
 * An entry of −∞ (a masked position) gets probability 0. A row whose entries are all −∞ has no distribution and is
 * rejected with an {@link IllegalArgumentException} naming the row; NaN propagates to the row's outputs.
 */
public final class Softmax {
    private Softmax() {
    }

    /** Softmax of each row of x [rows, cols] into y [rows, cols]; y may be x. */
    public static void forward(float[] x, int rows, int cols, float[] y) {
        RowChecks.matrix("softmax", "x", x, rows, cols);
        RowChecks.matrix("softmax", "y", y, rows, cols);
        Parallel.forRange(0, rows, RowChecks.grain(cols), (r0, r1) -> {
            for (int r = (int) r0; r < r1; r++) {
                row(x, y, r * cols, cols, r);
            }
        });
    }

    /** Softmax of each row of x [rows, cols] into a new array. */
    public static float[] forward(float[] x, int rows, int cols) {
        float[] y = new float[x.length];
        forward(x, rows, cols, y);
        return y;
    }

    /**
     * Softmax of one row {@code a[off, off + n)} in place (no checks beyond the bounds; for kernels such as
     * attention that call it per row).
     */
    public static void inPlace(float[] a, int off, int n) {
        java.util.Objects.checkFromIndexSize(off, n, a.length);
        row(a, a, off, n, -1);
    }

    private static void row(float[] x, float[] y, int o, int n, int rowIndex) {
        if (n == 0) {
            return;
        }
        float m = FloatOps.max(x, o, n);
        if (m == Float.NEGATIVE_INFINITY) {
            throw noDistribution(rowIndex >= 0 ? String.valueOf(rowIndex) : "at offset " + o);
        }
        FloatOps.expShifted(x, o, m, y, o, n);
        float s = FloatOps.sum(y, o, n);
        FloatOps.scale(1f / s, y, o, n);
    }

    /** The error for a row whose entries are all −∞, {@code row} naming it ("3", "at offset 96", ...). */
    static IllegalArgumentException noDistribution(String row) {
        return new IllegalArgumentException("softmax: every entry of row " + row
                + " is -Infinity (all positions masked): the row has no distribution");
    }

    /** dx [rows, cols] from the forward outputs y and the upstream gradient dy; dx may be dy. */
    public static void backward(float[] y, float[] dy, int rows, int cols, float[] dx) {
        RowChecks.matrix("softmax backward", "y", y, rows, cols);
        RowChecks.matrix("softmax backward", "dy", dy, rows, cols);
        RowChecks.matrix("softmax backward", "dx", dx, rows, cols);
        Parallel.forRange(0, rows, RowChecks.grain(cols), (r0, r1) -> {
            for (int r = (int) r0; r < r1; r++) {
                int o = r * cols;
                float s = FloatOps.dot(dy, o, y, o, cols);
                for (int j = 0; j < cols; j++) {
                    dx[o + j] = y[o + j] * (dy[o + j] - s);
                }
            }
        });
    }

    /** dx from y and dy into a new array. */
    public static float[] backward(float[] y, float[] dy, int rows, int cols) {
        float[] dx = new float[dy.length];
        backward(y, dy, rows, cols, dx);
        return dx;
    }
}

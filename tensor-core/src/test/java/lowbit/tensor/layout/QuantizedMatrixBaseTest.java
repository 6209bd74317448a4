package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The shared base of every layout, through a minimal test layout: outliers replace the decoded value, the fused
 * products equal the dense product with Ŵ, bias is added, thread counts do not change bits, bad arguments are named.
 *
 * <p>Tolerance: each product element is a float dot product of length cols (plus one term per outlier and the bias)
 * computed in different orders by the fused path and the double-precision reference; the difference is bounded by
 * γ_(cols+k+2)·Σ|terms| (Higham §3.1), γ_n = n·u/(1 − n·u), u = 2^-24, with the decoded weights exact in float.
 */
class QuantizedMatrixBaseTest {
    private static final long SEED = 0x5eed_0f_1a_7e_2dL;

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static Int8RowsMatrix random(Random rnd, int rows, int cols, Outliers o) {
        byte[] codes = new byte[rows * cols];
        rnd.nextBytes(codes);
        float[] scales = new float[rows];
        for (int r = 0; r < rows; r++) {
            scales[r] = (rnd.nextFloat() + 0.1f) / 64;
        }
        return new Int8RowsMatrix(rows, cols, codes, scales, o);
    }

    private static Outliers randomOutliers(Random rnd, int rows, int cols, int count) {
        int[] r = new int[count];
        int[] c = new int[count];
        float[] v = new float[count];
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (int k = 0; k < count; k++) {
            do {
                r[k] = rnd.nextInt(rows);
                c[k] = rnd.nextInt(cols);
            } while (!seen.add((long) r[k] * cols + c[k]));
            v[k] = (float) rnd.nextGaussian() * 40;
        }
        return Outliers.of(rows, cols, r, c, v, DType.F32);
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /** Checks y ≈ X·Ŵᵀ + bias row by row against a double reference with the bound from the class comment. */
    private static void assertProduct(float[] w, int rows, int cols, float[] x, int n, float[] bias, float[] y,
            int extraTerms) {
        double gamma = (cols + extraTerms + 2) * 0x1p-24 / (1 - (cols + extraTerms + 2) * 0x1p-24);
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < rows; r++) {
                double exact = bias == null ? 0 : bias[r];
                double abs = bias == null ? 0 : Math.abs(bias[r]);
                for (int c = 0; c < cols; c++) {
                    double t = (double) w[r * cols + c] * x[i * cols + c];
                    exact += t;
                    abs += Math.abs(t);
                }
                // the outlier correction (value − base)·x adds at most 2 more terms' worth of magnitude per outlier
                assertThat((double) y[i * rows + r]).as("Y[%d, %d]", i, r).isCloseTo(exact,
                        org.assertj.core.data.Offset.offset(4 * gamma * abs + Float.MIN_NORMAL));
            }
        }
    }

    @Test
    void outliersReplaceDecodedValuesEverywhere() {
        Random rnd = new Random(SEED);
        int rows = 37;
        int cols = 53;
        Outliers o = randomOutliers(rnd, rows, cols, 60);
        Int8RowsMatrix q = random(rnd, rows, cols, o);
        float[] base = q.withOutliers(Outliers.none(rows, cols)).dequantize();
        float[] w = q.dequantize();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float expected = base[r * cols + c];
                for (int i = o.rowStart(r); i < o.rowEnd(r); i++) {
                    if (o.col(i) == c) {
                        expected = o.value(i);
                    }
                }
                assertThat(w[r * cols + c]).as("Ŵ[%d, %d]", r, c).isEqualTo(expected);
            }
        }
        float[] part = new float[5 * cols + 3];
        q.dequantizeRows(10, 15, part, 3);
        for (int k = 0; k < 5 * cols; k++) {
            assertThat(part[3 + k]).isEqualTo(w[10 * cols + k]);
        }
        float[] x = gaussian(rnd, cols);
        float[] bias = gaussian(rnd, rows);
        float[] y = new float[rows];
        q.gemv(x, bias, y);
        assertProduct(w, rows, cols, x, 1, bias, y, 60);
        for (int n : new int[] {1, 3, 8, 9, 40}) {
            float[] xs = gaussian(rnd, n * cols);
            float[] ys = new float[n * rows];
            q.gemm(xs, n, n % 2 == 0 ? bias : null, ys);
            assertProduct(w, rows, cols, xs, n, n % 2 == 0 ? bias : null, ys, 60);
        }
    }

    @Test
    void threadCountDoesNotChangeBits() {
        Random rnd = new Random(SEED + 1);
        int rows = 301;
        int cols = 517;
        Int8RowsMatrix q = random(rnd, rows, cols, randomOutliers(rnd, rows, cols, 200));
        float[] x = gaussian(rnd, 20 * cols);
        float[][] gemv = new float[3][rows];
        float[][] gemm = new float[3][20 * rows];
        for (int t = 1; t <= 3; t++) {
            Parallel.setParallelism(t);
            q.gemv(java.util.Arrays.copyOf(x, cols), null, gemv[t - 1]);
            q.gemm(x, 20, null, gemm[t - 1]);
        }
        assertThat(gemv[1]).containsExactly(gemv[0]);
        assertThat(gemv[2]).containsExactly(gemv[0]);
        assertThat(gemm[1]).containsExactly(gemm[0]);
        assertThat(gemm[2]).containsExactly(gemm[0]);
    }

    @Test
    void emptyShapesWork() {
        Int8RowsMatrix q = new Int8RowsMatrix(0, 5, new byte[0], new float[0], null);
        q.gemv(new float[5], null, new float[0]);
        q.gemm(new float[50], 10, null, new float[0]);
        assertThat(q.dequantize()).isEmpty();
    }

    @Test
    void rejectsBadArgumentsNamingShapes() {
        Random rnd = new Random(SEED + 2);
        Int8RowsMatrix q = random(rnd, 4, 6, null);
        assertThatThrownBy(() -> q.gemv(new float[5], null, new float[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x has 5 elements, expected 6");
        assertThatThrownBy(() -> q.gemv(new float[6], new float[3], new float[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias has 3");
        float[] same = new float[6];
        assertThatThrownBy(() -> random(rnd, 6, 6, null).gemv(same, null, same))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("same array");
        assertThatThrownBy(() -> q.gemm(new float[12], 2, null, new float[7]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Y has 7 elements, expected 8");
        assertThatThrownBy(() -> q.gemm(new float[12], -1, null, new float[8]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative n");
        assertThatThrownBy(() -> q.dequantizeRows(2, 5, new float[100], 0))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> q.dequantizeRows(0, 4, new float[23], 0))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("need 24");
        assertThatThrownBy(() -> q.withOutliers(Outliers.none(4, 7)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("do not fit a [4, 6] matrix");
    }
}

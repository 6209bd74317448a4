package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ColumnSubsetGemv} against a double-precision reference (within γ_(count+2)·Σ|w·x| + the bias term: one
 * rounding per multiply-add and one for the bias), thread-count invariance, and bad arguments.
 */
class ColumnSubsetGemvTest {
    private static final long SEED = 0x317a_c0_15L;

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    @Test
    void matchesTheReferenceForAnySubsetAndThreadCount() {
        Random r = new Random(SEED);
        for (int[] shape : new int[][] {{1, 1}, {3, 7}, {1025, 33}, {2100, 64}, {64, 300}, {4500, 9}}) {
            int rows = shape[0], cols = shape[1];
            float[] w = new float[rows * cols];
            float[] wt = new float[rows * cols];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) r.nextGaussian();
            }
            for (int row = 0; row < rows; row++) {
                for (int c = 0; c < cols; c++) {
                    wt[c * rows + row] = w[row * cols + c];
                }
            }
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) {
                x[i] = (float) r.nextGaussian();
            }
            int[] sel = r.ints(0, cols).distinct().limit(Math.max(1, cols / 2)).sorted().toArray();
            float[] bias = new float[rows];
            for (int i = 0; i < rows; i++) {
                bias[i] = (float) r.nextGaussian();
            }
            float[] y = new float[rows];
            Parallel.setParallelism(1);
            ColumnSubsetGemv.multiply(wt, rows, cols, sel, sel.length, x, bias, y);
            float[] y2 = new float[rows];
            Parallel.setParallelism(3);
            ColumnSubsetGemv.multiply(wt, rows, cols, sel, sel.length, x, bias, y2);
            assertThat(y2).containsExactly(y);
            double g = (sel.length + 2) * 0x1p-24 / (1 - (sel.length + 2) * 0x1p-24);
            for (int row = 0; row < rows; row++) {
                double exact = bias[row], mag = Math.abs(bias[row]);
                for (int c : sel) {
                    exact += (double) w[row * cols + c] * x[c];
                    mag += Math.abs((double) w[row * cols + c] * x[c]);
                }
                assertThat((double) y[row]).isCloseTo(exact, org.assertj.core.data.Offset.offset(g * mag));
            }
        }
    }

    @Test
    void badArgumentsAreNamed() {
        float[] wt = new float[12];
        assertThatThrownBy(() -> ColumnSubsetGemv.multiply(wt, 3, 4, new int[] {0, 4}, 2, new float[4], null,
                new float[3])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("column 4 at position 1");
        assertThatThrownBy(() -> ColumnSubsetGemv.multiply(wt, 3, 4, new int[] {0}, 2, new float[4], null,
                new float[3])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("count 2");
        assertThatThrownBy(() -> ColumnSubsetGemv.multiply(wt, 3, 4, new int[] {0}, 1, new float[5], null,
                new float[3])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x");
        assertThatThrownBy(() -> ColumnSubsetGemv.multiply(new float[11], 3, 4, new int[] {0}, 1, new float[4], null,
                new float[3])).isInstanceOf(IllegalArgumentException.class);
    }
}

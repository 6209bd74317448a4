package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.simd.ScalarDenseKernels;
import org.junit.jupiter.api.Test;

/**
 * A realistic LLM shape (a 4096×4096 projection, F16) against the scalar twin, with the bound of {@link GemvTest}.
 * Not tagged {@code simd}: it runs once at the preferred width (and in the scalar-fallback run), not at every width.
 */
class GemvRealisticTest {
    @Test
    void projection4096x4096F16MatchesScalarTwin() {
        long seed = 4096;
        Random rnd = new Random(seed);
        int rows = 4096, cols = 4096;
        DenseTesting.Weight w = DenseTesting.weight(rnd, DType.F16, rows * cols, 0.05f);
        float[] x = DenseTesting.floats(rnd, cols, 1f);
        float[] y = new float[rows];
        Gemv.multiply(w.halves(), DType.F16, rows, cols, x, null, y);
        float[] ref = new float[rows];
        new ScalarDenseKernels().gemvRows(w.values(), 0, cols, x, 0, cols, ref, 0, 0, rows);
        for (int r = 0; r < rows; r++) {
            double sumAbs = 0;
            for (int c = 0; c < cols; c++) {
                sumAbs += Math.abs((double) w.values()[r * cols + c] * x[c]);
            }
            assertThat(Math.abs((double) y[r] - ref[r])).as("row %d seed %d", r, seed)
                    .isLessThanOrEqualTo(2 * DenseTesting.gamma(cols) * sumAbs);
        }
    }
}

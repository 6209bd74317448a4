package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.ScalarDenseKernels;
import lowbit.tensor.simd.SimdTesting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link Gemv} against the scalar twin {@link ScalarDenseKernels} for F32/F16/BF16 weights in arrays and segments,
 * at sizes that leave every tail (rows not a multiple of the 4-row group, columns not a multiple of the vector
 * length) at 128/256/512 bits, and bit-identical results for 1, 2 and 3 threads.
 *
 * <p>Tolerance: the kernel and the twin compute the same float dot product of length {@code cols} in different
 * orders. Each is within γ_cols·Σ|w·x| of the exact dot product (Higham, Accuracy and Stability of Numerical
 * Algorithms, §3.1, γ_n = n·u/(1 − n·u), u = 2^-24), so they are within 2·γ_cols·Σ|w·x| of each other; adding the
 * bias is one more rounding in each, covered by using γ_(cols+1) and adding |bias| to the sum. Half weights are
 * compared against the twin run on their exact float values, so the conversion itself must be exact.
 */
@Tag("simd")
class GemvTest {
    private static final long SEED = 0x6e3fL;
    private static final ScalarDenseKernels REF = new ScalarDenseKernels();
    private static final int[] ROWS = {1, 3, 4, 5, 7, 17, 33};
    private static final int[] COLS = {0, 1, 3, 7, 15, 16, 17, 31, 33, 64, 65, 255, 257, 1000};

    @AfterEach
    void restoreParallelism() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static void assertClose(float[] got, float[] ref, float[] wv, float[] x, float[] bias, int rows, int cols,
            String what) {
        for (int r = 0; r < rows; r++) {
            double sumAbs = bias == null ? 0 : Math.abs(bias[r]);
            for (int c = 0; c < cols; c++) {
                sumAbs += Math.abs((double) wv[r * cols + c] * x[c]);
            }
            double tol = 2 * DenseTesting.gamma(cols + 1) * sumAbs + Float.MIN_VALUE;
            assertThat(Math.abs((double) got[r] - ref[r])).as("%s row %d of [%d, %d], seed %d, %s", what, r, rows, cols,
                    SEED, SimdTesting.providerName()).isLessThanOrEqualTo(tol);
        }
    }

    @Test
    void matchesScalarTwinForEveryDtypeAndStorage() {
        Random rnd = new Random(SEED);
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                for (int rows : ROWS) {
                    for (int cols : COLS) {
                        DenseTesting.Weight w = DenseTesting.weight(rnd, type, rows * cols, 2f);
                        float[] x = DenseTesting.floats(rnd, cols, 3f);
                        float[] bias = rnd.nextBoolean() ? DenseTesting.floats(rnd, rows, 1f) : null;
                        float[] ref = new float[rows];
                        REF.gemvRows(w.values(), 0, cols, x, 0, cols, ref, 0, 0, rows);
                        if (bias != null) {
                            for (int r = 0; r < rows; r++) {
                                ref[r] += bias[r];
                            }
                        }
                        String what = type + (bias != null ? " +bias" : "");
                        float[] y = new float[rows];
                        if (type == DType.F32) {
                            Gemv.multiply(w.f32(), rows, cols, x, bias, y);
                        } else {
                            Gemv.multiply(w.halves(), type, rows, cols, x, bias, y);
                        }
                        assertClose(y, ref, w.values(), x, bias, rows, cols, what + " array");
                        float[] ys = new float[rows];
                        Gemv.multiply(w.segment(arena, 0), type, rows, cols, x, bias, ys);
                        assertThat(ys).as("segment and array kernels compute the same sequence").isEqualTo(y);
                    }
                }
            }
        }
    }

    @Test
    void stridedSegmentFormHonoursOffsetsAndLeadingDimension() {
        Random rnd = new Random(SEED + 1);
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                int rows = 13, cols = 37, ld = 41, pad = 5;
                // a [rows, ld] matrix whose first cols columns are W; the rest is garbage the kernel must not read
                DenseTesting.Weight full = DenseTesting.weight(rnd, type, rows * ld, 1f);
                MemorySegment seg = full.segment(arena, pad);
                float[] wv = new float[rows * cols];
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(full.values(), r * ld, wv, r * cols, cols);
                }
                float[] x = new float[cols + 2];
                System.arraycopy(DenseTesting.floats(rnd, cols, 1f), 0, x, 2, cols);
                float[] xs = java.util.Arrays.copyOfRange(x, 2, cols + 2);
                float[] y = new float[rows + 3];
                java.util.Arrays.fill(y, 99f);
                Gemv.multiply(seg, type, pad, ld, rows, cols, x, 2, null, y, 3);
                float[] ref = new float[rows];
                REF.gemvRows(wv, 0, cols, xs, 0, cols, ref, 0, 0, rows);
                assertThat(java.util.Arrays.copyOf(y, 3)).as("untouched prefix").containsOnly(99f);
                assertClose(java.util.Arrays.copyOfRange(y, 3, rows + 3), ref, wv, xs, null, rows, cols,
                        type + " strided");
            }
        }
    }

    @Test
    void oneTwoAndThreeThreadsGiveIdenticalBits() {
        Random rnd = new Random(SEED + 2);
        int rows = 1001, cols = 301; // ~10 chunks of 112 rows, a 1-row tail, columns off every vector length
        try (Arena arena = Arena.ofShared()) {
            for (DType type : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                DenseTesting.Weight w = DenseTesting.weight(rnd, type, rows * cols, 1f);
                MemorySegment seg = w.segment(arena, 0);
                float[] x = DenseTesting.floats(rnd, cols, 1f);
                float[] bias = DenseTesting.floats(rnd, rows, 1f);
                float[] first = null;
                for (int threads : new int[] {1, 2, 3}) {
                    Parallel.setParallelism(threads);
                    float[] y = new float[rows];
                    float[] ys = new float[rows];
                    if (type == DType.F32) {
                        Gemv.multiply(w.f32(), rows, cols, x, bias, y);
                    } else {
                        Gemv.multiply(w.halves(), type, rows, cols, x, bias, y);
                    }
                    Gemv.multiply(seg, type, rows, cols, x, bias, ys);
                    assertThat(ys).as("%s segment, %d threads", type, threads).isEqualTo(y);
                    if (first == null) {
                        first = y;
                    }
                    assertThat(y).as("%s with %d threads vs 1 thread", type, threads).isEqualTo(first);
                }
            }
        }
    }
}

package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.SimdTesting;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * GEMV against dequantize-then-dense: y_r = Σ_k Ŵ[r,k]·x̂[k] with Ŵ the decoded weights and x̂ the decoded Q8
 * activation, summed in double. The kernel's float evaluation is within 2γ_k·Σ|Ŵ·x̂| (+ the m·s terms) of it, the
 * bound of {@link GgmlKernelsTest}. Also: identical bits for 1 and 3 threads.
 */
@Tag("simd")
class GgmlGemvTest {
    private static final long SEED = 0x9e_37L;

    @Test
    void gemvMatchesDequantizeThenDense() {
        Random r = new Random(SEED);
        int threads = Parallel.parallelism();
        try {
            for (GgmlType t : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0}) {
                for (int[] shape : new int[][] {{1, 32}, {7, 96}, {33, 320}, {5, 1024}}) {
                    int rows = shape[0], cols = shape[1], nb = cols / 32;
                    long rowBytes = t.rowBytes(cols);
                    int pad = 3;
                    MemorySegment w = MemorySegment.ofArray(new byte[(int) (rowBytes * rows) + pad]);
                    float[] wf = GgmlKernelsTest.row(r, nb * rows, 6); // scales whose fp16 d stays normal
                    for (int row = 0; row < rows; row++) {
                        MemorySegment dst = w.asSlice(pad + row * rowBytes, rowBytes);
                        GgmlFormatsTest.encode(t, java.util.Arrays.copyOfRange(wf, row * cols, (row + 1) * cols), dst);
                    }
                    float[] x = SimdTesting.randomFloats(r, cols + 2, 2f);
                    float[] y1 = new float[rows + 1], y3 = new float[rows + 1];
                    Parallel.setParallelism(1);
                    GgmlOps.gemv(t, w, pad, rows, cols, x, 2, y1, 1);
                    Parallel.setParallelism(3);
                    GgmlOps.gemv(t, w, pad, rows, cols, x, 2, y3, 1);
                    assertThat(y3).as("thread-count independence %s %dx%d", t, rows, cols).containsExactly(y1);
                    assertThat(y1[0]).isZero();

                    GgmlType at = GgmlOps.activationType(t);
                    MemorySegment a = MemorySegment.ofArray(new byte[(int) at.rowBytes(cols)]);
                    GgmlOps.quantizeActivation(t, x, 2, a, 0, cols);
                    float[] xa = new float[cols], wr = new float[cols];
                    GgmlKernelsTest.dequantize(at, a, 0, xa, nb);
                    for (int row = 0; row < rows; row++) {
                        GgmlKernelsTest.dequantize(t, w, pad + row * rowBytes, wr, nb);
                        double ref = 0;
                        for (int i = 0; i < cols; i++) {
                            ref += (double) wr[i] * xa[i];
                        }
                        double tol = GgmlKernelsTest.tolerance(t, w, pad + row * rowBytes, a, 0, nb);
                        // the Q8_1 s field is fp16(d·Σq): its rounding (≤ 2^-11 relative) enters through m·s
                        if (at == GgmlType.Q8_1) {
                            for (int b = 0; b < nb; b++) {
                                double m = lowbit.tensor.simd.ScalarGgmlKernels.f16(w, pad + row * rowBytes + b * rowBytes / nb + 2);
                                double s = lowbit.tensor.simd.ScalarGgmlKernels.f16(a, 36L * b + 2);
                                double da = lowbit.tensor.simd.ScalarGgmlKernels.f16(a, 36L * b);
                                tol += Math.abs(m) * (Math.abs(s) * 0x1p-11 + 16 * 0x1p-25 + Math.abs(da) * 32 * 127 * 0x1p-23);
                            }
                        }
                        assertThat((double) y1[1 + row]).as("%s %dx%d row %d seed=%d provider=%s", t, rows, cols, row,
                                SEED, SimdTesting.providerName()).isCloseTo(ref, org.assertj.core.data.Offset.offset(tol));
                    }
                }
            }
        } finally {
            Parallel.setParallelism(threads);
        }
    }
}

package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.SimdTesting;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * K-quant GEMV against dequantize-then-dense: y_r = Σ_k Ŵ[r,k]·x̂[k] with Ŵ the decoded weights and x̂ the decoded
 * Q8_K activation, summed in double; the kernel is within the bound of {@link KQuantKernelsTest} (its T from the
 * decoded values). Also identical bits for 1 and 3 threads.
 */
@Tag("simd")
class KQuantGemvTest {
    private static final long SEED = 0x4b_47L;

    @Test
    void gemvMatchesDequantizeThenDense() {
        Random r = new Random(SEED);
        int threads = Parallel.parallelism();
        try {
            for (GgmlType t : KQuantKernelsTest.KTYPES) {
                for (int[] shape : new int[][] {{1, 256}, {7, 512}, {33, 768}, {5, 2048}}) {
                    int rows = shape[0], cols = shape[1], nb = cols / 256;
                    long rowBytes = t.rowBytes(cols);
                    int pad = 3;
                    MemorySegment w = MemorySegment.ofArray(new byte[(int) (rowBytes * rows) + pad]);
                    float[] wf = KQuantKernelsTest.row(r, nb * rows, 6);
                    for (int row = 0; row < rows; row++) {
                        KQuantFormatsTest.encode(t, Arrays.copyOfRange(wf, row * cols, (row + 1) * cols),
                                w.asSlice(pad + row * rowBytes, rowBytes));
                    }
                    float[] x = SimdTesting.randomFloats(r, cols + 2, 2f);
                    float[] y1 = new float[rows + 1], y3 = new float[rows + 1];
                    Parallel.setParallelism(1);
                    GgmlOps.gemv(t, w, pad, rows, cols, x, 2, y1, 1);
                    Parallel.setParallelism(3);
                    GgmlOps.gemv(t, w, pad, rows, cols, x, 2, y3, 1);
                    assertThat(y3).as("thread-count independence %s %dx%d", t, rows, cols).containsExactly(y1);
                    assertThat(y1[0]).isZero();

                    MemorySegment a = MemorySegment.ofArray(new byte[(int) GgmlType.Q8_K.rowBytes(cols)]);
                    GgmlOps.quantizeActivation(t, x, 2, a, 0, cols);
                    float[] xa = new float[cols], wr = new float[cols];
                    Q8_K.dequantizeRow(a, 0, xa, 0, cols);
                    for (int row = 0; row < rows; row++) {
                        KQuantKernelsTest.dequantize(t, w, pad + row * rowBytes, wr, nb);
                        double ref = 0;
                        for (int i = 0; i < cols; i++) {
                            ref += (double) wr[i] * xa[i];
                        }
                        double tol = KQuantKernelsTest.tolerance(t, w, pad + row * rowBytes, a, 0, nb);
                        assertThat((double) y1[1 + row]).as("%s %dx%d row %d seed=%d provider=%s", t, rows, cols, row,
                                SEED, SimdTesting.providerName()).isCloseTo(ref, Offset.offset(tol));
                    }
                }
            }
        } finally {
            Parallel.setParallelism(threads);
        }
    }
}

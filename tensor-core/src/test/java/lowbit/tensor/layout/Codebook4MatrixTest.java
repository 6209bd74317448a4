package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * NF4/FP4 matrices: dequantize equals table[code]·absmax exactly, the fused products equal the definition within
 * γ_m·Σ|Ŵ·x| (m = cols + cols/blockSize + 3, as Codebook4Matrix documents; the reference is exact in double), for
 * block sizes that divide cols, do not divide it (blocks across rows), and odd ones, with and without double
 * quantization; results do not depend on the thread count.
 */
class Codebook4MatrixTest {
    private static final long SEED = 0xc0de_b00cL;

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    /** Ŵ from the codes, the codebook and the absmax (decoded independently of the kernels). */
    private static float[] reference(Codebook4Matrix m) {
        int[] q = m.codes();
        float[] t = m.codebook();
        float[] a = m.absmax();
        float[] w = new float[q.length];
        for (int e = 0; e < q.length; e++) {
            w[e] = t[q[e]] * a[e / m.blockSize()];
        }
        return w;
    }

    private static void assertProduct(float[] w, int rows, int cols, int block, float[] x, int n, float[] y, String what) {
        CodebookTesting.assertWithinGamma(w, rows, cols, x, n, y, cols + cols / block + 3, what);
    }

    @Test
    @Tag("simd") // also at 128/256/512 bits: the layouts' kernel dispatch at every width
    void productsMatchTheDefinition() {
        Random rnd = new Random(SEED);
        int[][] shapes = {{13, 128, 64}, {9, 96, 64}, {7, 40, 64}, {6, 66, 32}, {5, 33, 7}, {11, 256, 128}, {3, 64, 16}};
        for (int[] s : shapes) {
            int rows = s[0];
            int cols = s[1];
            int block = s[2];
            for (boolean nf4 : new boolean[] {true, false}) {
                for (boolean dq : new boolean[] {false, true}) {
                    String what = (nf4 ? "nf4" : "fp4") + " " + rows + "x" + cols + " b" + block + " dq " + dq
                            + " seed " + SEED;
                    float[] w = AffineTesting.gaussian(rnd, rows * cols);
                    Codebook4Matrix m = CodebookTesting.encode(nf4, w, rows, cols, block, dq);
                    float[] ref = reference(m);
                    assertThat(m.dequantize()).as(what).containsExactly(ref);
                    float[] part = new float[2 * cols];
                    m.dequantizeRows(rows - 2, rows, part, 0);
                    assertThat(part).as(what).containsExactly(Arrays.copyOfRange(ref, (rows - 2) * cols, rows * cols));
                    float[] x = AffineTesting.gaussian(rnd, 10 * cols);
                    float[] y = new float[rows];
                    m.gemv(Arrays.copyOf(x, cols), null, y);
                    assertProduct(ref, rows, cols, block, x, 1, y, what + " gemv");
                    float[] yn = new float[10 * rows];
                    m.gemm(x, 10, null, yn);
                    assertProduct(ref, rows, cols, block, x, 10, yn, what + " gemm");
                    // quantization error: |w − Ŵ| ≤ absmax·(largest half-gap of the table) ≤ absmax/2·0.34 (NF4
                    // between 0.7229 and 1; FP4 between 2/3 and 1 with the CUDA threshold 0.8333333)
                    float[] a = m.absmax();
                    for (int e = 0; e < w.length; e++) {
                        float amax = a[e / block];
                        double tolerance = amax * 0.17 + (dq ? Math.abs(amax - maxAbs(w, e / block, block)) : 0)
                                + 4 * Math.ulp(amax);
                        assertThat((double) Math.abs(w[e] - ref[e])).as(what + " element " + e).isLessThanOrEqualTo(tolerance);
                    }
                }
            }
        }
    }

    private static float maxAbs(float[] w, int block, int size) {
        float a = 0;
        for (int e = block * size; e < Math.min(w.length, (block + 1) * size); e++) {
            a = Math.max(a, Math.abs(w[e]));
        }
        return a;
    }

    @Test
    void resultsAreBitIdenticalForAnyThreadCount() {
        Random rnd = new Random(SEED + 1);
        for (boolean dq : new boolean[] {false, true}) {
            float[] w = AffineTesting.gaussian(rnd, 137 * 192);
            Nf4 m = Nf4.encode(w, 137, 192, 64, dq);
            float[] x = AffineTesting.gaussian(rnd, 12 * 192);
            float[][] y = new float[3][];
            float[][] g = new float[3][];
            for (int t = 1; t <= 3; t++) {
                Parallel.setParallelism(t);
                y[t - 1] = new float[137];
                m.gemv(Arrays.copyOf(x, 192), null, y[t - 1]);
                g[t - 1] = new float[12 * 137];
                m.gemm(x, 12, null, g[t - 1]);
            }
            for (int t = 1; t < 3; t++) {
                assertThat(y[t]).containsExactly(y[0]);
                assertThat(g[t]).containsExactly(g[0]);
            }
        }
    }

    @Test
    void storedPartsRebuildTheSameMatrixAndOutliersApply() {
        Random rnd = new Random(SEED + 2);
        float[] w = AffineTesting.gaussian(rnd, 8 * 64);
        Fp4 m = Fp4.encode(w, 8, 64, 32, true);
        Fp4 again = Fp4.of(8, 64, 32, m.packedCodes(), m.doubleQuantized());
        assertThat(again.dequantize()).containsExactly(m.dequantize());
        assertThat(m.byteSize()).isEqualTo(8 * 64 / 2 + 16 + 4 * 1 + 4);
        assertThat(m.describe()).isEqualTo("fp4 b32 dq256");
        Outliers o = Outliers.of(8, 64, new int[] {2}, new int[] {5}, new float[] {9f}, DType.F16);
        Fp4 withO = m.withOutliers(o);
        float[] d = m.dequantize();
        d[2 * 64 + 5] = 9f;
        assertThat(withO.dequantize()).containsExactly(d);
    }
}

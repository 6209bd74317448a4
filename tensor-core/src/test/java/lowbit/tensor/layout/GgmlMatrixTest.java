package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.ggml.GgmlOps;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Q8_1;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link GgmlMatrix} against dequantize-then-dense, for every type, both storages, every product path (GEMV, GEMM with
 * n &le; 8 and n &gt; 8) and tails (1 row, rows not a multiple of the 16-row tile, cols = 32, odd block counts).
 *
 * <p>Tolerance (the bound GgmlMatrix documents): y is the float evaluation of Ŵ·x̂ with x̂ the Q8-dequantized input,
 * so |y − Ŵ·x| &le; &Sigma;|Ŵ|·|x − x̂| (computed exactly in double from the real x̂) + 2·γ_(cols+2)·&Sigma;|Ŵ|(|x| +
 * |x̂|) (float evaluation, for the integer path and for the dense path alike) + for Q4_1/Q5_1 &Sigma;_b |m_b|·|s_b −
 * d_b·&Sigma;q_b| (Q8_1 stores s = fp16(d·&Sigma;q), a rounded value) + the bias and outlier terms' rounding.
 */
@Tag("simd")
class GgmlMatrixTest {
    private static final long SEED = 0x6a_e1_3a_71L;
    private static final GgmlType[] TYPES = {GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0};
    private static final int[][] SHAPES = {{1, 32}, {3, 32}, {16, 64}, {17, 96}, {33, 160}, {20, 32 * 9}};

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static float[] gaussian(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian() * scale;
        }
        return x;
    }

    /** The Q8 activation x̂ that the integer path uses for {@code type}, plus the Q8_1 s rounding slack per block. */
    private static double[] dequantizedActivation(GgmlType type, float[] x, int off, int cols, double[] sSlack) {
        GgmlType at = GgmlOps.activationType(type);
        MemorySegment a = MemorySegment.ofArray(new byte[(int) at.rowBytes(cols)]);
        GgmlOps.quantizeActivation(type, x, off, a, 0, cols);
        float[] xh = new float[cols];
        if (at == GgmlType.Q8_1) {
            Q8_1.dequantizeRow(a, 0, xh, 0, cols);
            for (int b = 0; b < cols / 32; b++) {
                double d = Float.float16ToFloat(a.get(ValueLayout.JAVA_SHORT_UNALIGNED, 36L * b));
                double s = Float.float16ToFloat(a.get(ValueLayout.JAVA_SHORT_UNALIGNED, 36L * b + 2));
                long sum = 0;
                for (int j = 0; j < 32; j++) {
                    sum += a.get(ValueLayout.JAVA_BYTE, 36L * b + 4 + j);
                }
                sSlack[b] = Math.abs(s - d * sum);
            }
        } else {
            GgmlOps.dequantizeRow(at, a, 0, xh, 0, cols); // Q8_0, or Q8_K for the k-quants
        }
        double[] out = new double[cols];
        for (int c = 0; c < cols; c++) {
            out[c] = xh[c];
        }
        return out;
    }

    private static void assertProduct(GgmlMatrix m, float[] wHat, float[] x, int n, float[] bias, float[] y, String what) {
        int rows = m.rows();
        int cols = m.cols();
        // the codes' own values (outlier positions included): the integer path multiplies these by x̂
        float[] wBase = m.withOutliers(Outliers.none(rows, cols)).dequantize();
        MemorySegment bytes = m.standardBytes();
        boolean withMin = m.type() == GgmlType.Q4_1 || m.type() == GgmlType.Q5_1;
        double u = 0x1p-24;
        double gamma = (cols + 2) * u / (1 - (cols + 2) * u);
        for (int i = 0; i < n; i++) {
            double[] slack = new double[cols / 32];
            double[] xh = dequantizedActivation(m.type(), x, i * cols, cols, slack);
            for (int r = 0; r < rows; r++) {
                double exact = 0;
                double quant = 0;
                double mag = 0;
                double minTerm = 0;
                for (int c = 0; c < cols; c++) {
                    double xv = x[i * cols + c];
                    exact += wHat[r * cols + c] * xv;
                    quant += Math.abs(wBase[r * cols + c]) * Math.abs(xv - xh[c]);
                    mag += Math.max(Math.abs(wHat[r * cols + c]), Math.abs(wBase[r * cols + c]))
                            * (Math.abs(xv) + Math.abs(xh[c]));
                }
                if (withMin) { // block minimum m_b (fp16 at byte 2 of the block) times Q8_1's rounded s
                    for (int b = 0; b < cols / 32; b++) {
                        long at = r * m.type().rowBytes(cols) + (long) m.type().blockBytes() * b + 2;
                        minTerm += Math.abs(Float.float16ToFloat(bytes.get(ValueLayout.JAVA_SHORT_UNALIGNED, at))) * slack[b];
                    }
                }
                double b = bias == null ? 0 : bias[r];
                double bound = quant + 2 * gamma * (mag + Math.abs(b) + Math.abs(exact)) + 2 * minTerm + 1e-30;
                double got = y[i * rows + r];
                assertThat(Math.abs(got - (exact + b))).as("%s: out[%d][%d] = %s vs %s (bound %s)", what, i, r, got,
                        exact + b, bound).isLessThanOrEqualTo(bound);
            }
        }
    }

    @Test
    void productsMatchDequantizeThenDenseForEveryTypeStorageAndTail() {
        Random rnd = new Random(SEED);
        for (GgmlType type : TYPES) {
            for (int[] shape : SHAPES) {
                int rows = shape[0], cols = shape[1];
                float[] w = gaussian(rnd, rows * cols, 0.05f);
                GgmlMatrix std = GgmlMatrix.of(type, GgmlMatrix.encode(w, rows, cols, type).standardBytes(), 0, rows, cols);
                GgmlMatrix[] forms = {std, std.interleaved()};
                float[] wHat = std.dequantize();
                for (GgmlMatrix m : forms) {
                    String what = m + " seed " + SEED;
                    assertThat(m.dequantize()).as(what).isEqualTo(wHat);
                    float[] bias = gaussian(rnd, rows, 1f);
                    float[] x = gaussian(rnd, cols, 1f);
                    float[] y = new float[rows];
                    m.gemv(x, bias, y);
                    assertProduct(m, wHat, x, 1, bias, y, what + " gemv");
                    for (int n : new int[] {2, 9}) {
                        float[] xs = gaussian(rnd, n * cols, 1f);
                        float[] ys = new float[n * rows];
                        m.gemm(xs, n, null, ys);
                        assertProduct(m, wHat, xs, n, null, ys, what + " gemm n=" + n);
                        if (m.isInterleaved() || n <= 8) { // integer path: every row of a GEMM as its own GEMV
                            float[] y1 = new float[rows];
                            for (int i = 0; i < n; i++) {
                                m.gemv(java.util.Arrays.copyOfRange(xs, i * cols, (i + 1) * cols), null, y1);
                                assertThat(java.util.Arrays.copyOfRange(ys, i * rows, (i + 1) * rows))
                                        .as("%s gemm row %d = gemv", what, i).isEqualTo(y1);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void kQuantRowsWorkThroughTheSameDispatch() {
        Random rnd = new Random(SEED + 5);
        for (GgmlType type : new GgmlType[] {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K}) {
            for (int[] shape : new int[][] {{1, 256}, {17, 512}}) {
                int rows = shape[0], cols = shape[1];
                GgmlMatrix m = GgmlMatrix.encode(gaussian(rnd, rows * cols, 0.05f), rows, cols, type);
                assertThat(m.isInterleaved()).isFalse();
                float[] wHat = m.dequantize();
                float[] x = gaussian(rnd, cols, 1f);
                float[] y = new float[rows];
                m.gemv(x, null, y);
                assertProduct(m, wHat, x, 1, null, y, m + " gemv");
                float[] xs = gaussian(rnd, 9 * cols, 1f);
                float[] ys = new float[9 * rows];
                m.gemm(xs, 9, null, ys);
                assertProduct(m, wHat, xs, 9, null, ys, m + " gemm n=9");
            }
        }
    }

    @Test
    void interleavedAndStandardGemvAgreeWithGgmlOps() {
        Random rnd = new Random(SEED + 1);
        int rows = 37, cols = 32 * 7;
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0}) {
            GgmlMatrix m = GgmlMatrix.encode(gaussian(rnd, rows * cols, 1f), rows, cols, type);
            assertThat(m.isInterleaved()).isTrue();
            MemorySegment bytes = m.standardBytes();
            float[] x = gaussian(rnd, cols, 1f);
            float[] ops = new float[rows];
            GgmlOps.gemv(type, bytes, 0, rows, cols, x, 0, ops, 0);
            float[] std = new float[rows];
            GgmlMatrix.of(type, bytes, 0, rows, cols).gemv(x, null, std);
            assertThat(std).isEqualTo(ops); // the same row kernel
            float[] il = new float[rows];
            m.gemv(x, null, il);
            float[] wHat = m.dequantize();
            assertProduct(m, wHat, x, 1, null, il, "interleaved " + type);
        }
    }

    @Test
    void zeroCopyViewAtAnOffsetOfAHeapArray() {
        Random rnd = new Random(SEED + 2);
        int rows = 5, cols = 64;
        GgmlMatrix enc = GgmlMatrix.encode(gaussian(rnd, rows * cols, 1f), rows, cols, GgmlType.Q5_0);
        byte[] raw = enc.standardBytes().toArray(ValueLayout.JAVA_BYTE);
        byte[] file = new byte[raw.length + 7];
        System.arraycopy(raw, 0, file, 7, raw.length);
        GgmlMatrix view = GgmlMatrix.of(GgmlType.Q5_0, MemorySegment.ofArray(file), 7, rows, cols);
        assertThat(view.dequantize()).isEqualTo(enc.dequantize());
        assertThat(view.byteSize()).isEqualTo(raw.length);
        assertThat(view.describe()).contains("Q5_0");
        file[7 + 1] ^= 0x40; // the view reads the array itself: changing a scale changes row 0
        assertThat(view.dequantize()).isNotEqualTo(enc.dequantize());
    }

    @Test
    void outliersReplaceTheirPositionsInEveryProduct() {
        Random rnd = new Random(SEED + 3);
        int rows = 19, cols = 96;
        Outliers o = Outliers.of(rows, cols, new int[] {0, 5, 18, 18}, new int[] {3, 95, 0, 64},
                new float[] {40f, -25f, 12.5f, 7f}, DType.F16);
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_1}) {
            GgmlMatrix m = GgmlMatrix.encode(gaussian(rnd, rows * cols, 0.1f), rows, cols, type).withOutliers(o);
            float[] wHat = m.dequantize();
            assertThat(wHat[5 * cols + 95]).isEqualTo(-25f);
            assertThat(m.byteSize()).isEqualTo((m.isInterleaved() ? 32L : rows) * type.rowBytes(cols) + o.byteSize());
            float[] x = gaussian(rnd, cols, 1f);
            float[] y = new float[rows];
            m.gemv(x, null, y);
            // the outlier corrections δ·x use the unquantized x: with x̂ in place of x only for the base codes
            assertProduct(m, wHat, x, 1, null, y, m + " gemv");
            float[] xs = gaussian(rnd, 10 * cols, 1f);
            float[] ys = new float[10 * rows];
            m.gemm(xs, 10, null, ys);
            assertProduct(m, wHat, xs, 10, null, ys, m + " gemm");
        }
    }

    @Test
    void resultsAreIdenticalForAnyThreadCount() {
        Random rnd = new Random(SEED + 4);
        int rows = 200, cols = 32 * 11;
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q5_1}) {
            GgmlMatrix m = GgmlMatrix.encode(gaussian(rnd, rows * cols, 1f), rows, cols, type);
            float[] x = gaussian(rnd, 12 * cols, 1f);
            float[][] ys = new float[3][12 * rows];
            float[][] yv = new float[3][rows];
            for (int t = 1; t <= 3; t++) {
                Parallel.setParallelism(t);
                m.gemm(x, 12, null, ys[t - 1]);
                m.gemv(java.util.Arrays.copyOf(x, cols), null, yv[t - 1]);
            }
            assertThat(ys[1]).isEqualTo(ys[0]);
            assertThat(ys[2]).isEqualTo(ys[0]);
            assertThat(yv[1]).isEqualTo(yv[0]);
            assertThat(yv[2]).isEqualTo(yv[0]);
        }
    }

    @Test
    void badInputIsNamed() {
        float[] w = new float[64];
        assertThatThrownBy(() -> GgmlMatrix.encode(w, 2, 48, GgmlType.Q4_0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("48");
        assertThatThrownBy(() -> GgmlMatrix.encode(w, 2, 64, GgmlType.Q4_0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("64");
        assertThatThrownBy(() -> GgmlMatrix.encode(new float[32], 1, 32, GgmlType.F16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F16");
        float[] nan = new float[32];
        nan[7] = Float.NaN;
        assertThatThrownBy(() -> GgmlMatrix.encode(nan, 1, 32, GgmlType.Q8_0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("NaN");
        assertThatThrownBy(() -> GgmlMatrix.of(GgmlType.Q4_0, MemorySegment.ofArray(new byte[35]), 0, 2, 32))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("36");
        GgmlMatrix m = GgmlMatrix.encode(new float[64], 2, 32, GgmlType.Q4_0);
        float[] x = new float[32];
        x[31] = Float.POSITIVE_INFINITY;
        assertThatThrownBy(() -> m.gemv(x, null, new float[2])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("element 31").hasMessageContaining("Infinity");
        assertThatThrownBy(() -> m.gemm(new float[64], 2, null, new float[3])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Y has 3");
    }
}

package lowbit.nn;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.finiteDifferences;
import static lowbit.nn.NnTesting.gamma;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class LinearTest {
    /** Absolute slack for the double finite differences of a linear loss (rounding ≈ 1e-11·|L|, |L| < 1e3). */
    private static final double FD_SLACK = 1e-7;

    /** Y[i, o] = Σ_j X[i, j]·W[o, j] + b[o] in double, and the bound 2·γ_(in+1)·(Σ|x·w| + |b|) of a float result. */
    private static double[][] reference(float[] x, float[] w, float[] b, int n, int in, int out) {
        double[] y = new double[n * out];
        double[] tol = new double[n * out];
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o], abs = b == null ? 0 : Math.abs(b[o]);
                for (int j = 0; j < in; j++) {
                    s += (double) x[i * in + j] * w[o * in + j];
                    abs += Math.abs((double) x[i * in + j] * w[o * in + j]);
                }
                y[i * out + o] = s;
                tol[i * out + o] = 2 * gamma(in + 1) * abs + 1e-30;
            }
        }
        return new double[][] {y, tol};
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void forwardMatchesDoubleReference(DType type) {
        long seed = 11 + type.ordinal();
        Random r = new Random(seed);
        int n = 13, in = 37, out = 21;
        Tensor wt = Tensor.ofFloats(type, NnTesting.randn(r, out * in, 0.5), Shape.of(out, in));
        float[] w = wt.toFloatArray(); // the exact values the half bits stand for
        float[] b = NnTesting.randn(r, out, 1);
        float[] x = NnTesting.randn(r, n * in, 1);
        Linear fc = Linear.of(wt, b);
        double[][] ref = reference(x, w, b, n, in, out);
        assertClose(type + " forward", seed, fc.forward(x, n), ref[0], ref[1]);
        Linear noBias = Linear.of(wt, null);
        ref = reference(x, w, null, n, in, out);
        assertClose(type + " forward without bias", seed, noBias.forward(x, n), ref[0], ref[1]);
    }

    @Test
    void backwardOfTrainableDenseMatchesFiniteDifferences() {
        long seed = 21;
        Random r = new Random(seed);
        int n = 9, in = 19, out = 11;
        float[] w = NnTesting.randn(r, out * in, 0.5);
        float[] b = NnTesting.randn(r, out, 1);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        Linear fc = new Linear(LinearWeight.of(w, out, in), b);
        Linear.Gradients g = fc.backward(x, dy, n);

        // L(X, W, b) = Σ dY ⊙ (X·Wᵀ + b), evaluated in double
        double[] gx = finiteDifferences(xd -> loss(xd, NnTesting.toDouble(w), NnTesting.toDouble(b), dy, n, in, out),
                NnTesting.toDouble(x));
        double[] gw = finiteDifferences(wd -> loss(NnTesting.toDouble(x), wd, NnTesting.toDouble(b), dy, n, in, out),
                NnTesting.toDouble(w));
        double[] gb = finiteDifferences(bd -> loss(NnTesting.toDouble(x), NnTesting.toDouble(w), bd, dy, n, in, out),
                NnTesting.toDouble(b));
        // each float gradient element is a dot product: dX of length out, dW and db of length n
        assertClose("dX", seed, g.dx(), gx, bound(dy, false, w, n, out, in));
        assertClose("dW", seed, g.dw(), gw, bound(dy, true, x, out, n, in));
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        assertClose("db", seed, g.db(), gb, bound(dy, true, ones, out, n, 1));
    }

    /**
     * The error bound of the float product C = op(A)·B (A = dY [rows, k] or, with {@code transA}, dYᵀ of dY [k, rows];
     * B [k, cols]): per element FD_SLACK + 2·γ_k·Σ_p |op(A)[i, p]·B[p, j]| (Higham §3.1; the factor 2 covers the
     * blocked summation order).
     */
    private static double[] bound(float[] a, boolean transA, float[] b, int rows, int k, int cols) {
        double[] t = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    float av = transA ? a[p * rows + i] : a[i * k + p];
                    s += Math.abs((double) av * b[p * cols + j]);
                }
                t[i * cols + j] = FD_SLACK + 2 * gamma(k) * s;
            }
        }
        return t;
    }

    private static double loss(double[] x, double[] w, double[] b, float[] dy, int n, int in, int out) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < out; o++) {
                double y = b[o];
                for (int j = 0; j < in; j++) {
                    y += x[i * in + j] * w[o * in + j];
                }
                s += dy[i * out + o] * y;
            }
        }
        return s;
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void halfWeightsBackpropagateThroughTheirExactValues(DType type) {
        long seed = 31;
        Random r = new Random(seed);
        int n = 5, in = 23, out = 17;
        Tensor wt = Tensor.ofFloats(type, NnTesting.randn(r, out * in, 0.5), Shape.of(out, in));
        float[] w = wt.toFloatArray();
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        Linear fc = Linear.of(wt, null);
        double[] gx = finiteDifferences(xd -> loss(xd, NnTesting.toDouble(w), new double[out], dy, n, in, out),
                NnTesting.toDouble(x));
        assertClose(type + " dX", seed, fc.backwardInput(dy, n), gx, bound(dy, false, w, n, out, in));
    }

    @Test
    void frozenAndQuantizedWeightsGiveOnlyTheInputGradient() {
        long seed = 41;
        Random r = new Random(seed);
        int n = 12, in = 29, out = 300; // 300 rows with in = 29: several dequantized tiles in the backward product
        RowScaledInt8 q = RowScaledInt8.random(r, out, in);
        float[] wq = q.dequantize();
        float[] b = NnTesting.randn(r, out, 1);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        Linear fc = Linear.of(q, b);
        assertThat(fc.weight().trainable()).isFalse();
        double[][] ref = reference(x, wq, b, n, in, out);
        assertClose("quantized forward", seed, fc.forward(x, n), ref[0], ref[1]);
        Linear.Gradients g = fc.backward(x, dy, n);
        assertThat(g.dw()).isNull();
        assertThat(g.db()).isNull();
        double[] gx = finiteDifferences(xd -> loss(xd, NnTesting.toDouble(wq), NnTesting.toDouble(b), dy, n, in, out),
                NnTesting.toDouble(x));
        assertClose("quantized dX", seed, g.dx(), gx, bound(dy, false, wq, n, out, in));

        DenseWeight frozen = DenseWeight.of(wq, out, in).frozen();
        Linear.Gradients gf = new Linear(frozen, b).backward(x, dy, n);
        assertThat(gf.dw()).isNull();
        assertThat(gf.db()).isNull();
        assertClose("frozen dense dX", seed, gf.dx(), gx, bound(dy, false, wq, n, out, in));
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        Random r = new Random(51);
        int n = 64, in = 96, out = 80;
        float[] w = NnTesting.randn(r, out * in, 1);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        Linear fc = new Linear(LinearWeight.of(w, out, in), NnTesting.randn(r, out, 1));
        int saved = Parallel.parallelism();
        try {
            Parallel.setParallelism(1);
            float[] y1 = fc.forward(x, n);
            Linear.Gradients g1 = fc.backward(x, dy, n);
            Parallel.setParallelism(3);
            assertThat(fc.forward(x, n)).isEqualTo(y1);
            Linear.Gradients g3 = fc.backward(x, dy, n);
            assertThat(g3.dx()).isEqualTo(g1.dx());
            assertThat(g3.dw()).isEqualTo(g1.dw());
            assertThat(g3.db()).isEqualTo(g1.db());
        } finally {
            Parallel.setParallelism(saved);
        }
    }

    @Test
    void packedDenseWeightGivesTheUnpackedResults() {
        Random r = new Random(52);
        int n = 24, in = 70, out = 45;
        float[] w = NnTesting.randn(r, out * in, 1);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        float[] b = NnTesting.randn(r, out, 1);
        DenseWeight plain = DenseWeight.of(w, out, in);
        DenseWeight packed = plain.packed();
        assertThat(packed.isPacked()).isTrue();
        assertThat(plain.isPacked()).isFalse();
        assertThat(packed.packed()).isSameAs(packed);
        assertThat(packed.describe()).isEqualTo("F32 [45, 70] packed");
        assertThat(packed.frozen().isPacked()).isTrue();
        Linear a = new Linear(plain, b), c = new Linear(packed, b);
        // more than 8 rows: the same k-slices and micro-kernel, so the same bits
        assertThat(c.forward(x, n)).isEqualTo(a.forward(x, n));
        Linear.Gradients ga = a.backward(x, dy, n), gc = c.backward(x, dy, n);
        assertThat(gc.dx()).isEqualTo(ga.dx());
        assertThat(gc.dw()).isEqualTo(ga.dw());
        Tensor half = Tensor.ofFloats(DType.BF16, w, Shape.of(out, in));
        assertThat(new Linear(DenseWeight.of(half).packed(), b).forward(x, n))
                .isEqualTo(new Linear(DenseWeight.of(half), b).forward(x, n));
    }

    @Test
    void badShapesAreNamed() {
        Linear fc = new Linear(LinearWeight.of(new float[6], 2, 3), null);
        assertThatThrownBy(() -> fc.forward(new float[5], 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("X");
        assertThatThrownBy(() -> fc.backwardInput(new float[3], 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dY has 3 elements, expected 4");
        assertThatThrownBy(() -> new Linear(LinearWeight.of(new float[6], 2, 3), new float[3]))
                .hasMessageContaining("bias has 3 elements");
        assertThatThrownBy(() -> LinearWeight.of(new float[5], 2, 3)).hasMessageContaining("expected [2, 3]");
        assertThatThrownBy(() -> fc.withWeight(LinearWeight.of(new float[6], 3, 2))).hasMessageContaining("shape [2, 3]");
        assertThatThrownBy(() -> LinearWeight.of(Tensor.ofFloats(new float[6], 6))).hasMessageContaining("matrix");
    }
}

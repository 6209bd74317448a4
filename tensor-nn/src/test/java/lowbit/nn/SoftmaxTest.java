package lowbit.nn;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.finiteDifferences;
import static lowbit.nn.NnTesting.gamma;
import static lowbit.nn.NnTesting.toDouble;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SoftmaxTest {
    static double[] softmax(double[] x, int rows, int cols) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < cols; j++) {
                m = Math.max(m, x[r * cols + j]);
            }
            for (int j = 0; j < cols; j++) {
                s += Math.exp(x[r * cols + j] - m);
            }
            for (int j = 0; j < cols; j++) {
                y[r * cols + j] = Math.exp(x[r * cols + j] - m) / s;
            }
        }
        return y;
    }

    /** exp in double rounded (½ ulp), the float sum (γ_n relative), one reciprocal and one multiply: 3·γ_(n+3). */
    private static double[] tolerance(double[] y, int n) {
        double[] t = new double[y.length];
        for (int i = 0; i < y.length; i++) {
            t[i] = 3 * gamma(n + 3) * y[i] + Double.MIN_VALUE;
        }
        return t;
    }

    @Test
    void forwardMatchesDoubleAndIsStableForLargeInputs() {
        long seed = 301;
        Random r = new Random(seed);
        int rows = 6, cols = 37;
        float[] x = NnTesting.randn(r, rows * cols, 4);
        for (int j = 0; j < cols; j++) {
            x[j] += 1000f; // exp(1000) overflows: only the max-shifted form survives
            x[cols + j] -= 1000f;
        }
        double[] ref = softmax(toDouble(x), rows, cols);
        float[] y = Softmax.forward(x, rows, cols);
        assertClose("softmax", seed, y, ref, tolerance(ref, cols));
        float[] inPlace = x.clone();
        Softmax.forward(inPlace, rows, cols, inPlace);
        assertThat(inPlace).isEqualTo(y);
    }

    @Test
    void minusInfinityIsProbabilityZeroAndAnAllMaskedRowIsRejected() {
        float ninf = Float.NEGATIVE_INFINITY;
        float[] x = {1f, ninf, 2f, ninf};
        float[] y = Softmax.forward(x, 1, 4);
        assertThat(y[1]).isZero();
        assertThat(y[3]).isZero();
        assertClose("masked softmax", 0, y, softmax(new double[] {1, ninf, 2, ninf}, 1, 4), 2e-7);
        assertThatThrownBy(() -> Softmax.forward(new float[] {0, 0, ninf, ninf}, 2, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row 1");
        assertThat(Softmax.forward(new float[] {Float.NaN, 1f}, 1, 2)[1]).isNaN();
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        long seed = 302;
        Random r = new Random(seed);
        int rows = 5, cols = 23;
        float[] x = NnTesting.randn(r, rows * cols, 2);
        float[] dy = NnTesting.randn(r, rows * cols, 1);
        float[] y = Softmax.forward(x, rows, cols);
        float[] dx = Softmax.backward(y, dy, rows, cols);
        double[] fd = finiteDifferences(xd -> NnTesting.dot(softmax(xd, rows, cols), dy), toDouble(x));
        // dx_j = y_j·(dy_j − Σ dy·y): y carries 3·γ relative error (above), the dot product γ_n·Σ|dy·y| ≤ γ_n·max|dy|
        assertClose("softmax backward", seed, dx, fd, 1e-8 + 8 * gamma(cols + 3) * 4);
    }

    @Test
    void shapesAreChecked() {
        assertThatThrownBy(() -> Softmax.forward(new float[5], 2, 3)).hasMessageContaining("x has 5 elements");
        assertThatThrownBy(() -> Softmax.inPlace(new float[5], 3, 3)).isInstanceOf(IndexOutOfBoundsException.class);
    }
}

package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.SimdTesting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link Cholesky} against the definitions: L·Lᵀ reproduces A within Higham's backward-error bound, L is lower
 * triangular with a positive diagonal, L⁻¹·L = I, results are bit-identical for any thread count, and
 * non-positive-definite, NaN and mis-sized inputs are reported. Sizes cross the panel width (128).
 *
 * <p>Tolerances: the computed factor satisfies L·Lᵀ = A + ΔA with |ΔA_ij| ≤ γ_(n+1)·(|L|·|Lᵀ|)_ij (Higham,
 * Accuracy and Stability of Numerical Algorithms, Thm 10.3); recomputing L·Lᵀ in double adds γ_n·(|L|·|Lᵀ|)_ij, so
 * the test allows 2·γ_(n+1)·(|L|·|Lᵀ|)_ij. For the inverse X, each entry of X·L − I is a dot product of computed
 * values, and the triangular inverse satisfies |X·L − I| ≤ c·n·u·|X|·|L| (Higham §8.3, bound (8.20) for the column
 * method); the test allows 4·γ_n·(|X|·|L|)_ij.
 */
@Tag("simd")
class CholeskyTest {
    private static final long SEED = 0xc401L;

    @AfterEach
    void restore() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static double gamma(int n) {
        double u = 0x1p-53;
        return n * u / (1 - n * u);
    }

    /** A = G·Gᵀ/k + shift·I for random G [n, k]: symmetric positive definite, condition set by k and shift. */
    static double[] spd(Random r, int n, int k, double shift) {
        double[] g = new double[n * k];
        for (int i = 0; i < g.length; i++) {
            g[i] = r.nextGaussian();
        }
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += g[i * k + p] * g[j * k + p];
                }
                a[i * n + j] = s / k;
                a[j * n + i] = s / k;
            }
            a[i * n + i] += shift;
        }
        return a;
    }

    @Test
    void factorReproducesTheMatrixAndInverseIsTheInverse() {
        Random r = new Random(SEED);
        for (int n : new int[] {1, 2, 7, 128, 129, 260}) {
            double[] a = spd(r, n, 48, 1e-2);
            double[] l = a.clone();
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                    l[i * n + j] = Double.NaN; // the upper triangle must not be read
                }
            }
            String at = "n=" + n + " seed=" + SEED + " " + SimdTesting.providerName();
            assertThat(Cholesky.factorLower(l, n)).as(at).isEqualTo(-1);
            for (int i = 0; i < n; i++) {
                assertThat(l[i * n + i]).as("diagonal %d, %s", i, at).isPositive();
                for (int j = i + 1; j < n; j++) {
                    assertThat(l[i * n + j]).as("upper (%d, %d), %s", i, j, at).isZero();
                }
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j <= i; j++) {
                    double s = 0, abs = 0;
                    for (int p = 0; p <= j; p++) {
                        s += l[i * n + p] * l[j * n + p];
                        abs += Math.abs(l[i * n + p] * l[j * n + p]);
                    }
                    assertThat(Math.abs(s - a[i * n + j])).as("(L·Lᵀ − A)[%d, %d], %s", i, j, at)
                            .isLessThanOrEqualTo(2 * gamma(n + 1) * abs);
                }
            }
            double[] x = l.clone();
            Cholesky.invertLower(x, n);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    if (j > i) {
                        assertThat(x[i * n + j]).as("inverse upper (%d, %d), %s", i, j, at).isZero();
                        continue;
                    }
                    double s = 0, abs = 0;
                    for (int p = j; p <= i; p++) {
                        s += x[i * n + p] * l[p * n + j];
                        abs += Math.abs(x[i * n + p] * l[p * n + j]);
                    }
                    double expected = i == j ? 1 : 0;
                    assertThat(Math.abs(s - expected)).as("(X·L − I)[%d, %d], %s", i, j, at)
                            .isLessThanOrEqualTo(4 * gamma(n) * abs);
                }
            }
        }
    }

    @Test
    void sameBitsForAnyThreadCount() {
        Random r = new Random(SEED + 1);
        int n = 260;
        double[] a = spd(r, n, 40, 1e-2);
        double[][] out = new double[3][];
        int[] threads = {1, 2, 3};
        for (int t = 0; t < threads.length; t++) {
            Parallel.setParallelism(threads[t]);
            double[] l = a.clone();
            assertThat(Cholesky.factorLower(l, n)).isEqualTo(-1);
            Cholesky.invertLower(l, n);
            out[t] = l;
        }
        assertThat(out[1]).isEqualTo(out[0]);
        assertThat(out[2]).isEqualTo(out[0]);
    }

    @Test
    void reportsTheFirstNonPositivePivot() {
        Random r = new Random(SEED + 2);
        int n = 200;
        // rank 150: G·Gᵀ with G [n, 150] is singular; a pivot at or after column 150 is numerically zero or negative
        double[] a = spd(r, n, 150, 0);
        int fail = Cholesky.factorLower(a.clone(), n);
        assertThat(fail).isBetween(150, 199);
        // an indefinite diagonal entry in the second panel
        double[] b = spd(r, n, 30, 0.1);
        b[170 * n + 170] = -5;
        assertThat(Cholesky.factorLower(b, n)).isEqualTo(170);
        // NaN and infinity end as failed pivots, never as a "successful" factor full of NaN
        double[] c = spd(r, n, 30, 0.1);
        c[150 * n + 3] = Double.NaN;
        assertThat(Cholesky.factorLower(c, n)).isBetween(0, n - 1);
        double[] d = spd(r, 5, 8, 0.1);
        d[4 * 5 + 4] = Double.POSITIVE_INFINITY;
        assertThat(Cholesky.factorLower(d, 5)).isEqualTo(4);
    }

    @Test
    void badInputIsNamed() {
        assertThatThrownBy(() -> Cholesky.factorLower(new double[8], 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("8 values for a 3x3");
        assertThatThrownBy(() -> Cholesky.factorLower(new double[0], -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative size");
        double[] l = {1, 0, 2, 0};
        assertThatThrownBy(() -> Cholesky.invertLower(l, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("diagonal entry 1 is 0.0");
        assertThat(Cholesky.factorLower(new double[0], 0)).isEqualTo(-1);
    }
}

package lowbit.nn.adapter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import lowbit.nn.NnTesting;
import org.junit.jupiter.api.Test;

/** Householder QR and the exact and randomized SVDs. */
class FactorizationTest {
    @Test
    void qrOfAHandWorkedMatrixUsesLapackSigns() {
        // A = [[3, 1], [4, 2], [0, 5]]; column 0: β = −5, v = (1, 4/8, 0), τ = 1.6
        HouseholderQr.Result qr = HouseholderQr.leading(new double[] {3, 1, 4, 2, 0, 5}, 3, 2, 2);
        assertThat(qr.r()[0]).isCloseTo(-5, within(1e-12));
        assertThat(qr.r()[1]).isCloseTo(-2.2, within(1e-12));
        // second column after H₀: (0.4, 5)ᵀ below row 0 → β = −√25.16
        assertThat(qr.r()[3]).isCloseTo(-Math.sqrt(0.16 + 25), within(1e-12));
        assertThat(qr.q()[0]).isCloseTo(-0.6, within(1e-12));
        assertThat(qr.q()[2]).isCloseTo(-0.8, within(1e-12));
    }

    @Test
    void qrReconstructsAndIsOrthonormal() {
        Random r = new Random(3);
        for (int[] mn : new int[][] {{9, 5}, {5, 9}, {7, 7}}) {
            int m = mn[0], n = mn[1], k = Math.min(m, n);
            double[] a = new double[m * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextGaussian();
            }
            HouseholderQr.Result qr = HouseholderQr.leading(a, m, n, k);
            double[] back = Twins.mm(qr.q(), m, k, qr.r(), n);
            for (int i = 0; i < a.length; i++) {
                assertThat(back[i]).isCloseTo(a[i], within(1e-12));
            }
            double[] qtq = Twins.mm(transpose(qr.q(), m, k), k, m, qr.q(), k);
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    assertThat(qtq[i * k + j]).isCloseTo(i == j ? 1 : 0, within(1e-12));
                }
                for (int j = 0; j < i; j++) {
                    assertThat(qr.r()[i * n + j]).isZero();
                }
            }
        }
        assertThatThrownBy(() -> HouseholderQr.leading(new double[6], 3, 2, 3)).hasMessageContaining("k = 3");
    }

    static double[] transpose(double[] a, int m, int n) {
        double[] t = new double[a.length];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                t[j * m + i] = a[i * n + j];
            }
        }
        return t;
    }

    /** W = U·diag(σ)·Vᵀ with random orthonormal U, V and the given σ. */
    static float[] withSpectrum(Random r, int m, int n, double[] sigma) {
        int k = sigma.length;
        double[] u = HouseholderQr.leading(gauss(r, m * k), m, k, k).q();
        double[] v = HouseholderQr.leading(gauss(r, n * k), n, k, k).q();
        float[] w = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    s += u[i * k + t] * sigma[t] * v[j * k + t];
                }
                w[i * n + j] = (float) s;
            }
        }
        return w;
    }

    static double[] gauss(Random r, int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextGaussian();
        }
        return a;
    }

    @Test
    void exactAndRandomizedSvdRecoverAKnownSpectrum() {
        Random r = new Random(5);
        int m = 60, n = 40;
        double[] sigma = new double[20];
        for (int i = 0; i < sigma.length; i++) {
            sigma[i] = 10 * Math.pow(0.6, i);
        }
        float[] w = withSpectrum(r, m, n, sigma);
        Svd.Result ex = Svd.exact(w, m, n, 5);
        Svd.Result rnd = Svd.randomized(w, m, n, 5, 8, 3, 11);
        for (int i = 0; i < 5; i++) {
            // W holds σ up to float rounding of its entries (u·‖W‖_F ≈ 1e-6)
            assertThat(ex.s()[i]).isCloseTo(sigma[i], within(1e-5));
            // subspace iteration: relative error ≈ (σ_{q+1}/σ_i)^(2·niter+1) = 0.6^(8·7) ≈ 4e-13 — float GEMMs dominate
            assertThat(rnd.s()[i]).isCloseTo(sigma[i], within(1e-4));
        }
        // the rank-5 reconstructions agree with each other
        for (int i = 0; i < m; i += 7) {
            for (int j = 0; j < n; j += 5) {
                double a = 0, b = 0;
                for (int t = 0; t < 5; t++) {
                    a += ex.u()[i * 5 + t] * ex.s()[t] * ex.vt()[t * n + j];
                    b += rnd.u()[i * 5 + t] * rnd.s()[t] * rnd.vt()[t * n + j];
                }
                assertThat(b).isCloseTo(a, within(1e-4));
            }
        }
        assertThatThrownBy(() -> Svd.exact(w, m, n, 41)).hasMessageContaining("rank 41");
    }
}

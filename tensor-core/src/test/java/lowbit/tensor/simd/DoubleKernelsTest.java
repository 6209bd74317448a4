package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The chosen double kernels against {@link ScalarDoubleKernels}: dot and axpy at every length 0..300 and larger ones
 * at misaligned offsets; GEMM for all four transpose combinations at sizes that cross the register tile (MR = 8
 * rows, NR = two vectors), the packed row block (128) and the k-slice (128), with leading dimensions larger than a
 * row and with C inside a larger array (nothing outside C may change). Run at 128/256/512 bits by the simd-*
 * executions.
 *
 * <p>Tolerance: a dot product computed in two summation orders differs from the exact value by at most γ_n·Σ|aᵢbᵢ|
 * each (Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.4; γ_n = n·u/(1 − n·u), u = 2⁻⁵³), so the two
 * differ by at most 2·γ_n·Σ|aᵢbᵢ|. GEMM adds α·s to C once per k-slice instead of once: two more roundings per
 * slice, covered by 2·γ_(k+2·slices)·(|α|·Σ_p|a_ip·b_pj| + |c_ij|). axpy rounds once per element with FMA and twice
 * with mul + add: mul + add errs by u·|αx| + u·|r|, FMA by u·|r|, |r| ≤ |y| + |αx|, so |Δ| ≤ 4u·(|y| + |α·x|).
 */
@Tag("simd")
class DoubleKernelsTest {
    private static final long SEED = 0xd0b1eL;
    private static final DoubleKernels REF = new ScalarDoubleKernels();
    private final DoubleKernels k = VectorizationProvider.get().doubles();

    private static double gamma(int n) {
        double u = 0x1p-53;
        return n * u / (1 - n * u);
    }

    private static double[] random(Random r, int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextDouble() * 4 - 2;
        }
        return a;
    }

    @Test
    void dotAndAxpyMatchScalarAtEveryLength() {
        Random r = new Random(SEED);
        for (int n : SimdTesting.lengths()) {
            int off = r.nextInt(5);
            double[] a = random(r, n + off + 3);
            double[] b = random(r, n + off + 3);
            double sumAbs = 0;
            for (int i = 0; i < n; i++) {
                sumAbs += Math.abs(a[off + i] * b[off + 1 + i]);
            }
            String at = "n=" + n + " off=" + off + " seed=" + SEED + " " + SimdTesting.providerName();
            assertThat(Math.abs(k.dot(a, off, b, off + 1, n) - REF.dot(a, off, b, off + 1, n))).as("dot " + at)
                    .isLessThanOrEqualTo(2 * gamma(n) * sumAbs);
            double alpha = r.nextDouble() - 0.5;
            double[] y1 = b.clone();
            double[] y2 = b.clone();
            k.axpy(alpha, a, off, y1, off + 1, n);
            REF.axpy(alpha, a, off, y2, off + 1, n);
            for (int i = 0; i < y1.length; i++) {
                int e = i - off - 1;
                if (e < 0 || e >= n) {
                    assertThat(y1[i]).as("axpy outside the range at %d, %s", i, at).isEqualTo(b[i]);
                } else {
                    double tol = 4 * 0x1p-53 * (Math.abs(b[i]) + Math.abs(alpha * a[off + e]));
                    assertThat(Math.abs(y1[i] - y2[i])).as("axpy[%d] %s", e, at).isLessThanOrEqualTo(tol);
                }
            }
        }
    }

    @Test
    void gemmMatchesScalarForEveryTransposeAndTail() {
        Random r = new Random(SEED + 1);
        int[][] sizes = {{1, 1, 1}, {3, 5, 2}, {8, 16, 7}, {9, 17, 1}, {8, 8, 128}, {7, 33, 129}, {130, 9, 40},
            {64, 100, 300}, {129, 35, 257}, {16, 64, 0}, {0, 5, 3}};
        for (int[] s : sizes) {
            for (int flags = 0; flags < 4; flags++) {
                boolean ta = (flags & 1) != 0;
                boolean tb = (flags & 2) != 0;
                check(r, ta, tb, s[0], s[1], s[2], r.nextDouble() * 2 - 1);
            }
        }
    }

    private void check(Random r, boolean ta, boolean tb, int m, int n, int kk, double alpha) {
        int lda = (ta ? m : kk) + r.nextInt(3), ldb = (tb ? kk : n) + r.nextInt(3), ldc = n + r.nextInt(3);
        int aOff = r.nextInt(4), bOff = r.nextInt(4), cOff = r.nextInt(4);
        double[] a = random(r, aOff + (ta ? kk : m) * lda + 1);
        double[] b = random(r, bOff + (tb ? n : kk) * ldb + 1);
        double[] c0 = random(r, cOff + m * ldc + 2);
        double[] got = c0.clone();
        double[] ref = c0.clone();
        k.gemm(ta, tb, m, n, kk, alpha, a, aOff, lda, b, bOff, ldb, got, cOff, ldc);
        REF.gemm(ta, tb, m, n, kk, alpha, a, aOff, lda, b, bOff, ldb, ref, cOff, ldc);
        String at = String.format("ta=%b tb=%b m=%d n=%d k=%d alpha=%s seed=%d %s", ta, tb, m, n, kk, alpha, SEED,
                SimdTesting.providerName());
        int slices = Math.max(1, (kk + 127) / 128);
        for (int i = 0; i < c0.length; i++) {
            int rel = i - cOff;
            if (rel < 0 || rel / ldc >= m || rel % ldc >= n) {
                assertThat(got[i]).as("outside C at %d, %s", i, at).isEqualTo(c0[i]);
                continue;
            }
            int ii = rel / ldc, jj = rel % ldc;
            double sumAbs = 0;
            for (int p = 0; p < kk; p++) {
                double av = ta ? a[aOff + p * lda + ii] : a[aOff + ii * lda + p];
                double bv = tb ? b[bOff + jj * ldb + p] : b[bOff + p * ldb + jj];
                sumAbs += Math.abs(av * bv);
            }
            double tol = 2 * gamma(kk + 2 * slices) * (Math.abs(alpha) * sumAbs + Math.abs(c0[i]));
            assertThat(Math.abs(got[i] - ref[i])).as("C[%d, %d] %s", ii, jj, at).isLessThanOrEqualTo(tol);
        }
    }
}

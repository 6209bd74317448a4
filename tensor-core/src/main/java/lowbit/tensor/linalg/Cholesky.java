package lowbit.tensor.linalg;

import java.util.Objects;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.DoubleKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * Cholesky factorization and triangular inversion of dense n×n double matrices (row-major, in place): the linear
 * algebra behind GPTQ's H⁻¹ factor (Frantar et al. 2022) and any other least-squares method of lowbit.
 *
 * <ul>
 *   <li>{@link #factorLower}: A = L·Lᵀ for symmetric positive definite A, L lower triangular with a positive
 *       diagonal — LAPACK's {@code dpotrf('L')}. Blocked right-looking: per panel of {@value #NB} columns, the
 *       diagonal block is factored by the left-looking recurrence l_jj = √(a_jj − Σ_p l_jp²),
 *       l_ij = (a_ij − Σ_p l_ip·l_jp)/l_jj; the panel below it, L₂₁ = A₂₁·L₁₁⁻ᵀ, by forward substitution on its
 *       transpose (axpys along contiguous rows, in parallel over columns); then the trailing lower triangle is
 *       updated A₂₂ ← A₂₂ − L₂₁·L₂₁ᵀ by the double GEMM kernel in row blocks, in parallel.</li>
 *   <li>{@link #invertLower}: L ← L⁻¹ — {@code dtrtri('L')}. By block rows I: X_I,<I = −L_II⁻¹·(L_I,<I·X_<I,<I)
 *       (GEMM over the non-zero lower part of X only, then a forward substitution), X_II = L_II⁻¹.</li>
 * </ul>
 * Both cost n³/6 multiply-adds (n³/3 flops). Every element is computed by one fixed sequence of operations whatever
 * the thread count, so the results are bit-identical for 1 or many threads (given the same kernel provider).
 *
 * <p>Accuracy (Higham, <i>Accuracy and Stability of Numerical Algorithms</i>, Thm 10.3 and §8.3): the computed L
 * satisfies L·Lᵀ = A + ΔA with |ΔA| ≤ γ_(n+1)·|L|·|Lᵀ|; the triangular inverse is accurate to about
 * κ(L)·n·u relative to |L⁻¹|. With u = 2⁻⁵³ this is what GPTQ needs even for badly conditioned Hessians.
 */
public final class Cholesky {
    /** Panel width (columns factored per step; the k of the trailing GEMM). */
    static final int NB = 128;
    /** Rows per parallel task of the trailing update. */
    private static final int ROW_BLOCK = 256;
    /** Columns of the transposed panel per parallel task of the factor's triangular solve. */
    private static final int SOLVE_COLUMNS = 512;
    /** Columns per parallel task of the inverse's GEMM and forward substitution. */
    private static final int COL_BLOCK = 256;
    private static final DoubleKernels K = VectorizationProvider.get().doubles();

    private Cholesky() {
    }

    private static void check(String op, double[] a, int n) {
        Objects.requireNonNull(a, op + ": matrix is null");
        if (n < 0) {
            throw new IllegalArgumentException(op + ": negative size " + n);
        }
        if (a.length != (long) n * n) {
            throw new IllegalArgumentException(op + ": " + a.length + " values for a " + n + "x" + n + " matrix, expected "
                    + (long) n * n);
        }
    }

    /**
     * Factors the symmetric positive definite A (row-major n×n, only its lower triangle is read) as A = L·Lᵀ in
     * place: on success the lower triangle holds L, the strictly upper triangle is set to 0, and the result is −1.
     * When a pivot a_jj − Σ_p l_jp² is not positive (or not finite: NaN and ±∞ inputs end here), the factorization
     * stops and returns that column j — A's leading j×j block is numerically positive definite, the (j+1)×(j+1)
     * one is not; the contents of {@code a} are then unspecified (keep a copy to retry, e.g. with more damping).
     *
     * @return −1 on success, else the first failing column
     * @throws IllegalArgumentException when {@code a.length != n·n}
     */
    public static int factorLower(double[] a, int n) {
        check("cholesky", a, n);
        for (int start = 0; start < n; start += NB) {
            int j0 = start;
            int j1 = Math.min(n, j0 + NB);
            int fail = factorDiagonalBlock(a, n, j0, j1);
            if (fail >= 0) {
                return fail;
            }
            if (j1 == n) {
                break;
            }
            // the panel below the diagonal block, transposed: P[p, i] = A[j1 + i, j0 + p] (nb × m), so that the
            // triangular solve and the trailing update run over contiguous rows of P
            int m = n - j1;
            int nb = j1 - j0;
            double[] pt = new double[nb * m];
            for (int i = 0; i < m; i++) {
                int src = (j1 + i) * n + j0;
                for (int p = 0; p < nb; p++) {
                    pt[p * m + i] = a[src + p];
                }
            }
            // L21 = A21·L11⁻ᵀ, i.e. P ← L11⁻¹·P by forward substitution: P[p, :] = (P[p, :] − Σ_{q<p} l_pq·P[q, :])/l_pp
            Parallel.forRange(0, m, SOLVE_COLUMNS, (from, to) -> {
                int c0 = (int) from;
                int len = (int) (to - from);
                for (int p = 0; p < nb; p++) {
                    int lp = (j0 + p) * n + j0;
                    for (int q = 0; q < p; q++) {
                        K.axpy(-a[lp + q], pt, q * m + c0, pt, p * m + c0, len);
                    }
                    double inv = a[lp + p];
                    for (int c = c0; c < c0 + len; c++) {
                        pt[p * m + c] /= inv;
                    }
                }
            });
            for (int i = 0; i < m; i++) {
                int dst = (j1 + i) * n + j0;
                for (int p = 0; p < nb; p++) {
                    a[dst + p] = pt[p * m + i];
                }
            }
            int blocks = (m + ROW_BLOCK - 1) / ROW_BLOCK;
            Parallel.forRange(0, blocks, 1, (t0, t1) -> {
                for (long t = t0; t < t1; t++) {
                    int b = blocks - 1 - (int) t; // largest (bottom) blocks first, for balance
                    int r0 = b * ROW_BLOCK;
                    int r1 = Math.min(m, r0 + ROW_BLOCK);
                    // A[j1+r0 : j1+r1, j1 : j1+r1] −= L21[r0:r1]·L21[0:r1]ᵀ = P[:, r0:r1]ᵀ·P[:, 0:r1] (the diagonal
                    // tile in full; its upper part is never read)
                    K.gemm(true, false, r1 - r0, r1, nb, -1.0, pt, r0, m, pt, 0, m, a, (j1 + r0) * n + j1, n);
                }
            });
        }
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(a, i * n + i + 1, (i + 1) * n, 0.0);
        }
        return -1;
    }

    /** Left-looking factorization of the diagonal block [j0, j1): returns the failing column or −1. */
    private static int factorDiagonalBlock(double[] a, int n, int j0, int j1) {
        for (int j = j0; j < j1; j++) {
            int rj = j * n;
            double d = a[rj + j] - K.dot(a, rj + j0, a, rj + j0, j - j0);
            if (!(d > 0) || d == Double.POSITIVE_INFINITY) {
                return j;
            }
            double ljj = Math.sqrt(d);
            a[rj + j] = ljj;
            for (int i = j + 1; i < j1; i++) {
                int ri = i * n;
                a[ri + j] = (a[ri + j] - K.dot(a, ri + j0, a, rj + j0, j - j0)) / ljj;
            }
        }
        return -1;
    }

    /**
     * Replaces the lower-triangular L (row-major n×n, positive diagonal, strictly upper triangle zero — as
     * {@link #factorLower} leaves it) by L⁻¹ in place (also lower triangular; the upper triangle stays zero).
     *
     * @throws IllegalArgumentException when {@code a.length != n·n}, or a diagonal entry is not positive and finite
     *     (named)
     */
    public static void invertLower(double[] a, int n) {
        check("triangular inverse", a, n);
        for (int i = 0; i < n; i++) {
            double d = a[i * n + i];
            if (!(d > 0) || d == Double.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("triangular inverse: diagonal entry " + i + " is " + d
                        + ", expected positive and finite");
            }
        }
        double[] c = new double[Math.min(NB, n) * n];
        for (int i0 = 0; i0 < n; i0 += NB) {
            int i1 = Math.min(n, i0 + NB);
            int nb = i1 - i0;
            int ld = i0; // C is nb x i0, row-major
            if (i0 > 0) {
                java.util.Arrays.fill(c, 0, nb * ld, 0.0);
                int blocks = (i0 + COL_BLOCK - 1) / COL_BLOCK;
                int base = i0;
                Parallel.forRange(0, blocks, 1, (t0, t1) -> {
                    for (long t = t0; t < t1; t++) {
                        int c0 = (int) t * COL_BLOCK;
                        int c1 = Math.min(base, c0 + COL_BLOCK);
                        // C[:, c0:c1] = L[I, c0:i0] · X[c0:i0, c0:c1]  (X[p, j] = 0 for p < j, so p starts at c0)
                        K.gemm(false, false, nb, c1 - c0, base - c0, 1.0, a, base * n + c0, n, a, c0 * n + c0, n, c,
                                c0, ld);
                        // Y = L_II⁻¹ C on these columns (X[I, c0:c1] = −Y)
                        for (int r = 0; r < nb; r++) {
                            int lr = (base + r) * n + base;
                            for (int q = 0; q < r; q++) {
                                K.axpy(-a[lr + q], c, q * ld + c0, c, r * ld + c0, c1 - c0);
                            }
                            double inv = a[lr + r];
                            for (int j = c0; j < c1; j++) {
                                c[r * ld + j] /= inv;
                            }
                        }
                    }
                });
                // written only now: every task above reads L[I, c0:i0], which these rows still hold
                for (int r = 0; r < nb; r++) {
                    int row = (i0 + r) * n;
                    for (int j = 0; j < i0; j++) {
                        a[row + j] = -c[r * ld + j];
                    }
                }
            }
            invertDiagonalBlock(a, n, i0, nb);
        }
    }

    /** X_II = L_II⁻¹ for the nb×nb diagonal block at i0, column by column: x_jj = 1/l_jj, x_ij = −Σ l_iq·x_qj / l_ii. */
    private static void invertDiagonalBlock(double[] a, int n, int i0, int nb) {
        double[] x = new double[nb * nb];
        for (int j = 0; j < nb; j++) {
            x[j * nb + j] = 1 / a[(i0 + j) * n + i0 + j];
            for (int i = j + 1; i < nb; i++) {
                int li = (i0 + i) * n + i0;
                double s = 0;
                for (int q = j; q < i; q++) {
                    s += a[li + q] * x[q * nb + j];
                }
                x[i * nb + j] = -s / a[li + i];
            }
        }
        for (int i = 0; i < nb; i++) {
            System.arraycopy(x, i * nb, a, (i0 + i) * n + i0, i + 1);
        }
    }
}

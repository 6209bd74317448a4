package lowbit.nn.adapter;

import java.util.Objects;
import java.util.SplittableRandom;
import lowbit.tensor.linalg.Gemm;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * The k leading singular triplets of a dense matrix W [m, n] ≈ U_k·diag(σ)·V_kᵀ, σ₁ ≥ … ≥ σ_k ≥ 0:
 * <ul>
 *   <li>{@link #exact}: a full thin SVD in double with EJML ({@code org.ejml}, Golub–Kahan bidiagonalisation and
 *       implicit QR), truncated — O(m·n·min(m, n)), seconds at 1024², minutes at 4096²;</li>
 *   <li>{@link #randomized}: Halko, Martinsson &amp; Tropp, <i>Finding Structure with Randomness</i> (SIAM Review 2011),
 *       Algorithm 4.4 (randomized subspace iteration, re-orthonormalised every half step, as {@code torch.svd_lowrank}):
 *       Y = W·Ω with Gaussian Ω [n, q], q = k + oversampling; Q = qr(Y); niter times Q = qr(W·qr(Wᵀ·Q)); then the
 *       exact SVD of the small Qᵀ·W [q, n]. The products with W run on lowbit's float GEMM (O(m·n·q) per pass), the
 *       small factorisations in double: the route for large W.</li>
 * </ul>
 * Singular vectors are determined up to sign (and rotation within repeated singular values); the products
 * U·diag(σ)·Vᵀ are what adapters use.
 */
public final class Svd {
    private Svd() {
    }

    /**
     * The leading triplets.
     *
     * @param u U_k, m×k row-major
     * @param s σ₁..σ_k, descending
     * @param vt V_kᵀ, k×n row-major
     */
    public record Result(double[] u, double[] s, double[] vt, int m, int n, int k) {
    }

    /**
     * The k leading triplets of the row-major m×n {@code w}, from a full SVD.
     *
     * @throws IllegalArgumentException for k outside [1, min(m, n)] or a wrong length
     */
    public static Result exact(float[] w, int m, int n, int k) {
        check(w, m, n, k);
        double[] a = new double[w.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = w[i];
        }
        return exactOf(a, m, n, k);
    }

    private static Result exactOf(double[] a, int m, int n, int k) {
        DMatrixRMaj mat = DMatrixRMaj.wrap(m, n, a);
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(m, n, true, true, true);
        if (!svd.decompose(mat)) {
            throw new IllegalStateException("SVD of a " + m + "×" + n + " matrix did not converge");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj wDiag = svd.getW(null);
        DMatrixRMaj v = svd.getV(null, false);
        SingularOps_DDRM.descendingOrder(u, false, wDiag, v, false);
        double[] uk = new double[m * k];
        double[] s = new double[k];
        double[] vt = new double[k * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < k; j++) {
                uk[i * k + j] = u.get(i, j);
            }
        }
        for (int j = 0; j < k; j++) {
            s[j] = wDiag.get(j, j);
            for (int c = 0; c < n; c++) {
                vt[j * n + c] = v.get(c, j);
            }
        }
        return new Result(uk, s, vt, m, n, k);
    }

    /**
     * The k leading triplets of the row-major m×n {@code w} by randomized subspace iteration.
     *
     * @param oversampling extra basis columns (q = min(k + oversampling, m, n); {@code torch.svd_lowrank} as PEFT calls
     *     it uses 0)
     * @param niter power iterations (PEFT's {@code pissa_niter_K}; 2–4 is typical)
     * @param seed the seed of Ω
     * @throws IllegalArgumentException for k outside [1, min(m, n)], a negative oversampling or niter, a wrong length
     */
    public static Result randomized(float[] w, int m, int n, int k, int oversampling, int niter, long seed) {
        check(w, m, n, k);
        if (oversampling < 0 || niter < 0) {
            throw new IllegalArgumentException("randomized SVD: oversampling " + oversampling + " and niter " + niter
                    + " must be non-negative");
        }
        int q = Math.min(k + oversampling, Math.min(m, n));
        SplittableRandom rng = new SplittableRandom(seed);
        float[] omega = Init.gaussian(n * q, 1, rng);
        float[] y = new float[m * q];
        Gemm.gemm(false, false, m, q, n, 1f, w, 0, n, omega, 0, q, 0f, y, 0, q); // Y = W·Ω
        float[] basis = orthonormal(y, m, q);
        float[] z = new float[n * q];
        for (int it = 0; it < niter; it++) {
            Gemm.gemm(true, false, n, q, m, 1f, w, 0, n, basis, 0, q, 0f, z, 0, q); // Z = Wᵀ·Q
            float[] zq = orthonormal(z, n, q);
            Gemm.gemm(false, false, m, q, n, 1f, w, 0, n, zq, 0, q, 0f, y, 0, q); // Y = W·Z
            basis = orthonormal(y, m, q);
        }
        float[] b = new float[q * n];
        Gemm.gemm(true, false, q, n, m, 1f, basis, 0, q, w, 0, n, 0f, b, 0, n); // B = Qᵀ·W [q, n]
        // SVD of the wide B through the QR of Bᵀ = Q̃·R̃ (n×q, q×q): B = R̃ᵀ·Q̃ᵀ, so with R̃ᵀ = U_s·Σ·V_sᵀ,
        // U = Q·U_s and Vᵀ = V_sᵀ·Q̃ᵀ — O(n·q²) instead of a full SVD of a q×n matrix
        double[] bt = new double[n * q];
        for (int t = 0; t < q; t++) {
            for (int c = 0; c < n; c++) {
                bt[c * q + t] = b[t * n + c];
            }
        }
        HouseholderQr.Result qr = HouseholderQr.leading(bt, n, q, q);
        double[] rt = new double[q * q];
        for (int i = 0; i < q; i++) {
            for (int j = 0; j < q; j++) {
                rt[j * q + i] = qr.r()[i * q + j];
            }
        }
        Result small = exactOf(rt, q, q, k);
        double[] vt = new double[k * n];
        for (int j = 0; j < k; j++) {
            for (int c = 0; c < n; c++) {
                double sum = 0;
                for (int t = 0; t < q; t++) {
                    sum += small.vt()[j * q + t] * qr.q()[c * q + t];
                }
                vt[j * n + c] = sum;
            }
        }
        double[] u = new double[m * k]; // U = Q·U_s
        for (int i = 0; i < m; i++) {
            for (int t = 0; t < q; t++) {
                double qv = basis[i * q + t];
                for (int j = 0; j < k; j++) {
                    u[i * k + j] += qv * small.u()[t * k + j];
                }
            }
        }
        return new Result(u, small.s(), vt, m, n, k);
    }

    private static float[] orthonormal(float[] y, int rows, int cols) {
        double[] d = new double[y.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = y[i];
        }
        double[] q = HouseholderQr.leading(d, rows, cols, cols).q();
        float[] f = new float[q.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) q[i];
        }
        return f;
    }

    private static void check(float[] w, int m, int n, int k) {
        Objects.requireNonNull(w, "matrix");
        if (m < 0 || n < 0 || (long) m * n != w.length) {
            throw new IllegalArgumentException("SVD: matrix has " + w.length + " elements, expected " + m + "×" + n);
        }
        if (k < 1 || k > Math.min(m, n)) {
            throw new IllegalArgumentException("SVD: rank " + k + " is outside [1, min(m, n) = " + Math.min(m, n) + "]");
        }
    }
}

package lowbit.quant;

import java.util.Objects;
import lowbit.tensor.linalg.Cholesky;

/**
 * The factor that the optimal-brain-surgeon sweeps (GPTQ, SparseGPT) update with: for the proxy Hessian
 * H = 2XᵀX/N of a layer's inputs, the upper-triangular U with (H + λI)⁻¹ = UᵀU, optionally for the columns in a
 * processing order P (then of P·(H + λI)·Pᵀ). Column i's error w_i − q_i divided by U_ii, times row i of U, is the
 * optimal update of the columns after i (Frantar et al. 2022, GPTQ §3; Frantar &amp; Alistarh 2023, SparseGPT §3).
 *
 * <p>Steps, as the reference implementations (IST-DASLab/gptq and /sparsegpt): dead inputs (H_jj = 0) get H_jj = 1
 * and no off-diagonal terms (their weights are zeroed by the caller); λ = {@code damp}·mean(diag H); if H + λI is not
 * positive definite in floating point (Cholesky meets a pivot ≤ 0) λ is multiplied by 10 and the factorization
 * retried, up to {@value #MAX_RETRIES} times. U is computed without forming H⁻¹: with J the reversal permutation,
 * J·H·J = L̃L̃ᵀ gives H = V·Vᵀ with V = J·L̃·J upper triangular, so U = V⁻¹ = J·L̃⁻¹·J — one Cholesky factorization
 * and one triangular inverse ({@link Cholesky}, in double), where the reference factors, inverts and factors again.
 * U is returned in float (the reference keeps H⁻¹ in float32), row-major n×n, zero below the diagonal.
 */
public final class InverseHessian {
    /** How many times λ is multiplied by 10 when H + λI is not positive definite. */
    public static final int MAX_RETRIES = 12;

    /**
     * The factor and how it was obtained.
     *
     * @param u U, row-major [n, n] in the processing order (zero below the diagonal)
     * @param lambda the damping λ finally added to the diagonal
     * @param retries how many times λ was increased
     * @param dead dead[j] for input j (natural order): H_jj was 0
     */
    public record Factor(float[] u, double lambda, int retries, boolean[] dead) {
        /** Number of dead inputs. */
        public int deadCount() {
            int c = 0;
            for (boolean d : dead) {
                if (d) {
                    c++;
                }
            }
            return c;
        }
    }

    private InverseHessian() {
    }

    /**
     * U for H (row-major [n, n], symmetric, non-negative diagonal) in the order {@code perm} (perm[i] = the input
     * processed i-th; null for natural order).
     *
     * @throws IllegalArgumentException for a wrong length, a negative or NaN diagonal entry, a damp outside [0, 1],
     *     a bad permutation, or an H that stays not positive definite after {@value #MAX_RETRIES} increases of λ
     */
    public static Factor upper(double[] h, int n, double damp, int[] perm) {
        Objects.requireNonNull(h, "hessian");
        if (n < 1 || h.length != (long) n * n) {
            throw new IllegalArgumentException("hessian has " + h.length + " entries, expected " + n + "x" + n);
        }
        if (!(damp >= 0 && damp <= 1)) {
            throw new IllegalArgumentException("damp must be in [0, 1] (a fraction of mean diag H), got " + damp);
        }
        int[] p = perm == null ? identity(n) : checkPerm(perm, n);
        boolean[] dead = new boolean[n];
        double[] diag = new double[n];
        double mean = 0;
        for (int j = 0; j < n; j++) {
            double d = h[j * n + j];
            if (!(d >= 0) || Double.isInfinite(d)) {
                throw new IllegalArgumentException("H[" + j + ", " + j + "] = " + d
                        + ": H = 2XᵀX/N has a finite non-negative diagonal");
            }
            if (d == 0) {
                dead[j] = true;
                d = 1;
            }
            diag[j] = d;
            mean += d;
        }
        mean /= n;
        double lambda = damp * mean;
        double[] a = new double[n * n];
        int retries = 0;
        for (;; retries++) {
            // a = J·P·(H + λI)·Pᵀ·J, lower triangle: a[i, j] = H[p[n−1−i], p[n−1−j]]
            for (int i = 0; i < n; i++) {
                int pi = p[n - 1 - i];
                for (int j = 0; j <= i; j++) {
                    int pj = p[n - 1 - j];
                    a[i * n + j] = pi == pj ? diag[pi] + lambda : (dead[pi] || dead[pj] ? 0 : h[pi * n + pj]);
                }
            }
            int fail = Cholesky.factorLower(a, n);
            if (fail < 0) {
                break;
            }
            if (retries == MAX_RETRIES) {
                throw new IllegalArgumentException("H + λI is not positive definite even with λ = " + lambda + " ("
                        + MAX_RETRIES + " increases of 10x from " + damp + " x mean diag H = " + mean + "); pivot "
                        + (n - 1 - fail) + " fails. Is H a Gram matrix?");
            }
            lambda = lambda > 0 ? lambda * 10 : 1e-4 * mean;
        }
        Cholesky.invertLower(a, n);
        float[] u = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                u[i * n + j] = (float) a[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        return new Factor(u, lambda, retries, dead);
    }

    private static int[] identity(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        return p;
    }

    private static int[] checkPerm(int[] perm, int n) {
        if (perm.length != n) {
            throw new IllegalArgumentException("permutation has " + perm.length + " entries, expected " + n);
        }
        boolean[] seen = new boolean[n];
        for (int v : perm) {
            if (v < 0 || v >= n || seen[v]) {
                throw new IllegalArgumentException("not a permutation of 0.." + (n - 1) + ": entry " + v);
            }
            seen[v] = true;
        }
        return perm;
    }
}

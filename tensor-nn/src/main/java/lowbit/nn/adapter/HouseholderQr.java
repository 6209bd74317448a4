package lowbit.nn.adapter;

import java.util.Objects;

/**
 * The first k columns of Q and the first k rows of R of the Householder QR factorisation A = Q·R of a dense m×n
 * matrix, in double (Golub &amp; Van Loan, <i>Matrix Computations</i>, §5.2). After k reflections, R's first k rows
 * and Q's first k columns are final, so the cost is O(k·m·n) rather than that of a full factorisation — what OLoRA
 * (r columns) and the randomized SVD (an m×q basis) need.
 *
 * <p>Sign convention of LAPACK's {@code dgeqrf}/{@code dlarfg} (and so of {@code torch.linalg.qr}): the reflector
 * for column j maps its sub-column to β·e_j with β = −sign(a_jj)·‖a_j:,j‖, so R's diagonal has the sign opposite to
 * the pivot; a zero sub-column gives the identity reflector (β = a_jj). With these conventions the factors are unique
 * for a matrix of full column rank k, and match PyTorch's up to rounding.
 */
public final class HouseholderQr {
    private HouseholderQr() {
    }

    /**
     * The leading factors.
     *
     * @param q Q[:, 0:k], m×k row-major, orthonormal columns
     * @param r R[0:k, :], k×n row-major, upper trapezoidal
     */
    public record Result(double[] q, double[] r, int m, int n, int k) {
    }

    /**
     * Factorises the row-major m×n matrix {@code a} (not modified) and returns Q[:, 0:k], R[0:k, :].
     *
     * @throws IllegalArgumentException for k outside [0, min(m, n)] or a length that is not m·n
     */
    public static Result leading(double[] a, int m, int n, int k) {
        Objects.requireNonNull(a, "matrix");
        if (m < 0 || n < 0 || (long) m * n != a.length) {
            throw new IllegalArgumentException("QR: matrix has " + a.length + " elements, expected " + m + "×" + n);
        }
        if (k < 0 || k > Math.min(m, n)) {
            throw new IllegalArgumentException("QR: k = " + k + " is outside [0, min(m, n) = " + Math.min(m, n) + "]");
        }
        double[] w = a.clone();
        double[] tau = new double[k];
        double[] acc = new double[n];
        for (int j = 0; j < k; j++) {
            double alpha = w[j * n + j];
            double ss = 0;
            for (int i = j + 1; i < m; i++) {
                double v = w[i * n + j];
                ss += v * v;
            }
            double xnorm = Math.sqrt(ss);
            if (xnorm == 0) {
                tau[j] = 0;
                continue;
            }
            double beta = -Math.copySign(Math.hypot(alpha, xnorm), alpha);
            tau[j] = (beta - alpha) / beta;
            double scale = 1 / (alpha - beta);
            for (int i = j + 1; i < m; i++) {
                w[i * n + j] *= scale;
            }
            w[j * n + j] = beta;
            // trailing columns c > j: a_c ← a_c − τ·v·(vᵀ·a_c), v = (1, w[j+1.., j]); row by row for contiguous access
            int c0 = j + 1;
            if (c0 < n) {
                for (int c = c0; c < n; c++) {
                    acc[c] = w[j * n + c];
                }
                for (int i = j + 1; i < m; i++) {
                    double v = w[i * n + j];
                    int row = i * n;
                    for (int c = c0; c < n; c++) {
                        acc[c] += v * w[row + c];
                    }
                }
                double t = tau[j];
                for (int c = c0; c < n; c++) {
                    w[j * n + c] -= t * acc[c];
                }
                for (int i = j + 1; i < m; i++) {
                    double tv = t * w[i * n + j];
                    int row = i * n;
                    for (int c = c0; c < n; c++) {
                        w[row + c] -= tv * acc[c];
                    }
                }
            }
        }
        double[] r = new double[k * n];
        for (int i = 0; i < k; i++) {
            for (int c = i; c < n; c++) {
                r[i * n + c] = w[i * n + c];
            }
        }
        // Q[:, 0:k] = H_0 … H_{k-1} · I[:, 0:k], applied from the last reflector
        double[] q = new double[m * k];
        for (int i = 0; i < k; i++) {
            q[i * k + i] = 1;
        }
        double[] qa = new double[k];
        for (int j = k - 1; j >= 0; j--) {
            double t = tau[j];
            if (t == 0) {
                continue;
            }
            for (int c = 0; c < k; c++) {
                qa[c] = q[j * k + c];
            }
            for (int i = j + 1; i < m; i++) {
                double v = w[i * n + j];
                for (int c = 0; c < k; c++) {
                    qa[c] += v * q[i * k + c];
                }
            }
            for (int c = 0; c < k; c++) {
                q[j * k + c] -= t * qa[c];
            }
            for (int i = j + 1; i < m; i++) {
                double tv = t * w[i * n + j];
                for (int c = 0; c < k; c++) {
                    q[i * k + c] -= tv * qa[c];
                }
            }
        }
        return new Result(q, r, m, n, k);
    }
}

package lowbit.nn.adapter;

import lowbit.tensor.linalg.Gemm;

/**
 * The products of a low-rank update {@code Δy = c·(X·Aᵀ)·Bᵀ} and its backward, on lowbit's GEMM, never forming
 * ΔW = B·A: A [rMax, in] and B [out, rMax] row-major, of which the first r ranks are used (DyLoRA truncates), X [n, in].
 * <pre>
 *   forward   XA = X·A_rᵀ [n, r];  Y += c·XA·B_rᵀ
 *   backward  dB_k += c·dYᵀ·XA_k;  G = dY·B_r [n, r];  dA_k += c·G_kᵀ·X;  dX += c·G·A_r
 * </pre>
 * k ranges over the trained ranks [k0, k1) ⊆ [0, r) (all of them, or DyLoRA's newest one).
 */
final class LowRank {
    private LowRank() {
    }

    /**
     * Up to this many rows of X (a few tokens, decoding), the two thin products are written with the small operand
     * first — (A·Xᵀ)ᵀ and (XAᵀ)ᵀ·Bᵀ — so that they take the GEMM's sequential small-product path instead of its
     * weight-streaming few-rows path, which fans out to the thread pool: at these sizes (≈ n·r·(in + out) flops) the
     * thread hand-off costs more than the arithmetic.
     */
    static final int FEW_ROWS = 8;

    /** XA = X·A[0:r]ᵀ, a new [n, r] array. */
    static float[] down(float[] x, int n, int in, float[] a, int r) {
        float[] xa = new float[Math.multiplyExact(n, r)];
        if (n <= FEW_ROWS) {
            float[] t = new float[xa.length];
            Gemm.gemm(false, true, r, n, in, 1f, a, 0, in, x, 0, in, 0f, t, 0, n); // (A·Xᵀ) [r, n]
            for (int k = 0; k < r; k++) {
                for (int i = 0; i < n; i++) {
                    xa[i * r + k] = t[k * n + i];
                }
            }
            return xa;
        }
        Gemm.gemm(false, true, n, r, in, 1f, x, 0, in, a, 0, in, 0f, xa, 0, r);
        return xa;
    }

    /** Y += c·XA·B[:, 0:r]ᵀ, B [out, ldb]. */
    static void up(float[] xa, int n, int r, float c, float[] b, int ldb, int out, float[] y) {
        if (n <= FEW_ROWS) {
            float[] t = new float[xa.length]; // XAᵀ [r, n], read transposed
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < r; k++) {
                    t[k * n + i] = xa[i * r + k];
                }
            }
            Gemm.gemm(true, true, n, out, r, c, t, 0, n, b, 0, ldb, 1f, y, 0, out);
            return;
        }
        Gemm.gemm(false, true, n, out, r, c, xa, 0, r, b, 0, ldb, 1f, y, 0, out);
    }

    /** dB[:, k0:k1] += c·dYᵀ·XA[:, k0:k1]; dB is [out, ldb], XA [n, r]. */
    static void gradB(float[] dy, int n, int out, float[] xa, int r, int k0, int k1, float c, float[] gb, int ldb) {
        Gemm.gemm(true, false, out, k1 - k0, n, c, dy, 0, out, xa, k0, r, 1f, gb, k0, ldb);
    }

    /** G = dY·B[:, 0:r], a new [n, r] array. */
    static float[] back(float[] dy, int n, int out, float[] b, int ldb, int r) {
        float[] g = new float[Math.multiplyExact(n, r)];
        Gemm.gemm(false, false, n, r, out, 1f, dy, 0, out, b, 0, ldb, 0f, g, 0, r);
        return g;
    }

    /** dA[k0:k1, :] += c·G[:, k0:k1]ᵀ·X; dA is [rMax, in], G [n, r]. */
    static void gradA(float[] g, int n, int r, int k0, int k1, float c, float[] x, int in, float[] ga) {
        Gemm.gemm(true, false, k1 - k0, in, n, c, g, k0, r, x, 0, in, 1f, ga, k0 * in, in);
    }

    /** dX += c·G·A[0:r] (times the dropout mask when {@code drop} is not null). */
    static void gradX(float[] g, int n, int r, float c, float[] a, int in, float[] dx, Dropout drop, long seed) {
        if (drop == null) {
            Gemm.gemm(false, false, n, in, r, c, g, 0, r, a, 0, in, 1f, dx, 0, in);
            return;
        }
        float[] t = new float[dx.length];
        Gemm.gemm(false, false, n, in, r, c, g, 0, r, a, 0, in, 0f, t, 0, in);
        drop.maskInPlace(t, t.length, seed);
        for (int i = 0; i < t.length; i++) {
            dx[i] += t[i];
        }
    }

    /** w [out, in] += c·B[:, 0:r]·A[0:r] (a dense merge). */
    static void addProduct(float[] b, int ldb, float[] a, int r, int out, int in, float c, float[] w) {
        Gemm.gemm(false, false, out, in, r, c, b, 0, ldb, a, 0, in, 1f, w, 0, in);
    }
}

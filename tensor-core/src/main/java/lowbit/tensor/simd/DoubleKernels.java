package lowbit.tensor.simd;

/**
 * Double-precision kernels for the algorithms that need more than float (Hessians, Cholesky factors and their
 * inverses: GPTQ, RSQ). Matrices are row-major double arrays with an element offset and a leading dimension, as in
 * BLAS: element (i, j) of a stored matrix X is {@code x[xOff + i·ldx + j]}.
 *
 * <p>Implementations are sequential and trust their arguments: {@link lowbit.tensor.linalg.Cholesky} is the
 * validated user, and splits work across threads itself. Vector implementations sum in a different order than the
 * scalar twin {@link ScalarDoubleKernels}: results agree within the double summation bound γ_n·Σ|aᵢbᵢ|
 * (u = 2⁻⁵³), not bitwise. Each result depends only on the arguments, never on the thread, the call or the JIT tier
 * that runs it (no cross-lane reduction of unspecified order).
 */
public interface DoubleKernels {
    /** Σ a[aOff+i]·b[bOff+i] for i in [0, n). */
    double dot(double[] a, int aOff, double[] b, int bOff, int n);

    /** y[yOff+i] += alpha·x[xOff+i] for i in [0, n). */
    void axpy(double alpha, double[] x, int xOff, double[] y, int yOff, int n);

    /**
     * {@code C += α·op(A)·op(B)} where op(A) is m×k, op(B) is k×n and C is m×n (there is no β: C is always read and
     * accumulated into). {@code op(A) = Aᵀ} when {@code transA} (A is then stored k×m), likewise for B. C must not
     * overlap A or B (they may be disjoint regions of one array).
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha, double[] a, int aOff, int lda,
            double[] b, int bOff, int ldb, double[] c, int cOff, int ldc);
}

package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import lowbit.tensor.DType;

/**
 * Dense matrix kernels: matrix-vector products (GEMV) over a range of rows, and the general matrix product (GEMM)
 * {@code C = α·op(A)·op(B) + β·C}. Matrices are row-major with a leading dimension (the distance in elements between
 * the starts of two consecutive rows) and an element offset, as in BLAS. The weight operand (W of GEMV, B of GEMM)
 * may be F32, F16 or BF16, stored in a {@code float[]}, a {@code short[]} (raw half bits) or a little-endian
 * {@link MemorySegment} (possibly memory-mapped and larger than 2^31 bytes: its offsets are {@code long}); half
 * precision values are widened to float inside the loop, never copied to a float matrix.
 *
 * <p>Implementations trust their arguments: {@link lowbit.tensor.linalg.Gemv} and {@link lowbit.tensor.linalg.Gemm}
 * are the validated entry points. GEMV methods are sequential (the caller splits rows across threads); each row's
 * dot product is computed in an order that depends only on the row length, so a row gives the same bits whichever
 * call or thread computes it. GEMM methods may run in parallel on {@link lowbit.tensor.parallel.Parallel}. Vector
 * implementations sum in a different order than the scalar twin {@link ScalarDenseKernels}: results agree within
 * the usual summation error bound, not bitwise.
 */
public interface DenseKernels {
    /**
     * {@code y[yOff + r] = Σ_c W[r, c]·x[xOff + c]} for {@code r ∈ [rowFrom, rowTo)}, {@code c ∈ [0, cols)}, with
     * {@code W[r, c] = w[wOff + r·ldw + c]}.
     */
    void gemvRows(float[] w, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff, int rowFrom, int rowTo);

    /**
     * {@link #gemvRows(float[], int, int, float[], int, int, float[], int, int, int) gemvRows} for a weight of raw
     * F16 or BF16 bits ({@code type} says which).
     */
    void gemvRows(short[] w, DType type, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int rowFrom, int rowTo);

    /**
     * {@link #gemvRows(float[], int, int, float[], int, int, float[], int, int, int) gemvRows} for a little-endian
     * F32, F16 or BF16 weight in a segment; {@code wOff} and {@code ldw} count elements of {@code type}.
     */
    void gemvRows(MemorySegment w, DType type, long wOff, long ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int rowFrom, int rowTo);

    /**
     * {@code C = α·op(A)·op(B) + β·C} where op(A) is m×k, op(B) is k×n and C is m×n. {@code op(A) = Aᵀ} when
     * {@code transA} (then A is stored k×m), likewise for B. Element {@code (i, j)} of a stored matrix X is
     * {@code x[xOff + i·ldx + j]}. When β = 0, C is not read (NaNs in it do not propagate), as in BLAS.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc);

    /** {@link #gemm(boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int) gemm} with B of raw F16 or BF16 bits. */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            short[] b, DType bType, int bOff, int ldb, float beta, float[] c, int cOff, int ldc);

    /**
     * {@link #gemm(boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int) gemm}
     * with B a little-endian F32, F16 or BF16 segment; {@code bOff} and {@code ldb} count elements of {@code bType}.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            MemorySegment b, DType bType, long bOff, long ldb, float beta, float[] c, int cOff, int ldc);

    /**
     * The F32 weight {@code W [n, k]} ({@code W[j, p] = w[wOff + j·ldw + p]}) packed once for
     * {@link #gemmPacked}, in this implementation's panel width. Runs on {@link lowbit.tensor.parallel.Parallel}.
     */
    PackedPanels packTransposed(float[] w, int wOff, int ldw, int n, int k);

    /** {@link #packTransposed(float[], int, int, int, int) packTransposed} for a little-endian F32/F16/BF16 segment. */
    PackedPanels packTransposed(MemorySegment w, DType type, long wOff, long ldw, int n, int k);

    /**
     * {@code C = α·A·Wᵀ + bias + β·C} for A [m, k] ({@code a[aOff + i·lda + p]}), W the packed {@code [n, k]} weight,
     * bias [n] added to every row (or null) and C [m, n]; C is not read when β = 0, and a bias requires β = 0. The
     * result has the bits of filling C with the bias and running with β = 1. The panel width must be this
     * implementation's.
     */
    void gemmPacked(int m, float alpha, float[] a, int aOff, int lda, PackedPanels w, float[] bias, float beta,
            float[] c, int cOff, int ldc);

    /**
     * One head of scaled dot-product attention on strided rows (the caller keeps seqK and d small: the work is not
     * blocked for cache). For query rows i &lt; seqQ, keys j &lt; seqK and columns p &lt; d:
     * <pre>
     *   s_ij = Σ_p q[qOff + i·ld + p]·(scale·k[kOff + j·ld + p]) + bias[biasOff + i·biasRowStride + j]
     *   out[oOff + i·ld + p] = Σ_j softmax_j(s_i)·v[vOff + j·ld + p]
     * </pre>
     * (no bias term when {@code bias} is null; a row stride of 0 shares one bias row). {@code scratch} holds at least
     * {@link #attentionScratch(int, int)} floats. Exponentials are {@link ElementwiseMath#exp}.
     *
     * @return −1, or the first query row whose scores are all −∞ (no distribution; that row and the later ones are
     *     not written)
     */
    int attentionHead(int seqQ, int seqK, int d, float scale, float[] q, int qOff, float[] k, int kOff, float[] v,
            int vOff, int ld, float[] bias, int biasOff, int biasRowStride, float[] out, int oOff, float[] scratch);

    /** Scratch floats {@link #attentionHead} needs for seqK keys of d columns. */
    int attentionScratch(int seqK, int d);
}

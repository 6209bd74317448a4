package lowbit.tensor.linalg;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * Matrix products: the BLAS-style general product {@code C = α·op(A)·op(B) + β·C} and the linear-layer product
 * {@code Y = X·Wᵀ + b} (X [n, in], W [out, in] as in {@code nn.Linear}, Y [n, out]). A and C are float; B (the
 * weight) may be F32, F16 or BF16 in an array or a little-endian {@link MemorySegment}; half-precision weights are
 * widened to float while they are packed into cache-sized panels, never copied whole.
 *
 * <p>All matrices are row-major with an element offset and a leading dimension (distance between row starts), as in
 * BLAS: element (i, j) of a stored matrix X is {@code x[xOff + i·ldx + j]}. {@code op(X) = Xᵀ} when the matching
 * {@code trans} flag is set, and then X is stored k×m (A) or n×k (B). When β = 0, C is not read. The work runs on
 * {@link lowbit.tensor.parallel.Parallel} threads; with few rows in A (≤ 8, {@code A·Bᵀ}) the weight is streamed from
 * memory once.
 *
 * <p>Accuracy: every C element is a float-accumulated dot product of length k, so it differs from the exact result
 * by at most about {@code γ_k·|α|·Σ_p|a_ip·b_pj| + u·|β·c_ij|} (Higham, <i>Accuracy and Stability of Numerical
 * Algorithms</i>, §3.1), with γ_k = k·u/(1 − k·u), u = 2^-24.
 *
 * <p>Validation: negative sizes, storage too short for the stated shape and leading dimension, leading dimensions
 * smaller than a row, weights of a wrong dtype, and C being the same array as A or B throw
 * {@link IllegalArgumentException} or {@link IndexOutOfBoundsException} naming the shapes.
 */
public final class Gemm {
    private static final DenseKernels K = VectorizationProvider.get().dense();

    private Gemm() {
    }

    /** {@code C = α·op(A)·op(B) + β·C} for float A, B and C (see the class comment for the layout). */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff,
            int lda, float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        Objects.requireNonNull(b, "gemm: B is null");
        check(transA, transB, m, n, k, a, aOff, lda, bOff, ldb, b.length, c, cOff, ldc);
        MatrixChecks.notSame("gemm", c, "C", b, "B");
        K.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    /** {@code C = α·op(A)·op(B) + β·C} with B of raw F16 or BF16 bits ({@code bType}). */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff,
            int lda, short[] b, DType bType, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        Objects.requireNonNull(b, "gemm: B is null");
        MatrixChecks.weightType("gemm", bType, false);
        check(transA, transB, m, n, k, a, aOff, lda, bOff, ldb, b.length, c, cOff, ldc);
        K.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bType, bOff, ldb, beta, c, cOff, ldc);
    }

    /**
     * {@code C = α·op(A)·op(B) + β·C} with B a little-endian F32, F16 or BF16 segment; {@code bOff} and {@code ldb}
     * count elements of {@code bType}.
     */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff,
            int lda, MemorySegment b, DType bType, long bOff, long ldb, float beta, float[] c, int cOff, int ldc) {
        Objects.requireNonNull(b, "gemm: B is null");
        MatrixChecks.weightType("gemm", bType, true);
        check(transA, transB, m, n, k, a, aOff, lda, bOff, ldb, MatrixChecks.capacity(b, bType), c, cOff, ldc);
        MatrixChecks.notBehind("gemm", c, "C", b, "B");
        K.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bType, bOff, ldb, beta, c, cOff, ldc);
    }

    /** {@code Y = X·Wᵀ + bias}: X [n, in], F32 W [out, in], bias [out] or null, Y [n, out]; all dense. */
    public static void linear(float[] x, int n, int in, float[] w, int out, float[] bias, float[] y) {
        checkLinear(x, n, in, w == null ? -1 : w.length, out, bias, y, "F32");
        MatrixChecks.notSame("linear", y, "Y", w, "W");
        float beta = fillBias(bias, y, n, out);
        K.gemm(false, true, n, out, in, 1f, x, 0, in, w, 0, in, beta, y, 0, out);
    }

    /** {@code Y = X·Wᵀ + bias} with W [out, in] of raw F16 or BF16 bits ({@code type}). */
    public static void linear(float[] x, int n, int in, short[] w, DType type, int out, float[] bias, float[] y) {
        MatrixChecks.weightType("linear", type, false);
        checkLinear(x, n, in, w == null ? -1 : w.length, out, bias, y, type.name());
        float beta = fillBias(bias, y, n, out);
        K.gemm(false, true, n, out, in, 1f, x, 0, in, w, type, 0, in, beta, y, 0, out);
    }

    /**
     * {@code Y = X·Wᵀ + bias} with W [out, in] a little-endian F32, F16 or BF16 matrix starting at byte 0 of
     * {@code w} (which may be larger, e.g. a memory-mapped file).
     */
    public static void linear(float[] x, int n, int in, MemorySegment w, DType type, int out, float[] bias, float[] y) {
        Objects.requireNonNull(w, "linear: W is null");
        MatrixChecks.weightType("linear", type, true);
        Objects.requireNonNull(x, "linear: X is null");
        Objects.requireNonNull(y, "linear: Y is null");
        MatrixChecks.matrix("linear", type + " W [" + out + ", " + in + "]", out, in, 0, Math.max(1, in),
                MatrixChecks.capacity(w, type));
        checkLinear(x, n, in, -2, out, bias, y, type.name());
        MatrixChecks.notBehind("linear", y, "Y", w, "W");
        float beta = fillBias(bias, y, n, out);
        K.gemm(false, true, n, out, in, 1f, x, 0, in, w, type, 0, in, beta, y, 0, out);
    }

    /**
     * {@code Y = X·Wᵀ + bias} for a matrix tensor W [out, in] of dtype F32, F16 or BF16 (read in place from its
     * segment); X [n, in], bias [out] or null, Y [n, out].
     */
    public static void linear(float[] x, int n, Tensor w, float[] bias, float[] y) {
        int[] oi = MatrixChecks.matrixShape("linear", w);
        linear(x, n, oi[1], w.segment(), w.dtype(), oi[0], bias, y);
    }

    /**
     * {@code Y = X·Wᵀ + bias} with W a {@link PackedWeight} [out, in] (packed once, so no per-call packing of W):
     * X [n, in], bias [out] or null, Y [n, out].
     */
    public static void linear(float[] x, int n, PackedWeight w, float[] bias, float[] y) {
        Objects.requireNonNull(w, "linear: W is null");
        int in = w.inFeatures(), out = w.outFeatures();
        checkLinear(x, n, in, -2, out, bias, y, "packed " + w.sourceType());
        K.gemmPacked(n, 1f, x, 0, in, w.panels(), bias, 0f, y, 0, out); // the bias enters the first k-slice's epilogue
    }

    private static float fillBias(float[] bias, float[] y, int n, int out) {
        if (bias == null) {
            return 0f;
        }
        for (int i = 0; i < n; i++) {
            System.arraycopy(bias, 0, y, i * out, out);
        }
        return 1f;
    }

    /** wLength: the weight array's length, or -2 when W was checked by the caller. */
    private static void checkLinear(float[] x, int n, int in, long wLength, int out, float[] bias, float[] y,
            String wType) {
        String op = "linear";
        Objects.requireNonNull(x, "linear: X is null");
        Objects.requireNonNull(y, "linear: Y is null");
        if (wLength == -1) {
            throw new NullPointerException("linear: W is null");
        }
        MatrixChecks.nonNegative(op, "n", n);
        MatrixChecks.nonNegative(op, "in", in);
        MatrixChecks.nonNegative(op, "out", out);
        String shapes = "X [" + n + ", " + in + "] · Wᵀ (" + wType + " W [" + out + ", " + in + "]) = Y [" + n + ", "
                + out + "]";
        MatrixChecks.length(op, "X", x.length, (long) n * in, shapes);
        if (wLength >= 0) {
            MatrixChecks.length(op, "W", (int) wLength, (long) out * in, shapes);
        }
        MatrixChecks.length(op, "Y", y.length, (long) n * out, shapes);
        if (bias != null) {
            MatrixChecks.length(op, "bias", bias.length, out, shapes);
        }
        MatrixChecks.notSame(op, y, "Y", x, "X");
        MatrixChecks.notSame(op, y, "Y", bias, "bias");
    }

    private static void check(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, int lda,
            long bOff, long ldb, long bCapacity, float[] c, int cOff, int ldc) {
        String op = "gemm";
        Objects.requireNonNull(a, "gemm: A is null");
        Objects.requireNonNull(c, "gemm: C is null");
        if (m >= 0 && n >= 0 && k >= 0 && c != a
                && MatrixChecks.fits(transA ? k : m, transA ? m : k, aOff, lda, a.length)
                && MatrixChecks.fits(transB ? n : k, transB ? k : n, bOff, ldb, bCapacity)
                && MatrixChecks.fits(m, n, cOff, ldc, c.length)) {
            return; // valid: the messages below are built only for bad input
        }
        MatrixChecks.nonNegative(op, "m", m);
        MatrixChecks.nonNegative(op, "n", n);
        MatrixChecks.nonNegative(op, "k", k);
        String shapes = " (op(A) " + m + "×" + k + " · op(B) " + k + "×" + n + " = C " + m + "×" + n + ")";
        MatrixChecks.matrix(op, (transA ? "A (stored transposed)" : "A") + shapes, transA ? k : m, transA ? m : k, aOff, lda,
                a.length);
        MatrixChecks.matrix(op, (transB ? "B (stored transposed)" : "B") + shapes, transB ? n : k, transB ? k : n, bOff, ldb,
                bCapacity);
        MatrixChecks.matrix(op, "C" + shapes, m, n, cOff, ldc, c.length);
        MatrixChecks.notSame(op, c, "C", a, "A");
    }
}

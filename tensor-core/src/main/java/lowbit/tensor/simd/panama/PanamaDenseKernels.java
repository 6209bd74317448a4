package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import lowbit.tensor.DType;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.PackedPanels;

/**
 * Vector API dense kernels: GEMV rows from {@link PanamaGemv}, GEMM from {@link PanamaGemm}, and for
 * {@code C = α·A·Bᵀ + β·C} with at most {@link #SMALL_BATCH} rows of A (a linear layer on a few tokens) a path that
 * streams B (the weight) from memory once: B is cut into row blocks small enough to stay in L2, and each block runs
 * the GEMV kernel once per row of A. Small untransposed F32 products (m·n·k ≤ 2^16, k ≤ 256: attention heads) skip
 * packing altogether ({@link PanamaSmallGemm}). A weight packed once ({@link #packTransposed}) runs the blocked
 * kernel without its packing step ({@link PanamaGemm#gemmPacked}).
 */
final class PanamaDenseKernels implements DenseKernels {
    /** Largest m that takes the weight-streaming path. */
    static final int SMALL_BATCH = 8;
    /** Bytes of weight rows per block of the small-batch path (fits L2 next to the activations). */
    private static final int SMALL_BATCH_BLOCK_BYTES = 192 * 1024;

    @Override
    public void gemvRows(float[] w, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int rowFrom, int rowTo) {
        PanamaGemv.f32(w, wOff, ldw, x, xOff, cols, y, yOff, rowFrom, rowTo);
    }

    @Override
    public void gemvRows(short[] w, DType type, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int rowFrom, int rowTo) {
        PanamaHalfGemv.rows(w, type == DType.BF16, wOff, ldw, x, xOff, cols, y, yOff, rowFrom, rowTo);
    }

    @Override
    public void gemvRows(MemorySegment w, DType type, long wOff, long ldw, float[] x, int xOff, int cols, float[] y,
            int yOff, int rowFrom, int rowTo) {
        if (type == DType.F32) {
            PanamaGemv.f32(w, wOff, ldw, x, xOff, cols, y, yOff, rowFrom, rowTo);
        } else {
            PanamaHalfGemv.rows(w, type == DType.BF16, wOff, ldw, x, xOff, cols, y, yOff, rowFrom, rowTo);
        }
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        if (k > 0 && alpha != 0f && PanamaSmallGemm.fits(transA, transB, m, n, k)) {
            PanamaSmallGemm.gemm(m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            return;
        }
        run(transA, transB, m, n, k, alpha, a, aOff, lda, WeightSource.of(b, bOff, ldb), beta, c, cOff, ldc);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            short[] b, DType bType, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        run(transA, transB, m, n, k, alpha, a, aOff, lda, WeightSource.of(b, bType, bOff, ldb), beta, c, cOff, ldc);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            MemorySegment b, DType bType, long bOff, long ldb, float beta, float[] c, int cOff, int ldc) {
        run(transA, transB, m, n, k, alpha, a, aOff, lda, WeightSource.of(b, bType, bOff, ldb), beta, c, cOff, ldc);
    }

    @Override
    public PackedPanels packTransposed(float[] w, int wOff, int ldw, int n, int k) {
        return new PackedPanels(PanamaGemm.packPanels(WeightSource.of(w, wOff, ldw), n, k), PanamaGemm.NR, n, k);
    }

    @Override
    public PackedPanels packTransposed(MemorySegment w, DType type, long wOff, long ldw, int n, int k) {
        return new PackedPanels(PanamaGemm.packPanels(WeightSource.of(w, type, wOff, ldw), n, k), PanamaGemm.NR, n, k);
    }

    @Override
    public void gemmPacked(int m, float alpha, float[] a, int aOff, int lda, PackedPanels w, float[] bias, float beta,
            float[] c, int cOff, int ldc) {
        if (w.panelWidth() != PanamaGemm.NR) {
            throw new IllegalArgumentException("weight packed in panels of " + w.panelWidth() + " rows; this "
                    + Species.BITS + "-bit kernel needs " + PanamaGemm.NR);
        }
        PanamaGemm.gemmPacked(m, w.rows(), w.cols(), alpha, a, aOff, lda, w.data(), bias, beta, c, cOff, ldc);
    }

    @Override
    public int attentionHead(int seqQ, int seqK, int d, float scale, float[] q, int qOff, float[] k, int kOff,
            float[] v, int vOff, int ld, float[] bias, int biasOff, int biasRowStride, float[] out, int oOff,
            float[] scratch) {
        return PanamaAttention.head(seqQ, seqK, d, scale, q, qOff, k, kOff, v, vOff, ld, bias, biasOff, biasRowStride,
                out, oOff, scratch);
    }

    @Override
    public int attentionScratch(int seqK, int d) {
        return PanamaAttention.scratchLength(seqK, d);
    }

    private static void run(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff,
            int lda, WeightSource b, float beta, float[] c, int cOff, int ldc) {
        if (!transA && transB && m <= SMALL_BATCH && k > 0 && alpha != 0f) {
            smallBatch(m, n, k, alpha, a, aOff, lda, b, beta, c, cOff, ldc);
        } else {
            PanamaGemm.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, beta, c, cOff, ldc);
        }
    }

    private static void smallBatch(int m, int n, int k, float alpha, float[] a, int aOff, int lda, WeightSource b,
            float beta, float[] c, int cOff, int ldc) {
        int rows = Math.max(4, (SMALL_BATCH_BLOCK_BYTES / Math.max(1, k * Float.BYTES)) & ~3);
        Parallel.RangeBody body = (from, to) -> {
            int j0 = (int) from, j1 = (int) to;
            float[] y = new float[j1 - j0];
            for (int i = 0; i < m; i++) {
                b.gemvRows(a, aOff + i * lda, k, y, -j0, j0, j1);
                int row = cOff + i * ldc;
                for (int j = j0; j < j1; j++) {
                    float v = y[j - j0];
                    c[row + j] = beta == 0f ? alpha * v : alpha * v + beta * c[row + j];
                }
            }
        };
        if (b.shareable()) {
            Parallel.forRange(0, n, rows, body);
        } else {
            body.run(0, n); // a confined segment: only this thread may read it
        }
    }
}

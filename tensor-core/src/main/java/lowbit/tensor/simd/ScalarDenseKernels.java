package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import lowbit.tensor.DType;

/**
 * The scalar reference for {@link DenseKernels}: plain loops, each dot product summed left to right in float, one
 * thread. It is the fallback implementation and the twin the SIMD kernels are tested against.
 */
public final class ScalarDenseKernels implements DenseKernels {
    /** Little-endian, unaligned 16-bit raw half bits: how lowbit stores F16 and BF16 in segments. */
    public static final ValueLayout.OfShort HALF_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One stored weight element widened to float. */
    private interface Source {
        float at(long index);
    }

    private static Source source(float[] w) {
        return i -> w[(int) i];
    }

    private static Source source(short[] w, DType type) {
        return type == DType.BF16 ? i -> Float.intBitsToFloat(w[(int) i] << 16) : i -> Float.float16ToFloat(w[(int) i]);
    }

    private static Source source(MemorySegment w, DType type) {
        return switch (type) {
            case F32 -> i -> w.getAtIndex(ScalarFloatKernels.F32_LE, i);
            case BF16 -> i -> Float.intBitsToFloat(w.getAtIndex(HALF_LE, i) << 16);
            case F16 -> i -> Float.float16ToFloat(w.getAtIndex(HALF_LE, i));
            default -> throw new IllegalArgumentException("weights must be F32, F16 or BF16, got " + type);
        };
    }

    private static void gemv(Source w, long wOff, long ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int rowFrom, int rowTo) {
        for (int r = rowFrom; r < rowTo; r++) {
            float s = 0f;
            long row = wOff + r * ldw;
            for (int c = 0; c < cols; c++) {
                s += w.at(row + c) * x[xOff + c];
            }
            y[yOff + r] = s;
        }
    }

    private static void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff,
            int lda, Source b, long bOff, long ldb, float beta, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++) {
                    float av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    float bv = transB ? b.at(bOff + j * ldb + p) : b.at(bOff + p * ldb + j);
                    s += av * bv;
                }
                int ci = cOff + i * ldc + j;
                c[ci] = beta == 0f ? alpha * s : alpha * s + beta * c[ci];
            }
        }
    }

    @Override
    public void gemvRows(float[] w, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int rowFrom, int rowTo) {
        gemv(source(w), wOff, ldw, x, xOff, cols, y, yOff, rowFrom, rowTo);
    }

    @Override
    public void gemvRows(short[] w, DType type, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int rowFrom, int rowTo) {
        gemv(source(w, type), wOff, ldw, x, xOff, cols, y, yOff, rowFrom, rowTo);
    }

    @Override
    public void gemvRows(MemorySegment w, DType type, long wOff, long ldw, float[] x, int xOff, int cols, float[] y,
            int yOff, int rowFrom, int rowTo) {
        gemv(source(w, type), wOff, ldw, x, xOff, cols, y, yOff, rowFrom, rowTo);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        gemm(transA, transB, m, n, k, alpha, a, aOff, lda, source(b), bOff, ldb, beta, c, cOff, ldc);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            short[] b, DType bType, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        gemm(transA, transB, m, n, k, alpha, a, aOff, lda, source(b, bType), bOff, ldb, beta, c, cOff, ldc);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            MemorySegment b, DType bType, long bOff, long ldb, float beta, float[] c, int cOff, int ldc) {
        gemm(transA, transB, m, n, k, alpha, a, aOff, lda, source(b, bType), bOff, ldb, beta, c, cOff, ldc);
    }

    /** Width-1 panels: the weight itself as row-major floats. */
    @Override
    public PackedPanels packTransposed(float[] w, int wOff, int ldw, int n, int k) {
        return pack(source(w), wOff, ldw, n, k);
    }

    @Override
    public PackedPanels packTransposed(MemorySegment w, DType type, long wOff, long ldw, int n, int k) {
        return pack(source(w, type), wOff, ldw, n, k);
    }

    private static PackedPanels pack(Source w, long wOff, long ldw, int n, int k) {
        float[] d = new float[Math.multiplyExact(n, k)];
        for (int j = 0; j < n; j++) {
            for (int p = 0; p < k; p++) {
                d[j * k + p] = w.at(wOff + j * ldw + p);
            }
        }
        return new PackedPanels(d, 1, n, k);
    }

    /** The triple loop over panels of any width (it reads each element through {@link PackedPanels#get}). */
    @Override
    public void gemmPacked(int m, float alpha, float[] a, int aOff, int lda, PackedPanels w, float[] bias, float beta,
            float[] c, int cOff, int ldc) {
        if (bias != null && beta != 0f) {
            throw new IllegalArgumentException("gemmPacked: a bias needs beta = 0, got " + beta);
        }
        int n = w.rows(), k = w.cols();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++) {
                    s += a[aOff + i * lda + p] * w.get(j, p);
                }
                int ci = cOff + i * ldc + j;
                c[ci] = bias != null ? alpha * s + bias[j] : beta == 0f ? alpha * s : alpha * s + beta * c[ci];
            }
        }
    }

    @Override
    public int attentionHead(int seqQ, int seqK, int d, float scale, float[] q, int qOff, float[] k, int kOff,
            float[] v, int vOff, int ld, float[] bias, int biasOff, int biasRowStride, float[] out, int oOff,
            float[] scratch) {
        for (int i = 0; i < seqQ; i++) {
            int qi = qOff + i * ld;
            float m = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < seqK; j++) {
                int kj = kOff + j * ld;
                float s = 0f;
                for (int p = 0; p < d; p++) {
                    s += q[qi + p] * (scale * k[kj + p]);
                }
                if (bias != null) {
                    s += bias[biasOff + i * biasRowStride + j];
                }
                scratch[j] = s;
                m = Math.max(m, s);
            }
            if (m == Float.NEGATIVE_INFINITY) {
                return i;
            }
            float sum = 0f;
            for (int j = 0; j < seqK; j++) {
                scratch[j] = ElementwiseMath.exp(scratch[j] - m);
                sum += scratch[j];
            }
            float inv = 1f / sum;
            for (int p = 0; p < d; p++) {
                float o = 0f;
                for (int j = 0; j < seqK; j++) {
                    o += scratch[j] * v[vOff + j * ld + p];
                }
                out[oOff + i * ld + p] = o * inv;
            }
        }
        return -1;
    }

    @Override
    public int attentionScratch(int seqK, int d) {
        return seqK;
    }
}

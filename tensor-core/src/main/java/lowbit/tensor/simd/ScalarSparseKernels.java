package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * The scalar reference for {@link SparseKernels}: plain loops in the definition's order. N:M rows sum their kept
 * values left to right; the quantized form sums each group's (q − z)·x left to right, multiplies by the group's
 * scale and adds the groups left to right; the column subset adds the listed columns in list order. The fallback
 * implementation and the twin the Vector API kernels are tested against.
 */
public final class ScalarSparseKernels implements SparseKernels {
    /** Creates the (stateless) scalar kernels. */
    public ScalarSparseKernels() {
    }

    /** The b-bit unsigned code {@code k} of the stream starting at byte {@code off} (b in 1..8). */
    public static int code(MemorySegment s, long off, int k, int bits) {
        return ScalarAffineKernels.code(s, off, k, bits);
    }

    @Override
    public void gemvNm(int n, int m, int idxBits, int cols, float[] vals, int valOff, MemorySegment idx, long idxOff,
            long idxStride, float[] x, int xOff, float[] y, int yOff, int rows) {
        int kept = cols / m * n;
        for (int r = 0; r < rows; r++) {
            long io = idxOff + r * idxStride;
            int vo = valOff + r * kept;
            float acc = 0;
            for (int k = 0; k < kept; k++) {
                int c = (k / n) * m + code(idx, io, k, idxBits);
                acc += vals[vo + k] * x[xOff + c];
            }
            y[yOff + r] = acc;
        }
    }

    @Override
    public void gemvNmAffine(int n, int m, int idxBits, int cols, MemorySegment codes, long codeOff, long codeStride,
            int bits, int group, float[] scales, int scaleOff, int scaleStride, byte[] zeros, int zero,
            MemorySegment idx, long idxOff, long idxStride, float[] x, int xOff, float[] y, int yOff, int rows) {
        int groups = cols / group;
        int perGroup = group / m * n;
        for (int r = 0; r < rows; r++) {
            long io = idxOff + r * idxStride;
            long co = codeOff + r * codeStride;
            int so = scaleOff + r * scaleStride;
            float acc = 0;
            for (int g = 0; g < groups; g++) {
                int z = zeros == null ? zero : zeros[so + g] & 0xFF;
                float gs = 0;
                for (int k = g * perGroup, e = k + perGroup; k < e; k++) {
                    int c = (k / n) * m + code(idx, io, k, idxBits);
                    gs += (code(codes, co, k, bits) - z) * x[xOff + c];
                }
                acc += scales[so + g] * gs;
            }
            y[yOff + r] = acc;
        }
    }

    @Override
    public void gemvColumns(float[] wt, int ldw, int[] cols, int count, float[] x, int xOff, float[] y, int yOff,
            int rowFrom, int rowTo) {
        java.util.Arrays.fill(y, yOff + rowFrom, yOff + rowTo, 0f);
        for (int j = 0; j < count; j++) {
            int c = cols[j];
            float xc = x[xOff + c];
            int wo = c * ldw;
            for (int r = rowFrom; r < rowTo; r++) {
                y[yOff + r] += xc * wt[wo + r];
            }
        }
    }
}

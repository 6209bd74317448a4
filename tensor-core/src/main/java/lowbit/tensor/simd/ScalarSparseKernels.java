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

    @Override
    public void gemvNm24Int4Tiles(MemorySegment codes, long codeOff, long[] idx, int idxOff, int tiles, int nBlocks,
            int groupBlocks, float[] scales, int sOff, short[] zeros, int zOff, long[] act, int actOff, float[] d,
            int dOff, float[] y, int yOff, int rows) {
        int groups = nBlocks / groupBlocks;
        boolean fma = ScalarGgmlKernels.FAST_FMA;
        for (int t = 0; t < tiles; t++) {
            for (int r = 0; r < 16 && 16 * t + r < rows; r++) {
                float acc = 0f;
                for (int g = 0; g < groups; g++) {
                    int z = zeros[zOff + (t * groups + g) * 32 + r];
                    float f = 0f;
                    for (int b = g * groupBlocks; b < (g + 1) * groupBlocks; b++) {
                        int s = nm24TileBlockDot(codes, codeOff + (t * (long) nBlocks + b) * NM24_TILE_CODE_BYTES, idx,
                                idxOff + (t * nBlocks + b) * NM24_TILE_INDEX_WORDS, act, actOff + 8 * b, r, z);
                        f = fma ? Math.fma((float) s, d[dOff + b], f) : f + (float) s * d[dOff + b];
                    }
                    float sc = scales[sOff + (t * groups + g) * 16 + r];
                    acc = fma ? Math.fma(sc, f, acc) : acc + sc * f;
                }
                y[yOff + 16 * t + r] = acc;
            }
        }
    }

    /**
     * S = &Sigma; (q − z)·a over row r's 16 kept values of one tile block ({@link #gemvNm24Int4Tiles}'s format): block
     * codes at byte {@code blk}, its 8 index words at {@code idx[io]}, the activation words of its 8 groups at
     * {@code act[ao]}.
     */
    public static int nm24TileBlockDot(MemorySegment codes, long blk, long[] idx, int io, long[] act, int ao, int r,
            int z) {
        int s = 0;
        for (int kb = 0; kb < 16; kb++) {
            int lane = SparseKernels.nm24Lane(r, kb);
            int i = (int) (idx[io + kb / 2] >>> SparseKernels.nm24IndexBit(lane)) & 3;
            int v = codes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, blk + SparseKernels.nm24CodeByte(kb, lane));
            s += (SparseKernels.nm24Code(v, kb) - z) * (short) (act[ao + kb / 2] >>> (16 * i));
        }
        return s;
    }
}

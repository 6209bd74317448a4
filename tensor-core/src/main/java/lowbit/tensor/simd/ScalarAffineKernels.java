package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The scalar reference for {@link AffineKernels}: each row's codes are unpacked into an int buffer with
 * {@link ScalarPackKernels}, then plain loops. GEMV sums a group left to right, multiplies by its scale and adds
 * the groups left to right (columns family: one left-to-right sum). The fallback implementation and the twin the
 * Vector API kernels are tested against.
 */
public final class ScalarAffineKernels implements AffineKernels {
    private static final ScalarPackKernels PACK = new ScalarPackKernels();

    /** Creates the (stateless) scalar kernels. */
    public ScalarAffineKernels() {
    }

    /** Code {@code c} of the row starting at byte {@code rowOff} (for the vector kernels' scalar tails). */
    public static int code(MemorySegment codes, long rowOff, int c, int bits) {
        long bit = (long) c * bits;
        long b = rowOff + (bit >>> 3);
        int shift = (int) (bit & 7);
        int word = codes.get(ValueLayout.JAVA_BYTE, b) & 0xFF;
        if (shift + bits > 8) {
            word |= (codes.get(ValueLayout.JAVA_BYTE, b + 1) & 0xFF) << 8;
        }
        return (word >>> shift) & ((1 << bits) - 1);
    }

    private static void row(MemorySegment codes, long rowBytes, int bits, int cols, int r, int[] buf) {
        if (cols > 0) {
            PACK.unpack(codes.asSlice(r * rowBytes, rowBytes), 0, bits, false, buf, 0, cols);
        }
    }

    @Override
    public void dequantizeGroups(MemorySegment codes, long rowBytes, int bits, int cols, int group, float[] scales,
            byte[] zeros, int zero, int scaleStride, int rowFrom, int rowTo, float[] dst, int dstOff) {
        int[] q = new int[cols];
        int groups = cols == 0 ? 0 : cols / group;
        for (int r = rowFrom; r < rowTo; r++) {
            row(codes, rowBytes, bits, cols, r, q);
            int o = dstOff + (r - rowFrom) * cols;
            for (int k = 0; k < groups; k++) {
                int si = r * scaleStride + k;
                float s = scales[si];
                int z = zeros == null ? zero : zeros[si] & 0xFF;
                for (int c = k * group, e = c + group; c < e; c++) {
                    dst[o + c] = s * (q[c] - z);
                }
            }
        }
    }

    @Override
    public void gemvGroups(MemorySegment codes, long rowBytes, int bits, int cols, int group, float[] scales,
            byte[] zeros, int zero, int scaleStride, float[] x, int xOff, int rowFrom, int rowTo, float[] y, int yOff) {
        int[] q = new int[cols];
        int groups = cols == 0 ? 0 : cols / group;
        for (int r = rowFrom; r < rowTo; r++) {
            row(codes, rowBytes, bits, cols, r, q);
            float acc = 0;
            for (int k = 0; k < groups; k++) {
                int si = r * scaleStride + k;
                int z = zeros == null ? zero : zeros[si] & 0xFF;
                float g = 0;
                for (int c = k * group, e = c + group; c < e; c++) {
                    g += (q[c] - z) * x[xOff + c];
                }
                acc += scales[si] * g;
            }
            y[yOff + r] = acc;
        }
    }

    @Override
    public void dequantizeColumns(MemorySegment codes, long rowBytes, int bits, int cols, float[] colScales,
            int[] colZeros, int colOff, int zero, int rowFrom, int rowTo, float[] dst, int dstOff) {
        int[] q = new int[cols];
        for (int r = rowFrom; r < rowTo; r++) {
            row(codes, rowBytes, bits, cols, r, q);
            int o = dstOff + (r - rowFrom) * cols;
            for (int c = 0; c < cols; c++) {
                dst[o + c] = colScales[colOff + c] * (q[c] - (colZeros == null ? zero : colZeros[colOff + c]));
            }
        }
    }

    @Override
    public void gemvColumns(MemorySegment codes, long rowBytes, int bits, int cols, float[] xs, int[] colZeros,
            int zOff, int zero, int rowFrom, int rowTo, float[] y, int yOff) {
        int[] q = new int[cols];
        for (int r = rowFrom; r < rowTo; r++) {
            row(codes, rowBytes, bits, cols, r, q);
            float acc = 0;
            for (int c = 0; c < cols; c++) {
                acc += (q[c] - (colZeros == null ? zero : colZeros[zOff + c])) * xs[c];
            }
            y[yOff + r] = acc;
        }
    }
    /**
     * Per row: for each group, G = &Sigma; q_c·x_c left to right, acc += s·G; t += (s·z)·X_k; y = acc − t (groups left
     * to right).
     */
    @Override
    public void gemvNibbleGroups(MemorySegment codes, long rowBytes, int cols, int group, float[] scales, byte[] zeros,
            int zero, int scaleStride, float[] xp, int xpOff, int rowFrom, int rowTo, float[] y, int yOff) {
        int[] q = new int[cols];
        int groups = cols / group;
        int half = NIBBLE_CHUNK / 2;
        for (int r = rowFrom; r < rowTo; r++) {
            row(codes, rowBytes, 4, cols, r, q);
            float acc = 0;
            float t = 0;
            for (int k = 0; k < groups; k++) {
                int si = r * scaleStride + k;
                int z = zeros == null ? zero : zeros[si] & 0xFF;
                float g = 0;
                for (int c = k * group, e = c + group; c < e; c++) {
                    int chunk = c & -NIBBLE_CHUNK;
                    int j = c - chunk;
                    g += q[c] * xp[xpOff + chunk + (j & 1) * half + (j >> 1)];
                }
                float s = scales[si];
                acc += s * g;
                t += s * z * xp[xpOff + cols + k];
            }
            y[yOff + r] = acc - t;
        }
    }

    // ---- 4-bit groups in 16-row tiles with an int8 activation ----

    @Override
    public void gemvInt4Tiles(MemorySegment w, long wOff, int tiles, int nBlocks, int groupBlocks, float[] scales,
            float[] zeros, int sOff, int[] act, int actOff, float[] groupSums, int gOff, float[] y, int yOff,
            int rows) {
        long tileBytes = (long) INT4_TILE_BLOCK_BYTES * nBlocks;
        int groups = nBlocks / groupBlocks;
        boolean fma = ScalarGgmlKernels.FAST_FMA;
        for (int t = 0; t < tiles; t++) {
            for (int r = 0; r < 16 && 16 * t + r < rows; r++) {
                float acc = 0f;
                for (int g = 0; g < groups; g++) {
                    float f = 0f;
                    for (int b = g * groupBlocks; b < (g + 1) * groupBlocks; b++) {
                        long blk = wOff + t * tileBytes + (long) INT4_TILE_BLOCK_BYTES * b;
                        int ao = actOff + GgmlKernels.PAIR_INTS * b;
                        int s = ScalarGgmlKernels.nibbleTileBlockDot(w, blk, r, 0, act, ao);
                        float d = Float.intBitsToFloat(act[ao + GgmlKernels.PAIR_INTS - 1]);
                        f = fma ? Math.fma((float) s, d, f) : f + (float) s * d;
                    }
                    int i = sOff + (t * groups + g) * 16 + r;
                    float xg = groupSums[gOff + g];
                    float u = fma ? Math.fma(zeros[i], -xg, f) : f + zeros[i] * -xg;
                    acc = fma ? Math.fma(scales[i], u, acc) : acc + scales[i] * u;
                }
                y[yOff + 16 * t + r] = acc;
            }
        }
    }
}

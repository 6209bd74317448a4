package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The scalar reference for {@link CodebookKernels}: element by element over the flat index; GEMV sums each block's
 * part of a row left to right, multiplies it by the block's absmax and adds the blocks left to right.
 */
public final class ScalarCodebookKernels implements CodebookKernels {
    /** Creates the (stateless) scalar kernels. */
    public ScalarCodebookKernels() {
    }

    /** The 4-bit code of flat element e (high nibble first, bitsandbytes' order). */
    public static int code(MemorySegment codes, long e) {
        int b = codes.get(ValueLayout.JAVA_BYTE, e >>> 1);
        return (e & 1) == 0 ? (b >>> 4) & 0xF : b & 0xF;
    }

    @Override
    public void dequantize(MemorySegment codes, float[] table, int blockSize, float[] absmax, long blockOff,
            long first, int count, float[] dst, int dstOff) {
        for (int i = 0; i < count; i++) {
            long e = first + i;
            dst[dstOff + i] = table[code(codes, e)] * absmax[(int) (e / blockSize - blockOff)];
        }
    }

    @Override
    public void gemv(MemorySegment codes, float[] table, int cols, int blockSize, float[] absmax, long blockOff,
            float[] x, int xOff, int rowFrom, int rowTo, float[] y, int yOff) {
        for (int r = rowFrom; r < rowTo; r++) {
            long e = (long) r * cols;
            float acc = 0;
            int c = 0;
            while (c < cols) {
                long b = (e + c) / blockSize;
                int end = (int) Math.min(cols, (b + 1) * blockSize - e);
                float g = 0;
                for (; c < end; c++) {
                    g += table[code(codes, e + c)] * x[xOff + c];
                }
                acc += absmax[(int) (b - blockOff)] * g;
            }
            y[yOff + r] = acc;
        }
    }

    /** Per row: Σ_c fl(table[q_c]·absmax)·x_c left to right. */
    @Override
    public void gemvPrepared(MemorySegment codes, float[] table, int cols, int blockSize, float[] absmax,
            long blockOff, float[] xp, int xpOff, int rowFrom, int rowTo, float[] y, int yOff) {
        int chunk = AffineKernels.NIBBLE_CHUNK;
        for (int r = rowFrom; r < rowTo; r++) {
            long e = (long) r * cols;
            float acc = 0;
            for (int c = 0; c < cols; c++) {
                float w = table[code(codes, e + c)] * absmax[(int) ((e + c) / blockSize - blockOff)];
                int j = c % chunk;
                acc += w * xp[xpOff + c - j + (j & 1) * (chunk / 2) + (j >> 1)];
            }
            y[yOff + r] = acc;
        }
    }

    /** The code of W[r, c] in a tiled matrix of {@code cols} columns ({@link CodebookKernels#tileByte}). */
    public static int tileCode(MemorySegment tiles, int cols, int r, int c) {
        int b = tiles.get(ValueLayout.JAVA_BYTE, CodebookKernels.tileByte(cols, r, c));
        return (b >>> CodebookKernels.tileNibbleShift(c)) & 0xF;
    }

    /** The order of {@link CodebookKernels#gemvTiles}, written out per row. */
    @Override
    public void gemvTiles(MemorySegment tiles, float[] table, int cols, int blockSize, float[] absmax, int tileFrom,
            int tileTo, int rows, float[] x, int xOff, float[] y, int yOff, boolean fma) {
        int blocks = cols / blockSize;
        int r0 = tileFrom * TILE_ROWS;
        int r1 = Math.min(rows, tileTo * TILE_ROWS);
        for (int r = r0; r < r1; r++) {
            int ai = (r / TILE_ROWS * blocks) * TILE_ROWS + r % TILE_ROWS;
            float even = 0f;
            float odd = 0f;
            for (int b = 0; b < blocks; b++) {
                float e = 0f;
                float o = 0f;
                for (int c = b * blockSize; c < (b + 1) * blockSize; c += 2) {
                    float we = table[tileCode(tiles, cols, r, c)];
                    float wo = table[tileCode(tiles, cols, r, c + 1)];
                    e = fma ? Math.fma(we, x[xOff + c], e) : e + we * x[xOff + c];
                    o = fma ? Math.fma(wo, x[xOff + c + 1], o) : o + wo * x[xOff + c + 1];
                }
                float a = absmax[ai + b * TILE_ROWS];
                even = fma ? Math.fma(e, a, even) : even + e * a;
                odd = fma ? Math.fma(o, a, odd) : odd + o * a;
            }
            y[yOff + r - r0] = even + odd;
        }
    }
}

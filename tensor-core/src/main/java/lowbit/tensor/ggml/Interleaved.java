package lowbit.tensor.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * lowbit's in-memory repacking of Q4_0 and Q8_0 matrices into 16-row interleaved tiles, the layout its fastest
 * integer GEMV/GEMM kernels read (the idea of ggml's {@code Q4_0_8x8} / aarch64 repacks: interleave rows at load
 * time so that one vector holds codes of many rows). It is a lossless permutation of the standard blocks' bytes, the
 * same size per row: files keep the standard ggml layout, and {@link #unpack} gives it back byte for byte.
 *
 * <p>A matrix of {@code rows} rows of {@code nb = cols/32} blocks becomes ceil(rows/16) tiles; the last tile is padded
 * with zero rows (scale 0, codes of value 0). Tile t holds rows 16t..16t+15, block by block; tile block b holds the 16
 * rows' block b:
 * <table>
 *   <caption>one tile block (Q4_0: 288 bytes = 16·18; Q8_0: 544 bytes = 16·34)</caption>
 *   <tr><th>bytes</th><th>content</th></tr>
 *   <tr><td>[0, 32)</td><td>{@code f16 d} of rows 0..15, little-endian, in row order</td></tr>
 *   <tr><td>Q4_0: [32, 288), 8 chunks of 32 bytes</td><td>chunk c, byte 2r+e: low nibble = code of element 4c+e of
 *   row r, high nibble = code of element 4c+2+e (codes 0..15 as in the block; value (q&minus;8)·d)</td></tr>
 *   <tr><td>Q8_0: [32, 544), 16 chunks of 32 bytes</td><td>chunk c, byte 2r+e: code of element 2c+e of row r</td></tr>
 * </table>
 * The products pair it with the activation quantized to Q8_0 by ggml's reference encoder, held as int16 code pairs
 * ({@link #quantizeActivation}); see {@code GgmlKernels#gemvQ4_0x16} for the exact float evaluation. Compared with
 * {@link GgmlOps#gemv} on the standard layout, the result is the same sum &Sigma;_b d_w,b·d_a,b·S_b of exact
 * integer block products, evaluated in float in block order.
 */
public final class Interleaved {
    /** Rows per tile. */
    public static final int TILE_ROWS = 16;

    private static final GgmlKernels K = VectorizationProvider.get().ggml();

    private Interleaved() {
    }

    /** Whether {@code type} has an interleaved form (Q4_0, Q8_0). */
    public static boolean supports(GgmlType type) {
        return type == GgmlType.Q4_0 || type == GgmlType.Q8_0;
    }

    private static void checkType(GgmlType type) {
        if (!supports(Objects.requireNonNull(type, "type"))) {
            throw new IllegalArgumentException("no interleaved layout for ggml type " + type + " (supported: Q4_0, Q8_0)");
        }
    }

    /** Number of tiles of {@code rows} rows. */
    public static int tiles(int rows) {
        return (rows + TILE_ROWS - 1) / TILE_ROWS;
    }

    /** Bytes of one tile of {@code cols} columns. */
    public static long tileBytes(GgmlType type, int cols) {
        checkType(type);
        return TILE_ROWS * type.rowBytes(cols);
    }

    /** Bytes of an interleaved matrix: whole tiles, the last padded. */
    public static long byteSize(GgmlType type, int rows, int cols) {
        checkShape(type, rows, cols);
        return tiles(rows) * tileBytes(type, cols);
    }

    private static int checkShape(GgmlType type, int rows, int cols) {
        checkType(type);
        if (rows < 0) {
            throw new IllegalArgumentException(type + ": negative row count " + rows);
        }
        return Blocks.blocks(type, cols);
    }

    /**
     * Repacks {@code rows} standard rows (contiguous from byte {@code srcOff} of {@code src}) into
     * {@link #byteSize} bytes at {@code dst[dstOff]}.
     *
     * @throws IllegalArgumentException for another type, a bad shape or a read-only destination
     * @throws IndexOutOfBoundsException when either buffer is too short
     */
    public static void repack(GgmlType type, MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst,
            long dstOff) {
        int nb = checkShape(type, rows, cols);
        long rowBytes = type.rowBytes(cols);
        Blocks.checkBytes(type, "standard matrix of " + rows + "x" + cols, src, srcOff, rowBytes * rows);
        Blocks.checkBytes(type, "interleaved matrix of " + rows + "x" + cols, dst, dstOff, byteSize(type, rows, cols));
        Blocks.checkWritable(type, dst);
        boolean q4 = type == GgmlType.Q4_0;
        int bb = type.blockBytes();
        long tb = tileBytes(type, cols);
        for (int t = 0; t < tiles(rows); t++) {
            for (int b = 0; b < nb; b++) {
                long blk = dstOff + t * tb + (long) TILE_ROWS * bb * b;
                for (int r = 0; r < TILE_ROWS; r++) {
                    int row = TILE_ROWS * t + r;
                    long s = srcOff + row * rowBytes + (long) bb * b;
                    boolean real = row < rows;
                    dst.set(ScalarGgmlKernels.F16_LE, blk + 2 * r, real ? src.get(ScalarGgmlKernels.F16_LE, s) : 0);
                    if (q4) {
                        for (int c = 0; c < 8; c++) {
                            for (int e = 0; e < 2; e++) {
                                int v = real ? nibble(src, s, 4 * c + e) | nibble(src, s, 4 * c + 2 + e) << 4 : 0x88;
                                dst.set(ValueLayout.JAVA_BYTE, blk + 32 + 32 * c + 2 * r + e, (byte) v);
                            }
                        }
                    } else {
                        for (int j = 0; j < 32; j++) {
                            byte v = real ? src.get(ValueLayout.JAVA_BYTE, s + 2 + j) : 0;
                            dst.set(ValueLayout.JAVA_BYTE, blk + 32 + 32 * (j >> 1) + 2 * r + (j & 1), v);
                        }
                    }
                }
            }
        }
    }

    /** Code of element j (0..31) of the standard Q4_0 block at {@code s}. */
    private static int nibble(MemorySegment src, long s, int j) {
        int q = src.get(ValueLayout.JAVA_BYTE, s + 2 + (j & 15));
        return (j < 16 ? q : q >> 4) & 0xF;
    }

    /**
     * Writes the standard blocks of rows [rowFrom, rowTo) of an interleaved matrix at {@code w[wOff]} (of
     * {@code rows} × {@code cols}) to {@code dst[dstOff]}, row after row: the inverse of {@link #repack}.
     */
    public static void unpack(GgmlType type, MemorySegment w, long wOff, int rows, int cols, int rowFrom, int rowTo,
            MemorySegment dst, long dstOff) {
        int nb = checkShape(type, rows, cols);
        Objects.checkFromToIndex(rowFrom, rowTo, rows);
        long rowBytes = type.rowBytes(cols);
        Blocks.checkBytes(type, "interleaved matrix of " + rows + "x" + cols, w, wOff, byteSize(type, rows, cols));
        Blocks.checkBytes(type, "destination", dst, dstOff, rowBytes * (rowTo - rowFrom));
        Blocks.checkWritable(type, dst);
        int bb = type.blockBytes();
        long tb = tileBytes(type, cols);
        for (int row = rowFrom; row < rowTo; row++) {
            int t = row / TILE_ROWS;
            int r = row % TILE_ROWS;
            for (int b = 0; b < nb; b++) {
                long blk = wOff + t * tb + (long) TILE_ROWS * bb * b;
                long d = dstOff + (row - rowFrom) * rowBytes + (long) bb * b;
                dst.set(ScalarGgmlKernels.F16_LE, d, w.get(ScalarGgmlKernels.F16_LE, blk + 2 * r));
                for (int j = 0; j < (type == GgmlType.Q4_0 ? 16 : 32); j++) {
                    dst.set(ValueLayout.JAVA_BYTE, d + 2 + j, type == GgmlType.Q4_0
                            ? (byte) (code4(w, blk, r, j) | code4(w, blk, r, j + 16) << 4)
                            : w.get(ValueLayout.JAVA_BYTE, blk + 32 + 32 * (j >> 1) + 2 * r + (j & 1)));
                }
            }
        }
    }

    /** Q4_0 code of element j of row r in the tile block at {@code blk}. */
    private static int code4(MemorySegment w, long blk, int r, int j) {
        int c = j >> 2;
        int e = j & 1;
        int q = w.get(ValueLayout.JAVA_BYTE, blk + 32 + 32 * c + 2 * r + e);
        return ((j & 2) == 0 ? q : q >> 4) & 0xF;
    }

    /**
     * Decodes rows [rowFrom, rowTo) of an interleaved matrix to floats at {@code dst[dstOff]}, row-major: the values
     * the standard blocks decode to ((q&minus;8)·d or q·d).
     */
    public static void dequantizeRows(GgmlType type, MemorySegment w, long wOff, int rows, int cols, int rowFrom,
            int rowTo, float[] dst, int dstOff) {
        int nb = checkShape(type, rows, cols);
        Objects.checkFromToIndex(rowFrom, rowTo, rows);
        Blocks.checkBytes(type, "interleaved matrix of " + rows + "x" + cols, w, wOff, byteSize(type, rows, cols));
        Objects.checkFromIndexSize(dstOff, (rowTo - rowFrom) * cols, dst.length);
        boolean q4 = type == GgmlType.Q4_0;
        int bb = type.blockBytes();
        long tb = tileBytes(type, cols);
        for (int row = rowFrom; row < rowTo; row++) {
            int t = row / TILE_ROWS;
            int r = row % TILE_ROWS;
            int o = dstOff + (row - rowFrom) * cols;
            for (int b = 0; b < nb; b++) {
                long blk = wOff + t * tb + (long) TILE_ROWS * bb * b;
                float d = ScalarGgmlKernels.f16(w, blk + 2 * r);
                for (int j = 0; j < 32; j++) {
                    dst[o + 32 * b + j] = q4 ? (code4(w, blk, r, j) - 8) * d
                            : w.get(ValueLayout.JAVA_BYTE, blk + 32 + 32 * (j >> 1) + 2 * r + (j & 1)) * d;
                }
            }
        }
    }

    /** Ints of a pair activation of {@code cols} elements. */
    public static int activationInts(int cols) {
        return Blocks.blocks(GgmlType.Q8_0, cols) * GgmlKernels.PAIR_INTS;
    }

    /**
     * Quantizes {@code x[xOff, xOff+cols)} to Q8_0 with ggml's reference encoder and stores it as int16 code pairs
     * ({@link #activationInts} ints at {@code dst[dstOff]}) in the form the {@code weight} kernels read (for Q4_0
     * the odd pairs are pre-combined, {@code GgmlKernels#pairsForQ4_0}).
     *
     * @throws IllegalArgumentException for another weight type, cols not a multiple of 32 or a non-finite x
     */
    public static void quantizeActivation(GgmlType weight, float[] x, int xOff, int cols, int[] dst, int dstOff) {
        checkType(weight);
        int nb = Blocks.blocks(GgmlType.Q8_0, cols);
        Blocks.checkSource(GgmlType.Q8_0, x, xOff, cols, NonFinitePolicy.REJECT);
        Objects.checkFromIndexSize(dstOff, nb * GgmlKernels.PAIR_INTS, dst.length);
        K.quantizeQ8_0Pairs(x, xOff, dst, dstOff, nb);
        if (weight == GgmlType.Q4_0) {
            K.pairsForQ4_0(dst, dstOff, nb);
        }
    }

    /**
     * {@code y[yOff + r − rowFrom] = Ŵ[r]·x̂} for r in [rowFrom, rowTo) of an interleaved matrix at {@code w[wOff]}
     * ({@code rows} × {@code cols}), x̂ the pair activation of {@link #quantizeActivation} for {@code type} at
     * {@code act[actOff]}. {@code rowFrom} must be a multiple
     * of {@link #TILE_ROWS}. Sequential (the caller splits rows across threads by tiles).
     */
    public static void gemv(GgmlType type, MemorySegment w, long wOff, int rows, int cols, int[] act, int actOff,
            float[] y, int yOff, int rowFrom, int rowTo) {
        gemm(type, w, wOff, rows, cols, act, actOff, 0, 1, y, yOff, 0, rowFrom, rowTo, false);
    }

    /**
     * {@link #gemv} for a matrix whose fp16 scales were found finite by {@link #scalesFinite} (and not changed since):
     * the same bits, faster (the scales are widened without the infinity/NaN handling).
     */
    public static void gemvFiniteScales(GgmlType type, MemorySegment w, long wOff, int rows, int cols, int[] act,
            int actOff, float[] y, int yOff, int rowFrom, int rowTo) {
        gemm(type, w, wOff, rows, cols, act, actOff, 0, 1, y, yOff, 0, rowFrom, rowTo, true);
    }

    /**
     * Whether every fp16 scale d of the interleaved matrix at {@code w[wOff]} ({@code rows} × {@code cols}) is finite
     * (no infinity or NaN): one pass over the tiles' scale headers (32 bytes of every 16-row tile block).
     */
    public static boolean scalesFinite(GgmlType type, MemorySegment w, long wOff, int rows, int cols) {
        int nb = checkShape(type, rows, cols);
        Blocks.checkBytes(type, "interleaved matrix of " + rows + "x" + cols, w, wOff, byteSize(type, rows, cols));
        long blockBytes = (long) TILE_ROWS * type.blockBytes();
        long blocks = (long) tiles(rows) * nb;
        for (long b = 0; b < blocks; b++) {
            for (int r = 0; r < TILE_ROWS; r++) {
                if ((w.get(ScalarGgmlKernels.F16_LE, wOff + b * blockBytes + 2 * r) & 0x7C00) == 0x7C00) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * {@link #gemv} for {@code n} activations: activation i at {@code act[actOff + i·actStride]}, its outputs at
     * {@code y[yOff + i·yStride + r − rowFrom]}. Each output has the bits {@code gemv} gives it.
     */
    public static void gemm(GgmlType type, MemorySegment w, long wOff, int rows, int cols, int[] act, int actOff,
            int actStride, int n, float[] y, int yOff, int yStride, int rowFrom, int rowTo) {
        gemm(type, w, wOff, rows, cols, act, actOff, actStride, n, y, yOff, yStride, rowFrom, rowTo, false);
    }

    private static void gemm(GgmlType type, MemorySegment w, long wOff, int rows, int cols, int[] act, int actOff,
            int actStride, int n, float[] y, int yOff, int yStride, int rowFrom, int rowTo, boolean finiteScales) {
        int nb = checkShape(type, rows, cols);
        Objects.checkFromToIndex(rowFrom, rowTo, rows);
        if (rowFrom % TILE_ROWS != 0) {
            throw new IllegalArgumentException(type + ": interleaved products start at a tile boundary (a multiple of "
                    + TILE_ROWS + "), got row " + rowFrom);
        }
        if (n < 0 || (n > 1 && (actStride < nb * GgmlKernels.PAIR_INTS || yStride < rowTo - rowFrom))) {
            throw new IllegalArgumentException(type + ": bad batch n=" + n + " actStride=" + actStride + " yStride="
                    + yStride);
        }
        if (n == 0 || rowFrom == rowTo) {
            return;
        }
        long tb = tileBytes(type, cols);
        Blocks.checkBytes(type, "interleaved matrix of " + rows + "x" + cols, w, wOff, byteSize(type, rows, cols));
        Objects.checkFromIndexSize(actOff, (long) (n - 1) * actStride + (long) nb * GgmlKernels.PAIR_INTS, act.length);
        Objects.checkFromIndexSize(yOff, (n - 1) * yStride + (rowTo - rowFrom), y.length);
        int t0 = rowFrom / TILE_ROWS;
        int tiles = tiles(rowTo) - t0;
        long wt = wOff + t0 * tb;
        int valid = rowTo - rowFrom;
        if (n == 1 && finiteScales) {
            K.gemvFiniteScalesx16(type == GgmlType.Q4_0, w, wt, tiles, nb, act, actOff, y, yOff, valid);
        } else if (n == 1) {
            if (type == GgmlType.Q4_0) {
                K.gemvQ4_0x16(w, wt, tiles, nb, act, actOff, y, yOff, valid);
            } else {
                K.gemvQ8_0x16(w, wt, tiles, nb, act, actOff, y, yOff, valid);
            }
        } else if (type == GgmlType.Q4_0) {
            K.gemmQ4_0x16(w, wt, tiles, nb, act, actOff, actStride, n, y, yOff, yStride, valid);
        } else {
            K.gemmQ8_0x16(w, wt, tiles, nb, act, actOff, actStride, n, y, yOff, yStride, valid);
        }
    }
}

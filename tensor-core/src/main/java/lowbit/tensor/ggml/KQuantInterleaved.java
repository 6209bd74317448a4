package lowbit.tensor.ggml;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * lowbit's in-memory repacking of a Q4_K matrix into 16-row interleaved tiles, read by its fastest k-quant GEMV (the
 * idea of {@link Interleaved} for Q4_0/Q8_0 and of ggml's own CPU repacks: one vector holds the codes of 16 rows, so
 * the per-sub-block work — the fold of 16-bit products into int lanes and the multiply by the 6-bit scale — is done
 * once for 16 rows instead of once per row, and no row needs a horizontal sum). It is a lossless permutation of the
 * standard blocks' bytes, the same size: files keep the standard layout, {@link #unpack} gives it back byte for byte.
 *
 * <p>A matrix of {@code rows} rows of {@code nb = cols/256} blocks becomes ceil(rows/16) tiles, the last one padded
 * with all-zero rows (d = dmin = 0: they decode to 0). Tile t holds rows 16t..16t+15, block by block; tile block b
 * (2304 bytes = 16·144) holds the 16 rows' block b:
 * <table>
 *   <caption>one Q4_K tile block</caption>
 *   <tr><th>bytes</th><th>content</th></tr>
 *   <tr><td>[0, 32)</td><td>{@code f16 d} of rows 0..15 (little-endian, row order)</td></tr>
 *   <tr><td>[32, 64)</td><td>{@code f16 dmin} of rows 0..15</td></tr>
 *   <tr><td>[64, 256)</td><td>byte 64 + 16k + r = scale byte k (0..11) of row r</td></tr>
 *   <tr><td>[256, 2304)</td><td>for g = 0..3 and c = 0..15, 32 bytes at 256 + 512g + 32c: byte 2r + e = code byte
 *   qs[32g + 2c + e] of row r (low nibble: element 2c+e of sub-block 2g, high nibble: of sub-block 2g+1)</td></tr>
 * </table>
 *
 * <p>The product pairs it with the activation quantized once to Q8_K (ggml's reference encoder); per tile block and
 * row it forms the same exact integer sums as {@link GgmlOps#gemv} on the standard layout (&Sigma;_j sc_j·&Sigma; q·a
 * and &Sigma;_j m_j·bsum_j) and adds d·d_a·S &minus; dmin·d_a·M in float, block by block, per row, with fused
 * multiply-adds: see {@code KQuantKernels#gemvQ4_Kx16}. The result agrees with {@link GgmlOps#gemv} within the float
 * summation bound and is bit-identical for any thread count and vector width.
 */
public final class KQuantInterleaved {
    /** Rows per tile. */
    public static final int TILE_ROWS = 16;
    /** Bytes of one tile block: 16 Q4_K blocks. */
    public static final int TILE_BLOCK_BYTES = TILE_ROWS * 144;

    private static final KQuantKernels K = VectorizationProvider.get().kquants();

    private KQuantInterleaved() {
    }

    /** Whether {@code type} has an interleaved form here (Q4_K). */
    public static boolean supports(GgmlType type) {
        return type == GgmlType.Q4_K;
    }

    private static int checkShape(GgmlType type, int rows, int cols) {
        if (!supports(Objects.requireNonNull(type, "type"))) {
            throw new IllegalArgumentException("no interleaved k-quant layout for ggml type " + type + " (supported: Q4_K)");
        }
        if (rows < 0) {
            throw new IllegalArgumentException(type + ": negative row count " + rows);
        }
        return Blocks.blocks(type, cols);
    }

    /** Number of tiles of {@code rows} rows. */
    public static int tiles(int rows) {
        return (rows + TILE_ROWS - 1) / TILE_ROWS;
    }

    /** Bytes of an interleaved {@code rows} × {@code cols} matrix: whole tiles, the last one padded. */
    public static long byteSize(GgmlType type, int rows, int cols) {
        int nb = checkShape(type, rows, cols);
        return (long) tiles(rows) * nb * TILE_BLOCK_BYTES;
    }

    /**
     * Repacks {@code rows} standard rows (contiguous from byte {@code srcOff} of {@code src}) into
     * {@link #byteSize} bytes at {@code dst[dstOff]}.
     *
     * @throws IllegalArgumentException for another type, a bad shape or a read-only destination
     * @throws IndexOutOfBoundsException when either buffer is too short
     */
    public static void pack(GgmlType type, MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst,
            long dstOff) {
        int nb = checkShape(type, rows, cols);
        long rowBytes = type.rowBytes(cols);
        Blocks.checkBytes(type, "standard matrix of " + rows + "x" + cols, src, srcOff, rowBytes * rows);
        Blocks.checkBytes(type, "interleaved matrix of " + rows + "x" + cols, dst, dstOff, byteSize(type, rows, cols));
        Blocks.checkWritable(type, dst);
        for (int t = 0; t < tiles(rows); t++) {
            for (int b = 0; b < nb; b++) {
                long blk = dstOff + ((long) t * nb + b) * TILE_BLOCK_BYTES;
                for (int r = 0; r < TILE_ROWS; r++) {
                    int row = TILE_ROWS * t + r;
                    if (row >= rows) {
                        for (int i = 0; i < 144; i++) {
                            put(dst, blk + position(r, i), 0);
                        }
                        continue;
                    }
                    long s = srcOff + row * rowBytes + 144L * b;
                    for (int i = 0; i < 144; i++) {
                        put(dst, blk + position(r, i), src.get(ValueLayout.JAVA_BYTE, s + i));
                    }
                }
            }
        }
    }

    /**
     * Writes the standard blocks of rows [rowFrom, rowTo) of an interleaved matrix at {@code w[wOff]} (of
     * {@code rows} × {@code cols}) to {@code dst[dstOff]}, row after row: the inverse of {@link #pack}.
     */
    public static void unpack(GgmlType type, MemorySegment w, long wOff, int rows, int cols, int rowFrom, int rowTo,
            MemorySegment dst, long dstOff) {
        int nb = checkShape(type, rows, cols);
        Objects.checkFromToIndex(rowFrom, rowTo, rows);
        long rowBytes = type.rowBytes(cols);
        Blocks.checkBytes(type, "interleaved matrix of " + rows + "x" + cols, w, wOff, byteSize(type, rows, cols));
        Blocks.checkBytes(type, "destination", dst, dstOff, rowBytes * (rowTo - rowFrom));
        Blocks.checkWritable(type, dst);
        for (int row = rowFrom; row < rowTo; row++) {
            int t = row / TILE_ROWS;
            int r = row % TILE_ROWS;
            for (int b = 0; b < nb; b++) {
                long blk = wOff + ((long) t * nb + b) * TILE_BLOCK_BYTES;
                long d = dstOff + (row - rowFrom) * rowBytes + 144L * b;
                for (int i = 0; i < 144; i++) {
                    dst.set(ValueLayout.JAVA_BYTE, d + i, w.get(ValueLayout.JAVA_BYTE, blk + position(r, i)));
                }
            }
        }
    }

    /** Offset in a tile block of byte i (0..143) of row r's standard block. */
    static int position(int r, int i) {
        if (i < 2) {
            return 2 * r + i; // d
        }
        if (i < 4) {
            return 32 + 2 * r + (i - 2); // dmin
        }
        if (i < 16) {
            return 64 + 16 * (i - 4) + r; // scale byte i - 4
        }
        int q = i - 16, g = q >> 5, c = (q & 31) >> 1, e = q & 1; // qs[32g + 2c + e]
        return 256 + 512 * g + 32 * c + 2 * r + e;
    }

    private static void put(MemorySegment dst, long off, int v) {
        dst.set(ValueLayout.JAVA_BYTE, off, (byte) v);
    }

    /**
     * y[yOff + r] = &Sigma;_k W&#770;[r, k]·x&#770;[k] for r &lt; rows, W the interleaved matrix at {@code w[wOff]} and
     * x&#770; = Q8_K(x[xOff, xOff+cols)); tiles in parallel ({@link Parallel}), identical bits for any thread count.
     *
     * @throws IllegalArgumentException for another type, a bad shape, or non-finite x
     * @throws IndexOutOfBoundsException when W, x or y is too short
     */
    public static void gemv(GgmlType type, MemorySegment w, long wOff, int rows, int cols, float[] x, int xOff,
            float[] y, int yOff) {
        int nb = checkShape(type, rows, cols);
        Blocks.checkBytes(type, "interleaved matrix of " + rows + "x" + cols, w, wOff, byteSize(type, rows, cols));
        Objects.checkFromIndexSize(xOff, cols, x.length);
        Objects.checkFromIndexSize(yOff, rows, y.length);
        MemorySegment act = Arena.ofAuto().allocate((long) nb * Q8_K.BLOCK_BYTES, 64);
        Q8_K.quantizeRow(x, xOff, act, 0, cols);
        int tiles = tiles(rows);
        long tileBytes = (long) nb * TILE_BLOCK_BYTES;
        long grain = Math.max(1, Math.min(8, tiles / (4L * Parallel.parallelism())));
        Parallel.forRange(0, tiles, grain, (from, to) -> {
            int rowFrom = (int) from * TILE_ROWS;
            K.gemvQ4_Kx16(w, wOff + from * tileBytes, (int) (to - from), act, 0, nb, y, yOff + rowFrom,
                    Math.min(rows - rowFrom, (int) (to - from) * TILE_ROWS));
        });
    }
}

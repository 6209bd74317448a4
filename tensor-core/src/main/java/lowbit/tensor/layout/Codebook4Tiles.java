package lowbit.tensor.layout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import lowbit.tensor.simd.CodebookKernels;
import lowbit.tensor.simd.ScalarCodebookKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * An {@link Nf4} or {@link Fp4} matrix repacked into 16-row tiles for a faster GEMV: a vector lane is a row, so one
 * load brings 8 codes of each of 16 rows (at 512 bits), each column costs a shift, a table lookup and one
 * multiply-add with x[c] broadcast, and no horizontal sums are needed. On the development machine this is about a
 * quarter faster than the row-major kernel of {@link Codebook4Matrix} (see the README).
 *
 * <p><b>What is computed.</b> Ŵ is exactly the source's: the same codes, the same absmax values (double-quantized
 * ones decoded once, at the repack) and {@code fl(table[q]·absmax)} from {@link #dequantizeRows}, bit for bit. A GEMV
 * (and a GEMM of at most 8 rows) sums in the order fixed by {@link CodebookKernels#gemvTiles} — per block, the even
 * and the odd columns' products table[q]·x in two partial sums, scaled by the block's absmax into two row sums — so
 * the result is within γ_m·Σ_c |Ŵ[r, c]·x_c| of the exact product (m = blockSize/2 + cols/blockSize + 1) and has the
 * same bits at every vector width, in scalar mode and for any thread count. GEMMs of more than 8 rows dequantize
 * tiles and run the dense GEMM ({@link QuantizedMatrix}'s bound). NaN and ±∞ in x propagate as in float arithmetic.
 *
 * <p><b>Storage.</b> ceil(rows/16) tiles of cols·8 bytes, the last padded with rows of code 0 and absmax 0; the byte
 * of W[r, c] is {@link CodebookKernels#tileByte} (tile r/16, 8-column chunk c/8 of 64 bytes, row r%16's
 * little-endian 32-bit word, column c%8's nibble at bits [4·(c%8), 4·(c%8) + 4)). The absmax values are floats, 16
 * per tile and block in row order (index ((r/16)·(cols/blockSize) + c/blockSize)·16 + r%16). Needs blocks within rows
 * (cols a multiple of the block size) and a block size that is a multiple of 8; bitsandbytes' sizes (64 ... 4096) are.
 * Outliers of the source are kept and honoured as in every layout.
 */
public final class Codebook4Tiles extends AbstractQuantizedMatrix {
    /** Rows per tile. */
    public static final int TILE_ROWS = CodebookKernels.TILE_ROWS;
    private static final CodebookKernels K = VectorizationProvider.get().codebooks();
    /** A row's 32-bit word of an 8-column chunk (little-endian, 4-byte aligned in the 64-byte-aligned tiles). */
    private static final ValueLayout.OfInt WORD = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String type;
    private final float[] table;
    private final int blockSize;
    private final boolean doubleQuantized;
    private final MemorySegment tiles;
    private final float[] absmax;

    private Codebook4Tiles(int rows, int cols, String type, float[] table, int blockSize, boolean doubleQuantized,
            MemorySegment tiles, float[] absmax, Outliers outliers) {
        super(rows, cols, outliers);
        this.type = type;
        this.table = table;
        this.blockSize = blockSize;
        this.doubleQuantized = doubleQuantized;
        this.tiles = tiles;
        this.absmax = absmax;
        initOutliers();
    }

    /** Why {@code w} cannot be tiled, or null when it can (blocks within rows, a block size a multiple of 8). */
    public static String unsupportedReason(Codebook4Matrix w) {
        Objects.requireNonNull(w, "w");
        int bs = w.blockSize();
        if (bs % 8 != 0) {
            return "needs a block size that is a multiple of 8, got " + bs;
        }
        if (w.cols() % bs != 0) {
            return "needs blocks within rows (cols a multiple of the block size " + bs + "), got cols " + w.cols();
        }
        if ((long) tiles(w.rows()) * (w.cols() / bs) * TILE_ROWS > Integer.MAX_VALUE - 8) {
            return "has too many blocks for one float array of absmax values";
        }
        return null;
    }

    /**
     * Repacks {@code w} (see {@link #unsupportedReason}) into tiles in a native copy.
     *
     * @throws IllegalArgumentException naming the reason when {@code w} cannot be tiled
     */
    public static Codebook4Tiles of(Codebook4Matrix w) {
        String why = unsupportedReason(w);
        if (why != null) {
            throw new IllegalArgumentException("Codebook4Tiles of " + w.describe() + " [" + w.rows() + ", " + w.cols()
                    + "]: " + why);
        }
        int rows = w.rows();
        int cols = w.cols();
        int bs = w.blockSize();
        int blocks = cols / bs;
        int tileCount = tiles(rows);
        MemorySegment dst = Arena.ofAuto().allocate(Math.max(1, 8L * cols * tileCount), 64);
        float[] a = new float[tileCount * blocks * TILE_ROWS];
        float[] src = w.absmax();
        MemorySegment codes = w.packedCodes();
        byte[] row = new byte[cols / 2];
        int[] words = new int[cols / 8];
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(codes, ValueLayout.JAVA_BYTE, (long) r * (cols / 2), row, 0, row.length);
            java.util.Arrays.fill(words, 0);
            for (int c = 0; c < cols; c++) {
                int b = row[c >> 1];
                int q = ((c & 1) == 0 ? b >>> 4 : b) & 0xF; // bitsandbytes: high nibble first
                words[c >> 3] |= q << (4 * (c & 7));
            }
            long base = CodebookKernels.tileByte(cols, r, 0);
            for (int j = 0; j < words.length; j++) {
                dst.set(WORD, base + (long) CodebookKernels.TILE_CHUNK_BYTES * j, words[j]);
            }
            for (int b = 0; b < blocks; b++) {
                a[absmaxIndex(r, b, blocks)] = src[r * blocks + b];
            }
        }
        return new Codebook4Tiles(rows, cols, w.typeName(), w.codebook(), bs, w.isDoubleQuantized(), dst, a,
                w.outliers());
    }

    private static int absmaxIndex(int r, int block, int blocks) {
        return (r / TILE_ROWS * blocks + block) * TILE_ROWS + r % TILE_ROWS;
    }

    /** Number of tiles of {@code rows} rows. */
    public static int tiles(int rows) {
        return (rows + TILE_ROWS - 1) / TILE_ROWS;
    }

    /** Whether the GEMV runs vector code on this machine (false: the scalar twin, same bits). */
    public static boolean vectorized() {
        return K.tilesVectorized();
    }

    /** Elements per absmax block (the source's). */
    public int blockSize() {
        return blockSize;
    }

    /** The 16 values of the source's format, indexed by code (a copy). */
    public float[] codebook() {
        return table.clone();
    }

    /** The code of W[r, c]. */
    public int code(int r, int c) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(c, cols());
        return ScalarCodebookKernels.tileCode(tiles, cols(), r, c);
    }

    /** The absmax of the block holding W[r, c] (as a float; decoded when the source was double-quantized). */
    public float absmaxAt(int r, int c) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(c, cols());
        return absmax[absmaxIndex(r, c / blockSize, cols() / blockSize)];
    }

    /** The tiles, read-only (layout in the class comment). */
    public MemorySegment tiledCodes() {
        return tiles.asReadOnly();
    }

    @Override
    public String describe() {
        return type + " b" + blockSize + (doubleQuantized ? " dq (decoded)" : "") + " tiles x16";
    }

    /** Bytes held: the tiles (padded to whole tiles), a float absmax per tile row and block, the outliers. */
    @Override
    public long byteSize() {
        return tiles.byteSize() + 4L * absmax.length + outliers().byteSize();
    }

    @Override
    public Codebook4Tiles withOutliers(Outliers outliers) {
        return new Codebook4Tiles(rows(), cols(), type, table, blockSize, doubleQuantized, tiles, absmax, outliers);
    }

    /** Row by row, one 32-bit word (8 codes) at a time. */
    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        int cols = cols();
        int blocks = cols / blockSize;
        for (int r = rowFrom; r < rowTo; r++) {
            int o = dstOff + (r - rowFrom) * cols;
            long word = CodebookKernels.tileByte(cols, r, 0);
            for (int b = 0; b < blocks; b++) {
                float m = absmax[absmaxIndex(r, b, blocks)];
                int end = (b + 1) * blockSize;
                for (int c = b * blockSize; c < end; c += 8, word += CodebookKernels.TILE_CHUNK_BYTES) {
                    int v = tiles.get(WORD, word);
                    for (int k = 0; k < 8; k++) {
                        dst[o + c + k] = table[(v >>> (4 * k)) & 0xF] * m;
                    }
                }
            }
        }
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        if (rowFrom == rowTo) {
            return;
        }
        if (rowFrom % TILE_ROWS != 0) {
            throw new IllegalStateException("Codebook4Tiles: row chunks start at a tile boundary, got " + rowFrom);
        }
        if (cols() == 0) {
            java.util.Arrays.fill(y, yOff + rowFrom, yOff + rowTo, 0f);
            return;
        }
        K.gemvTiles(tiles, table, cols(), blockSize, absmax, rowFrom / TILE_ROWS, tiles(rowTo), rowTo, x, xOff, y,
                yOff + rowFrom, ScalarGgmlKernels.FAST_FMA);
    }

    /** Whole pairs of tiles per task (the 512-bit kernel runs two tiles side by side). */
    @Override
    protected int gemvGrain() {
        return Math.max(2 * TILE_ROWS, LayoutTiling.gemvGrain(cols()) & ~(2 * TILE_ROWS - 1));
    }

    /** See {@link LayoutTiling#gemmTileRows}. */
    @Override
    protected int gemmTileRows() {
        return LayoutTiling.gemmTileRows(rows(), cols());
    }
}

package lowbit.tensor.layout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Interleaved;
import lowbit.tensor.simd.AffineKernels;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * A 4-bit {@link GroupwiseAffine} matrix (GPTQ/AWQ-style int4, groups of a multiple of 32 along the input) repacked
 * into 16-row tiles for llama.cpp's integer GEMV path: x is quantized once per product to Q8_0 (ggml's reference
 * encoder: blocks of 32, int8 codes, fp16 scale), and each 32-column block of 16 rows is an exact integer dot product
 * of the 4-bit codes with the int8 codes. This does about half the vector work per weight of the float kernel of
 * {@link GroupwiseAffine}, at the price of quantizing x.
 *
 * <p><b>What is computed.</b> Ŵ is exactly the source matrix's: {@code fl(s·(q − z))}, the same codes, scales and zero
 * points (a lossless repack; {@link #dequantizeRows} gives the source's bits). A GEMV, and a GEMM of at most 8 rows,
 * compute {@code y = Ŵ·x̂ + b} where x̂ is x rounded to Q8_0, that is x̂_c = d_b·a_c with a_c = round(x_c/d_b) in
 * −127..127 and d_b = fp16(max|x| of the block / 127). Per row and group g of the source:
 * u_g = &Sigma;_{b in g} d_b·S_b − z_g·X̂_g, y = &Sigma;_g s_g·u_g, with S_b = &Sigma; q·a the exact integer block product and
 * X̂_g = &Sigma;_{b in g} d_b·&Sigma;a (see {@link AffineKernels#gemvInt4Tiles} for the float order). So, against the
 * exact product with x,
 * <pre>
 *   |y − Ŵ·x| &le; &Sigma;_c |Ŵ[r,c]|·|x_c − x̂_c| + (float rounding of the sums above),   |x_c − x̂_c| &le; d_b/2 + |d_b − d_b'|·127
 * </pre>
 * (d_b' the float scale before its fp16 rounding), i.e. a relative error of about 2^−8 of the block's largest |x|
 * per weight, as in llama.cpp. GEMMs of more than 8 rows decode tiles of Ŵ to floats and run the dense GEMM on the
 * exact x (the float bound of {@link QuantizedMatrix}), as {@link GgmlMatrix} does on standard storage. Results are
 * the same bits at every vector width, in scalar mode and for any thread count.
 *
 * <p><b>Storage.</b> ceil(rows/16) tiles, the last padded with rows of code 0, scale 0 and zero point 0. Tile t,
 * block b is 256 bytes: 8 chunks of 32 bytes, chunk c byte 2r+e holding row 16t+r's code of column 32b+4c+e in the
 * low nibble and of column 32b+4c+2+e in the high nibble (Q4_0's interleaved order, see {@link Interleaved}). Scales
 * and zero points are floats, 16 per tile and group in row order (the F16 scales of an F16 spec are exact in float).
 * Outliers of the source are kept and honoured as in every layout.
 *
 * <p>Inputs with NaN or ±∞ are rejected (Q8_0 cannot represent them); use the source {@link GroupwiseAffine} for a
 * product that propagates them.
 */
public final class AffineInt4Tiles extends AbstractQuantizedMatrix {
    /** Rows per tile (as in {@link Interleaved}). */
    public static final int TILE_ROWS = Interleaved.TILE_ROWS;
    private static final AffineKernels K = VectorizationProvider.get().affine();
    private static final int BLOCK = AffineKernels.INT4_TILE_BLOCK_BYTES;

    private final AffineSpec spec;
    private final int group;
    private final int nb;
    private final int groupBlocks;
    private final int groups;
    private final MemorySegment codes;
    private final float[] scales;
    private final float[] zeros;

    private AffineInt4Tiles(int rows, int cols, AffineSpec spec, int group, MemorySegment codes, float[] scales,
            float[] zeros, Outliers outliers) {
        super(rows, cols, outliers);
        this.spec = spec;
        this.group = group;
        this.nb = cols / 32;
        this.groupBlocks = group / 32;
        this.groups = cols / group;
        this.codes = codes;
        this.scales = scales;
        this.zeros = zeros;
        initOutliers();
    }

    /**
     * Why {@code w} cannot be tiled, or null when it can: 4-bit codes, scales along the row (per-tensor, per-row or
     * groups along the input) in groups of a multiple of 32 columns, no act-order map.
     */
    public static String unsupportedReason(GroupwiseAffine w) {
        Objects.requireNonNull(w, "w");
        AffineSpec s = w.spec();
        if (s.bits() != 4) {
            return "needs 4-bit codes, got " + s.bits();
        }
        if (w.gIdx() != null) {
            return "act-order (g_idx) matrices are not supported; reorder the columns first";
        }
        int group = groupOf(s, w.cols());
        if (group < 0) {
            return "needs scales along the row (per-tensor, per-row or groups along in), got " + s.granularity();
        }
        if (w.cols() == 0 || group % 32 != 0) {
            return "needs groups of a multiple of 32 columns, got " + group + " (cols " + w.cols() + ")";
        }
        return null;
    }

    private static int groupOf(AffineSpec s, int cols) {
        return switch (s.granularity()) {
            case PER_TENSOR, PER_OUTPUT_CHANNEL -> cols;
            case GROUP_ALONG_IN -> s.groupSize();
            default -> -1;
        };
    }

    /**
     * Repacks {@code w} (see {@link #unsupportedReason} for what it must be) into tiles in a native copy.
     *
     * @throws IllegalArgumentException naming the reason when {@code w} cannot be tiled
     */
    public static AffineInt4Tiles of(GroupwiseAffine w) {
        String why = unsupportedReason(w);
        if (why != null) {
            throw new IllegalArgumentException("AffineInt4Tiles of " + w.describe() + " [" + w.rows() + ", " + w.cols()
                    + "]: " + why);
        }
        int rows = w.rows();
        int cols = w.cols();
        int group = groupOf(w.spec(), cols);
        int nb = cols / 32;
        int groups = cols / group;
        int tiles = tiles(rows);
        long tileBytes = (long) BLOCK * nb;
        MemorySegment dst = Arena.ofAuto().allocate(Math.max(1, tiles * tileBytes), 64);
        long n = (long) tiles * groups * TILE_ROWS;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("AffineInt4Tiles: " + rows + "x" + cols + " has too many groups (" + n + ")");
        }
        float[] scales = new float[(int) n];
        float[] zeros = new float[(int) n];
        MemorySegment src = w.packedCodes();
        long rowBytes = w.rowBytes();
        byte[] row = new byte[(int) rowBytes];
        for (int r = 0; r < rows; r++) {
            int t = r / TILE_ROWS;
            int tr = r % TILE_ROWS;
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, r * rowBytes, row, 0, row.length);
            for (int b = 0; b < nb; b++) {
                long blk = t * tileBytes + (long) BLOCK * b;
                for (int c = 0; c < 8; c++) {
                    for (int e = 0; e < 2; e++) {
                        int lo = nibble(row, 32 * b + 4 * c + e);
                        int hi = nibble(row, 32 * b + 4 * c + 2 + e);
                        dst.set(ValueLayout.JAVA_BYTE, blk + 32 * c + 2 * tr + e, (byte) (lo | hi << 4));
                    }
                }
            }
            for (int g = 0; g < groups; g++) {
                int i = (t * groups + g) * TILE_ROWS + tr;
                scales[i] = w.scaleAt(r, g * group);
                zeros[i] = w.zeroAt(r, g * group);
            }
        }
        return new AffineInt4Tiles(rows, cols, w.spec(), group, dst, scales, zeros, w.outliers());
    }

    /** Code of column c in a row of packed 4-bit codes (code c in bits [4c, 4c+4)). */
    private static int nibble(byte[] row, int c) {
        int v = row[c >> 1];
        return ((c & 1) == 0 ? v : v >> 4) & 0xF;
    }

    /** Number of tiles of {@code rows} rows. */
    public static int tiles(int rows) {
        return Interleaved.tiles(rows);
    }

    /** The source's spec. */
    public AffineSpec spec() {
        return spec;
    }

    /** Columns per scale group (cols for per-tensor and per-row specs). */
    public int group() {
        return group;
    }

    /** Code of W[r, c]. */
    public int code(int r, int c) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(c, cols());
        int j = c & 31;
        long blk = (r / TILE_ROWS) * (long) BLOCK * nb + (long) BLOCK * (c >> 5);
        int v = codes.get(ValueLayout.JAVA_BYTE, blk + 32 * (j >> 2) + 2 * (r % TILE_ROWS) + (j & 1));
        return ((j & 2) == 0 ? v : v >> 4) & 0xF;
    }

    @Override
    public String describe() {
        return "affine " + spec.describe() + " int4 tiles x16 (Q8_0 input)";
    }

    /** Bytes held: the tiles (padded to whole tiles) and a float scale and zero point per tile row and group. */
    @Override
    public long byteSize() {
        return codes.byteSize() + 8L * scales.length + outliers().byteSize();
    }

    @Override
    public AffineInt4Tiles withOutliers(Outliers outliers) {
        return new AffineInt4Tiles(rows(), cols(), spec, group, codes, scales, zeros, outliers);
    }

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        int cols = cols();
        long tileBytes = (long) BLOCK * nb;
        for (int r = rowFrom; r < rowTo; r++) {
            int o = dstOff + (r - rowFrom) * cols;
            int t = r / TILE_ROWS;
            int tr = r % TILE_ROWS;
            for (int b = 0; b < nb; b++) {
                int i = (t * groups + b / groupBlocks) * TILE_ROWS + tr;
                float s = scales[i];
                int z = (int) zeros[i];
                long blk = t * tileBytes + (long) BLOCK * b + 2 * tr;
                for (int c = 0; c < 8; c++) {
                    for (int e = 0; e < 2; e++) {
                        int v = codes.get(ValueLayout.JAVA_BYTE, blk + 32 * c + e);
                        dst[o + 32 * b + 4 * c + e] = GroupwiseAffine.dequantize(v & 0xF, s, z);
                        dst[o + 32 * b + 4 * c + 2 + e] = GroupwiseAffine.dequantize((v >> 4) & 0xF, s, z);
                    }
                }
            }
        }
    }

    /** Rejects NaN and ±∞ in x: the input is quantized to Q8_0, which cannot represent them. */
    @Override
    protected void checkInput(String op, float[] x, long n) {
        requireFinite(op, x, n, "this layout quantizes the input to Q8_0 and needs finite values (the GroupwiseAffine "
                + "source does not)");
    }

    /** Q8_0 pair activations (in the Q4_0 form) of the n rows of X and their group sums X̂_g. */
    private record Activation(int[] pairs, int stride, float[] groupSums) {
    }

    /** Per X row the Q8_0 activation, or null for a GEMM of more than {@value #SMALL_N} rows (decoded tiles). */
    @Override
    protected Object prepareInput(float[] x, int n) {
        if (n > SMALL_N) {
            return null;
        }
        int c = cols();
        int stride = Interleaved.activationInts(c);
        int[] act = new int[Math.max(1, n * stride)];
        float[] sums = new float[Math.max(1, n * groups)];
        for (int i = 0; i < n; i++) {
            Interleaved.quantizeActivation(GgmlType.Q4_0, x, i * c, c, act, i * stride);
            for (int g = 0; g < groups; g++) {
                float s = 0f;
                for (int b = g * groupBlocks; b < (g + 1) * groupBlocks; b++) {
                    int ao = i * stride + GgmlKernels.PAIR_INTS * b;
                    float d = Float.intBitsToFloat(act[ao + GgmlKernels.PAIR_INTS - 1]);
                    int sum = act[ao + GgmlKernels.PAIR_INTS - 2];
                    s = ScalarGgmlKernels.FAST_FMA ? Math.fma((float) sum, d, s) : s + (float) sum * d;
                }
                sums[i * groups + g] = s;
            }
        }
        return new Activation(act, stride, sums);
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        gemvBaseRows(x, xOff, prepareInput(java.util.Arrays.copyOfRange(x, xOff, xOff + cols()), 1), 0, y, yOff,
                rowFrom, rowTo);
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, Object prepared, int xRow, float[] y, int yOff, int rowFrom,
            int rowTo) {
        if (rowFrom == rowTo) {
            return;
        }
        if (rowFrom % TILE_ROWS != 0) {
            throw new IllegalStateException("AffineInt4Tiles: row chunks start at a tile boundary, got " + rowFrom);
        }
        Activation a = (Activation) prepared;
        int t0 = rowFrom / TILE_ROWS;
        K.gemvInt4Tiles(codes, t0 * (long) BLOCK * nb, tiles(rowTo) - t0, nb, groupBlocks, scales, zeros,
                t0 * groups * TILE_ROWS, a.pairs(), xRow * a.stride(), a.groupSums(), xRow * groups, y,
                yOff + rowFrom, rowTo - rowFrom);
    }

    /** Whole pairs of 16-row tiles per task (the kernel runs two 16-row parts side by side at 512 bits). */
    @Override
    protected int gemvGrain() {
        return Math.max(32, LayoutTiling.gemvGrain(cols()) & ~31);
    }

    @Override
    protected int gemmTileRows() {
        return LayoutTiling.gemmTileRows(rows(), cols());
    }
}

package lowbit.tensor.layout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;
import lowbit.tensor.PackedInts;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Interleaved;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.SparseKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * An int4 + 2:4 {@link NmSparseAffine} matrix repacked into 16-row tiles for an integer GEMV, as {@link AffineInt4Tiles}
 * does for dense int4: x is quantized once per product to Q8_0 (ggml's reference encoder: blocks of 32, int8 codes,
 * fp16 scale), and each 32-column block of 16 rows is an exact integer sum of (q − z)·a over the kept values, the
 * activation code a of each kept value picked from its group of four by its 2-bit index with one 16-bit lane
 * permute (so the kernel never expands the sparse row to dense columns).
 *
 * <p><b>What is computed.</b> Ŵ is exactly the source's: {@code s·(q − z)} at the kept positions, 0 elsewhere (a
 * lossless repack; {@link #dequantizeRows} gives the source's bits). A GEMV, and a GEMM of at most 8 rows, compute
 * {@code y = Ŵ·x̂ + b} with x̂ = Q8_0(x), x̂_c = d_b·a_c: per row and quantization group g, f_g = &Sigma;_{b in g}
 * d_b·S_b with S_b = &Sigma; (q − z)·a the exact integer block sum, and y = &Sigma;_g s_g·f_g (the float order of
 * {@link SparseKernels#gemvNm24Int4Tiles}). Against the exact product with x,
 * <pre>
 *   |y − Ŵ·x| &le; &Sigma;_c |Ŵ[r,c]|·|x_c − x̂_c| + (float rounding of the sums above)
 * </pre>
 * as for {@link AffineInt4Tiles}. GEMMs of more than 8 rows decode Ŵ to floats and run the dense GEMM on the exact x.
 * Results are the same bits at every vector width, in scalar mode and for any thread count.
 *
 * <p><b>Storage</b> (per tile of 16 rows and block of 32 columns; ceil(rows/16) tiles, the last padded with rows of
 * code 0, index 0, scale 0 and zero point 0): 128 code bytes and 8 index words as {@link SparseKernels#gemvNm24Int4Tiles}
 * lays them out, i.e. 3 bits per weight like the source; a float scale per tile row and group, and a 16-bit zero
 * point per tile row and group, held twice (once per lane of the row). Outliers of the source are kept and honoured.
 *
 * <p>Inputs with NaN or ±∞ are rejected (Q8_0 cannot represent them); use the source {@link NmSparseAffine} for a
 * product that propagates them.
 *
 * <p><b>Vector widths.</b> Vector API kernels run at 512, 256 and 128 bits (AVX-512, AVX2, NEON/SSE); in scalar mode
 * (no Vector API) the products run the scalar twin, with the same bits but far slower: {@link #vectorized()} says
 * which.
 */
public final class NmSparseInt4Tiles extends AbstractQuantizedMatrix {
    /** Rows per tile. */
    public static final int TILE_ROWS = 16;
    private static final SparseKernels K = VectorizationProvider.get().sparse();
    private static final int CODE_BYTES = SparseKernels.NM24_TILE_CODE_BYTES;
    private static final int WORDS = SparseKernels.NM24_TILE_INDEX_WORDS;

    private final AffineSpec spec;
    private final int group;
    private final int nb;
    private final int groupBlocks;
    private final int groups;
    private final MemorySegment codes;
    private final long[] idx;
    private final float[] scales;
    private final short[] zeros;

    private NmSparseInt4Tiles(int rows, int cols, AffineSpec spec, int group, MemorySegment codes, long[] idx,
            float[] scales, short[] zeros, Outliers outliers) {
        super(rows, cols, outliers);
        this.spec = spec;
        this.group = group;
        this.nb = cols / 32;
        this.groupBlocks = group / 32;
        this.groups = cols / group;
        this.codes = codes;
        this.idx = idx;
        this.scales = scales;
        this.zeros = zeros;
        initOutliers();
    }

    /**
     * Why {@code w} cannot be tiled, or null when it can: the 2:4 pattern, 4-bit codes, and scales per tensor, per row
     * or in groups along the input of a multiple of 32 columns (so cols is a multiple of 32).
     */
    public static String unsupportedReason(NmSparseAffine w) {
        Objects.requireNonNull(w, "w");
        if (w.n() != 2 || w.m() != 4) {
            return "needs the 2:4 pattern, got " + w.n() + ":" + w.m();
        }
        if (w.spec().bits() != 4) {
            return "needs 4-bit codes, got " + w.spec().bits();
        }
        int group = groupOf(w.spec(), w.cols());
        if (w.cols() == 0 || group % 32 != 0) {
            return "needs groups of a multiple of 32 columns, got " + group + " (cols " + w.cols() + ")";
        }
        return null;
    }

    private static int groupOf(AffineSpec s, int cols) {
        return s.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN ? s.groupSize() : cols;
    }

    /**
     * Repacks {@code w} (see {@link #unsupportedReason}) into tiles in a native copy.
     *
     * @throws IllegalArgumentException naming the reason when {@code w} cannot be tiled, or when the matrix is too
     *     large for the index words' array
     */
    public static NmSparseInt4Tiles of(NmSparseAffine w) {
        String why = unsupportedReason(w);
        if (why != null) {
            throw new IllegalArgumentException("NmSparseInt4Tiles of " + w.describe() + " [" + w.rows() + ", "
                    + w.cols() + "]: " + why);
        }
        int rows = w.rows();
        int cols = w.cols();
        AffineSpec spec = w.spec();
        int group = groupOf(spec, cols);
        int nb = cols / 32;
        int groups = cols / group;
        int tiles = tiles(rows);
        long words = (long) tiles * nb * WORDS;
        long grid = (long) tiles * groups * TILE_ROWS;
        if (words > Integer.MAX_VALUE - 8 || 2 * grid > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("NmSparseInt4Tiles: " + rows + "x" + cols + " is too large ("
                    + words + " index words)");
        }
        MemorySegment dst = Arena.ofAuto().allocate(Math.max(1, (long) tiles * nb * CODE_BYTES), 64);
        long[] idx = new long[(int) words];
        float[] scales = new float[(int) grid];
        short[] zeros = new short[(int) (2 * grid)];
        float[] ws = w.scales();
        int[] wz = w.zeros();
        int kept = w.keptPerRow();
        int stride = spec.granularity() == AffineSpec.Granularity.PER_TENSOR ? 0 : spec.scaleCols(cols);
        int zc = spec.symmetricZero();
        // one row of codes and indices at a time (the whole matrix unpacked to ints would be 8 bytes per kept value)
        long codeRowBytes = PackedInts.byteSize(kept, 4);
        long idxRowBytes = PackedInts.byteSize(kept, 2);
        int[] q = new int[kept];
        int[] in = new int[kept];
        for (int r = 0; r < rows; r++) {
            int t = r / TILE_ROWS;
            int tr = r % TILE_ROWS;
            PackedInts.unpack(w.packedCodes().asSlice(r * codeRowBytes, codeRowBytes), 0, 4, false, q, 0, kept);
            PackedInts.unpack(w.packedIndices().asSlice(r * idxRowBytes, idxRowBytes), 0, 2, false, in, 0, kept);
            for (int b = 0; b < nb; b++) {
                long blk = (t * (long) nb + b) * CODE_BYTES;
                int io = (t * nb + b) * WORDS;
                for (int kb = 0; kb < 16; kb++) {
                    int lane = SparseKernels.nm24Lane(tr, kb);
                    long at = blk + SparseKernels.nm24CodeByte(kb, lane);
                    int old = dst.get(ValueLayout.JAVA_BYTE, at);
                    int code = q[16 * b + kb];
                    dst.set(ValueLayout.JAVA_BYTE, at, (byte) ((kb & 2) == 0 ? (old & 0xF0) | code : (old & 0x0F) | code << 4));
                    idx[io + kb / 2] |= (long) in[16 * b + kb] << SparseKernels.nm24IndexBit(lane);
                }
            }
            for (int g = 0; g < groups; g++) {
                int gi = r * stride + g;
                int i = (t * groups + g) * TILE_ROWS + tr;
                scales[i] = ws[gi];
                short z = (short) (wz == null ? zc : wz[gi]);
                zeros[2 * (t * groups + g) * TILE_ROWS + tr] = z;
                zeros[2 * (t * groups + g) * TILE_ROWS + TILE_ROWS + tr] = z;
            }
        }
        return new NmSparseInt4Tiles(rows, cols, spec, group, dst, idx, scales, zeros, w.outliers());
    }

    /** Whether the products run a vector kernel here (512-, 256- or 128-bit vectors), not the scalar twin. */
    public static boolean vectorized() {
        int bits = VectorizationProvider.get().vectorBitSize();
        return bits == 512 || bits == 256 || bits == 128;
    }

    /** Number of tiles of {@code rows} rows. */
    public static int tiles(int rows) {
        return (rows + TILE_ROWS - 1) / TILE_ROWS;
    }

    /** The source's spec. */
    public AffineSpec spec() {
        return spec;
    }

    /** Columns per scale group (cols for per-tensor and per-row specs). */
    public int group() {
        return group;
    }

    /** Code of kept value k of row r (k in [0, cols/2)). */
    public int code(int r, int k) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(k, cols() / 2);
        return codeAt(r, k);
    }

    /** In-group index (0..3) of kept value k of row r. */
    public int index(int r, int k) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(k, cols() / 2);
        return indexAt(r, k);
    }

    private int codeAt(int r, int k) {
        int kb = k & 15;
        long blk = ((r / TILE_ROWS) * (long) nb + (k >> 4)) * CODE_BYTES;
        int v = codes.get(ValueLayout.JAVA_BYTE, blk + SparseKernels.nm24CodeByte(kb, SparseKernels.nm24Lane(r % TILE_ROWS, kb)));
        return SparseKernels.nm24Code(v, kb);
    }

    private int indexAt(int r, int k) {
        int kb = k & 15;
        long word = idx[((r / TILE_ROWS) * nb + (k >> 4)) * WORDS + kb / 2];
        return (int) (word >>> SparseKernels.nm24IndexBit(SparseKernels.nm24Lane(r % TILE_ROWS, kb))) & 3;
    }

    @Override
    public String describe() {
        return "N:M 2:4 + affine " + spec.describe() + " int4 tiles x16 (Q8_0 input)";
    }

    /** Bytes held: codes and index words (padded to whole tiles), float scales, 16-bit zero points (twice). */
    @Override
    public long byteSize() {
        return codes.byteSize() + 8L * idx.length + 4L * scales.length + 2L * zeros.length + outliers().byteSize();
    }

    @Override
    public NmSparseInt4Tiles withOutliers(Outliers outliers) {
        return new NmSparseInt4Tiles(rows(), cols(), spec, group, codes, idx, scales, zeros, outliers);
    }

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        int cols = cols();
        Arrays.fill(dst, dstOff, dstOff + (rowTo - rowFrom) * cols, 0f);
        for (int r = rowFrom; r < rowTo; r++) {
            int o = dstOff + (r - rowFrom) * cols;
            int t = r / TILE_ROWS;
            int tr = r % TILE_ROWS;
            for (int k = 0; k < cols / 2; k++) {
                int g = (k >> 4) / groupBlocks;
                float s = scales[(t * groups + g) * TILE_ROWS + tr];
                int z = zeros[2 * (t * groups + g) * TILE_ROWS + tr];
                dst[o + 4 * (k >> 1) + indexAt(r, k)] = s * (codeAt(r, k) - z);
            }
        }
    }

    /** Rejects NaN and ±∞ in x: the input is quantized to Q8_0, which cannot represent them. */
    @Override
    protected void checkInput(String op, float[] x, long n) {
        requireFinite(op, x, n, "this layout quantizes the input to Q8_0 and needs finite values (the NmSparseAffine "
                + "source does not)");
    }

    /** Q8_0 activations of the n rows of X: per row, cols/4 words of four 16-bit codes, and cols/32 scales. */
    private record Activation(long[] words, float[] d) {
    }

    /** Per X row the Q8_0 activation, or null for a GEMM of more than {@value #SMALL_N} rows (decoded Ŵ). */
    @Override
    protected Object prepareInput(float[] x, int n) {
        if (n > SMALL_N) {
            return null;
        }
        int c = cols();
        int stride = Interleaved.activationInts(c);
        int[] pairs = new int[Math.max(1, stride)];
        long[] words = new long[Math.max(1, n * c / 4)];
        float[] d = new float[Math.max(1, n * nb)];
        for (int i = 0; i < n; i++) {
            Interleaved.quantizeActivation(GgmlType.Q8_0, x, i * c, c, pairs, 0);
            for (int b = 0; b < nb; b++) {
                int ao = GgmlKernels.PAIR_INTS * b;
                for (int g4 = 0; g4 < 8; g4++) {
                    words[i * c / 4 + 8 * b + g4] = (pairs[ao + 2 * g4] & 0xFFFF_FFFFL) | (long) pairs[ao + 2 * g4 + 1] << 32;
                }
                d[i * nb + b] = Float.intBitsToFloat(pairs[ao + GgmlKernels.PAIR_INTS - 1]);
            }
        }
        return new Activation(words, d);
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        gemvBaseRows(x, xOff, prepareInput(Arrays.copyOfRange(x, xOff, xOff + cols()), 1), 0, y, yOff, rowFrom,
                rowTo);
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, Object prepared, int xRow, float[] y, int yOff, int rowFrom,
            int rowTo) {
        if (rowFrom == rowTo) {
            return;
        }
        if (rowFrom % TILE_ROWS != 0) {
            throw new IllegalStateException("NmSparseInt4Tiles: row chunks start at a tile boundary, got " + rowFrom);
        }
        Activation a = (Activation) prepared;
        int t0 = rowFrom / TILE_ROWS;
        K.gemvNm24Int4Tiles(codes, t0 * (long) nb * CODE_BYTES, idx, t0 * nb * WORDS, tiles(rowTo) - t0, nb,
                groupBlocks, scales, t0 * groups * TILE_ROWS, zeros, 2 * t0 * groups * TILE_ROWS, a.words(),
                xRow * cols() / 4, a.d(), xRow * nb, y, yOff + rowFrom, rowTo - rowFrom);
    }

    /** Whole 16-row tiles per task. */
    @Override
    protected int gemvGrain() {
        return Math.max(TILE_ROWS, LayoutTiling.gemvGrain(cols()) & ~(TILE_ROWS - 1));
    }

    @Override
    protected int gemmTileRows() {
        return LayoutTiling.gemmTileRows(rows(), cols());
    }
}

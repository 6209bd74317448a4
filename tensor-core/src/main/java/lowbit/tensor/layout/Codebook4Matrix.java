package lowbit.tensor.layout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import lowbit.tensor.simd.AffineKernels;
import lowbit.tensor.simd.CodebookKernels;
import lowbit.tensor.simd.ScalarCodebookKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * A matrix in one of bitsandbytes' 4-bit codebook formats ({@link Nf4}, {@link Fp4}; QLoRA, Dettmers et al. 2023):
 * W is quantized as the flat row-major sequence of its rows·cols elements, cut into blocks of {@link #blockSize()}
 * (64 by default; a block may continue into the next row when cols is not a multiple of it); element e of block b is
 * Ŵ[e] = table[q_e]·absmax_b with a 16-entry table and absmax_b = max |w| over the block. The absmax values are F32,
 * or themselves quantized ({@link DoubleQuantizedAbsmax}).
 *
 * <p><b>Storage</b> (bitsandbytes' packing): two codes per byte, element e in byte e/2, the <em>high</em> nibble for
 * even e and the low nibble for odd e ({@code (q[2j] << 4) | q[2j+1]}); ceil(rows·cols/2) bytes in a native segment.
 *
 * <p><b>Encoding</b> reproduces bitsandbytes' CUDA kernel {@code kQuantizeBlockwise}: absmax = max |x| over the block,
 * the scaled value x·(1/absmax) (float) goes through the format's threshold tree ({@link Nf4#encodeValue},
 * {@link Fp4#encodeValue}). Like the CUDA build (fast-math, flush-to-zero), subnormal inputs, reciprocals and
 * scaled values count as signed zeros. So, as in bitsandbytes: an all-zero block (or one of subnormals only) has
 * absmax 0, its scaled values are 0·∞ = NaN and the trees map NaN to code 0 (decoding to ±0); a block with
 * absmax &gt; 2^126 has a flushed reciprocal, every scaled value is 0 and the block decodes to zeros. One documented
 * difference: fast-math's approximate reciprocal can move a value within an ulp of a threshold to the neighbouring
 * code. Non-finite weights are rejected.
 *
 * <p><b>Products</b> follow {@link QuantizedMatrix}: each GEMV element is within γ_m·Σ_c |Ŵ[r, c]·x[c]| of the exact
 * value, m = cols + cols/blockSize + 3. NaN/infinite x propagates as in float arithmetic.
 */
public abstract sealed class Codebook4Matrix extends AbstractQuantizedMatrix permits Nf4, Fp4 {
    /** bitsandbytes' default block size. */
    public static final int DEFAULT_BLOCK_SIZE = 64;
    private static final CodebookKernels K = VectorizationProvider.get().codebooks();
    /** For the nibble input of the prepared GEMV (the same even/odd chunks as the int4 affine path). */
    private static final AffineKernels NIBBLES = VectorizationProvider.get().affine();

    private final int blockSize;
    private final MemorySegment codes;
    /** F32 absmax per block, or null when {@link #dq} holds them. */
    private final float[] absmax;
    private final DoubleQuantizedAbsmax dq;

    Codebook4Matrix(int rows, int cols, int blockSize, MemorySegment codes, float[] absmax, DoubleQuantizedAbsmax dq,
            Outliers outliers) {
        super(rows, cols, outliers);
        this.blockSize = blockSize;
        this.codes = codes;
        this.absmax = absmax;
        this.dq = dq;
        initOutliers();
    }

    /** The 16 values, indexed by code. */
    abstract float[] table();

    /** {@code "nf4"} or {@code "fp4"}. */
    abstract String typeName();

    /** Number of blocks, ceil(rows·cols/blockSize). */
    static long blocks(int rows, int cols, int blockSize) {
        return ((long) rows * cols + blockSize - 1) / blockSize;
    }

    // ---- shared construction ----

    /** Packed codes and F32 absmax of an encoded matrix. */
    record Encoded(MemorySegment codes, float[] absmax) {
    }

    /** Maps a scaled value in [−1, 1] (or NaN) to a code. */
    interface ValueEncoder {
        int encode(float scaled);
    }

    /** Flush-to-zero: a subnormal becomes the zero of its sign. */
    static float ftz(float v) {
        return Math.abs(v) < Float.MIN_NORMAL ? Math.copySign(0f, v) : v;
    }

    static void checkShape(String type, int rows, int cols, int blockSize) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException(type + ": negative shape [" + rows + ", " + cols + "]");
        }
        if (blockSize < 1) {
            throw new IllegalArgumentException(type + ": block size must be >= 1, got " + blockSize);
        }
        if ((long) rows * cols > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(type + ": [" + rows + ", " + cols + "] has more than 2^31 elements");
        }
    }

    /** Encodes w block by block (see the class comment). */
    static Encoded encode(String type, float[] w, int rows, int cols, int blockSize, ValueEncoder enc) {
        Objects.requireNonNull(w, "w");
        checkShape(type, rows, cols, blockSize);
        int n = rows * cols;
        if (w.length != n) {
            throw new IllegalArgumentException(type + ": " + w.length + " weights for a [" + rows + ", " + cols
                    + "] matrix, expected " + n);
        }
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(w[i])) {
                throw new IllegalArgumentException(type + ": weight at row " + i / cols + ", col " + i % cols + " is "
                        + w[i]);
            }
        }
        int blocks = (int) blocks(rows, cols, blockSize);
        float[] absmax = new float[blocks];
        byte[] packed = new byte[(n + 1) / 2];
        for (int b = 0; b < blocks; b++) {
            int from = b * blockSize;
            int to = Math.min(n, from + blockSize);
            float a = 0;
            for (int e = from; e < to; e++) {
                a = Math.max(a, Math.abs(ftz(w[e])));
            }
            absmax[b] = a;
            float inv = ftz(1f / a);
            for (int e = from; e < to; e++) {
                int q = enc.encode(ftz(ftz(w[e]) * inv));
                packed[e >> 1] |= (byte) ((e & 1) == 0 ? q << 4 : q);
            }
        }
        MemorySegment seg = GroupwiseAffine.offHeap(packed.length);
        seg.copyFrom(MemorySegment.ofArray(packed));
        return new Encoded(seg, absmax);
    }

    /** Validates stored parts and returns the codes in a native segment (a heap segment is copied). */
    static MemorySegment checkStored(String type, int rows, int cols, int blockSize, MemorySegment packedCodes,
            float[] absmax, DoubleQuantizedAbsmax dq) {
        Objects.requireNonNull(packedCodes, "packedCodes");
        checkShape(type, rows, cols, blockSize);
        long need = ((long) rows * cols + 1) / 2;
        if (packedCodes.byteSize() < need) {
            throw new IllegalArgumentException(type + ": codes of a [" + rows + ", " + cols + "] matrix need " + need
                    + " bytes, the segment has " + packedCodes.byteSize());
        }
        long blocks = blocks(rows, cols, blockSize);
        long have = absmax != null ? absmax.length : dq.count();
        if (have != blocks) {
            throw new IllegalArgumentException(type + ": [" + rows + ", " + cols + "] in blocks of " + blockSize
                    + " needs " + blocks + " absmax values, got " + have);
        }
        if (absmax != null) {
            for (int i = 0; i < absmax.length; i++) {
                if (!Float.isFinite(absmax[i])) {
                    throw new IllegalArgumentException(type + ": absmax[" + i + "] is " + absmax[i]);
                }
            }
        }
        MemorySegment codes = packedCodes.asSlice(0, need);
        if (!codes.isNative()) {
            codes = GroupwiseAffine.offHeap(need).copyFrom(codes);
        }
        return codes.asReadOnly();
    }

    // ---- accessors ----

    /** Elements per absmax block. */
    public int blockSize() {
        return blockSize;
    }

    /** The packed codes, read-only (bitsandbytes' layout; see the class comment). */
    public MemorySegment packedCodes() {
        return codes.asReadOnly();
    }

    /** The code of W[r, c]. */
    public int code(int r, int c) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(c, cols());
        return ScalarCodebookKernels.code(codes, (long) r * cols() + c);
    }

    /** All codes, row-major. */
    public int[] codes() {
        int n = rows() * cols();
        int[] out = new int[n];
        for (int e = 0; e < n; e++) {
            int b = codes.get(ValueLayout.JAVA_BYTE, e >> 1);
            out[e] = (e & 1) == 0 ? (b >>> 4) & 0xF : b & 0xF;
        }
        return out;
    }

    /** The 16 values of this format, indexed by code (a copy). */
    public float[] codebook() {
        return table().clone();
    }

    /**
     * This matrix repacked into 16-row tiles for a faster GEMV ({@link Codebook4Tiles#of}; same Ŵ, see there).
     *
     * @throws IllegalArgumentException when the shape cannot be tiled ({@link Codebook4Tiles#unsupportedReason})
     */
    public Codebook4Tiles tiles() {
        return Codebook4Tiles.of(this);
    }

    /** The absmax of every block as floats (decoded when double-quantized; a copy). */
    public float[] absmax() {
        return absmax != null ? absmax.clone() : dq.decode();
    }

    /** The double-quantized absmax, or null when they are stored as F32. */
    public DoubleQuantizedAbsmax doubleQuantized() {
        return dq;
    }

    /** Whether the absmax values are double-quantized. */
    public boolean isDoubleQuantized() {
        return dq != null;
    }

    @Override
    public String describe() {
        return typeName() + " b" + blockSize + (dq != null ? " dq" + dq.blockSize() : "");
    }

    @Override
    public long byteSize() {
        long n = (long) rows() * cols();
        return (n + 1) / 2 + (dq != null ? dq.byteSize() : 4L * absmax.length) + outliers().byteSize();
    }

    /** The absmax of blocks [from, to) as floats: the stored array itself, or decoded into a new one. */
    private float[] absmaxRange(long from, long to) {
        if (absmax != null) {
            return absmax;
        }
        float[] a = new float[(int) (to - from)];
        dq.decode((int) from, (int) to, a, 0);
        return a;
    }

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        long first = (long) rowFrom * cols();
        int count = (rowTo - rowFrom) * cols();
        if (count == 0) {
            return;
        }
        long b0 = first / blockSize;
        long b1 = (first + count - 1) / blockSize + 1;
        K.dequantize(codes, table(), blockSize, absmaxRange(b0, b1), absmax != null ? 0 : b0, first, count, dst,
                dstOff);
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        int cols = cols();
        if (rowFrom == rowTo) {
            return;
        }
        if (cols == 0) {
            java.util.Arrays.fill(y, yOff + rowFrom, yOff + rowTo, 0f);
            return;
        }
        long b0 = (long) rowFrom * cols / blockSize;
        long b1 = ((long) rowTo * cols - 1) / blockSize + 1;
        K.gemv(codes, table(), cols, blockSize, absmaxRange(b0, b1), absmax != null ? 0 : b0, x, xOff, rowFrom,
                rowTo, y, yOff);
    }

    /**
     * For a GEMV or a GEMM of at most {@value #SMALL_N} rows with blocks inside rows ({@link
     * CodebookKernels#prefersPrepared}): each X row as a nibble input (even/odd halves of 32-column chunks), once per
     * product. Otherwise nothing.
     */
    @Override
    protected Object prepareInput(float[] x, int n) {
        int cols = cols();
        if (n > SMALL_N || !K.prefersPrepared(cols, blockSize)) {
            return null;
        }
        int len = AffineKernels.nibbleInputLength(cols, cols);
        float[] xp = new float[n * len];
        for (int i = 0; i < n; i++) {
            NIBBLES.prepareNibbleInput(x, i * cols, cols, cols, xp, i * len);
        }
        return xp;
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, Object prepared, int xRow, float[] y, int yOff, int rowFrom,
            int rowTo) {
        if (rowFrom == rowTo) {
            return;
        }
        int cols = cols();
        long b0 = (long) rowFrom * cols / blockSize;
        long b1 = (long) rowTo * cols / blockSize;
        K.gemvPrepared(codes, table(), cols, blockSize, absmaxRange(b0, b1), absmax != null ? 0 : b0,
                (float[]) prepared, xRow * AffineKernels.nibbleInputLength(cols, cols), rowFrom, rowTo, y, yOff);
    }

    /** See {@link LayoutTiling#gemmTileRows}. */
    @Override
    protected int gemmTileRows() {
        return LayoutTiling.gemmTileRows(rows(), cols());
    }

    /** See {@link LayoutTiling#gemvGrain}. */
    @Override
    protected int gemvGrain() {
        return LayoutTiling.gemvGrain(cols());
    }

    /** The F32 absmax array or null (for subclasses' withOutliers). */
    float[] rawAbsmax() {
        return absmax;
    }

    /** The codes segment (for subclasses' withOutliers). */
    MemorySegment rawCodes() {
        return codes;
    }
}

package lowbit.tensor.layout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.ggml.GgmlOps;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Interleaved;

/**
 * A weight matrix stored as rows of ggml blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, and whatever else {@link GgmlOps}
 * encodes, decodes and multiplies): row r is {@code type.rowBytes(cols)} bytes of blocks, rows contiguous, as in a
 * GGUF tensor ({@code ggml}'s {@code ne0 = cols}, {@code ne1 = rows}).
 *
 * <p>Two storages, one meaning:
 * <ul>
 *   <li><b>standard</b> ({@link #of}): the ggml bytes where they are, zero-copy (a heap array, a native segment or a
 *       memory-mapped GGUF file); products use {@link GgmlOps}' row kernels.</li>
 *   <li><b>interleaved</b> ({@link #interleaved()}, and what {@link #encode} returns for Q4_0/Q8_0): the same blocks
 *       repacked losslessly into 16-row tiles ({@link Interleaved}) in a native copy, which the fastest kernels read.
 *       {@link #standardBytes()} gives the ggml bytes back exactly.</li>
 * </ul>
 *
 * <p><b>Products use ggml's integer path.</b> {@link #gemv} and {@link #gemm} quantize each row of x (X) once to
 * the weight type's Q8 activation type with ggml's reference encoder (so they reject non-finite input, see
 * {@link #checkInput}), then compute exact integer block products and one float multiply per block. Error bound
 * against the exact product with Ŵ: per output, with x̂ the Q8-dequantized activation (|x_c − x̂_c| &le; d_a/2 per
 * element of a block with scale d_a = fp16(max|x|/127), plus fp16 rounding of d_a: relative 2^-11),
 * <pre>|y − Ŵ·x| &le; &Sigma;_c |Ŵ[r,c]|·|x_c − x̂_c| + 2·γ_(nb+2)·&Sigma;_c |Ŵ[r,c]·x̂_c|</pre>
 * (the second term: the float evaluation of &Sigma;_b d_w·d_a·S_b over nb = cols/32 blocks). Outliers and bias are
 * added in float with the unquantized x (base class). Results are bit-identical for any thread count.
 *
 * <p>GEMM: for n &le; {@value #SMALL_N} rows of X each weight chunk is read from memory once and reused from cache
 * for every X row. For larger n the interleaved form runs a fused integer kernel over 16-row tiles that keeps a
 * tile in cache for all X rows; the standard form decodes a tile of rows to floats and runs the dense GEMM with the
 * unquantized X (then only the float summation bound applies).
 */
public final class GgmlMatrix extends AbstractQuantizedMatrix {
    private final GgmlType type;
    private final MemorySegment data;
    private final long offset;
    private final boolean interleaved;
    /** Interleaved storage whose fp16 scales are all finite (checked once when repacked): the faster GEMV. */
    private final boolean finiteScales;
    private final long rowBytes;

    private GgmlMatrix(GgmlType type, MemorySegment data, long offset, int rows, int cols, boolean interleaved,
            boolean finiteScales, Outliers outliers) {
        super(rows, cols, outliers);
        this.type = type;
        this.data = data;
        this.offset = offset;
        this.interleaved = interleaved;
        this.finiteScales = finiteScales;
        this.rowBytes = type.rowBytes(cols);
        initOutliers();
    }

    /**
     * A zero-copy view of {@code rows} standard ggml rows of {@code cols} elements from byte {@code offset} of
     * {@code segment} (which must stay alive and unchanged while the matrix is used).
     *
     * @throws IllegalArgumentException for a type {@link GgmlOps} cannot multiply, cols not a multiple of the block
     *     size, or a negative shape
     * @throws IndexOutOfBoundsException when the segment is too short
     */
    public static GgmlMatrix of(GgmlType type, MemorySegment segment, long offset, int rows, int cols) {
        Objects.requireNonNull(segment, "segment");
        checkShape(type, rows, cols);
        long need = type.rowBytes(cols) * rows;
        if (offset < 0 || offset > segment.byteSize() - need) {
            throw new IndexOutOfBoundsException(type + " matrix " + rows + "x" + cols + " needs bytes [" + offset + ", "
                    + (offset + need) + ") but the segment has " + segment.byteSize());
        }
        return new GgmlMatrix(type, segment, offset, rows, cols, false, false, null);
    }

    /**
     * Encodes row-major {@code w} ({@code rows·cols} floats) with ggml's reference encoder for {@code type}; Q4_0
     * and Q8_0 come back {@linkplain #interleaved() interleaved}.
     *
     * @throws IllegalArgumentException for a bad shape or type, or a non-finite weight (the message names it)
     */
    public static GgmlMatrix encode(float[] w, int rows, int cols, GgmlType type) {
        Objects.requireNonNull(w, "w");
        checkShape(type, rows, cols);
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException(type + ": w has " + w.length + " elements, expected " + rows + "x" + cols);
        }
        long rb = type.rowBytes(cols);
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(1, rb * rows), 64);
        for (int r = 0; r < rows; r++) {
            GgmlOps.quantizeRow(type, w, r * cols, seg, r * rb, cols);
        }
        GgmlMatrix m = new GgmlMatrix(type, seg, 0, rows, cols, false, false, null);
        return Interleaved.supports(type) ? m.interleaved() : m;
    }

    private static void checkShape(GgmlType type, int rows, int cols) {
        GgmlOps.activationType(type); // rejects types without an integer product
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException(type + ": negative shape [" + rows + ", " + cols + "]");
        }
        type.rowBytes(cols); // rejects cols not a multiple of the block size
    }

    /**
     * This matrix in the 16-row interleaved storage (a native copy, lossless), or this one if it is already
     * interleaved or its type has no interleaved form.
     */
    public GgmlMatrix interleaved() {
        if (interleaved || !Interleaved.supports(type)) {
            return this;
        }
        MemorySegment dst = Arena.ofAuto().allocate(Math.max(1, Interleaved.byteSize(type, rows(), cols())), 64);
        Interleaved.repack(type, data, offset, rows(), cols(), dst, 0);
        return new GgmlMatrix(type, dst, 0, rows(), cols(), true,
                Interleaved.scalesFinite(type, dst, 0, rows(), cols()), outliers());
    }

    /** Whether the storage is the 16-row interleaved one. */
    public boolean isInterleaved() {
        return interleaved;
    }

    /** The ggml type of the blocks. */
    public GgmlType type() {
        return type;
    }

    /** The standard ggml bytes of all rows (a copy when interleaved, else a slice of the backing segment). */
    public MemorySegment standardBytes() {
        long n = rowBytes * rows();
        if (!interleaved) {
            return data.asSlice(offset, n);
        }
        MemorySegment out = Arena.ofAuto().allocate(Math.max(1, n), 64);
        Interleaved.unpack(type, data, offset, rows(), cols(), 0, rows(), out, 0);
        return out.asSlice(0, n);
    }

    @Override
    public String describe() {
        return "ggml " + type + (interleaved ? " interleaved x16" : "");
    }

    /** Bytes of the blocks as stored (interleaved: padded to whole 16-row tiles) plus the outliers. */
    @Override
    public long byteSize() {
        long blocks = interleaved ? Interleaved.byteSize(type, rows(), cols()) : rowBytes * rows();
        return blocks + outliers().byteSize();
    }

    @Override
    public GgmlMatrix withOutliers(Outliers outliers) {
        return new GgmlMatrix(type, data, offset, rows(), cols(), interleaved, finiteScales, outliers);
    }

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        if (interleaved) {
            Interleaved.dequantizeRows(type, data, offset, rows(), cols(), rowFrom, rowTo, dst, dstOff);
            return;
        }
        for (int r = rowFrom; r < rowTo; r++) {
            GgmlOps.dequantizeRow(type, data, offset + r * rowBytes, dst, dstOff + (r - rowFrom) * cols(), cols());
        }
    }

    /** Rejects NaN and &plusmn;&infin; in x: the integer path quantizes x to Q8, which cannot represent them. */
    @Override
    protected void checkInput(String op, float[] x, long n) {
        requireFinite(op, x, n, "ggml's integer path quantizes the input to Q8 and needs finite values");
    }

    /**
     * Per X row: the interleaved pair activation ({@code int[]}) or a standard Q8 activation segment; {@code null}
     * for a standard-storage GEMM of more than {@value #SMALL_N} rows (decoded tiles and the dense GEMM).
     */
    @Override
    protected Object prepareInput(float[] x, int n) {
        int c = cols();
        if (interleaved) {
            int stride = Interleaved.activationInts(c);
            int[] act = new int[Math.max(1, n * stride)];
            for (int i = 0; i < n; i++) {
                Interleaved.quantizeActivation(type, x, i * c, c, act, i * stride);
            }
            return act;
        }
        if (n > SMALL_N) {
            return null; // the standard storage's large GEMM decodes rows to floats: nothing to prepare
        }
        MemorySegment[] act = new MemorySegment[n];
        for (int i = 0; i < n; i++) {
            act[i] = GgmlOps.prepareActivation(type, x, i * c, c);
        }
        return act;
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        gemvBaseRows(x, xOff, prepareInput(java.util.Arrays.copyOfRange(x, xOff, xOff + cols()), 1), 0, y, yOff,
                rowFrom, rowTo);
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, Object prepared, int xRow, float[] y, int yOff, int rowFrom,
            int rowTo) {
        if (interleaved && finiteScales) {
            Interleaved.gemvFiniteScales(type, data, offset, rows(), cols(), (int[]) prepared,
                    xRow * Interleaved.activationInts(cols()), y, yOff + rowFrom, rowFrom, rowTo);
        } else if (interleaved) {
            Interleaved.gemv(type, data, offset, rows(), cols(), (int[]) prepared, xRow * Interleaved.activationInts(cols()),
                    y, yOff + rowFrom, rowFrom, rowTo);
        } else {
            GgmlOps.dotRows(type, data, offset + rowFrom * rowBytes, rowTo - rowFrom, cols(),
                    ((MemorySegment[]) prepared)[xRow], y, yOff + rowFrom);
        }
    }

    @Override
    protected void gemmBaseRows(float[] x, int n, Object prepared, float[] y, int rowFrom, int rowTo) {
        int stride = Interleaved.activationInts(cols());
        Interleaved.gemm(type, data, offset, rows(), cols(), (int[]) prepared, 0, stride, n, y, rowFrom, rows(),
                rowFrom, rowTo);
    }

    /**
     * Interleaved: whole pairs of 16-row tiles per task (products start at tile boundaries, and the GEMV kernel runs
     * two tiles side by side).
     */
    @Override
    protected int gemvGrain() {
        int g = super.gemvGrain();
        return interleaved ? Math.max(32, g & ~31) : g;
    }

    @Override
    protected int gemmTileRows() {
        return interleaved ? Math.max(16, Math.min(64, (rows() + 15) & ~15)) : super.gemmTileRows();
    }
}

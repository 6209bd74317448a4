package lowbit.tensor.layout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import lowbit.tensor.Bf16;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.simd.HalfKernels;
import lowbit.tensor.simd.SparseKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * N:M semi-structured sparse weights in compressed form: in every row of W [rows, cols], every group of M consecutive
 * columns keeps N weights (NVIDIA's 2:4 — two of every four — and its generalisations, 1 ≤ N &lt; M ≤ 256; Mishra et
 * al. 2021, "Accelerating Sparse Deep Neural Networks"; the pattern MaskLLM, SparseGPT and Wanda prune to). Only the
 * kept values and their in-group positions are stored.
 *
 * <p><b>Storage.</b> Row r keeps {@code kept = cols/M·N} values, group g's N values in ascending column order at
 * positions [g·N, g·N + N) of the row. Values are F32, F16 or BF16 (rounded to nearest even from the floats given).
 * Kept value k of a row has an in-group index i_k in [0, M) — its column is (k / N)·M + i_k — stored as a
 * b = ⌈log₂ M⌉-bit unsigned code at bit k·b of the row's index stream ({@link lowbit.tensor.PackedInts} order, LSB
 * first; each row starts on a byte: {@code ceil(kept·b/8)} bytes). For 2:4 that is 2 bits per kept value, 4 bits per
 * group: group g is nibble g mod 2 of the row's byte g/2, its first index in the nibble's low two bits (kept {1, 3}
 * is {@code 0b11_01}). Indices are strictly increasing within a group. Ŵ is the matrix with the kept values at their
 * positions and zeros elsewhere; a kept value may itself be 0 (a group of a dense matrix with fewer than N non-zeros
 * is completed with its lowest zero positions).
 *
 * <p><b>Products</b> follow {@link QuantizedMatrix}: the GEMV reads only the kept values and their indices (for 2:4
 * F32, 2.125 bytes per weight instead of 4) and skips pruned inputs; each element is within γ_kept·Σ|v·x| of the
 * exact value. F16/BF16 values are widened four rows at a time into a small float buffer. Construction validates
 * everything (pattern, shape, finite values that fit the type, indices); the kernels then trust the data.
 */
public final class NmSparseMatrix extends AbstractQuantizedMatrix {
    private static final SparseKernels K = VectorizationProvider.get().sparse();
    private static final HalfKernels H = VectorizationProvider.get().halves();
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int BLOCK = 4;

    private final NmRows f;
    private final DType valueType;
    /** F32 values (rows·kept, then {@link SparseKernels#VALUE_PADDING} zeros), or null for F16/BF16. */
    private final float[] vals;
    /** F16/BF16 values (rows·kept little-endian shorts), or null for F32. */
    private final MemorySegment halves;
    private final MemorySegment idx;

    private NmSparseMatrix(NmRows f, DType valueType, float[] vals, MemorySegment halves, MemorySegment idx,
            Outliers outliers) {
        super(f.rows, f.cols, outliers);
        this.f = f;
        this.valueType = valueType;
        this.vals = vals;
        this.halves = halves;
        this.idx = idx.asReadOnly();
        initOutliers();
    }

    // ---- construction ----

    /**
     * Compresses a dense row-major matrix that already satisfies the pattern (at most N non-zeros in every group of M
     * along a row, e.g. the output of a pruner), storing the values as {@code valueType}.
     *
     * @throws IllegalArgumentException for N ≥ M (or N &lt; 1, M &gt; 256), cols not a multiple of M, a wrong array
     *     length, a NaN or infinite weight, a group with more than N non-zeros, a value that overflows F16, or a value
     *     type other than F32/F16/BF16 (each message names the row and group)
     */
    public static NmSparseMatrix compress(float[] w, int rows, int cols, int n, int m, DType valueType) {
        NmRows f = new NmRows(rows, cols, n, m);
        checkType(valueType);
        int[] in = f.keptOfDense(w);
        return build(f, gather(f, w, in), in, valueType);
    }

    /**
     * The N:M matrix that keeps, in the dense row-major {@code w}, the positions where {@code keep} is true (exactly N
     * in every group of M); the other weights are dropped whatever their value.
     *
     * @throws IllegalArgumentException as {@link #compress(float[], int, int, int, int, DType)}, or for a mask of the
     *     wrong length or a group without exactly N kept entries
     */
    public static NmSparseMatrix compress(float[] w, boolean[] keep, int rows, int cols, int n, int m, DType valueType) {
        NmRows f = new NmRows(rows, cols, n, m);
        checkType(valueType);
        Objects.requireNonNull(w, "weights");
        f.checkDense(w);
        int[] in = f.keptOfMask(keep);
        return build(f, gather(f, w, in), in, valueType);
    }

    /**
     * From explicit kept values and in-group indices (both rows·cols·N/M, row-major, group by group).
     *
     * @throws IllegalArgumentException for a bad pattern or shape, wrong lengths, an index outside [0, M) or not
     *     increasing within its group, a non-finite value or one that overflows F16
     */
    public static NmSparseMatrix of(int rows, int cols, int n, int m, DType valueType, float[] values, int[] indices) {
        NmRows f = new NmRows(rows, cols, n, m);
        checkType(valueType);
        Objects.requireNonNull(values, "values");
        if (values.length != f.totalKept()) {
            throw new IllegalArgumentException(f.pattern() + ": " + values.length + " kept values for a [" + rows + ", "
                    + cols + "] matrix, expected rows·cols·N/M = " + f.totalKept());
        }
        return build(f, values.clone(), indices, valueType);
    }

    /**
     * From stored bytes: {@code values} holds rows·kept little-endian {@code valueType} elements, {@code indices} the
     * packed index streams (see the class comment). F16/BF16 values in a native segment are used in place (keep it
     * alive and unchanged); F32 values and heap segments are copied. Everything is validated as in
     * {@link #of}.
     */
    public static NmSparseMatrix ofPacked(int rows, int cols, int n, int m, DType valueType, MemorySegment values,
            MemorySegment indices) {
        NmRows f = new NmRows(rows, cols, n, m);
        checkType(valueType);
        Objects.requireNonNull(values, "values");
        long total = f.totalKept();
        long need = valueType.byteSize(total);
        if (values.byteSize() < need) {
            throw new IllegalArgumentException(f.pattern() + ": " + total + " " + valueType + " values need " + need
                    + " bytes, the segment has " + values.byteSize());
        }
        MemorySegment idx = f.checkPacked(indices);
        if (valueType == DType.F32) {
            float[] v = new float[(int) total + SparseKernels.VALUE_PADDING];
            MemorySegment.ofArray(v).asSlice(0, need).copyFrom(values.asSlice(0, need));
            if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
                for (int i = 0; i < total; i++) {
                    v[i] = values.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
                }
            }
            checkValues(f, v, (int) total, valueType);
            return new NmSparseMatrix(f, valueType, v, null, idx, null);
        }
        MemorySegment h = values.asSlice(0, need);
        if (!h.isNative()) {
            h = GroupwiseAffine.offHeap(Math.max(1, need)).asSlice(0, need).copyFrom(h);
        }
        for (long i = 0; i < total; i++) {
            short s = h.getAtIndex(SHORT_LE, i);
            float v = valueType == DType.F16 ? Fp16.toFloat(s) : Bf16.toFloat(s);
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException(f.pattern() + ": stored value " + i % Math.max(1, f.kept)
                        + " of row " + i / Math.max(1, f.kept) + " is " + v);
            }
        }
        return new NmSparseMatrix(f, valueType, null, h.asReadOnly(), idx, null);
    }

    private static void checkType(DType t) {
        Objects.requireNonNull(t, "value type");
        if (t != DType.F32 && t != DType.F16 && t != DType.BF16) {
            throw new IllegalArgumentException("N:M values must be F32, F16 or BF16, got " + t);
        }
    }

    /** The values at the kept positions, row by row. */
    private static float[] gather(NmRows f, float[] w, int[] in) {
        float[] v = new float[f.totalKept()];
        for (int r = 0; r < f.rows; r++) {
            for (int k = 0; k < f.kept; k++) {
                v[r * f.kept + k] = w[r * f.cols + (k / f.n) * f.m + in[r * f.kept + k]];
            }
        }
        return v;
    }

    private static void checkValues(NmRows f, float[] v, int count, DType t) {
        for (int i = 0; i < count; i++) {
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException(f.pattern() + ": kept value " + i % Math.max(1, f.kept) + " of row "
                        + i / Math.max(1, f.kept) + " is " + v[i]);
            }
            if (t == DType.F16 && !Float.isFinite(Fp16.toFloat(Fp16.fromFloat(v[i])))) {
                throw new IllegalArgumentException(f.pattern() + ": kept value " + v[i] + " (row "
                        + i / Math.max(1, f.kept) + ") overflows F16");
            }
        }
    }

    private static NmSparseMatrix build(NmRows f, float[] values, int[] indices, DType t) {
        int total = f.totalKept();
        checkValues(f, values, total, t);
        MemorySegment idx = f.packIndices(indices);
        if (t == DType.F32) {
            float[] v = Arrays.copyOf(values, total + SparseKernels.VALUE_PADDING);
            return new NmSparseMatrix(f, t, v, null, idx, null);
        }
        long bytes = t.byteSize(total);
        MemorySegment h = GroupwiseAffine.offHeap(Math.max(1, bytes)).asSlice(0, bytes);
        if (t == DType.F16) {
            Fp16.fromFloats(values, 0, h, 0, total);
        } else {
            Bf16.fromFloats(values, 0, h, 0, total);
        }
        return new NmSparseMatrix(f, t, null, h.asReadOnly(), idx, null);
    }

    // ---- accessors ----

    /** N: weights kept in every group. */
    public int n() {
        return f.n;
    }

    /** M: the group size along the input dimension. */
    public int m() {
        return f.m;
    }

    /** Bits of one in-group index, ⌈log₂ M⌉. */
    public int indexBits() {
        return f.idxBits;
    }

    /** Kept values per row, cols·N/M. */
    public int keptPerRow() {
        return f.kept;
    }

    /** Storage type of the kept values. */
    public DType valueType() {
        return valueType;
    }

    /** The kept values row by row (rows·kept floats, F16/BF16 widened exactly). */
    public float[] values() {
        int total = f.totalKept();
        if (vals != null) {
            return Arrays.copyOf(vals, total);
        }
        float[] out = new float[total];
        widen(0, total, out, 0);
        return out;
    }

    /** The in-group indices row by row (rows·kept ints in [0, M)). */
    public int[] indices() {
        return f.unpack(idx);
    }

    /** The packed index streams, read-only (rows·{@link #indexRowBytes()} bytes). */
    public MemorySegment packedIndices() {
        return idx;
    }

    /** Bytes of one row's index stream, ceil(kept·b/8). */
    public long indexRowBytes() {
        return f.idxRowBytes;
    }

    /** Whether W[r, c] is a kept position. */
    public boolean isKept(int r, int c) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(c, cols());
        long off = r * f.idxRowBytes;
        int g = c / f.m;
        for (int i = 0; i < f.n; i++) {
            if (f.column(idx, off, g * f.n + i) == c) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String describe() {
        return "N:M " + f.pattern() + " " + valueType + " values";
    }

    @Override
    public long byteSize() {
        return valueType.byteSize((long) rows() * f.kept) + rows() * f.idxRowBytes + outliers().byteSize();
    }

    @Override
    public NmSparseMatrix withOutliers(Outliers outliers) {
        return new NmSparseMatrix(f, valueType, vals, halves, idx, outliers);
    }

    // ---- kernels ----

    private void widen(long from, int count, float[] dst, int dstOff) {
        if (valueType == DType.F16) {
            H.f16ToF32(halves, from, dst, dstOff, count);
        } else {
            H.bf16ToF32(halves, from, dst, dstOff, count);
        }
    }

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        int cols = cols();
        Arrays.fill(dst, dstOff, dstOff + (rowTo - rowFrom) * cols, 0f);
        float[] row = vals != null ? null : new float[f.kept];
        for (int r = rowFrom; r < rowTo; r++) {
            float[] v = vals;
            int vo = r * f.kept;
            if (v == null) {
                widen((long) r * f.kept, f.kept, row, 0);
                v = row;
                vo = 0;
            }
            long off = r * f.idxRowBytes;
            int o = dstOff + (r - rowFrom) * cols;
            for (int k = 0; k < f.kept; k++) {
                dst[o + f.column(idx, off, k)] = v[vo + k];
            }
        }
    }

    /** For 2:4 with vector kernels that read x in their own form: x prepared once per product (see NmRows). */
    @Override
    protected Object prepareInput(float[] x, int n) {
        return f.prepareTwoFour(K, x, n, SMALL_N);
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, Object prepared, int xRow, float[] y, int yOff, int rowFrom,
            int rowTo) {
        gemv(x, xOff, ((float[][]) prepared)[xRow], y, yOff, rowFrom, rowTo);
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        gemv(x, xOff, null, y, yOff, rowFrom, rowTo);
    }

    private void gemv(float[] x, int xOff, float[] xs, float[] y, int yOff, int rowFrom, int rowTo) {
        if (f.kept == 0) {
            Arrays.fill(y, yOff + rowFrom, yOff + rowTo, 0f);
            return;
        }
        if (vals != null) {
            K.gemvNm(f.n, f.m, f.idxBits, cols(), vals, rowFrom * f.kept, idx, rowFrom * f.idxRowBytes, f.idxRowBytes,
                    x, xOff, xs, y, yOff + rowFrom, rowTo - rowFrom);
            return;
        }
        float[] buf = new float[BLOCK * f.kept + SparseKernels.VALUE_PADDING];
        for (int r = rowFrom; r < rowTo; r += BLOCK) {
            int count = Math.min(BLOCK, rowTo - r);
            widen((long) r * f.kept, count * f.kept, buf, 0);
            K.gemvNm(f.n, f.m, f.idxBits, cols(), buf, 0, idx, r * f.idxRowBytes, f.idxRowBytes, x, xOff, xs, y,
                    yOff + r, count);
        }
    }

    /** Whole groups of four rows, about 2^17 weights per task (the GEMV reads about half of them). */
    @Override
    protected int gemvGrain() {
        return Math.max(4, ((1 << 17) / Math.max(1, cols()) + 3) & ~3);
    }

    /** Rows dequantized per GEMM tile (n &gt; 8): about 2^20 floats, as {@link GroupwiseAffine}. */
    @Override
    protected int gemmTileRows() {
        long g = Math.max(1, (1 << 20) / Math.max(1, cols()));
        return (int) Math.min(rows() == 0 ? 1 : rows(), g >= 8 ? g & ~7L : g);
    }
}

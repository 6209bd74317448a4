package lowbit.tensor.layout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.PackedInts;
import lowbit.tensor.simd.AffineKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * Group-wise affine quantization, the layout of RTN, GPTQ, AWQ, EasyQuant, AdaDim, FineQuant and HQQ (rounded zero
 * points): Ŵ[r, c] = s·(q[r, c] − z) with unsigned {@code bits}-bit codes q in [0, 2^bits − 1], one scale s (and, if
 * asymmetric, one integer zero point z) per block of weights chosen by the {@link AffineSpec} (per tensor, per
 * output or input channel, or groups of g along in or out). Dequantization is {@code fl(s·(q − z))} with q − z an
 * exact integer (see GPTQ, Frantar et al. 2022, and AWQ, Lin et al. 2023, for the grid).
 *
 * <p><b>Storage.</b> Codes are packed n-bit integers in a native {@link MemorySegment} (off-heap or a mapped file):
 * row r starts at byte {@code r·rowBytes()}, {@code rowBytes() = ceil(cols·bits/8)}, and within a row code c occupies
 * bits [c·bits, c·bits + bits) in {@link PackedInts} order (LSB first; for 4 bits code 2j is the low nibble of byte j).
 * When cols·bits is a multiple of 8 this is exactly one PackedInts stream of rows·cols codes. Scales form the
 * row-major grid described in {@link AffineSpec}, kept as floats (F16 scales hold their F16-rounded values); zero
 * points (asymmetric only) use the same grid and count {@code ceil(n·bits/8)} bytes in {@link #byteSize()}.
 *
 * <p><b>Act-order.</b> For {@link AffineSpec.Granularity#GROUP_ALONG_IN} an optional {@code gIdx[cols]} maps each
 * column to its group (GPTQ's {@code g_idx} with {@code desc_act}): then W[r, c] uses grid entry (r, gIdx[c]) and the
 * groups need not be contiguous. That case runs a slower kernel (the row's scales are gathered per column).
 *
 * <p><b>Products</b> follow {@link QuantizedMatrix}; each GEMV element is within γ_m·Σ_c |s·(q − z)·x[c]| of the exact
 * value, m = cols + (groups per row) + 3, γ_m = m·u/(1 − m·u), u = 2^-24; except 4-bit codes in groups (along in,
 * per row or per tensor) of a multiple of 32 columns, the int4 GPTQ/AWQ case, whose GEMV (and GEMM of up to 8 rows)
 * keeps the zero point out of the inner loop, y = Σ_k s_k·(Σ_{c∈k} q_c·x_c − z_k·Σ_{c∈k} x_c), and is within
 * γ_m·Σ_c |s|·(q + z)·|x[c]| ({@link AffineKernels#gemvNibbleGroups}). NaN or infinite x propagates as in float
 * arithmetic of s·(q − z)·x (an x whose group sums are not all finite takes the exact-decode kernel). The Vector
 * API kernels need groups of at least one vector unit (max(L, 8) codes, L = float lanes: 16 at 512 bits) that start
 * on a byte (g·bits a multiple of 8); smaller or misaligned groups run the scalar kernel, and act-order and the
 * per-column granularities gather a row's scales first (slower than groups along in). GEMM with more than 8 rows of
 * X dequantizes 4 MiB tiles of W and multiplies them with the dense kernel. Construction validates everything (shape
 * against the spec, codes and zero points in range, scales finite and non-zero also after F16 rounding, g_idx in
 * range); the kernels then trust the data.
 */
public final class GroupwiseAffine extends AbstractQuantizedMatrix {
    private static final AffineKernels K = VectorizationProvider.get().affine();

    private final AffineSpec spec;
    private final MemorySegment codes;
    private final long rowBytes;
    private final float[] scales;
    /** Zero points on the scale grid (unsigned bytes), or null when symmetric. */
    private final byte[] zeros;
    /** The same zero points as ints, for the columns-family kernels (null when symmetric or groups family). */
    private final int[] zerosInt;
    private final int[] gIdx;
    private final int groupsPerRow;

    private GroupwiseAffine(int rows, int cols, AffineSpec spec, MemorySegment codes, float[] scales, byte[] zeros,
            int[] gIdx, Outliers outliers) {
        super(rows, cols, outliers);
        this.spec = spec;
        this.codes = codes;
        this.rowBytes = rowBytes(cols, spec.bits());
        this.scales = scales;
        this.zeros = zeros;
        this.gIdx = gIdx;
        this.groupsPerRow = spec.scaleCols(cols);
        boolean columns = gIdx != null || spec.granularity() == AffineSpec.Granularity.PER_INPUT_CHANNEL
                || spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_OUT;
        if (zeros != null && columns) {
            zerosInt = new int[zeros.length];
            for (int i = 0; i < zeros.length; i++) {
                zerosInt[i] = zeros[i] & 0xFF;
            }
        } else {
            zerosInt = null;
        }
        initOutliers();
    }

    // ---- construction ----

    /**
     * From explicit codes (row-major, {@code rows·cols} values in [0, 2^bits − 1]), scales on the spec's grid and, for
     * an asymmetric spec, zero points on the same grid (null for a symmetric one).
     *
     * @throws IllegalArgumentException for a shape that does not fit the spec, a wrong array length, a code or zero
     *     point out of range, or a scale that is zero, not finite, or zero/infinite after F16 rounding
     */
    public static GroupwiseAffine of(int rows, int cols, AffineSpec spec, int[] codes, float[] scales, int[] zeros) {
        return of(rows, cols, spec, codes, scales, zeros, null, null);
    }

    /**
     * As {@link #of(int, int, AffineSpec, int[], float[], int[])} with an optional act-order column→group map
     * {@code gIdx} (length cols, values in [0, cols/g); groups along in only) and optional outliers.
     */
    public static GroupwiseAffine of(int rows, int cols, AffineSpec spec, int[] codes, float[] scales, int[] zeros,
            int[] gIdx, Outliers outliers) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(codes, "codes");
        spec.checkShape(rows, cols);
        long n = (long) rows * cols;
        if (codes.length != n) {
            throw new IllegalArgumentException(spec.describe() + ": " + codes.length + " codes for a [" + rows + ", "
                    + cols + "] matrix, expected " + n);
        }
        int max = spec.maxCode();
        for (int i = 0; i < codes.length; i++) {
            if (codes[i] < 0 || codes[i] > max) {
                throw new IllegalArgumentException(spec.describe() + ": code " + codes[i] + " at (" + i / cols + ", "
                        + i % cols + ") is out of range [0, " + max + "]");
            }
        }
        long rb = rowBytes(cols, spec.bits());
        MemorySegment seg = offHeap(rows * rb);
        for (int r = 0; r < rows; r++) {
            PackedInts.pack(codes, r * cols, cols, spec.bits(), false, seg.asSlice(r * rb, rb), 0);
        }
        return build(rows, cols, spec, seg, scales, zeros, gIdx, outliers);
    }

    /**
     * From codes already packed in this layout's row format (see the class comment), e.g. a memory-mapped file: a
     * native segment (off-heap or mapped) is used as is (not copied), read only, and must stay alive as long as this
     * matrix is used; a heap segment is copied off-heap (the vector kernels are only fast on one kind of segment).
     *
     * @throws IllegalArgumentException as {@link #of(int, int, AffineSpec, int[], float[], int[], int[], Outliers)},
     *     or when the segment holds fewer than rows·rowBytes bytes
     */
    public static GroupwiseAffine ofPacked(int rows, int cols, AffineSpec spec, MemorySegment packedCodes,
            float[] scales, int[] zeros, int[] gIdx, Outliers outliers) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(packedCodes, "packedCodes");
        spec.checkShape(rows, cols);
        long need = rows * rowBytes(cols, spec.bits());
        if (packedCodes.byteSize() < need) {
            throw new IllegalArgumentException(spec.describe() + ": packed codes of a [" + rows + ", " + cols
                    + "] matrix need " + need + " bytes, the segment has " + packedCodes.byteSize());
        }
        MemorySegment codes = packedCodes.asSlice(0, need);
        if (!codes.isNative()) {
            codes = offHeap(need).copyFrom(codes);
        }
        return build(rows, cols, spec, codes.asReadOnly(), scales, zeros, gIdx, outliers);
    }

    /** A zeroed off-heap segment freed by the garbage collector, 64-byte aligned. */
    static MemorySegment offHeap(long bytes) {
        return Arena.ofAuto().allocate(bytes, 64);
    }

    /**
     * Quantizes {@code w} (row-major [rows, cols]) with the given scales and zero points (null for a symmetric spec):
     * q = clamp(round_half_even(w/s) + z, 0, 2^bits − 1) per weight, as {@link #quantize(float, float, int, int)}.
     * The division uses the scales as given; they are then stored at the spec's scale type (to quantize against the
     * stored F16 grid, round them first with {@link #storedScale}).
     *
     * @throws IllegalArgumentException for a NaN or infinite weight (the message names its row and column), and as
     *     {@link #of(int, int, AffineSpec, int[], float[], int[], int[], Outliers)}
     */
    public static GroupwiseAffine encode(float[] w, int rows, int cols, AffineSpec spec, float[] scales, int[] zeros) {
        return encode(w, rows, cols, spec, scales, zeros, null);
    }

    /** As {@link #encode(float[], int, int, AffineSpec, float[], int[])} with an act-order map (may be null). */
    public static GroupwiseAffine encode(float[] w, int rows, int cols, AffineSpec spec, float[] scales, int[] zeros,
            int[] gIdx) {
        Objects.requireNonNull(w, "w");
        Objects.requireNonNull(spec, "spec");
        spec.checkShape(rows, cols);
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException(spec.describe() + ": " + w.length + " weights for a [" + rows + ", "
                    + cols + "] matrix, expected " + (long) rows * cols);
        }
        checkGrid(spec, rows, cols, scales, zeros, gIdx);
        int sc = spec.scaleCols(cols);
        int rb = spec.rowBlock(rows);
        int cb = spec.colBlock(cols);
        int[] q = new int[w.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float v = w[r * cols + c];
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException(spec.describe() + ": weight at row " + r + ", col " + c + " is "
                            + v);
                }
                int g = (r / rb) * sc + (gIdx != null ? gIdx[c] : c / cb);
                q[r * cols + c] = quantize(v, scales[g], zeros == null ? spec.symmetricZero() : zeros[g], spec.bits());
            }
        }
        return of(rows, cols, spec, q, scales, zeros, gIdx, null);
    }

    private static GroupwiseAffine build(int rows, int cols, AffineSpec spec, MemorySegment codes, float[] scales,
            int[] zeros, int[] gIdx, Outliers outliers) {
        checkGrid(spec, rows, cols, scales, zeros, gIdx);
        float[] stored = new float[scales.length];
        for (int i = 0; i < scales.length; i++) {
            stored[i] = storedScale(scales[i], spec.scaleType());
        }
        byte[] z = null;
        if (zeros != null) {
            z = new byte[zeros.length];
            for (int i = 0; i < zeros.length; i++) {
                z[i] = (byte) zeros[i];
            }
        }
        return new GroupwiseAffine(rows, cols, spec, codes, stored, z, gIdx == null ? null : gIdx.clone(), outliers);
    }

    /** Lengths and ranges of scales, zero points and g_idx against the spec and shape. */
    static void checkGrid(AffineSpec spec, int rows, int cols, float[] scales, int[] zeros, int[] gIdx) {
        Objects.requireNonNull(scales, "scales");
        int sr = spec.scaleRows(rows);
        int sc = spec.scaleCols(cols);
        long n = (long) sr * sc;
        String d = spec.describe();
        if (scales.length != n) {
            throw new IllegalArgumentException(d + ": " + scales.length + " scales for a [" + rows + ", " + cols
                    + "] matrix, expected " + sr + "x" + sc + " = " + n);
        }
        for (int i = 0; i < scales.length; i++) {
            float s = scales[i];
            if (!Float.isFinite(s) || s == 0) {
                throw new IllegalArgumentException(d + ": scale " + s + " at grid (" + i / sc + ", " + i % sc
                        + ") must be finite and non-zero");
            }
            float st = storedScale(s, spec.scaleType());
            if (st == 0 || !Float.isFinite(st)) {
                throw new IllegalArgumentException(d + ": scale " + s + " at grid (" + i / sc + ", " + i % sc + ") "
                        + (st == 0 ? "underflows to zero" : "overflows") + " in F16");
            }
        }
        if (spec.symmetric()) {
            if (zeros != null) {
                throw new IllegalArgumentException(d + ": a symmetric spec stores no zero points (implicit z = "
                        + spec.symmetricZero() + "), but " + zeros.length + " were given");
            }
        } else {
            if (zeros == null) {
                throw new IllegalArgumentException(d + ": an asymmetric spec needs zero points");
            }
            if (zeros.length != n) {
                throw new IllegalArgumentException(d + ": " + zeros.length + " zero points, expected " + n);
            }
            for (int i = 0; i < zeros.length; i++) {
                if (zeros[i] < 0 || zeros[i] > spec.maxCode()) {
                    throw new IllegalArgumentException(d + ": zero point " + zeros[i] + " at grid (" + i / sc + ", "
                            + i % sc + ") is out of range [0, " + spec.maxCode() + "]");
                }
            }
        }
        if (gIdx != null) {
            if (spec.granularity() != AffineSpec.Granularity.GROUP_ALONG_IN) {
                throw new IllegalArgumentException(d + ": g_idx needs groups along in, not " + spec.granularity());
            }
            if (gIdx.length != cols) {
                throw new IllegalArgumentException(d + ": g_idx has " + gIdx.length + " entries, expected " + cols);
            }
            for (int c = 0; c < cols; c++) {
                if (gIdx[c] < 0 || gIdx[c] >= sc) {
                    throw new IllegalArgumentException(d + ": g_idx[" + c + "] = " + gIdx[c] + " is out of range [0, "
                            + sc + ")");
                }
            }
        }
    }

    // ---- element helpers ----

    /**
     * One weight's code: clamp(round_half_even(w/s) + z, 0, 2^bits − 1), evaluated in float as PyTorch evaluates
     * {@code clamp(round(w / s) + z, 0, maxq)} (GPTQ's and AWQ's quantizers).
     *
     * @throws IllegalArgumentException for bits outside 2..8, a zero point outside [0, 2^bits − 1], a zero or
     *     non-finite scale, or a non-finite weight
     */
    public static int quantize(float w, float scale, int zero, int bits) {
        if (bits < AffineSpec.MIN_BITS || bits > AffineSpec.MAX_BITS) {
            throw new IllegalArgumentException("bits must be 2..8, got " + bits);
        }
        int max = (1 << bits) - 1;
        if (zero < 0 || zero > max) {
            throw new IllegalArgumentException("zero point " + zero + " is out of range [0, " + max + "]");
        }
        if (scale == 0 || !Float.isFinite(scale) || !Float.isFinite(w)) {
            throw new IllegalArgumentException("cannot quantize weight " + w + " with scale " + scale);
        }
        float t = (float) Math.rint(w / scale) + zero;
        return (int) Math.min(Math.max(t, 0f), (float) max);
    }

    /** One weight's value: {@code fl(scale·(q − zero))}. */
    public static float dequantize(int q, float scale, int zero) {
        return scale * (q - zero);
    }

    /** The value a scale is stored as: itself for F32, the nearest-even F16 for F16. */
    public static float storedScale(float scale, DType scaleType) {
        return scaleType == DType.F16 ? Fp16.toFloat(Fp16.fromFloat(scale)) : scale;
    }

    /** The unsigned code of a signed two's-complement code on the symmetric grid: q = q' + 2^(bits−1). */
    public static int unsignedCode(int signedCode, int bits) {
        return signedCode + (1 << (bits - 1));
    }

    /** Bytes of one packed row: ceil(cols·bits/8). */
    public static long rowBytes(int cols, int bits) {
        return ((long) cols * bits + 7) >>> 3;
    }

    // ---- accessors ----

    /** The spec this matrix was built with. */
    public AffineSpec spec() {
        return spec;
    }

    /** Bytes of one packed row. */
    public long rowBytes() {
        return rowBytes;
    }

    /** The packed codes, read-only (rows·rowBytes bytes; see the class comment for the layout). */
    public MemorySegment packedCodes() {
        return codes.asReadOnly();
    }

    /** Code of W[r, c]. */
    public int code(int r, int c) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(c, cols());
        return lowbit.tensor.simd.ScalarAffineKernels.code(codes, r * rowBytes, c, spec.bits());
    }

    /** All codes, row-major (rows·cols ints). */
    public int[] codes() {
        int rows = rows();
        int cols = cols();
        int[] out = new int[Math.toIntExact((long) rows * cols)];
        for (int r = 0; r < rows; r++) {
            PackedInts.unpack(codes.asSlice(r * rowBytes, rowBytes), 0, spec.bits(), false, out, r * cols, cols);
        }
        return out;
    }

    /** Rows of the scale grid. */
    public int scaleRows() {
        return spec.scaleRows(rows());
    }

    /** Columns of the scale grid. */
    public int scaleCols() {
        return groupsPerRow;
    }

    /** The stored scales, row-major on the grid (a copy; F16 scales as their exact float values). */
    public float[] scales() {
        return scales.clone();
    }

    /** The scales' F16 bits (exact for an F16 spec; rounded to nearest even for an F32 one). */
    public short[] scalesF16() {
        return Fp16.fromFloats(scales);
    }

    /** The zero points on the grid, or null for a symmetric spec (implicit 2^(bits−1)). */
    public int[] zeros() {
        if (zeros == null) {
            return null;
        }
        int[] out = new int[zeros.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = zeros[i] & 0xFF;
        }
        return out;
    }

    /** The act-order column→group map, or null. */
    public int[] gIdx() {
        return gIdx == null ? null : gIdx.clone();
    }

    /** Grid index of the scale (and zero point) of W[r, c]. */
    private int gridIndex(int r, int c) {
        int g = gIdx != null ? gIdx[c] : c / spec.colBlock(cols());
        return (r / spec.rowBlock(rows())) * groupsPerRow + g;
    }

    /** The scale of W[r, c]. */
    public float scaleAt(int r, int c) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(c, cols());
        return scales[gridIndex(r, c)];
    }

    /** The zero point of W[r, c] (2^(bits−1) for a symmetric spec). */
    public int zeroAt(int r, int c) {
        Objects.checkIndex(r, rows());
        Objects.checkIndex(c, cols());
        return zeros == null ? spec.symmetricZero() : zeros[gridIndex(r, c)] & 0xFF;
    }

    @Override
    public String describe() {
        return "affine " + spec.describe() + (gIdx != null ? " act-order" : "");
    }

    @Override
    public long byteSize() {
        long n = (long) scales.length;
        long size = rows() * rowBytes + spec.scaleType().byteSize(n);
        if (zeros != null) {
            size += PackedInts.byteSize(n, spec.bits());
        }
        if (gIdx != null) {
            size += 4L * gIdx.length;
        }
        return size + outliers().byteSize();
    }

    @Override
    public GroupwiseAffine withOutliers(Outliers outliers) {
        return new GroupwiseAffine(rows(), cols(), spec, codes, scales, zeros, gIdx, outliers);
    }

    // ---- kernels ----

    private boolean groupsFamily() {
        return gIdx == null && (spec.granularity() == AffineSpec.Granularity.PER_TENSOR
                || spec.granularity() == AffineSpec.Granularity.PER_OUTPUT_CHANNEL
                || spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN);
    }

    private int group() {
        return spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN ? spec.groupSize() : cols();
    }

    private int scaleStride() {
        return spec.granularity() == AffineSpec.Granularity.PER_TENSOR ? 0 : groupsPerRow;
    }

    /** Rows sharing one set of column scales in the columns family (all rows for per-input-channel). */
    private int columnBlock() {
        return gIdx != null ? 1 : spec.rowBlock(rows());
    }

    /** Fills the act-order row's per-column scales and zero points. */
    private void gatherRow(int r, float[] s, int[] z) {
        int base = r * groupsPerRow;
        for (int c = 0; c < s.length; c++) {
            s[c] = scales[base + gIdx[c]];
            if (z != null) {
                z[c] = zeros[base + gIdx[c]] & 0xFF;
            }
        }
    }

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        int cols = cols();
        if (cols == 0 || rowFrom == rowTo) {
            return;
        }
        int bits = spec.bits();
        int zc = spec.symmetricZero();
        if (groupsFamily()) {
            K.dequantizeGroups(codes, rowBytes, bits, cols, group(), scales, zeros, zc, scaleStride(), rowFrom, rowTo,
                    dst, dstOff);
        } else if (gIdx != null) {
            float[] s = new float[cols];
            int[] z = zeros == null ? null : new int[cols];
            for (int r = rowFrom; r < rowTo; r++) {
                gatherRow(r, s, z);
                K.dequantizeColumns(codes, rowBytes, bits, cols, s, z, 0, zc, r, r + 1, dst,
                        dstOff + (r - rowFrom) * cols);
            }
        } else {
            int block = columnBlock();
            for (int r = rowFrom; r < rowTo;) {
                int end = Math.min(rowTo, (r / block + 1) * block);
                int off = (r / block) * cols;
                K.dequantizeColumns(codes, rowBytes, bits, cols, scales, zerosInt, off, zc, r, end, dst,
                        dstOff + (r - rowFrom) * cols);
                r = end;
            }
        }
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        int cols = cols();
        if (cols == 0) {
            Arrays.fill(y, yOff + rowFrom, yOff + rowTo, 0f);
            return;
        }
        int bits = spec.bits();
        int zc = spec.symmetricZero();
        if (groupsFamily()) {
            K.gemvGroups(codes, rowBytes, bits, cols, group(), scales, zeros, zc, scaleStride(), x, xOff, rowFrom,
                    rowTo, y, yOff);
            return;
        }
        float[] xs = new float[cols];
        if (gIdx != null) {
            int[] z = zeros == null ? null : new int[cols];
            for (int r = rowFrom; r < rowTo; r++) {
                gatherRow(r, xs, z);
                for (int c = 0; c < cols; c++) {
                    xs[c] *= x[xOff + c];
                }
                K.gemvColumns(codes, rowBytes, bits, cols, xs, z, 0, zc, r, r + 1, y, yOff);
            }
            return;
        }
        int block = columnBlock();
        for (int r = rowFrom; r < rowTo;) {
            int end = Math.min(rowTo, (r / block + 1) * block);
            int off = (r / block) * cols;
            for (int c = 0; c < cols; c++) {
                xs[c] = scales[off + c] * x[xOff + c];
            }
            K.gemvColumns(codes, rowBytes, bits, cols, xs, zerosInt, off, zc, r, end, y, yOff);
            r = end;
        }
    }

    /** Whether the GEMV runs the 4-bit groups kernel on a prepared x ({@link AffineKernels#gemvNibbleGroups}). */
    private boolean nibblePath() {
        return groupsFamily() && AffineKernels.nibbleGroups(spec.bits(), cols(), group());
    }

    /**
     * For the 4-bit groups path ({@link AffineKernels#nibbleGroups}) of a GEMV or a GEMM of at most
     * {@value #SMALL_N} rows: each X row's nibble input (x as even/odd halves of 32-column chunks plus its group
     * sums), once per product. Otherwise nothing, and also nothing when a group sum X_k is not finite (NaN or
     * infinite x, or a sum that overflows): s·q·x − s·z·X_k would then turn ∞ − ∞ into NaN where the exact decode
     * s·(q − z)·x propagates ∞ (or gives a finite value), so such inputs take the general kernel.
     */
    @Override
    protected Object prepareInput(float[] x, int n) {
        if (n > SMALL_N || !nibblePath()) {
            return null;
        }
        int cols = cols();
        int len = AffineKernels.nibbleInputLength(cols, group());
        float[] xp = new float[n * len];
        for (int i = 0; i < n; i++) {
            K.prepareNibbleInput(x, i * cols, cols, group(), xp, i * len);
            for (int k = i * len + cols, e = (i + 1) * len; k < e; k++) {
                if (!Float.isFinite(xp[k])) {
                    return null;
                }
            }
        }
        return xp;
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, Object prepared, int xRow, float[] y, int yOff, int rowFrom,
            int rowTo) {
        int len = AffineKernels.nibbleInputLength(cols(), group());
        K.gemvNibbleGroups(codes, rowBytes, cols(), group(), scales, zeros, spec.symmetricZero(), scaleStride(),
                (float[]) prepared, xRow * len, rowFrom, rowTo, y, yOff);
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
}

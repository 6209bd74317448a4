package lowbit.tensor.layout;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import lowbit.tensor.PackedInts;
import lowbit.tensor.simd.ScalarAffineKernels;
import lowbit.tensor.simd.SparseKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * N:M sparsity and group-wise affine quantization together (e.g. int4 + 2:4, the joint compression of SparseGPT's
 * "sparse + quantized" mode): the kept positions and in-group indices of an {@link NmSparseMatrix}, with the kept
 * values stored as unsigned {@code bits}-bit codes q of a {@link GroupwiseAffine} grid, Ŵ[r, c] = s·(q − z) at kept
 * positions and 0 elsewhere.
 *
 * <p><b>Grid.</b> The {@link AffineSpec} is read on the <em>dense</em> shape: groups of g original columns along in
 * ({@link AffineSpec.Granularity#GROUP_ALONG_IN}, g a multiple of M, so a group holds g·N/M kept values), one group per
 * row ({@code PER_OUTPUT_CHANNEL}) or one for the matrix ({@code PER_TENSOR}); scales (F32 or F16-rounded) and, for an
 * asymmetric spec, zero points on that [rows, cols/g] grid, exactly as a {@link GroupwiseAffine} of the pruned matrix
 * would hold them. <b>Codes</b>: row r's kept codes in kept order as one {@link PackedInts} stream of
 * {@code ceil(kept·bits/8)} bytes starting on a byte. <b>Indices</b>: as {@link NmSparseMatrix}.
 *
 * <p>For int4 + 2:4 a weight costs 4·2/4 + 2·2/4 = 3 bits (plus scales), against 4 for dense int4. Products follow
 * {@link QuantizedMatrix}, each GEMV element within γ_m·Σ|s·(q − z)·x| (m = kept + groups + 3).
 */
public final class NmSparseAffine extends AbstractQuantizedMatrix {
    private static final SparseKernels K = VectorizationProvider.get().sparse();

    private final NmRows f;
    private final AffineSpec spec;
    private final MemorySegment codes;
    private final long codeRowBytes;
    private final float[] scales;
    private final byte[] zeros;
    private final int group;
    private final int scaleStride;
    private final MemorySegment idx;

    private NmSparseAffine(NmRows f, AffineSpec spec, MemorySegment codes, float[] scales, byte[] zeros,
            MemorySegment idx, Outliers outliers) {
        super(f.rows, f.cols, outliers);
        this.f = f;
        this.spec = spec;
        this.codes = codes.asReadOnly();
        this.codeRowBytes = PackedInts.byteSize(f.kept, spec.bits());
        this.scales = scales;
        this.zeros = zeros;
        this.group = spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN ? spec.groupSize() : f.cols;
        this.scaleStride = spec.granularity() == AffineSpec.Granularity.PER_TENSOR ? 0 : spec.scaleCols(f.cols);
        this.idx = idx.asReadOnly();
        initOutliers();
    }

    // ---- construction ----

    /**
     * From explicit codes of the kept values (rows·cols·N/M, row-major, group by group), their in-group indices, and
     * scales and zero points on the spec's grid (zero points null for a symmetric spec).
     *
     * @throws IllegalArgumentException for a bad pattern or shape, a spec other than groups along in (g a multiple of
     *     M), per output channel or per tensor, wrong lengths, a code or zero point out of range, a bad index, or a
     *     scale that is zero or not finite (also after F16 rounding)
     */
    public static NmSparseAffine of(int rows, int cols, int n, int m, AffineSpec spec, int[] codes, int[] indices,
            float[] scales, int[] zeros) {
        NmRows f = new NmRows(rows, cols, n, m);
        checkSpec(f, spec);
        Objects.requireNonNull(codes, "codes");
        int total = f.totalKept();
        if (codes.length != total) {
            throw new IllegalArgumentException(f.pattern() + " " + spec.describe() + ": " + codes.length
                    + " codes for a [" + rows + ", " + cols + "] matrix, expected rows·cols·N/M = " + total);
        }
        int max = spec.maxCode();
        for (int i = 0; i < total; i++) {
            if (codes[i] < 0 || codes[i] > max) {
                throw new IllegalArgumentException(spec.describe() + ": code " + codes[i] + " of kept value "
                        + i % Math.max(1, f.kept) + " in row " + i / Math.max(1, f.kept) + " is out of range [0, "
                        + max + "]");
            }
        }
        MemorySegment idx = f.packIndices(indices);
        GroupwiseAffine.checkGrid(spec, rows, cols, scales, zeros, null);
        long crb = PackedInts.byteSize(f.kept, spec.bits());
        MemorySegment seg = GroupwiseAffine.offHeap(Math.max(1, rows * crb)).asSlice(0, rows * crb);
        for (int r = 0; r < rows; r++) {
            PackedInts.pack(codes, r * f.kept, f.kept, spec.bits(), false, seg.asSlice(r * crb, crb), 0);
        }
        float[] stored = new float[scales.length];
        for (int i = 0; i < stored.length; i++) {
            stored[i] = GroupwiseAffine.storedScale(scales[i], spec.scaleType());
        }
        byte[] z = null;
        if (zeros != null) {
            z = new byte[zeros.length];
            for (int i = 0; i < z.length; i++) {
                z[i] = (byte) zeros[i];
            }
        }
        return new NmSparseAffine(f, spec, seg, stored, z, idx, null);
    }

    /**
     * Quantizes the kept weights of the dense row-major {@code w} — the positions where {@code keep} is true (exactly
     * N per group), or when {@code keep} is null the non-zeros as {@link NmSparseMatrix#compress} chooses them — with
     * the given scales and zero points: q = clamp(round_half_even(w/s) + z, 0, 2^bits − 1)
     * ({@link GroupwiseAffine#quantize(float, float, int, int)}).
     *
     * @throws IllegalArgumentException as {@link #of}, for a NaN or infinite weight, or a mask or pattern violation
     */
    public static NmSparseAffine encode(float[] w, boolean[] keep, int rows, int cols, int n, int m, AffineSpec spec,
            float[] scales, int[] zeros) {
        NmRows f = new NmRows(rows, cols, n, m);
        checkSpec(f, spec);
        Objects.requireNonNull(w, "weights");
        f.checkDense(w);
        int[] in = keep == null ? f.keptOfDense(w) : f.keptOfMask(keep);
        GroupwiseAffine.checkGrid(spec, rows, cols, scales, zeros, null);
        int g = spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN ? spec.groupSize() : cols;
        int stride = spec.granularity() == AffineSpec.Granularity.PER_TENSOR ? 0 : spec.scaleCols(cols);
        int[] q = new int[f.totalKept()];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < f.kept; k++) {
                int c = (k / n) * m + in[r * f.kept + k];
                float v = w[r * cols + c];
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException(spec.describe() + ": weight at row " + r + ", col " + c + " is " + v);
                }
                int gi = r * stride + c / g;
                int z = zeros == null ? spec.symmetricZero() : zeros[gi];
                q[r * f.kept + k] = GroupwiseAffine.quantize(v, GroupwiseAffine.storedScale(scales[gi], spec.scaleType()),
                        z, spec.bits());
            }
        }
        return of(rows, cols, n, m, spec, q, in, scales, zeros);
    }

    private static void checkSpec(NmRows f, AffineSpec spec) {
        Objects.requireNonNull(spec, "spec");
        switch (spec.granularity()) {
            case GROUP_ALONG_IN -> {
                if (spec.groupSize() % f.m != 0) {
                    throw new IllegalArgumentException(spec.describe() + " with " + f.pattern()
                            + ": the quantization group " + spec.groupSize() + " must be a multiple of M = " + f.m);
                }
            }
            case PER_OUTPUT_CHANNEL, PER_TENSOR -> {
            }
            default -> throw new IllegalArgumentException(f.pattern() + " sparse weights are quantized along rows: "
                    + "groups along in, per output channel or per tensor, not " + spec.granularity());
        }
        spec.checkShape(f.rows, f.cols);
    }

    // ---- accessors ----

    /** N: weights kept in every group of M. */
    public int n() {
        return f.n;
    }

    /** M: the sparsity group along the input dimension. */
    public int m() {
        return f.m;
    }

    /** Kept values per row. */
    public int keptPerRow() {
        return f.kept;
    }

    /** The quantization spec (on the dense shape). */
    public AffineSpec spec() {
        return spec;
    }

    /** The kept codes row by row (rows·kept ints). */
    public int[] codes() {
        int[] out = new int[f.totalKept()];
        for (int r = 0; r < rows(); r++) {
            PackedInts.unpack(codes.asSlice(r * codeRowBytes, codeRowBytes), 0, spec.bits(), false, out, r * f.kept,
                    f.kept);
        }
        return out;
    }

    /** The in-group indices row by row (rows·kept ints in [0, M)). */
    public int[] indices() {
        return f.unpack(idx);
    }

    /** The packed codes, read-only (rows·ceil(kept·bits/8) bytes). */
    public MemorySegment packedCodes() {
        return codes;
    }

    /** The packed index streams, read-only (see {@link NmSparseMatrix}). */
    public MemorySegment packedIndices() {
        return idx;
    }

    /** The stored scales on the grid (a copy). */
    public float[] scales() {
        return scales.clone();
    }

    /** The zero points on the grid, or null for a symmetric spec. */
    public int[] zeros() {
        if (zeros == null) {
            return null;
        }
        int[] z = new int[zeros.length];
        for (int i = 0; i < z.length; i++) {
            z[i] = zeros[i] & 0xFF;
        }
        return z;
    }

    @Override
    public String describe() {
        return "N:M " + f.pattern() + " + affine " + spec.describe();
    }

    @Override
    public long byteSize() {
        long n = scales.length;
        long size = rows() * codeRowBytes + rows() * f.idxRowBytes + spec.scaleType().byteSize(n);
        if (zeros != null) {
            size += PackedInts.byteSize(n, spec.bits());
        }
        return size + outliers().byteSize();
    }

    @Override
    public NmSparseAffine withOutliers(Outliers outliers) {
        return new NmSparseAffine(f, spec, codes, scales, zeros, idx, outliers);
    }

    // ---- kernels ----

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        int cols = cols();
        Arrays.fill(dst, dstOff, dstOff + (rowTo - rowFrom) * cols, 0f);
        int zc = spec.symmetricZero();
        for (int r = rowFrom; r < rowTo; r++) {
            long io = r * f.idxRowBytes;
            long co = r * codeRowBytes;
            int so = r * scaleStride;
            int o = dstOff + (r - rowFrom) * cols;
            for (int k = 0; k < f.kept; k++) {
                int c = f.column(idx, io, k);
                int gi = so + c / group;
                int z = zeros == null ? zc : zeros[gi] & 0xFF;
                dst[o + c] = scales[gi] * (ScalarAffineKernels.code(codes, co, k, spec.bits()) - z);
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
        K.gemvNmAffine(f.n, f.m, f.idxBits, cols(), codes, rowFrom * codeRowBytes, codeRowBytes, spec.bits(), group,
                scales, rowFrom * scaleStride, scaleStride, zeros, spec.symmetricZero(), idx, rowFrom * f.idxRowBytes,
                f.idxRowBytes, x, xOff, xs, y, yOff + rowFrom, rowTo - rowFrom);
    }

    /** Whole groups of four rows, about 2^17 weights per task. */
    @Override
    protected int gemvGrain() {
        return Math.max(4, ((1 << 17) / Math.max(1, cols()) + 3) & ~3);
    }
}

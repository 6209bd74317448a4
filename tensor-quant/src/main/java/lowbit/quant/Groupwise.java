package lowbit.quant;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineSpec.Granularity;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Outliers;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.AffineFitKernels;
import lowbit.tensor.simd.FloatOps;
import lowbit.tensor.simd.PackKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * The shared engine of the group-wise methods: input validation, fitting (s, z) per group in parallel, and encoding
 * the codes into a {@link GroupwiseAffine}.
 *
 * <p>Every granularity is reduced to groups of contiguous floats: rows, groups along a row, or the whole matrix read
 * from W directly; columns and groups along a column read from Wᵀ (made once). A {@link Fitter} sees one group at a
 * time, so it never needs to know the granularity. Groups are independent, so the parallel loop gives the same
 * result for any thread count.
 */
final class Groupwise {
    static final AffineFitKernels FIT = VectorizationProvider.get().affineFit();
    private static final PackKernels PACK = VectorizationProvider.get().packing();

    private Groupwise() {
    }

    /** Chooses (s, z) of one group w[off .. off+len), optionally weighting element i by h[hOff + i]. */
    @FunctionalInterface
    interface Fitter {
        /** The group's (s, z) as {@link AffineGrid#pack}. */
        long fit(float[] w, int off, int len, float[] h, int hOff);
    }

    /** Scales (and zero points, null when symmetric) on a spec's grid. */
    record Grid(float[] scales, int[] zeros) {
    }

    /** Validates a quantizer's input; names the method and the bad value. */
    static void checkInput(String method, float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        checkInput(method, w, rows, cols, spec, stats, true);
    }

    /**
     * {@link #checkInput(String, float[], int, int, AffineSpec, CalibrationStats)}, with the scan for NaN/±∞ weights
     * left to the caller when {@code finite} is false (a fused path that sees every group's range checks it there).
     */
    static void checkInput(String method, float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats,
            boolean finite) {
        Objects.requireNonNull(w, method + ": weights are null");
        Objects.requireNonNull(spec, method + ": spec is null");
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException(method + ": negative shape [" + rows + ", " + cols + "]");
        }
        if (rows == 0 || cols == 0) {
            throw new IllegalArgumentException(method + ": cannot quantize an empty [" + rows + ", " + cols
                    + "] matrix");
        }
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException(method + ": " + w.length + " weights for a [" + rows + ", " + cols
                    + "] matrix, expected " + (long) rows * cols);
        }
        spec.checkShape(rows, cols);
        if (finite) {
            checkFinite(method, w, rows, cols);
        }
        if (stats != null) {
            stats.checkFeatures(cols);
        }
    }

    static void checkFinite(String method, float[] w, int rows, int cols) {
        if (Float.isFinite(FloatOps.maxAbs(w, 0, w.length))) {
            return;
        }
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new IllegalArgumentException(method + ": weight at row " + i / cols + ", col " + i % cols + " is "
                        + w[i]);
            }
        }
    }

    static boolean columnFamily(AffineSpec spec) {
        return spec.granularity() == Granularity.PER_INPUT_CHANNEL || spec.granularity() == Granularity.GROUP_ALONG_OUT;
    }

    static float[] transpose(float[] w, int rows, int cols) {
        float[] t = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = w[r * cols + c];
            }
        }
        return t;
    }

    /** Rows sharing one scale-grid row. */
    static int rowBlock(AffineSpec spec, int rows) {
        return switch (spec.granularity()) {
            case PER_TENSOR, PER_INPUT_CHANNEL -> rows;
            case PER_OUTPUT_CHANNEL, GROUP_ALONG_IN -> 1;
            case GROUP_ALONG_OUT -> spec.groupSize();
        };
    }

    /** Columns sharing one scale-grid column. */
    static int colBlock(AffineSpec spec, int cols) {
        return switch (spec.granularity()) {
            case PER_TENSOR, PER_OUTPUT_CHANNEL -> cols;
            case PER_INPUT_CHANNEL, GROUP_ALONG_OUT -> 1;
            case GROUP_ALONG_IN -> spec.groupSize();
        };
    }

    /** Elements of one group. */
    static int groupLength(AffineSpec spec, int rows, int cols) {
        return rowBlock(spec, rows) * colBlock(spec, cols);
    }

    /**
     * Fits every group of W with {@code fitter}; {@code colWeights} (length cols, or null) weights element (r, c) by
     * colWeights[c] for the row-wise granularities (inside a column group the weight is constant and is dropped).
     */
    static Grid fit(float[] w, int rows, int cols, AffineSpec spec, Fitter fitter, float[] colWeights) {
        int sr = spec.scaleRows(rows);
        int sc = spec.scaleCols(cols);
        int groups = sr * sc;
        float[] scales = new float[groups];
        int[] zeros = spec.symmetric() ? null : new int[groups];
        boolean columns = columnFamily(spec);
        float[] data = columns ? transpose(w, rows, cols) : w;
        int len = groupLength(spec, rows, cols);
        float[] h = colWeights;
        if (h != null && spec.granularity() == Granularity.PER_TENSOR) {
            h = new float[w.length];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(colWeights, 0, h, r * cols, cols);
            }
        }
        float[] hh = columns ? null : h;
        int perColumn = columns ? rows / len : 0; // groups per column of W (along out)
        long grain = Math.max(1, (1 << 15) / len);
        Parallel.forRange(0, groups, grain, (from, to) -> {
            for (int k = (int) from; k < to; k++) {
                int off;
                int hOff;
                int grid;
                if (columns) {
                    int c = k / perColumn;
                    int b = k % perColumn;
                    off = c * rows + b * len;
                    hOff = 0;
                    grid = b * cols + c;
                } else {
                    off = k * len; // rows, groups along in and per-tensor are consecutive in W
                    hOff = spec.granularity() == Granularity.PER_TENSOR ? 0 : off % cols;
                    grid = k;
                }
                long p = fitter.fit(data, off, len, hh, hOff);
                scales[grid] = AffineGrid.scale(p);
                if (zeros != null) {
                    zeros[grid] = AffineGrid.zero(p);
                }
            }
        });
        return new Grid(scales, zeros);
    }

    /**
     * A layout and, for the row-wise granularities (per tensor, per output channel, groups along in), its errors
     * Σ (w − ŵ_eff)² against the reference W (float sums from the fused kernel), so that the report needs no second
     * pass: one per grid entry, or for per-tensor one per row; {@code errors} is null for the column family.
     */
    record Encoded(GroupwiseAffine matrix, float[] errors) {
    }

    /** Codes of W on the grid, packed into a {@link GroupwiseAffine} (with {@code outliers}, may be null). */
    static GroupwiseAffine encode(float[] w, int rows, int cols, AffineSpec spec, Grid grid, Outliers outliers) {
        return encodeMeasured(w, w, rows, cols, spec, grid, outliers).matrix();
    }

    /**
     * {@link #encode} that also measures the row-wise grids' errors against {@code reference} (the W the caller was
     * given; {@code w} may be a working copy that differs from it only at outlier positions, where the layout holds
     * the outlier's value).
     */
    static Encoded encodeMeasured(float[] w, float[] reference, int rows, int cols, AffineSpec spec, Grid grid,
            Outliers outliers) {
        if (columnFamily(spec)) {
            return new Encoded(encodeColumns(w, rows, cols, spec, grid, outliers), null);
        }
        return encodeRows(w, reference, rows, cols, spec, grid.scales(), grid.zeros(), outliers, null);
    }

    /** The column family (per input channel, groups along out): a scale per column of each block of rows. */
    private static GroupwiseAffine encodeColumns(float[] w, int rows, int cols, AffineSpec spec, Grid grid,
            Outliers outliers) {
        int bits = spec.bits();
        int rb = (int) GroupwiseAffine.rowBytes(cols, bits);
        MemorySegment seg = nativeCodes(rows, rb);
        float[] scales = grid.scales();
        int[] zeros = grid.zeros();
        int zc = spec.symmetricZero();
        int rowBlock = rowBlock(spec, rows);
        long grain = Math.max(1, (1 << 16) / cols);
        Parallel.forRange(0, rows, grain, (from, to) -> {
            int[] buf = new int[cols];
            int max = (1 << bits) - 1;
            for (int r = (int) from; r < to; r++) {
                int base = r * cols;
                int g0 = (r / rowBlock) * cols;
                for (int c = 0; c < cols; c++) {
                    float s = scales[g0 + c];
                    int z = zeros == null ? zc : zeros[g0 + c];
                    float t = Math.min(Math.max(w[base + c] / s, (float) -z), (float) (max - z));
                    buf[c] = (int) ((t + AffineGrid.ROUND_MAGIC) - AffineGrid.ROUND_MAGIC) + z;
                }
                PACK.pack(buf, 0, cols, bits, seg.asSlice((long) r * rb, rb), 0);
            }
        });
        return GroupwiseAffine.ofPacked(rows, cols, spec, seg, scales, zeros, null, outliers);
    }

    /** A zeroed native segment for the packed codes (the layout uses a native segment as is, without copying). */
    private static MemorySegment nativeCodes(int rows, int rowBytes) {
        return Arena.ofAuto().allocate(Math.max(1, Math.multiplyExact((long) rows, rowBytes)), 64);
    }

    /** RTN's range rule, for {@link #encodeRows} to fit each group from its min/max on the fly. */
    record MinMaxRule(boolean zeroInRange, boolean gptqSymmetric, String method) {
    }

    /**
     * The row-wise granularities in one pass per row (the row stays in cache): optionally fit every group from its
     * range ({@code rule} non-null: the RTN fast path; then scales and zeros are filled here), then codes and errors
     * with the fused kernel, packed straight into the native code segment. A non-finite range (NaN or ±∞ weight)
     * throws naming the first bad weight.
     */
    static Encoded encodeRows(float[] w, float[] reference, int rows, int cols, AffineSpec spec, float[] scales,
            int[] zeros, Outliers outliers, MinMaxRule rule) {
        int bits = spec.bits();
        int rb = (int) GroupwiseAffine.rowBytes(cols, bits);
        MemorySegment seg = nativeCodes(rows, rb);
        int zc = spec.symmetricZero();
        boolean perTensor = spec.granularity() == Granularity.PER_TENSOR;
        int cb = colBlock(spec, cols);
        int sc = spec.scaleCols(cols);
        if (rule != null && perTensor) {
            float[] lo = new float[1];
            float[] hi = new float[1];
            FIT.groupMinMax(w, 0, w.length, w.length, lo, hi, 0);
            fitRange(rule, spec, w, cols, lo, hi, 0, 1, 0, scales, zeros);
        }
        boolean fitRows = rule != null && !perTensor;
        // per-tensor: every row writes its own error slot (one grid entry, summed at the end)
        float[] err = new float[perTensor ? rows : scales.length];
        boolean anyOutliers = outliers != null && !outliers.isEmpty();
        long grain = Math.max(1, (1 << 16) / cols);
        Parallel.forRange(0, rows, grain, (from, to) -> {
            int[] buf = new int[cols];
            float[] lo = fitRows ? new float[sc] : null;
            float[] hi = fitRows ? new float[sc] : null;
            float[] one = perTensor ? new float[1] : null;
            for (int r = (int) from; r < to; r++) {
                int base = r * cols;
                int g0 = perTensor ? 0 : r * sc;
                if (fitRows) {
                    FIT.groupMinMax(w, base, cols, cb, lo, hi, 0);
                    fitRange(rule, spec, w, cols, lo, hi, base, sc, g0, scales, zeros);
                }
                if (perTensor) {
                    FIT.quantizeGroups(w, base, cols, cols, scales, zeros, zc, 0, bits, buf, 0, one);
                    err[r] = one[0];
                } else {
                    FIT.quantizeGroups(w, base, cols, cb, scales, zeros, zc, g0, bits, buf, 0, err);
                }
                if (anyOutliers && outliers.rowStart(r) < outliers.rowEnd(r)) {
                    fixOutlierErrors(reference, base, r, cols, cb, perTensor ? r : g0, perTensor, scales, zeros, zc,
                            g0, buf, outliers, err);
                }
                PACK.pack(buf, 0, cols, bits, seg.asSlice((long) r * rb, rb), 0);
            }
        });
        return new Encoded(GroupwiseAffine.ofPacked(rows, cols, spec, seg, scales, zeros, null, outliers), err);
    }

    /** (s, z) of groups [0, n) of a row from their ranges; a non-finite range throws naming the bad weight. */
    private static void fitRange(MinMaxRule rule, AffineSpec spec, float[] w, int cols, float[] lo, float[] hi,
            int base, int n, int g0, float[] scales, int[] zeros) {
        for (int j = 0; j < n; j++) {
            float a = lo[j];
            float b = hi[j];
            if (!(Float.isFinite(a) && Float.isFinite(b))) {
                checkFinite(rule.method(), w, w.length / cols, cols);
            }
            long p = AffineGrid.minMax(a, b, spec, rule.zeroInRange(), rule.gptqSymmetric());
            scales[g0 + j] = AffineGrid.scale(p);
            if (zeros != null) {
                zeros[g0 + j] = AffineGrid.zero(p);
            }
        }
    }

    /**
     * Recomputes, exactly, the errors of row r's groups that hold outliers: Σ (reference − ŵ_eff)² with ŵ_eff the
     * outlier's stored value at its positions and s·(q − z) elsewhere.
     */
    private static void fixOutlierErrors(float[] reference, int base, int r, int cols, int cb, int errIndex,
            boolean perTensor, float[] scales, int[] zeros, int zc, int g0, int[] codes, Outliers outliers,
            float[] err) {
        int i = outliers.rowStart(r);
        int end = outliers.rowEnd(r);
        while (i < end) {
            int j = outliers.col(i) / cb;
            int gi = perTensor ? 0 : g0 + j;
            float s = scales[gi];
            int z = zeros == null ? zc : zeros[gi];
            float acc = 0;
            for (int c = j * cb, e = c + cb; c < e; c++) {
                float v;
                if (i < end && outliers.col(i) == c) {
                    v = outliers.value(i++);
                } else {
                    v = s * (codes[c] - z);
                }
                float d = reference[base + c] - v;
                acc += d * d;
            }
            err[perTensor ? errIndex : gi] = acc;
        }
    }

    /** The result with its report measured against the original W. */
    static QuantResult result(String method, float[] w, int rows, int cols, GroupwiseAffine m, InputTransform t,
            long startNanos, java.util.Map<String, String> options) {
        long nanos = System.nanoTime() - startNanos;
        InputTransform tr = t == null ? InputTransform.identity() : t;
        return new QuantResult(m, tr, QuantReport.measure(method, w, rows, cols, m, m.spec(), tr, nanos, options));
    }

    /**
     * The result of an {@link Encoded} layout without an input transform: the report comes from the encoder's group
     * errors when it has them (row-wise grids), else it is measured against {@code w}.
     */
    static QuantResult result(String method, float[] w, int rows, int cols, Encoded e, long startNanos,
            java.util.Map<String, String> options) {
        if (e.errors() == null) {
            return result(method, w, rows, cols, e.matrix(), null, startNanos, options);
        }
        GroupwiseAffine m = e.matrix();
        float[] ge = e.errors();
        double[] row = new double[rows];
        double[] group;
        double total = 0;
        if (m.spec().granularity() == Granularity.PER_TENSOR) {
            for (int r = 0; r < rows; r++) {
                row[r] = ge[r];
                total += ge[r];
            }
            group = new double[] {total};
        } else {
            group = new double[ge.length];
            int sc = ge.length / rows;
            for (int r = 0; r < rows; r++) {
                double t = 0;
                for (int j = 0; j < sc; j++) {
                    group[r * sc + j] = ge[r * sc + j];
                    t += ge[r * sc + j];
                }
                row[r] = t;
                total += t;
            }
        }
        long nanos = System.nanoTime() - startNanos;
        return new QuantResult(m, InputTransform.identity(), new QuantReport(method, m.spec(), rows, cols, total, row,
                group, m.outliers().count(), nanos, options));
    }
}

package lowbit.quant;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.PackedInts;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineSpec.Granularity;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Outliers;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;

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
        checkFinite(method, w, rows, cols);
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

    /** Codes of W on the grid, packed into a {@link GroupwiseAffine} (with {@code outliers}, may be null). */
    static GroupwiseAffine encode(float[] w, int rows, int cols, AffineSpec spec, Grid grid, Outliers outliers) {
        int bits = spec.bits();
        int rb = (int) GroupwiseAffine.rowBytes(cols, bits);
        byte[] packed = new byte[Math.multiplyExact(rows, rb)];
        MemorySegment seg = MemorySegment.ofArray(packed);
        float[] scales = grid.scales();
        int[] zeros = grid.zeros();
        int zc = spec.symmetricZero();
        boolean columns = columnFamily(spec);
        int rowBlock = rowBlock(spec, rows);
        int cb = colBlock(spec, cols);
        int sc = spec.scaleCols(cols);
        long grain = Math.max(1, (1 << 16) / cols);
        Parallel.forRange(0, rows, grain, (from, to) -> {
            int[] buf = new int[cols];
            for (int r = (int) from; r < to; r++) {
                int base = r * cols;
                if (columns) {
                    int g0 = (r / rowBlock) * cols;
                    int max = (1 << bits) - 1;
                    for (int c = 0; c < cols; c++) {
                        float s = scales[g0 + c];
                        int z = zeros == null ? zc : zeros[g0 + c];
                        float t = Math.min(Math.max(w[base + c] / s, (float) -z), (float) (max - z));
                        buf[c] = (int) ((t + AffineGrid.ROUND_MAGIC) - AffineGrid.ROUND_MAGIC) + z;
                    }
                } else {
                    int g0 = spec.granularity() == Granularity.PER_TENSOR ? 0 : r * sc;
                    for (int j = 0; j < sc; j++) {
                        int gi = g0 + j;
                        AffineGrid.quantize(w, base + j * cb, cb, scales[gi], zeros == null ? zc : zeros[gi], bits,
                                buf, j * cb);
                    }
                }
                PackedInts.pack(buf, 0, cols, bits, false, seg.asSlice((long) r * rb, rb), 0);
            }
        });
        return GroupwiseAffine.ofPacked(rows, cols, spec, seg, scales, zeros, null, outliers);
    }

    /** The result with its report measured against the original W. */
    static QuantResult result(String method, float[] w, int rows, int cols, GroupwiseAffine m, InputTransform t,
            long startNanos, java.util.Map<String, String> options) {
        long nanos = System.nanoTime() - startNanos;
        InputTransform tr = t == null ? InputTransform.identity() : t;
        return new QuantResult(m, tr, QuantReport.measure(method, w, rows, cols, m, m.spec(), tr, nanos, options));
    }
}

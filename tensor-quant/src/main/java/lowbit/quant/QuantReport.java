package lowbit.quant;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.QuantizedMatrix;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;

/**
 * How a quantization went: the reconstruction error of the weight the layer effectively uses (Ŵ_eff, the quantized
 * matrix with its outliers and {@link InputTransform} applied, against the W that was given), per row and per group
 * of the chosen spec's scale grid, plus the outliers kept, the time taken and the options the method chose
 * (FineQuant's group size, AdaDim's dimension, clip ratios...).
 *
 * <p>Errors are sums of squares Σ (w − ŵ)² accumulated in double from float differences; {@link #mse()} divides the
 * total by rows·cols. The arrays are not copied: do not modify them.
 *
 * @param method the method's name, e.g. {@code "rtn"}
 * @param spec the spec of the produced layout (may differ from the requested one when the method chooses it)
 * @param rows rows of W
 * @param cols columns of W
 * @param squaredError Σ over all weights of (w − ŵ)²
 * @param rowSquaredError per row r, Σ_c (w − ŵ)²
 * @param groupSquaredError per entry of the spec's scale grid (row-major, as the scales), Σ over its weights
 * @param outliers weights kept exactly in the outlier list
 * @param nanos wall time of the quantization (excluding this report's measurement)
 * @param options what the method chose or was configured with, in insertion order
 */
public record QuantReport(String method, AffineSpec spec, int rows, int cols, double squaredError,
        double[] rowSquaredError, double[] groupSquaredError, int outliers, long nanos, Map<String, String> options) {

    /** Validates and freezes the options. */
    public QuantReport {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(rowSquaredError, "rowSquaredError");
        Objects.requireNonNull(groupSquaredError, "groupSquaredError");
        options = Collections.unmodifiableMap(new LinkedHashMap<>(options == null ? Map.of() : options));
    }

    /** Mean squared error over all rows·cols weights. */
    public double mse() {
        return squaredError / ((double) rows * cols);
    }

    /** An option's value, or null. */
    public String option(String key) {
        return options.get(key);
    }

    /**
     * Measures Ŵ_eff = transform applied to {@code m} against {@code w} (row-major [rows, cols]) on {@code m}'s spec
     * grid (the spec's granularity decides the groups).
     */
    public static QuantReport measure(String method, float[] w, int rows, int cols, QuantizedMatrix m,
            AffineSpec spec, InputTransform transform, long nanos, Map<String, String> options) {
        Objects.requireNonNull(m, "matrix");
        if (m.rows() != rows || m.cols() != cols || w.length != (long) rows * cols) {
            throw new IllegalArgumentException("report: matrix [" + m.rows() + ", " + m.cols() + "] and "
                    + w.length + " weights do not match [" + rows + ", " + cols + "]");
        }
        InputTransform t = transform == null ? InputTransform.identity() : transform;
        int sr = spec.scaleRows(rows);
        int sc = spec.scaleCols(cols);
        double[] group = new double[sr * sc];
        double[] row = new double[rows];
        int rb = Groupwise.rowBlock(spec, rows);
        int cb = Groupwise.colBlock(spec, cols);
        boolean rowWise = rb == 1;
        // row-wise grids: every row owns its grid row, so rows run in parallel; others accumulate across rows
        int tileRows = Math.max(1, (1 << 16) / cols);
        if (rowWise) {
            Parallel.forRange(0, rows, tileRows, (from, to) -> {
                int n = (int) (to - from);
                float[] d = new float[n * cols];
                m.dequantizeRows((int) from, (int) to, d, 0);
                t.effectiveWeight(d, n, cols);
                for (int i = 0; i < d.length; i++) {
                    d[i] -= w[(int) from * cols + i];
                }
                for (int r = 0; r < n; r++) {
                    double rowSum = 0;
                    for (int j = 0; j < sc; j++) {
                        double e = FloatOps.sumOfSquares(d, r * cols + j * cb, cb);
                        group[((int) from + r) * sc + j] = e;
                        rowSum += e;
                    }
                    row[(int) from + r] = rowSum;
                }
            });
        } else {
            float[] d = new float[tileRows * cols];
            for (int r0 = 0; r0 < rows; r0 += tileRows) {
                int n = Math.min(tileRows, rows - r0);
                m.dequantizeRows(r0, r0 + n, d, 0);
                t.effectiveWeight(d, n, cols);
                for (int r = 0; r < n; r++) {
                    int gr = ((r0 + r) / rb) * sc;
                    double rowSum = 0;
                    for (int c = 0; c < cols; c++) {
                        float e = d[r * cols + c] - w[(r0 + r) * cols + c];
                        double e2 = (double) e * e;
                        group[gr + c / cb] += e2;
                        rowSum += e2;
                    }
                    row[r0 + r] = rowSum;
                }
            }
        }
        double total = 0;
        for (double v : row) {
            total += v;
        }
        return new QuantReport(method, spec, rows, cols, total, row, group, m.outliers().count(), nanos, options);
    }

    @Override
    public String toString() {
        return String.format("%s %s [%d, %d]: mse %.4g, %d outliers, %.1f ms%s", method, spec.describe(), rows, cols,
                mse(), outliers, nanos / 1e6, options.isEmpty() ? "" : " " + options);
    }
}

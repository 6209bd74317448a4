package lowbit.tensor.layout;

import java.util.Arrays;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;

/**
 * Exact weights kept beside a quantized layout (EasyQuant, GWQ, SpQR): a sparse list of positions {@code (r, c)} of
 * a {@code [rows, cols]} matrix whose value is stored exactly, in F32 or F16, and <em>replaces</em> whatever the
 * codes decode to at that position. Stored as CSR by row: {@link #rowStart(int)}..{@link #rowEnd(int)} index the
 * outliers of row r, in increasing column order.
 *
 * <p>Immutable. Built with {@link #of} from unordered coordinates, which it validates (in range, no duplicate
 * position, finite values, F16 values that do not overflow).
 */
public final class Outliers {
    private final int rows;
    private final int cols;
    private final DType valueType;
    private final int[] rowPtr;
    private final int[] colIdx;
    private final float[] values;

    private Outliers(int rows, int cols, DType valueType, int[] rowPtr, int[] colIdx, float[] values) {
        this.rows = rows;
        this.cols = cols;
        this.valueType = valueType;
        this.rowPtr = rowPtr;
        this.colIdx = colIdx;
        this.values = values;
    }

    /** No outliers for a {@code [rows, cols]} matrix. */
    public static Outliers none(int rows, int cols) {
        checkShape(rows, cols);
        return new Outliers(rows, cols, DType.F32, new int[rows + 1], new int[0], new float[0]);
    }

    /**
     * Outliers at {@code (row[k], col[k])} with value {@code value[k]}, stored as {@code valueType} (F32, or F16
     * with round-to-nearest-even: then {@link #value(int)} returns the rounded value).
     *
     * @throws IllegalArgumentException for arrays of different lengths, a position outside {@code [rows, cols]}, a
     *     position listed twice, a non-finite value, an F16 value that rounds to infinity, or another value type
     */
    public static Outliers of(int rows, int cols, int[] row, int[] col, float[] value, DType valueType) {
        checkShape(rows, cols);
        Objects.requireNonNull(row, "row");
        Objects.requireNonNull(col, "col");
        Objects.requireNonNull(value, "value");
        Objects.requireNonNull(valueType, "valueType");
        if (valueType != DType.F32 && valueType != DType.F16) {
            throw new IllegalArgumentException("outliers: value type must be F32 or F16, got " + valueType);
        }
        int n = row.length;
        if (col.length != n || value.length != n) {
            throw new IllegalArgumentException("outliers: row, col and value must have the same length, got "
                    + row.length + ", " + col.length + ", " + value.length);
        }
        int[] rowPtr = new int[rows + 1];
        for (int k = 0; k < n; k++) {
            if (row[k] < 0 || row[k] >= rows || col[k] < 0 || col[k] >= cols) {
                throw new IllegalArgumentException("outliers: entry " + k + " at (" + row[k] + ", " + col[k]
                        + ") is outside the [" + rows + ", " + cols + "] matrix");
            }
            float v = value[k];
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("outliers: entry " + k + " at (" + row[k] + ", " + col[k]
                        + ") has non-finite value " + v);
            }
            if (valueType == DType.F16 && Float.isInfinite(Fp16.toFloat(Fp16.fromFloat(v)))) {
                throw new IllegalArgumentException("outliers: entry " + k + " value " + v + " overflows F16 (max 65504)");
            }
            rowPtr[row[k] + 1]++;
        }
        for (int r = 0; r < rows; r++) {
            rowPtr[r + 1] += rowPtr[r];
        }
        // bucket by row, then order each row by column: key = col << 31 | original index
        long[] keys = new long[n];
        int[] fill = Arrays.copyOf(rowPtr, rows);
        for (int k = 0; k < n; k++) {
            keys[fill[row[k]]++] = (long) col[k] << 31 | k;
        }
        int[] colIdx = new int[n];
        float[] vals = new float[n];
        for (int r = 0; r < rows; r++) {
            Arrays.sort(keys, rowPtr[r], rowPtr[r + 1]);
            for (int i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
                int k = (int) (keys[i] & 0x7FFF_FFFFL);
                colIdx[i] = col[k];
                if (i > rowPtr[r] && colIdx[i] == colIdx[i - 1]) {
                    throw new IllegalArgumentException("outliers: position (" + r + ", " + col[k] + ") is listed twice");
                }
                vals[i] = valueType == DType.F16 ? Fp16.toFloat(Fp16.fromFloat(value[k])) : value[k];
            }
        }
        return new Outliers(rows, cols, valueType, rowPtr, colIdx, vals);
    }

    private static void checkShape(int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("outliers: negative shape [" + rows + ", " + cols + "]");
        }
    }

    /** Rows of the matrix these outliers belong to. */
    public int rows() {
        return rows;
    }

    /** Columns of the matrix these outliers belong to. */
    public int cols() {
        return cols;
    }

    /** F32 or F16: how the values are stored. */
    public DType valueType() {
        return valueType;
    }

    /** Number of outliers. */
    public int count() {
        return colIdx.length;
    }

    /** True when there are none. */
    public boolean isEmpty() {
        return colIdx.length == 0;
    }

    /** Index of the first outlier of row r (CSR row pointer). */
    public int rowStart(int r) {
        return rowPtr[r];
    }

    /** One past the index of the last outlier of row r. */
    public int rowEnd(int r) {
        return rowPtr[r + 1];
    }

    /** Column of outlier i (0 ≤ i &lt; count, in CSR order). */
    public int col(int i) {
        return colIdx[i];
    }

    /** Value of outlier i as stored (F16-rounded for F16 outliers). */
    public float value(int i) {
        return values[i];
    }

    /** The row of outlier i (a binary search over the row pointers). */
    public int row(int i) {
        Objects.checkIndex(i, colIdx.length);
        int lo = 0;
        int hi = rows - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (rowPtr[mid] <= i) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** Bytes a file needs for these outliers: row pointers (int32), column indices (int32) and values. */
    public long byteSize() {
        return isEmpty() ? 0 : 4L * (rows + 1) + (4L + valueType.bits() / 8) * count();
    }

    @Override
    public String toString() {
        return count() + " " + valueType + " outliers in [" + rows + ", " + cols + "]";
    }
}

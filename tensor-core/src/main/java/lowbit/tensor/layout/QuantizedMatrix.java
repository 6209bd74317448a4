package lowbit.tensor.layout;

/**
 * A weight matrix {@code W[rows, cols]} ({@code nn.Linear}'s {@code [out, in]}, row-major) held in a quantized layout:
 * what every quantizer produces and every inference path consumes. Implementations are immutable and thread-safe.
 *
 * <p>Ŵ denotes the matrix the layout represents: the dequantized codes, with every position listed in
 * {@link #outliers()} replaced by its exact outlier value. All operations use Ŵ:
 * <ul>
 *   <li>{@link #dequantizeRows} writes Ŵ's rows as floats;</li>
 *   <li>{@link #gemv} computes {@code y = Ŵ·x + b};</li>
 *   <li>{@link #gemm} computes {@code Y = X·Ŵᵀ + b} for X of n rows.</li>
 * </ul>
 * The fused products read the packed codes directly (never a float copy of the whole matrix), run rows in parallel on
 * {@link lowbit.tensor.parallel.Parallel} threads and give identical bits for any thread count. Accuracy against the
 * exact product with Ŵ is the float summation bound {@code 2·γ_cols·Σ|Ŵ[r,c]·x[c]|} (γ_n = n·u/(1 − n·u), u = 2^-24)
 * unless the layout documents an integer path that also quantizes x (ggml's Q8 activations).
 */
public interface QuantizedMatrix {
    /** Rows (output features). */
    int rows();

    /** Columns (input features). */
    int cols();

    /** A short human-readable description of the layout, e.g. {@code "affine u4 asym g128(in) F16 scales"}. */
    String describe();

    /** Bytes of storage: codes, scales, zero points and outliers (what a file holding this matrix needs). */
    long byteSize();

    /** The exact outliers that override quantized positions ({@link Outliers#none} when there are none). */
    Outliers outliers();

    /**
     * The same layout with {@code outliers} overriding its positions (replacing any it had).
     *
     * @throws IllegalArgumentException when the outliers' shape is not {@code [rows, cols]}
     */
    QuantizedMatrix withOutliers(Outliers outliers);

    /**
     * Writes rows {@code [rowFrom, rowTo)} of Ŵ to {@code dst[dstOff ...]}, row-major ({@code cols} floats per row).
     *
     * @throws IndexOutOfBoundsException for a bad row range or a too-short destination
     */
    void dequantizeRows(int rowFrom, int rowTo, float[] dst, int dstOff);

    /** All of Ŵ as a new row-major float array of {@code rows·cols} elements. */
    default float[] dequantize() {
        long n = (long) rows() * cols();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(describe() + ": " + rows() + "x" + cols() + " does not fit in one float[]; "
                    + "use dequantizeRows on a row range");
        }
        float[] out = new float[(int) n];
        dequantizeRows(0, rows(), out, 0);
        return out;
    }

    /**
     * {@code y = Ŵ·x + bias}: x has {@code cols} elements, y {@code rows}; {@code bias} ({@code rows}) may be null.
     *
     * @throws IllegalArgumentException when a length does not match, y is x or the bias, or x is not finite where
     *     the layout quantizes it
     */
    void gemv(float[] x, float[] bias, float[] y);

    /**
     * {@code Y = X·Ŵᵀ + bias}: X [n, cols] and Y [n, rows] row-major, bias [rows] or null.
     *
     * @throws IllegalArgumentException when a length does not match or Y is X or the bias
     */
    void gemm(float[] x, int n, float[] bias, float[] y);
}

package lowbit.tensor.layout;

/**
 * A minimal layout for testing the shared base: one signed 8-bit code per weight and one float scale per row,
 * Ŵ[r, c] = scale[r]·code[r, c], with plain scalar kernels.
 */
final class Int8RowsMatrix extends AbstractQuantizedMatrix {
    private final byte[] codes;
    private final float[] scales;

    Int8RowsMatrix(int rows, int cols, byte[] codes, float[] scales, Outliers outliers) {
        super(rows, cols, outliers);
        this.codes = codes;
        this.scales = scales;
        initOutliers();
    }

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        int cols = cols();
        for (int r = rowFrom; r < rowTo; r++) {
            for (int c = 0; c < cols; c++) {
                dst[dstOff + (r - rowFrom) * cols + c] = scales[r] * codes[r * cols + c];
            }
        }
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        int cols = cols();
        for (int r = rowFrom; r < rowTo; r++) {
            float acc = 0;
            for (int c = 0; c < cols; c++) {
                acc += scales[r] * codes[r * cols + c] * x[xOff + c];
            }
            y[yOff + r] = acc;
        }
    }

    @Override
    public String describe() {
        return "test int8 rows";
    }

    @Override
    public long byteSize() {
        return codes.length + 4L * scales.length + outliers().byteSize();
    }

    @Override
    public QuantizedMatrix withOutliers(Outliers outliers) {
        return new Int8RowsMatrix(rows(), cols(), codes, scales, outliers);
    }
}

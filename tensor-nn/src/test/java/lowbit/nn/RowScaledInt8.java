package lowbit.nn;

import java.util.Random;
import lowbit.tensor.layout.AbstractQuantizedMatrix;
import lowbit.tensor.layout.Outliers;
import lowbit.tensor.layout.QuantizedMatrix;

/** A minimal test layout: int8 codes with one float scale per row, Ŵ[r, c] = code[r, c]·scale[r]. */
final class RowScaledInt8 extends AbstractQuantizedMatrix {
    private final byte[] codes;
    private final float[] scales;

    RowScaledInt8(int rows, int cols, byte[] codes, float[] scales, Outliers outliers) {
        super(rows, cols, outliers);
        this.codes = codes;
        this.scales = scales;
        initOutliers();
    }

    static RowScaledInt8 random(Random r, int rows, int cols) {
        byte[] c = new byte[rows * cols];
        float[] s = new float[rows];
        for (int i = 0; i < c.length; i++) {
            c[i] = (byte) (r.nextInt(255) - 127);
        }
        for (int i = 0; i < rows; i++) {
            s[i] = 0.001f + r.nextFloat() * 0.01f;
        }
        return new RowScaledInt8(rows, cols, c, s, null);
    }

    @Override
    protected void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        for (int r = rowFrom; r < rowTo; r++) {
            for (int c = 0; c < cols(); c++) {
                dst[dstOff + (r - rowFrom) * cols() + c] = codes[r * cols() + c] * scales[r];
            }
        }
    }

    @Override
    protected void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo) {
        for (int r = rowFrom; r < rowTo; r++) {
            float acc = 0;
            for (int c = 0; c < cols(); c++) {
                acc += codes[r * cols() + c] * scales[r] * x[xOff + c];
            }
            y[yOff + r] = acc;
        }
    }

    @Override
    public String describe() {
        return "test int8 row-scaled";
    }

    @Override
    public long byteSize() {
        return codes.length + 4L * scales.length;
    }

    @Override
    public QuantizedMatrix withOutliers(Outliers outliers) {
        return new RowScaledInt8(rows(), cols(), codes, scales, outliers);
    }
}

package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import lowbit.tensor.DType;
import lowbit.tensor.ggml.GgmlOps;
import lowbit.tensor.ggml.GgmlType;

/** Checks shared by the tests of the layouts on ggml's integer path ({@link AffineInt4Tiles}, {@link NmSparseInt4Tiles}). */
final class IntegerPathTesting {
    private IntegerPathTesting() {
    }

    /**
     * The 4-bit specs a layout of width {@code cols} is tested with: groups of 32, 64, 96 and 128 where they divide
     * cols (asymmetric with F16 scales and symmetric with F32), per row, per tensor.
     */
    static AffineSpec[] int4Specs(int cols) {
        java.util.List<AffineSpec> s = new java.util.ArrayList<>();
        for (int g : new int[] {32, 64, 96, 128}) {
            if (cols % g == 0) {
                s.add(AffineSpec.groupsAlongIn(4, g, false).withScaleType(DType.F16));
                s.add(AffineSpec.groupsAlongIn(4, g, true));
            }
        }
        s.add(AffineSpec.perOutputChannel(4, false));
        s.add(AffineSpec.perTensor(4, true).withScaleType(DType.F16));
        return s.toArray(new AffineSpec[0]);
    }

    /** x̂: x through ggml's Q8_0 reference encoder and back. */
    static double[] q8(float[] x, int off, int cols) {
        MemorySegment a = MemorySegment.ofArray(new byte[(int) GgmlType.Q8_0.rowBytes(cols)]);
        GgmlOps.quantizeActivation(GgmlType.Q4_0, x, off, a, 0, cols);
        float[] xh = new float[cols];
        GgmlOps.dequantizeRow(GgmlType.Q8_0, a, 0, xh, 0, cols);
        double[] out = new double[cols];
        for (int c = 0; c < cols; c++) {
            out[c] = xh[c];
        }
        return out;
    }

    /**
     * A GEMM of more than 8 rows runs the dense float GEMM on the decoded Ŵ ({@code w}, row-major) and the exact x:
     * every element within γ_(cols+2)·(&Sigma;|ŵ·x| + |b|) of the double product (cols products, the bias, one
     * rounding to spare).
     */
    static void assertFloatGemm(float[] w, int rows, int cols, float[] xs, int n, float[] bias, float[] ys,
            String what) {
        int mm = cols + 2;
        double gamma = mm * 0x1p-24 / (1 - mm * 0x1p-24);
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < rows; r++) {
                double exact = bias[r], abs = Math.abs(bias[r]);
                for (int c = 0; c < cols; c++) {
                    exact += (double) w[r * cols + c] * xs[i * cols + c];
                    abs += Math.abs((double) w[r * cols + c] * xs[i * cols + c]);
                }
                assertThat(Math.abs(ys[i * rows + r] - exact)).as("%s gemm n=%d [%d][%d]", what, n, i, r)
                        .isLessThanOrEqualTo(gamma * abs + 1e-30);
            }
        }
    }
}

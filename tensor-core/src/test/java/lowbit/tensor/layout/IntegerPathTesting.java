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

    /**
     * y (with the outliers) against base (the same product without them) plus each outlier's change δ·x of its row,
     * δ = value − the plain Ŵ at its position: two roundings per outlier (its float δ and the product-add) over at
     * most two outliers per row.
     */
    static void assertOutliersAdded(float[] plain, int rows, int cols, int[] or, int[] oc, float[] ov, float[] x,
            float[] base, float[] y) {
        for (int r = 0; r < rows; r++) {
            double want = base[r];
            double mag = Math.abs(base[r]);
            for (int i = 0; i < or.length; i++) {
                if (or[i] == r) {
                    double delta = (double) ov[i] - plain[r * cols + oc[i]];
                    want += delta * x[oc[i]];
                    mag += Math.abs(delta * x[oc[i]]);
                }
            }
            assertThat(Math.abs(y[r] - want)).as("row %d", r).isLessThanOrEqualTo(5 * 0x1p-24 * mag + 1e-30);
        }
    }

    /**
     * The integer path's bounds for every X row of a product y = Ŵ·x̂ + b (the test classes derive them): against an
     * exact double Ŵ·x̂ with the real x̂, γ_m·&Sigma;_c mag[r, c]·|x̂_c| plus one rounding for the bias added last;
     * against the exact Ŵ·x, that plus &Sigma;_c |Ŵ[r, c]|·|x_c − x̂_c|. {@code mag} is the per-weight magnitude the
     * layout's float sums can reach (row-major like {@code w}).
     */
    static void assertIntegerProduct(float[] w, double[] mag, int rows, int cols, int m, float[] x, int n,
            float[] bias, float[] y, String what) {
        double gamma = m * 0x1p-24 / (1 - m * 0x1p-24);
        for (int i = 0; i < n; i++) {
            double[] xh = q8(x, i * cols, cols);
            for (int r = 0; r < rows; r++) {
                double withHat = 0, exact = 0, abs = 0, quant = 0;
                for (int c = 0; c < cols; c++) {
                    double wv = w[r * cols + c];
                    double xv = x[i * cols + c];
                    withHat += wv * xh[c];
                    exact += wv * xv;
                    abs += mag[r * cols + c] * Math.abs(xh[c]);
                    quant += Math.abs(wv) * Math.abs(xv - xh[c]);
                }
                double b = bias == null ? 0 : bias[r];
                double got = y[i * rows + r] - b;
                double bound = gamma * abs + 0x1p-24 * (Math.abs(withHat) + Math.abs(b) + gamma * abs) + 1e-30;
                assertThat(Math.abs(got - withHat)).as("%s: y[%d][%d] = %s vs Ŵ·x̂ = %s (bound %s)", what, i, r, got,
                        withHat, bound).isLessThanOrEqualTo(bound);
                assertThat(Math.abs(got - exact)).as("%s: y[%d][%d] vs Ŵ·x", what, i, r)
                        .isLessThanOrEqualTo(quant + bound);
            }
        }
    }
}

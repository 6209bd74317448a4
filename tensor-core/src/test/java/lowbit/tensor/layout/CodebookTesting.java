package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;

/** What the NF4/FP4 layout tests ({@link Codebook4MatrixTest}, {@link Codebook4TilesTest}) share. */
final class CodebookTesting {
    private CodebookTesting() {
    }

    static Codebook4Matrix encode(boolean nf4, float[] w, int rows, int cols, int block, boolean dq) {
        return nf4 ? Nf4.encode(w, rows, cols, block, dq) : Fp4.encode(w, rows, cols, block, dq);
    }

    /**
     * Every Y[i, r] (row-major [n, rows]) within γ_m·Σ_c |Ŵ[r, c]·x_c| of the exact product in double, for a float
     * summation of depth m (the layout's documented bound; γ_m = m·u/(1 − m·u), u = 2^-24), plus the smallest normal
     * float for products that underflow.
     */
    static void assertWithinGamma(float[] w, int rows, int cols, float[] x, int n, float[] y, int m, String what) {
        double gamma = m * 0x1p-24 / (1 - m * 0x1p-24);
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < rows; r++) {
                double exact = 0;
                double abs = 0;
                for (int c = 0; c < cols; c++) {
                    double t = (double) w[r * cols + c] * x[i * cols + c];
                    exact += t;
                    abs += Math.abs(t);
                }
                assertThat((double) y[i * rows + r]).as("%s Y[%d, %d]", what, i, r)
                        .isCloseTo(exact, org.assertj.core.data.Offset.offset(gamma * abs + Float.MIN_NORMAL));
            }
        }
    }
}

package lowbit.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class TransformTest {
    /** H_n from the Sylvester definition H_2n = [[H, H], [H, −H]]. */
    private static int[][] sylvester(int n) {
        int[][] h = {{1}};
        while (h.length < n) {
            int m = h.length;
            int[][] g = new int[2 * m][2 * m];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < m; j++) {
                    g[i][j] = h[i][j];
                    g[i][j + m] = h[i][j];
                    g[i + m][j] = h[i][j];
                    g[i + m][j + m] = -h[i][j];
                }
            }
            h = g;
        }
        return h;
    }

    @Test
    void fwhtIsTheSylvesterProduct() {
        for (int n : new int[] {1, 2, 4, 8, 64}) {
            float[] x = QuantTesting.weights(1, n, n, 1f, 0, 0);
            float[] y = x.clone();
            HadamardRotation.fwht(y, 0, n);
            int[][] h = sylvester(n);
            for (int i = 0; i < n; i++) {
                double s = 0;
                double mag = 0;
                for (int j = 0; j < n; j++) {
                    s += h[i][j] * (double) x[j];
                    mag += Math.abs(x[j]);
                }
                // log2(n) float additions per output: within log2(n)·2^-24·Σ|x|
                assertThat((double) y[i]).isCloseTo(s, Offset.offset(Math.max(1, 32 - Integer.numberOfLeadingZeros(n))
                        * 0x1p-24 * mag + 1e-12));
            }
        }
        assertThatThrownBy(() -> HadamardRotation.fwht(new float[6], 0, 6)).hasMessageContaining("got 6");
    }

    @Test
    void rotationIsOrthogonalBlockDiagonalAndSeeded() {
        HadamardRotation r = HadamardRotation.of(384, 7);
        assertThat(r.block()).isEqualTo(128);
        assertThat(HadamardRotation.of(1536, 7).block()).isEqualTo(512);
        assertThat(HadamardRotation.of(1024, 64, 7).block()).isEqualTo(64);
        assertThat(HadamardRotation.of(7, 7).block()).isEqualTo(1);
        float[] x = QuantTesting.weights(1, 384, 3, 1f, 0, 0);
        float[] y = x.clone();
        r.apply(y, 0);
        double nx = 0;
        double ny = 0;
        for (int i = 0; i < 384; i++) {
            nx += (double) x[i] * x[i];
            ny += (double) y[i] * y[i];
        }
        assertThat(ny).isCloseTo(nx, Offset.offset(1e-5 * nx)); // ‖Rx‖ = ‖x‖
        // block 0 equals H_128·D/√128 from the definition
        int[][] h = sylvester(128);
        for (int i = 0; i < 128; i += 17) {
            double s = 0;
            for (int j = 0; j < 128; j++) {
                s += h[i][j] * r.sign(j) * (double) x[j];
            }
            assertThat((double) y[i]).isCloseTo(s / Math.sqrt(128), Offset.offset(1e-5));
        }
        r.applyInverse(y, 0);
        for (int i = 0; i < 384; i++) {
            assertThat(y[i]).isCloseTo(x[i], Offset.offset(1e-5f));
        }
        HadamardRotation again = HadamardRotation.of(384, 7);
        HadamardRotation other = HadamardRotation.of(384, 8);
        int differ = 0;
        for (int i = 0; i < 384; i++) {
            assertThat(again.sign(i)).isEqualTo(r.sign(i));
            differ += other.sign(i) != r.sign(i) ? 1 : 0;
        }
        assertThat(differ).isGreaterThan(100); // about half of 384 signs differ for another seed
    }

    @Test
    void foldingIntoThePreviousLinearGivesTheSameLayerOutput() {
        int k = 16;
        int n = 64;
        float[] p = QuantTesting.weights(n, k, 1, 1f, 0, 0);
        float[] pb = QuantTesting.weights(1, n, 2, 1f, 0, 0);
        float[] u = QuantTesting.weights(1, k, 3, 1f, 0, 0);
        float[] m = QuantTesting.weights(1, n, 4, 1f, 0, 0);
        for (int j = 0; j < n; j++) {
            m[j] = 0.5f + Math.abs(m[j]);
        }
        InputTransform[] ts = {InputTransform.channelMultiplier(m), InputTransform.rotation(HadamardRotation.of(n, 5))};
        for (InputTransform t : ts) {
            float[] x = new float[n];
            for (int j = 0; j < n; j++) {
                double s = pb[j];
                for (int c = 0; c < k; c++) {
                    s += (double) p[j * k + c] * u[c];
                }
                x[j] = (float) s;
            }
            float[] expected = t.apply(x, 1, n);
            float[] pf = p.clone();
            float[] bf = pb.clone();
            t.foldIntoPreviousLinear(pf, n, k, bf);
            for (int j = 0; j < n; j++) {
                double s = bf[j];
                for (int c = 0; c < k; c++) {
                    s += (double) pf[j * k + c] * u[c];
                }
                assertThat(s).isCloseTo(expected[j], Offset.offset(1e-4));
            }
        }
        float[] gamma = new float[n];
        java.util.Arrays.fill(gamma, 2f);
        ts[0].foldIntoLayerNorm(gamma, null);
        assertThat(gamma[3]).isEqualTo(2f * m[3]);
        assertThatThrownBy(() -> ts[1].foldIntoLayerNorm(new float[n], null)).hasMessageContaining("rotation");
        assertThatThrownBy(() -> InputTransform.channelMultiplier(new float[] {1, 0})).hasMessageContaining("[1] = 0");
        InputTransform c = InputTransform.identity().withOutputBias(new float[] {1, 2});
        assertThat(c.foldOutputBias(new float[] {10, 20}, 2)).containsExactly(11, 22);
    }

    @Test
    void statsFromActivationsMatchTheDefinition() {
        float[] x = {1, -2, 3, 4, -5, 6};
        ArrayCalibrationStats s = ArrayCalibrationStats.fromActivations(x, 2, 3, true);
        assertThat(s.meanAbs()).containsExactly(2.5f, 3.5f, 4.5f);
        assertThat(s.meanSquare()).containsExactly(8.5f, 14.5f, 22.5f);
        assertThat(s.mean()).containsExactly(2.5f, -3.5f, 4.5f);
        // H = 2XᵀX/N: H[0][1] = 2·(1·−2 + 4·−5)/2 = −22
        assertThat(s.hessian()[1]).isEqualTo(-22.0);
        assertThat(s.hessian()[0]).isEqualTo(17.0);
        assertThatThrownBy(() -> ArrayCalibrationStats.fromActivations(new float[] {Float.NaN}, 1, 1, false))
                .hasMessageContaining("[0, 0] is NaN");
        assertThatThrownBy(() -> ArrayCalibrationStats.of(0, new float[1], new float[1])).hasMessageContaining("tokens");
        assertThatThrownBy(() -> ArrayCalibrationStats.of(1, new float[] {-1}, new float[1]))
                .hasMessageContaining("meanAbs[0] = -1.0");
    }
}

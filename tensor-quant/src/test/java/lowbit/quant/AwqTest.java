package lowbit.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import lowbit.tensor.layout.AffineSpec;
import org.junit.jupiter.api.Test;

/**
 * {@link Awq} against its definition: the scale formula by hand, the α search's argmin recomputed from the
 * activations themselves (‖XWᵀ − XŴ(α)ᵀ‖² over the tokens, in double), the returned input transform (Ŵ_eff =
 * Ŵ'·diag(1/s), applying it to x gives the same outputs), the row-subset budget, AWQ before GPTQ, and named errors.
 */
class AwqTest {
    private static final long SEED = 0xa3aL;
    private static final int ROWS = 64;
    private static final int COLS = 128;
    private static final int TOKENS = 400;

    @Test
    void scalesFollowTheFormula() {
        float[] sx = {4f, 1f, 0f, 0.25f};
        float[] s = Awq.scales(sx, 0.5f);
        // s_x^0.5 = {2, 1, 0 → clamped 1e-4, 0.5}; √(max·min) = √(2·1e-4)
        double norm = Math.sqrt(2 * 1e-4f);
        assertThat((double) s[0]).isCloseTo(2 / norm, org.assertj.core.data.Percentage.withPercentage(1e-4));
        assertThat((double) s[2]).isCloseTo(1e-4f / norm, org.assertj.core.data.Percentage.withPercentage(1e-4));
        assertThat((double) s[3]).isCloseTo(0.5 / norm, org.assertj.core.data.Percentage.withPercentage(1e-4));
        assertThat(Awq.scales(sx, 0f)).containsOnly(1f);
    }

    /** Σ_t Σ_r (x_t·(w_r − ŵ_r))² from the activations, in double. */
    private static double tokenLoss(float[] x, float[] w, float[] wq) {
        double loss = 0;
        for (int t = 0; t < TOKENS; t++) {
            for (int r = 0; r < ROWS; r++) {
                double y = 0;
                for (int c = 0; c < COLS; c++) {
                    y += (double) x[t * COLS + c] * ((double) w[r * COLS + c] - wq[r * COLS + c]);
                }
                loss += y * y;
            }
        }
        return loss;
    }

    private static float[] candidate(float[] w, AffineSpec spec, float[] s) {
        float[] ws = new float[w.length];
        for (int e = 0; e < w.length; e++) {
            ws[e] = w[e] * s[e % COLS];
        }
        float[] d = Rtn.defaults().quantize(ws, ROWS, COLS, spec).matrix().dequantize();
        for (int e = 0; e < d.length; e++) {
            d[e] /= s[e % COLS];
        }
        return d;
    }

    @Test
    void searchFindsTheLeastOutputErrorAndTheTransformFolds() {
        float[] x = CalibTesting.activations(TOKENS, COLS, 6, SEED);
        float[] w = QuantTesting.weights(ROWS, COLS, SEED + 1, 0.05f, 0, 0);
        CalibrationCollector c = CalibrationCollector.withHessian(COLS);
        c.add(x, TOKENS);
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 64, false);
        Awq awq = Awq.defaults();
        Awq.Scales sc = awq.search(w, ROWS, COLS, spec, c);
        assertThat(sc.lossRows()).isEqualTo(ROWS);
        int bestI = -1;
        double best = Double.POSITIVE_INFINITY;
        double[] losses = new double[20];
        for (int i = 0; i < 20; i++) {
            losses[i] = tokenLoss(x, w, candidate(w, spec, Awq.scales(c.meanAbs(), i / 20f)));
            if (losses[i] < best) {
                best = losses[i];
                bestI = i;
            }
        }
        // the search's H-based loss equals the token loss (N/2·ΔHΔᵀ); float GEMM rounding could only swap near-ties
        assertThat(sc.alpha()).as("losses %s", java.util.Arrays.toString(losses)).isEqualTo(bestI / 20f);
        assertThat(sc.loss() * TOKENS).isCloseTo(best, org.assertj.core.data.Percentage.withPercentage(0.1));
        assertThat(sc.alpha()).as("loud channels make α > 0 pay").isPositive();

        QuantResult r = awq.quantize(w, ROWS, COLS, spec, c);
        float[] m = r.transform().channelMultiplier();
        float[] deq = r.matrix().dequantize();
        float[] eff = r.effectiveWeight();
        for (int e = 0; e < eff.length; e++) {
            assertThat(eff[e]).isEqualTo(deq[e] * m[e % COLS]);
        }
        for (int j = 0; j < COLS; j++) {
            assertThat(m[j] * sc.s()[j]).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-6f));
        }
        // applying the transform to x gives x·Ŵ_effᵀ
        float[] x0 = java.util.Arrays.copyOf(x, COLS);
        float[] y = new float[ROWS];
        r.matrix().gemv(r.transform().apply(x0, 1, COLS), null, y);
        for (int i = 0; i < ROWS; i++) {
            double ref = 0, abs = 0;
            for (int j = 0; j < COLS; j++) {
                ref += (double) eff[i * COLS + j] * x0[j];
                abs += Math.abs((double) eff[i * COLS + j] * x0[j]);
            }
            assertThat(Math.abs(y[i] - ref)).isLessThanOrEqualTo(1e-5 * abs + 1e-7);
        }
        double rtn = tokenLoss(x, w, Rtn.defaults().quantize(w, ROWS, COLS, spec).matrix().dequantize());
        double awqLoss = tokenLoss(x, w, eff);
        assertThat(awqLoss).as("awq %s vs rtn %s", awqLoss, rtn).isLessThan(0.9 * rtn);
        assertThat(r.report().option("alpha")).isEqualTo(Float.toString(sc.alpha()));
    }

    @Test
    void rowSubsetDiagonalFallbackAndGptqInside() {
        float[] x = CalibTesting.activations(TOKENS, COLS, 6, SEED + 2);
        float[] w = QuantTesting.weights(ROWS, COLS, SEED + 3, 0.05f, 0, 0);
        CalibrationStats st = ArrayCalibrationStats.fromActivations(x, TOKENS, COLS, true);
        double[] h = st.hessian();
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 32, false);
        Awq small = Awq.of(new Awq.Options(20, 16L * COLS * COLS), ClipSearch.defaults());
        QuantResult sub = small.quantize(w, ROWS, COLS, spec, st);
        assertThat(sub.report().option("loss rows")).isEqualTo("16/64");
        double eRtn = CalibTesting.relativeOutputError(w, Rtn.defaults().quantize(w, ROWS, COLS, spec).matrix()
                .dequantize(), ROWS, COLS, h);
        assertThat(CalibTesting.relativeOutputError(w, sub.effectiveWeight(), ROWS, COLS, h)).isLessThan(eRtn);
        // without a Hessian the diagonal loss still works
        CalibrationStats diag = ArrayCalibrationStats.of(TOKENS, st.meanAbs(), st.meanSquare());
        QuantResult d = Awq.defaults().quantize(w, ROWS, COLS, spec, diag);
        assertThat(CalibTesting.relativeOutputError(w, d.effectiveWeight(), ROWS, COLS, h)).isLessThan(eRtn);
        // AWQ before GPTQ: GPTQ sees W·diag(s) and H' = diag(s)⁻¹ H diag(s)⁻¹; the error is measured on W
        QuantResult ag = Awq.of(Awq.Options.defaults(), Gptq.defaults()).quantize(w, ROWS, COLS, spec, st);
        QuantResult g = Gptq.defaults().quantize(w, ROWS, COLS, spec, st);
        double eAg = CalibTesting.relativeOutputError(w, ag.effectiveWeight(), ROWS, COLS, h);
        double eG = CalibTesting.relativeOutputError(w, g.effectiveWeight(), ROWS, COLS, h);
        assertThat(ag.matrix().describe()).contains("affine");
        assertThat(ag.transform().channelMultiplier()).isNotNull();
        assertThat(eAg).as("awq+gptq %s, gptq %s, rtn %s", eAg, eG, eRtn).isLessThan(0.6 * eRtn);
        assertThat(ag.report().method()).isEqualTo("awq+gptq");
    }

    @Test
    void badInputIsNamed() {
        float[] w = new float[ROWS * COLS];
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 32, false);
        assertThatThrownBy(() -> Awq.defaults().quantize(w, ROWS, COLS, spec)).hasMessageContaining(
                "awq: needs calibration statistics");
        CalibrationStats st = ArrayCalibrationStats.of(10, new float[COLS], new float[COLS]);
        assertThatThrownBy(() -> Awq.defaults().quantize(w, ROWS, COLS, AffineSpec.perInputChannel(4, false), st))
                .hasMessageContaining("needs a row-wise spec");
        CalibrationStats other = ArrayCalibrationStats.of(10, new float[COLS + 1], new float[COLS + 1]);
        assertThatThrownBy(() -> Awq.defaults().quantize(w, ROWS, COLS, spec, other))
                .hasMessageContaining("129 input features, the weight has 128 columns");
        assertThatThrownBy(() -> new Awq.Options(0, 1)).hasMessageContaining("grid must be 1..1000");
    }
}

package lowbit.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.SplittableRandom;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Outliers;
import org.junit.jupiter.api.Test;

/**
 * GWQ, RSQ and the compositions of the calibrated quantizers: outlier selectors (top gradient, EasyQuant's σ rule,
 * saliency) with GPTQ and RTN, rotation before GPTQ, token importance in the Hessian.
 */
class CompositionTest {
    private static final long SEED = 0xc0a1L;
    private static final int ROWS = 32;
    private static final int COLS = 128;
    private static final int TOKENS = 300;

    @Test
    void topSelectionIsTheSortedDefinitionWithTiesToTheLowerIndex() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        for (int n : new int[] {1, 2, 7, 100, 1001}) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = rnd.nextInt(4) == 0 ? 0.5f : (float) rnd.nextDouble(); // many ties
            }
            for (double f : new double[] {0, 0.01, 0.3, 1}) {
                int k = (int) Math.round(f * n);
                Integer[] idx = new Integer[n];
                for (int i = 0; i < n; i++) {
                    idx[i] = i;
                }
                Arrays.sort(idx, (x, y) -> a[x] != a[y] ? Float.compare(a[y], a[x]) : Integer.compare(x, y));
                int[] expected = new int[k];
                for (int i = 0; i < k; i++) {
                    expected[i] = idx[i];
                }
                Arrays.sort(expected);
                assertThat(OutlierSelector.top(a, f)).as("n=%d f=%s seed=%d", n, f, SEED).isEqualTo(expected);
            }
        }
    }

    @Test
    void gwqKeepsTheTopGradientsExactWithRtnAndGptq() {
        float[] x = CalibTesting.activations(TOKENS, COLS, 3, SEED);
        float[] w = QuantTesting.weights(ROWS, COLS, SEED + 1, 0.03f, 8, 12f);
        CalibrationStats st = ArrayCalibrationStats.fromActivations(x, TOKENS, COLS, true);
        double[] h = st.hessian();
        // a sensitivity proxy the caller could have from a backward pass: |w|·√H_jj plus noise
        SplittableRandom rnd = new SplittableRandom(SEED);
        float[] grad = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            int c = i % COLS;
            grad[i] = (float) (Math.abs(w[i]) * Math.sqrt(h[c * COLS + c]) * (0.5 + rnd.nextDouble()));
        }
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 64, false);
        int k = (int) Math.round(0.01 * w.length);
        int[] chosen = Gwq.rtn(0.01).select(grad, ROWS, COLS);
        assertThat(chosen).hasSize(k);

        QuantResult rtn = Gwq.rtn(0.01).quantize(w, ROWS, COLS, spec, null, grad);
        Outliers o = rtn.matrix().outliers();
        assertThat(o.count()).isEqualTo(k);
        float[] deq = rtn.matrix().dequantize();
        for (int i : chosen) {
            assertThat(deq[i]).as("exact weight %d", i).isEqualTo(w[i]);
        }
        double eRtn = CalibTesting.relativeOutputError(w, Rtn.defaults().quantize(w, ROWS, COLS, spec).matrix()
                .dequantize(), ROWS, COLS, h);
        double eGwqRtn = CalibTesting.relativeOutputError(w, deq, ROWS, COLS, h);
        assertThat(eGwqRtn).isLessThan(eRtn);
        // the ranges leave the exact weights out: each group's RTN range over the remaining weights
        GroupwiseAffine m = rtn.affine();
        boolean[] mask = Gptq.outlierMask(chosen, ROWS, COLS);
        for (int r = 0; r < ROWS; r++) {
            for (int g = 0; g < 2; g++) {
                float lo = 0, hi = 0;
                for (int c = g * 64; c < g * 64 + 64; c++) {
                    if (!mask[r * COLS + c]) {
                        lo = Math.min(lo, w[r * COLS + c]);
                        hi = Math.max(hi, w[r * COLS + c]);
                    }
                }
                assertThat(m.scales()[r * 2 + g]).isEqualTo(AffineGrid.scale(AffineGrid.asymmetric(lo, hi, 3, true,
                        spec.scaleType())));
            }
        }

        QuantResult gq = Gwq.defaults().forGradient(grad).quantize(w, ROWS, COLS, spec, st);
        assertThat(gq.report().method()).isEqualTo("gwq+gptq");
        assertThat(gq.matrix().outliers().count()).isEqualTo(k);
        double eGptq = CalibTesting.relativeOutputError(w, Gptq.defaults().quantize(w, ROWS, COLS, spec, st)
                .matrix().dequantize(), ROWS, COLS, h);
        double eGwq = CalibTesting.relativeOutputError(w, gq.matrix().dequantize(), ROWS, COLS, h);
        assertThat(eGwq).as("gwq+gptq %s, gptq %s, gwq+rtn %s", eGwq, eGptq, eGwqRtn).isLessThan(eGptq);
        assertThatThrownBy(() -> Gwq.defaults().quantize(w, ROWS, COLS, spec, st, new float[5]))
                .hasMessageContaining("gradient has 5 entries for a [32, 128] weight");
        float[] nan = grad.clone();
        nan[130] = Float.NaN;
        assertThatThrownBy(() -> Gwq.defaults().quantize(w, ROWS, COLS, spec, st, nan))
                .hasMessageContaining("gradient at row 1, col 2 is NaN");
        assertThatThrownBy(() -> Gwq.rtn(2)).hasMessageContaining("fraction must be in [0, 1]");
    }

    @Test
    void easyQuantAndSaliencyOutliersWithGptq() {
        float[] x = CalibTesting.activations(TOKENS, COLS, 3, SEED + 2);
        float[] w = QuantTesting.weights(ROWS, COLS, SEED + 3, 0.03f, 30, 15f);
        CalibrationStats st = ArrayCalibrationStats.fromActivations(x, TOKENS, COLS, true);
        double[] h = st.hessian();
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 128, false);
        double eGptq = CalibTesting.relativeOutputError(w, Gptq.defaults().quantize(w, ROWS, COLS, spec, st)
                .matrix().dequantize(), ROWS, COLS, h);
        OutlierSelector eq = OutlierSelector.easyQuant(EasyQuant.Options.defaults());
        int[] pos = eq.select(w, ROWS, COLS, st);
        // the same positions EasyQuant itself keeps
        Outliers fromEq = EasyQuant.defaults().quantize(w, ROWS, COLS, spec).matrix().outliers();
        assertThat(pos).hasSize(fromEq.count());
        QuantResult q = Gptq.defaults().withOutliers(eq).quantize(w, ROWS, COLS, spec, st);
        assertThat(q.matrix().outliers().count()).isEqualTo(pos.length).isPositive();
        double eEq = CalibTesting.relativeOutputError(w, q.matrix().dequantize(), ROWS, COLS, h);
        assertThat(eEq).as("gptq+easyquant %s vs gptq %s", eEq, eGptq).isLessThan(eGptq);
        QuantResult sal = Gptq.defaults().withOutliers(OutlierSelector.topSaliency(0.01)).quantize(w, ROWS, COLS, spec,
                st);
        double eSal = CalibTesting.relativeOutputError(w, sal.matrix().dequantize(), ROWS, COLS, h);
        assertThat(eSal).isLessThan(eGptq);
        assertThat(sal.report().option("outliers")).isEqualTo("top-saliency 0.01");
    }

    @Test
    void rsqRotatesWeightsTheTokensAndRunsGptq() {
        float[] x = CalibTesting.activations(TOKENS, COLS, 3, SEED + 4);
        float[] w = QuantTesting.weights(ROWS, COLS, SEED + 5, 0.03f, 20, 20f);
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 64, false);
        // importance: the first half of the tokens matter 10x more
        float[] r = new float[TOKENS];
        for (int t = 0; t < TOKENS; t++) {
            r[t] = t < TOKENS / 2 ? 1f : 0.1f;
        }
        CalibrationCollector weighted = CalibrationCollector.withHessian(COLS);
        weighted.add(x, TOKENS, r);
        QuantResult q = Rsq.of(Gptq.Options.defaults(), 7).quantize(w, ROWS, COLS, spec, weighted);
        HadamardRotation rot = q.transform().rotation();
        assertThat(rot.size()).isEqualTo(COLS);
        assertThat(rot.block()).isEqualTo(128);
        assertThat(rot.seed()).isEqualTo(7);
        assertThat(q.transform().channelMultiplier()).isNull();
        // Ŵ_eff = Ŵ'·R; the layer applied to R·x reproduces x·Ŵ_effᵀ
        float[] eff = q.effectiveWeight();
        float[] x0 = Arrays.copyOfRange(x, 3 * COLS, 4 * COLS);
        float[] y = new float[ROWS];
        q.matrix().gemv(q.transform().apply(x0, 1, COLS), null, y);
        for (int i = 0; i < ROWS; i++) {
            double ref = 0, abs = 0;
            for (int j = 0; j < COLS; j++) {
                ref += (double) eff[i * COLS + j] * x0[j];
                abs += Math.abs((double) eff[i * COLS + j] * x0[j]);
            }
            assertThat(Math.abs(y[i] - ref)).isLessThanOrEqualTo(1e-5 * abs + 1e-7);
        }
        // the weighted objective: on the important tokens RSQ beats GPTQ fitted to uniform weights (same rotation)
        double[] hImportant = CalibTesting.hessian(Arrays.copyOf(x, TOKENS / 2 * COLS), TOKENS / 2, COLS);
        CalibrationCollector uniform = CalibrationCollector.withHessian(COLS);
        uniform.add(x, TOKENS);
        QuantResult u = Rsq.of(Gptq.Options.defaults(), 7).quantize(w, ROWS, COLS, spec, uniform);
        double eW = CalibTesting.relativeOutputError(w, eff, ROWS, COLS, hImportant);
        double eU = CalibTesting.relativeOutputError(w, u.effectiveWeight(), ROWS, COLS, hImportant);
        assertThat(eW).as("important-token error: weighted %s, uniform %s", eW, eU).isLessThan(eU);
        double eRtn = CalibTesting.relativeOutputError(w, Rtn.defaults().quantize(w, ROWS, COLS, spec).matrix()
                .dequantize(), ROWS, COLS, hImportant);
        assertThat(eW).isLessThan(0.6 * eRtn);
        assertThatThrownBy(() -> Rsq.defaults().quantize(w, ROWS, COLS, spec, null)).hasMessageContaining(
                "rsq: needs calibration statistics with a Hessian");
    }

    @Test
    void biasCorrectionRemovesTheMeanOutputShift() {
        float[] x = CalibTesting.activations(TOKENS, COLS, 3, SEED + 6);
        for (int t = 0; t < TOKENS; t++) {
            for (int j = 0; j < COLS; j++) {
                x[t * COLS + j] += 0.5f + (j % 3); // inputs with a non-zero mean
            }
        }
        float[] w = QuantTesting.weights(ROWS, COLS, SEED + 7, 0.03f, 0, 0);
        CalibrationCollector c = CalibrationCollector.withHessian(COLS);
        c.add(x, TOKENS);
        AffineSpec spec = AffineSpec.groupsAlongIn(2, 64, false);
        QuantResult q = BiasCorrection.of(Rtn.defaults()).quantize(w, ROWS, COLS, spec, c);
        float[] eff = q.effectiveWeight();
        float[] corr = q.transform().outputBias();
        assertThat(q.report().method()).isEqualTo("rtn+bias");
        for (int r = 0; r < ROWS; r++) {
            // mean over the calibration tokens of (W·x) − (Ŵ_eff·x + c): zero up to rounding
            double shift = 0, uncorrected = 0, scale = 0;
            for (int t = 0; t < TOKENS; t++) {
                double y = 0, yq = 0;
                for (int j = 0; j < COLS; j++) {
                    y += (double) w[r * COLS + j] * x[t * COLS + j];
                    yq += (double) eff[r * COLS + j] * x[t * COLS + j];
                    scale += Math.abs((double) w[r * COLS + j] * x[t * COLS + j]);
                }
                shift += y - yq - corr[r];
                uncorrected += y - yq;
            }
            shift /= TOKENS;
            uncorrected /= TOKENS;
            scale /= TOKENS;
            // c is rounded to float and the mean E[x] too: |residual| ≤ a few float roundings of Σ|w·x|
            assertThat(Math.abs(shift)).as("row %d: corrected %s, uncorrected %s", r, shift, uncorrected)
                    .isLessThanOrEqualTo(1e-5 * scale);
        }
        assertThatThrownBy(() -> BiasCorrection.of(Rtn.defaults()).quantize(w, ROWS, COLS, spec, null))
                .hasMessageContaining("needs calibration statistics with the mean input");
    }

    @Test
    void attentionConcentrationByHand() {
        // one sequence of 3 tokens (the last is padding), 2 heads; received attention of key t = Σ_h Σ_q A[h, q, t]
        float[] p = {
            // head 0: q0, q1, q2(padding query, ignored)
            0.5f, 0.5f, 0f, 0.9f, 0.1f, 0f, 0.3f, 0.3f, 0.4f,
            // head 1
            0.2f, 0.8f, 0f, 0.6f, 0.4f, 0f, 0.3f, 0.3f, 0.4f};
        int[] mask = {1, 1, 0};
        // c = {0.5 + 0.9 + 0.2 + 0.6, 0.5 + 0.1 + 0.8 + 0.4} = {2.2, 1.8}: token 0 → 1, token 1 → rMin
        float[] r = Rsq.attentionConcentration(p, 1, 2, 3, mask, 0.25f);
        assertThat(r[0]).isEqualTo(1f);
        assertThat(r[1]).isEqualTo(0.25f);
        assertThat(r[2]).isZero();
        assertThatThrownBy(() -> Rsq.attentionConcentration(p, 1, 2, 4, mask, 0.25f)).hasMessageContaining(
                "are not [1, 2, 4, 4]");
        assertThatThrownBy(() -> Rsq.attentionConcentration(p, 1, 2, 3, mask, 2f)).hasMessageContaining("rMin");
    }
}

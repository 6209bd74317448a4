package lowbit.nn.sparse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.nn.DenseWeight;
import lowbit.nn.Linear;
import lowbit.quant.ArrayCalibrationStats;
import lowbit.quant.CalibrationStats;
import org.junit.jupiter.api.Test;

/**
 * MaskLLM's pieces: the prior initialisation formula, Gumbel-softmax sampling (rows of candidate probabilities sum to
 * 1, the soft mask keeps N in expectation, the schedules), the logits' gradient against central differences at fixed
 * noise, the masked layer's input gradient, and layer-wise training that beats its one-shot prior.
 */
class MaskLlmTest {
    private static final long SEED = 0x3a5c_11_4dL;

    @Test
    void priorInitialisationAddsTheBonusOfTheReference() {
        Random r = new Random(SEED);
        int rows = 6, cols = 16;
        float[] s = SparseGptTest.gaussian(r, rows * cols);
        PruningMask prior = Masks.nm(s, rows, cols, NmPattern.TWO_FOUR);
        LearnableNmMask base = LearnableNmMask.random(NmPattern.TWO_FOUR, rows, cols, 0.01, 9);
        LearnableNmMask init = LearnableNmMask.fromPrior(prior, NmPattern.TWO_FOUR, 0.01, 3.0, 9);
        float[] b = base.logits().data();
        double mean = 0;
        for (float v : b) {
            mean += v;
        }
        mean /= b.length;
        double ss = 0;
        for (float v : b) {
            ss += (v - mean) * (v - mean);
        }
        double std = Math.sqrt(ss / (b.length - 1));
        int[][] cand = init.candidates();
        for (int g = 0; g < rows * cols / 4; g++) {
            for (int i = 0; i < 6; i++) {
                int overlap = 0;
                for (int pos : cand[i]) {
                    overlap += prior.toArray()[g * 4 + pos] ? 1 : 0;
                }
                assertThat((double) init.logits().data()[g * 6 + i] - b[g * 6 + i]).isCloseTo((overlap - 1) * std * 3,
                        org.assertj.core.data.Offset.offset(1e-7));
            }
        }
        // with a 3σ bonus the argmax is the prior almost everywhere
        assertThat(init.hardMask().differences(prior)).isLessThanOrEqualTo(rows * cols / 10);
        assertThatThrownBy(() -> LearnableNmMask.fromPrior(Masks.perRow(s, rows, cols, 0.5), NmPattern.TWO_FOUR, 0.01,
                3, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not exactly 2:4");
    }

    @Test
    void samplesAreDistributionsAndSchedulesAreLinear() {
        LearnableNmMask m = LearnableNmMask.random(NmPattern.FOUR_EIGHT, 3, 16, 0.5, 1);
        LearnableNmMask.Sample s = m.sample(1.0, 2.0, 7);
        float[] p = s.probabilities();
        for (int g = 0; g < 6; g++) {
            double sum = 0;
            for (int i = 0; i < 70; i++) {
                sum += p[g * 70 + i];
            }
            assertThat(sum).isCloseTo(1, org.assertj.core.data.Offset.offset(1e-5));
            double kept = 0;
            for (int j = 0; j < 8; j++) {
                kept += s.mask()[g * 8 + j];
            }
            assertThat(kept).isCloseTo(4, org.assertj.core.data.Offset.offset(1e-4));
        }
        // the same step gives the same noise, another step other noise
        assertThat(m.sample(1.0, 2.0, 7).mask()).containsExactly(s.mask());
        assertThat(m.sample(1.0, 2.0, 8).mask()).isNotEqualTo(s.mask());
        MaskLlm.Options o = MaskLlm.Options.defaults(NmPattern.TWO_FOUR).withSteps(100);
        assertThat(o.tau(0)).isEqualTo(4);
        assertThat(o.tau(50)).isCloseTo(4 + (0.05 - 4) * 0.5, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(o.scale(100)).isEqualTo(500);
        assertThatThrownBy(() -> m.sample(0, 1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void logitGradientMatchesCentralDifferences() {
        int rows = 2, cols = 8;
        LearnableNmMask m = LearnableNmMask.random(NmPattern.TWO_FOUR, rows, cols, 0.3, 3);
        float[] c = {0.3f, -1, 2, 0.5f, 1, 1, -2, 0.7f, -0.4f, 0.9f, 0.1f, -1.5f, 0.8f, 0.2f, -0.3f, 1.1f};
        double tau = 1.5, kappa = 2.0;
        LearnableNmMask.Sample s = m.sample(tau, kappa, 5);
        m.logits().zeroGrad();
        s.backward(c);
        float[] grad = m.logits().grad().clone();
        float[] pi = m.logits().data();
        for (int i = 0; i < pi.length; i++) {
            float keep = pi[i];
            double h = 1e-2;
            pi[i] = (float) (keep + h);
            double fp = dot(m.sample(tau, kappa, 5).mask(), c);
            pi[i] = (float) (keep - h);
            double fm = dot(m.sample(tau, kappa, 5).mask(), c);
            pi[i] = keep;
            double num = (fp - fm) / (2 * h);
            // central difference: O(h²·f''') ≈ 1e-4·(κ/τ)³ here, plus float rounding of f/h ≈ 1e-5
            assertThat((double) grad[i]).as("logit " + i).isCloseTo(num, org.assertj.core.data.Offset.offset(2e-3));
        }
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    @Test
    void maskedLayerInputGradientIsThroughTheMaskedWeight() {
        Random r = new Random(SEED + 1);
        int out = 4, in = 8, n = 3;
        float[] w = SparseGptTest.gaussian(r, out * in);
        Linear base = new Linear(DenseWeight.of(w, out, in).frozen(), new float[out]);
        MaskedLinear ml = new MaskedLinear(base, LearnableNmMask.random(NmPattern.TWO_FOUR, out, in, 0.1, 1));
        float[] x = SparseGptTest.gaussian(r, n * in);
        MaskedLinear.Activations a = ml.train(x, n, 2, 1, 0);
        float[] dy = SparseGptTest.gaussian(r, n * out);
        float[] dx = ml.backward(a, dy, 0);
        float[] m = a.sample().mask();
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < in; j++) {
                double want = 0;
                for (int o = 0; o < out; o++) {
                    want += dy[t * out + o] * w[o * in + j] * m[o * in + j];
                }
                assertThat((double) dx[t * in + j]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
        assertThat(ml.compressed().dequantize()).containsExactly(ml.hardMask().apply(w));
    }

    @Test
    void layerWiseTrainingBeatsItsOneShotPrior() {
        Random r = new Random(SEED + 2);
        int out = 32, in = 64, n = 512;
        float[] x = SparseGptTest.inputs(r, n, in);
        float[] w = SparseGptTest.gaussian(r, out * in);
        Linear layer = new Linear(DenseWeight.of(w, out, in).frozen(), null);
        CalibrationStats st = ArrayCalibrationStats.fromActivations(x, n, in, false);
        for (PruningCriterion prior : new PruningCriterion[] {Magnitude.get(), Wanda.get()}) {
            PruningMask p = prior.nm(w, out, in, st, NmPattern.TWO_FOUR);
            MaskLlm.LayerResult res = MaskLlm.of(MaskLlm.Options.defaults(NmPattern.TWO_FOUR).withSteps(120)
                    .withBatchTokens(128)).train(layer, x, n, p);
            assertThat(res.mask().isNm(NmPattern.TWO_FOUR)).isTrue();
            assertThat(res.priorError()).isCloseTo(MaskLlm.outputError(layer, p, x, n),
                    org.assertj.core.data.Offset.offset(1e-9));
            assertThat(res.error()).as(prior.name() + " prior").isLessThan(res.priorError());
            assertThat(res.mask().differences(p)).isPositive();
            assertThat(res.stepLoss()).hasSize(120);
            assertThat(res.finalMaxProbability()).isGreaterThan(0.9); // τ = 0.05 at the end: nearly hard
        }
    }
}

package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import lowbit.nn.Linear;
import lowbit.quant.CalibrationCollector;
import lowbit.quant.Gptq;
import lowbit.quant.GptqReference;
import lowbit.quant.QuantResult;
import lowbit.quant.Rtn;
import lowbit.tensor.layout.AffineSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The calibrated quantizers on real weights and activations (all-MiniLM-L6-v2, calibration corpus): GPTQ against the
 * float64 reference on captured layers, and the goals of the best pipeline end to end (all 36 layers, mean embedding
 * cosine vs fp32 over the evaluation corpus). The whole method × setting table is {@link CalibratedQuality#main};
 * this class runs only the best pipeline, once per setting.
 */
class CalibratedQuantizationTest {
    private static MiniLm model;

    @BeforeAll
    static void load() {
        model = SharedModel.get();
    }

    /** ‖X(W − Ŵ)ᵀ‖/‖XWᵀ‖ over the calibration tokens, through H = 2XᵀX/N (in double). */
    private static double relative(float[] w, float[] wq, int rows, int cols, double[] h) {
        return Math.sqrt(GptqReference.outputError(w, wq, rows, cols, h) / GptqReference.outputEnergy(w, rows, cols, h));
    }

    @Test
    void gptqMatchesTheFloat64ReferenceOnCapturedLayers() {
        // a 384-wide attention projection, an FFN up-projection and an FFN down-projection (1536 inputs, the
        // outlier-heavy one), fp32 inputs of the calibration corpus
        List<String> names = List.of("layer.1.attention.query", "layer.2.ffn.up", "layer.4.ffn.down");
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 128, false);
        for (String name : names) {
            Map<String, CalibrationCollector> st = SequentialQuantization.collect(model, Corpus.calibration(),
                    List.of(name));
            CalibrationCollector c = st.get(name);
            Linear l = model.encoder().linear(name);
            int rows = l.outFeatures(), cols = l.inFeatures();
            float[] w = l.weight().toFloats();
            double[] h = c.hessian();
            QuantResult q = Gptq.defaults().quantize(w, rows, cols, spec, c);
            float[] ref = GptqReference.quantize(w, rows, cols, h, 4, 128, false, false, 0.01, 128);
            float[] rtn = Rtn.asymmetricZeroInRange().quantize(w, rows, cols, spec).matrix().dequantize();
            double eLow = relative(w, q.matrix().dequantize(), rows, cols, h);
            double eRef = relative(w, ref, rows, cols, h);
            double eRtn = relative(w, rtn, rows, cols, h);
            String at = String.format("%s (%d tokens): lowbit %.5f, reference %.5f, RTN %.5f", name, c.tokens(), eLow,
                    eRef, eRtn);
            System.out.println(at);
            // the same algorithm with W and U in float instead of double: the errors agree to well within 1 %
            assertThat(Math.abs(eLow / eRef - 1)).as(at).isLessThanOrEqualTo(0.01);
            // and GPTQ clearly beats RTN: the float64 reference itself reaches 0.60x RTN's error on the query
            // projection (the weakest of the three), so at most 2/3 of RTN's error is a property of the algorithm
            // on this data, with margin for the float/double difference checked above
            assertThat(eRef).as(at).isLessThanOrEqualTo(2.0 / 3 * eRtn);
            assertThat(eLow).as(at).isLessThanOrEqualTo(2.0 / 3 * eRtn);
        }
    }

    @Test
    void bestPipelineMeetsTheGoals() {
        // goals of issue 7: w4 g128 >= 0.990, w3 g128 >= 0.950, w2 g32 >= 0.80 (mean cosine, all 36 layers);
        // README measurements: 0.9912, 0.9660, 0.8885 (a float64 GPTQ reference gave 0.981 / 0.910; RTN 0.955 / 0.818)
        EmbeddingEvaluation eval = new EmbeddingEvaluation(model, Corpus.evaluation());
        double[] goals = {0.990, 0.950, 0.80};
        CalibratedQuality.Method best = new CalibratedQuality.Method("best", CalibratedQuality::best,
                SequentialQuantization.Order.SEQUENTIAL);
        for (int i = 0; i < goals.length; i++) {
            int[] s = CalibratedQuality.SETTINGS[i];
            long t0 = System.nanoTime();
            EmbeddingEvaluation.Score score = CalibratedQuality.score(model, eval, best, s[0], s[1]);
            System.out.printf("best pipeline w%d g%d: %s (%.1f s)%n", s[0], s[1], score, (System.nanoTime() - t0) / 1e9);
            assertThat(score.mean()).as("w%d g%d", s[0], s[1]).isGreaterThanOrEqualTo(goals[i]);
        }
    }
}

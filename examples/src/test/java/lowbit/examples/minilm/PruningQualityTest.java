package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.nn.sparse.MaskLlm;
import lowbit.nn.sparse.NmPattern;
import lowbit.nn.sparse.PruningMask;
import lowbit.tensor.DType;
import lowbit.tensor.layout.NmSparseMatrix;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Pruning on the real model (the CI-sized version of {@link PruningQuality}): all 36 Linear layers of
 * all-MiniLM-L6-v2 at 2:4, one-shot calibration on 64 calibration sentences, scored on 48 evaluation sentences.
 * Asserted: magnitude &lt; Wanda ≤ SparseGPT in mean embedding cosine, and MaskLLM's learned masks (two layers,
 * layer-wise distillation from the Wanda prior) are at least as good as that prior, in output error and cosine.
 */
class PruningQualityTest {
    private static MiniLm model;
    private static EmbeddingEvaluation eval;
    private static LinearInputs calib;
    private static final LinearPruning.Target TWO_FOUR = LinearPruning.Target.nm(NmPattern.TWO_FOUR);

    @BeforeAll
    static void load() {
        model = SharedModel.get();
        eval = new EmbeddingEvaluation(model, Corpus.evaluation().subList(0, 48));
        calib = LinearInputs.capture(model, Corpus.calibration().subList(0, 64));
    }

    @Test
    void magnitudeBelowWandaBelowSparseGpt() {
        List<String> all = model.encoder().linearNames();
        long t0 = System.nanoTime();
        double mag = eval.score(LinearPruning.oneShot(model, all, LinearPruning.Method.MAGNITUDE, TWO_FOUR, calib)).mean();
        Map<String, LinearWeight> wandaW = LinearPruning.oneShot(model, all, LinearPruning.Method.WANDA, TWO_FOUR, calib);
        double wanda = eval.score(wandaW).mean();
        double sgpt = eval.score(LinearPruning.oneShot(model, all, LinearPruning.Method.SPARSEGPT, TWO_FOUR, calib)).mean();
        System.out.printf("2:4 one-shot, all 36 Linears: magnitude %.4f, Wanda %.4f, SparseGPT %.4f (%.1f s)%n", mag,
                wanda, sgpt, (System.nanoTime() - t0) / 1e9);
        assertThat(wandaW.get("layer.3.ffn.down")).isInstanceOf(lowbit.nn.QuantizedWeight.class);
        assertThat(((lowbit.nn.QuantizedWeight) wandaW.get("layer.3.ffn.down")).matrix()).isInstanceOf(NmSparseMatrix.class);
        assertThat(mag).isLessThan(wanda);
        assertThat(wanda).isLessThanOrEqualTo(sgpt);
    }

    @Test
    void maskLlmBeatsItsOneShotPrior() {
        List<String> all = model.encoder().linearNames();
        Map<String, LinearWeight> prior = LinearPruning.oneShot(model, all, LinearPruning.Method.WANDA, TWO_FOUR, calib);
        Map<String, LinearWeight> learned = new java.util.LinkedHashMap<>(prior);
        MaskLlm trainer = MaskLlm.of(MaskLlm.Options.defaults(NmPattern.TWO_FOUR).withSteps(60).withBatchTokens(128));
        long t0 = System.nanoTime();
        for (String name : List.of("layer.0.ffn.down", "layer.5.attention.output")) {
            Linear l = model.encoder().linear(name);
            PruningMask p = LinearPruning.mask(l, LinearPruning.Method.WANDA, TWO_FOUR, LinearPruning.stats(calib, name,
                    false));
            MaskLlm.LayerResult r = trainer.train(l, calib.rows(name), calib.tokens(), p);
            System.out.printf("%s: output error %.4g (Wanda) -> %.4g (MaskLLM)%n", name, r.priorError(), r.error());
            assertThat(r.error()).as(name).isLessThan(r.priorError());
            learned.put(name, LinearWeight.of(r.mask().compress(l.weight().toFloats(), NmPattern.TWO_FOUR, DType.F32)));
        }
        double before = eval.score(prior).mean();
        double after = eval.score(learned).mean();
        System.out.printf("2:4 Wanda everywhere %.4f; with two MaskLLM layers %.4f (%.1f s)%n", before, after,
                (System.nanoTime() - t0) / 1e9);
        assertThat(after).isGreaterThanOrEqualTo(before);
    }
}

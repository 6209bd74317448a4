package lowbit.examples.minilm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.nn.sparse.MaskLlm;
import lowbit.nn.sparse.NmPattern;
import lowbit.nn.sparse.PruningMask;
import lowbit.tensor.DType;

/**
 * The pruning quality table of the README: all 36 Linear layers of all-MiniLM-L6-v2 pruned to 2:4, 4:8 or 50 %
 * unstructured by magnitude, Wanda, RIA and SparseGPT (sequential calibration on {@link Corpus#calibration()}), and by
 * MaskLLM (layer-wise distillation from a one-shot prior, 2:4 and 4:8), scored by the mean (min) embedding cosine vs
 * fp32 over {@link Corpus#evaluation()}.
 * <pre>
 *   ./lowbit mvn -q -pl examples -am compile exec:java -Dexec.mainClass=lowbit.examples.minilm.PruningQuality
 * </pre>
 * (or run the class with the examples classpath). Arguments: {@code maskllm-steps=N} (default 200), {@code only=2:4}.
 */
public final class PruningQuality {
    private PruningQuality() {
    }

    public static void main(String[] args) {
        int steps = 200;
        String only = null;
        for (String a : args) {
            if (a.startsWith("maskllm-steps=")) {
                steps = Integer.parseInt(a.substring(14));
            } else if (a.startsWith("only=")) {
                only = a.substring(5);
            }
        }
        long t0 = System.nanoTime();
        MiniLm model = MiniLm.load();
        EmbeddingEvaluation eval = new EmbeddingEvaluation(model, Corpus.evaluation());
        List<String> calibration = Corpus.calibration();
        List<LinearPruning.Target> targets = List.of(LinearPruning.Target.nm(NmPattern.TWO_FOUR),
                LinearPruning.Target.nm(NmPattern.FOUR_EIGHT), LinearPruning.Target.unstructured(0.5));
        StringBuilder table = new StringBuilder("| pattern | magnitude | Wanda | RIA | SparseGPT | MaskLLM |\n"
                + "| --- | --- | --- | --- | --- | --- |\n");
        for (LinearPruning.Target t : targets) {
            if (only != null && !t.toString().startsWith(only)) {
                continue;
            }
            table.append("| ").append(t);
            Map<LinearPruning.Method, Map<String, LinearWeight>> byMethod = new LinkedHashMap<>();
            for (LinearPruning.Method m : LinearPruning.Method.values()) {
                long s0 = System.nanoTime();
                Map<String, LinearWeight> w = LinearPruning.sequential(model, m, t, calibration);
                byMethod.put(m, w);
                EmbeddingEvaluation.Score s = eval.score(w);
                System.out.printf("%s %s: %s (%.1f s)%n", t, m.label(), s, (System.nanoTime() - s0) / 1e9);
                table.append(String.format(" | %.4f (%.4f)", s.mean(), s.min()));
            }
            if (t.pattern() != null) {
                long s0 = System.nanoTime();
                EmbeddingEvaluation.Score s = eval.score(maskLlm(model, t.pattern(), calibration, steps));
                System.out.printf("%s maskllm (%d steps/layer, Wanda prior): %s (%.1f s)%n", t, steps, s,
                        (System.nanoTime() - s0) / 1e9);
                table.append(String.format(" | %.4f (%.4f)", s.mean(), s.min()));
            } else {
                table.append(" | — ");
            }
            table.append(" |\n");
        }
        System.out.print(table);
        System.out.printf("total %.0f s%n", (System.nanoTime() - t0) / 1e9);
    }

    /**
     * MaskLLM on every Linear: transformer layer by layer, inputs captured on the model with the earlier layers' learned
     * masks applied, each mask initialised from Wanda's mask on those inputs and trained against the layer's dense
     * output.
     */
    static Map<String, LinearWeight> maskLlm(MiniLm model, NmPattern p, List<String> calibration, int steps) {
        Map<String, LinearWeight> done = new LinkedHashMap<>();
        MaskLlm trainer = MaskLlm.of(MaskLlm.Options.defaults(p).withSteps(steps));
        for (int layer = 0; layer < model.encoder().config().layers(); layer++) {
            LinearInputs calib = LinearInputs.capture(model.withWeights(done), calibration);
            for (String role : BertEncoder.ROLES) {
                String name = "layer." + layer + "." + role;
                Linear l = model.encoder().linear(name);
                PruningMask prior = LinearPruning.mask(l, LinearPruning.Method.WANDA, LinearPruning.Target.nm(p),
                        LinearPruning.stats(calib, name, false));
                MaskLlm.LayerResult r = trainer.train(l, calib.rows(name), calib.tokens(), prior);
                System.out.printf("  %s: output error %.4g → %.4g (%d of %d changed)%n", name, r.priorError(),
                        r.error(), r.mask().differences(prior) / 2, l.outFeatures() * l.inFeatures());
                done.put(name, LinearWeight.of(r.mask().compress(l.weight().toFloats(), p, DType.F32)));
            }
        }
        return done;
    }
}

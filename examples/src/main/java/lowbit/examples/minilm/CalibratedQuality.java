package lowbit.examples.minilm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import lowbit.quant.Awq;
import lowbit.quant.Gptq;
import lowbit.quant.OutlierSelector;
import lowbit.quant.Quantizer;
import lowbit.quant.Rsq;
import lowbit.quant.Rtn;
import lowbit.tensor.layout.AffineSpec;

/**
 * The calibrated quantizers on all-MiniLM-L6-v2: every one of the 36 Linear layers quantized, scored by the mean
 * embedding cosine against fp32 over {@link Corpus#evaluation()}, calibrated on {@link Corpus#calibration()}. The
 * README's method × setting table comes from {@link #main}:
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp ... lowbit.examples.minilm.CalibratedQuality [regex of rows]
 * </pre>
 * <p><b>The best pipeline</b> ({@link #best()}), chosen by measurement (README): a randomized Hadamard rotation of
 * every layer's input (RSQ's "rotate", applied online to x — it cannot be folded into BERT's LayerNorms), then GPTQ
 * with act-order, the MSE clip search for each group's range, and 10 % damping (the calibration set is 1847
 * tokens, so a stronger prior on H helps), calibrated sequentially ({@link SequentialQuantization.Order#SEQUENTIAL}:
 * each Linear on the inputs the already quantized layers before it produce). Token importance is uniform (the
 * encoder does not expose attention probabilities); no outliers are kept, so the storage is exactly the layout's.
 */
public final class CalibratedQuality {
    private CalibratedQuality() {
    }

    /** GPTQ options of the best pipeline: act-order, MSE group ranges, λ = 10 % of mean diag H. */
    public static Gptq.Options bestGptqOptions() {
        return Gptq.Options.defaults().withActOrder(true).withRange(Gptq.Range.MSE).withDamp(0.1);
    }

    /** The best pipeline's per-layer quantizer (run it with {@link SequentialQuantization.Order#SEQUENTIAL}). */
    public static Quantizer best() {
        return Rsq.of(bestGptqOptions(), 1);
    }

    /** A table row: a quantizer and the calibration order. */
    public record Method(String name, Supplier<Quantizer> quantizer, SequentialQuantization.Order order) {
    }

    /** The rows of the README table, in order. */
    public static List<Method> methods() {
        var par = SequentialQuantization.Order.PARALLEL;
        var seq = SequentialQuantization.Order.SEQUENTIAL;
        Gptq.Options ref = Gptq.Options.defaults();
        Gptq.Options ao = ref.withActOrder(true);
        return List.of(
                new Method("RTN min/max (data-free)", Rtn::defaults, par),
                new Method("GPTQ (reference settings: λ 1 %, no act-order), fp32 inputs", () -> Gptq.of(ref), par),
                new Method("GPTQ, sequential", () -> Gptq.of(ref), seq),
                new Method("GPTQ act-order, sequential", () -> Gptq.of(ao), seq),
                new Method("GPTQ act-order + MSE ranges + λ 10 %, sequential", () -> Gptq.of(bestGptqOptions()), seq),
                new Method("AWQ + GPTQ (act-order, MSE, λ 10 %), sequential",
                        () -> Awq.of(Awq.Options.defaults(), Gptq.of(bestGptqOptions())), seq),
                new Method("GPTQ (act-order, MSE, λ 10 %) + 0.5 % saliency outliers, sequential",
                        () -> Gptq.of(bestGptqOptions()).withOutliers(OutlierSelector.topSaliency(0.005)), seq),
                new Method("**rotation + GPTQ (act-order, MSE, λ 10 %), sequential — best**", CalibratedQuality::best,
                        seq));
    }

    /** The table's settings: {bits, group}. */
    public static final int[][] SETTINGS = {{4, 128}, {3, 128}, {2, 32}};

    /** Mean cosine of one method at one setting. */
    public static EmbeddingEvaluation.Score score(MiniLm model, EmbeddingEvaluation eval, Method m, int bits,
            int group) {
        AffineSpec spec = AffineSpec.groupsAlongIn(bits, group, false);
        Quantizer q = m.quantizer().get();
        var r = SequentialQuantization.run(model, Corpus.calibration(), name -> q, spec, m.order());
        return eval.score(r.weights());
    }

    /** Prints the markdown table (rows whose name matches the optional regex). */
    public static void main(String[] args) {
        MiniLm model = MiniLm.load();
        EmbeddingEvaluation eval = new EmbeddingEvaluation(model, Corpus.evaluation());
        String filter = args.length > 0 ? args[0] : ".*";
        StringBuilder head = new StringBuilder("| method |");
        for (int[] s : SETTINGS) {
            head.append(" w").append(s[0]).append(" g").append(s[1]).append(" |");
        }
        System.out.println(head);
        System.out.println("| --- |" + " --- |".repeat(SETTINGS.length));
        Map<String, String> rows = new LinkedHashMap<>();
        for (Method m : methods()) {
            if (!m.name().matches(filter)) {
                continue;
            }
            StringBuilder row = new StringBuilder("| " + m.name() + " |");
            for (int[] s : SETTINGS) {
                long t0 = System.nanoTime();
                EmbeddingEvaluation.Score sc = score(model, eval, m, s[0], s[1]);
                row.append(String.format(" %.4f (%.0f s) |", sc.mean(), (System.nanoTime() - t0) / 1e9));
            }
            System.out.println(row);
            rows.put(m.name(), row.toString());
        }
    }
}

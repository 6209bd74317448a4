package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lowbit.nn.Linear;
import lowbit.quant.EasyQuant;
import lowbit.quant.QuantResult;
import lowbit.quant.Quantizer;
import lowbit.quant.Rtn;
import lowbit.tensor.layout.AffineSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The data-free quantizers on the 36 Linear weights of all-MiniLM-L6-v2 (loaded once per test JVM): weight MSE
 * against RTN at the same bits and group for every spec of the {@link QuantizerTable} (w4 g128, w4 g32, w3 g128,
 * w2 g32), EasyQuant on the FFN down-projections, and (opt-in) the embedding-cosine table.
 */
class QuantizerQualityTest {
    private static MiniLm model;
    private static Map<String, float[]> weights;
    private static Map<String, int[]> shapes;

    @BeforeAll
    static void load() {
        model = SharedModel.get();
        weights = new LinkedHashMap<>();
        shapes = new LinkedHashMap<>();
        for (Map.Entry<String, Linear> e : model.encoder().linears().entrySet()) {
            Linear l = e.getValue();
            weights.put(e.getKey(), l.weight().toFloats());
            shapes.put(e.getKey(), new int[] {l.outFeatures(), l.inFeatures()});
        }
    }

    /**
     * Every data-free method of the table except the rotation combinations with clip/HQQ/EasyQuant (the table's
     * business: they cost the most and their inner methods are each checked here).
     */
    static Map<String, Quantizer> methods() {
        Map<String, Quantizer> m = new LinkedHashMap<>(QuantizerTable.methods());
        m.keySet().removeIf(k -> k.startsWith("hadamard+") && !k.equals("hadamard+rtn"));
        return m;
    }

    /**
     * The documented exception: a rotation spreads a group's outliers over its block, which helps groups that hold
     * outliers and can cost a little on groups that had none; at w4 g32 (small groups: few hold outliers) hadamard+rtn
     * is up to 1 % above RTN on three attention matrices (measured: layer.1 query, layer.2 and layer.4 attention
     * output), so there it is allowed 2 % over RTN. Everywhere else every method must be ≤ RTN.
     */
    private static double allowance(String method, AffineSpec spec) {
        return method.equals("hadamard+rtn") && spec.bits() == 4 && spec.groupSize() == 32 ? 1.02 : 1 + 1e-6;
    }

    @Test
    void everyMethodBeatsOrMatchesRtnOnEveryMatrix() {
        for (AffineSpec spec : QuantizerTable.specs()) {
            StringBuilder worse = new StringBuilder();
            for (String name : weights.keySet()) {
                int[] s = shapes.get(name);
                float[] w = weights.get(name);
                double rtn = Rtn.asymmetric().quantize(w, s[0], s[1], spec).mse();
                for (Map.Entry<String, Quantizer> m : methods().entrySet()) {
                    if (m.getKey().equals("rtn")) {
                        continue;
                    }
                    double e = m.getValue().quantize(w, s[0], s[1], spec).mse();
                    if (e > rtn * allowance(m.getKey(), spec)) {
                        worse.append(String.format("%s %s %s: %.4g > rtn %.4g%n", spec.describe(), name, m.getKey(), e,
                                rtn));
                    }
                }
            }
            assertThat(worse.toString()).isEmpty();
        }
    }

    @Test
    void easyQuantCutsPerChannelErrorOnTheDownProjections() {
        AffineSpec spec = AffineSpec.perOutputChannel(4, false);
        int n = 0;
        for (String name : weights.keySet()) {
            if (!name.endsWith("ffn.down")) {
                continue;
            }
            n++;
            int[] s = shapes.get(name);
            double rtn = Rtn.asymmetric().quantize(weights.get(name), s[0], s[1], spec).mse();
            QuantResult eq = EasyQuant.defaults().quantize(weights.get(name), s[0], s[1], spec);
            System.out.printf("%s: easyquant u4 per-row mse %.4g vs rtn %.4g (%.1f %% lower), %d outliers%n", name,
                    eq.mse(), rtn, 100 * (1 - eq.mse() / rtn), eq.report().outliers());
            assertThat(eq.mse()).as(name).isLessThanOrEqualTo(0.7 * rtn);
        }
        assertThat(n).isEqualTo(6);
    }

    /**
     * The full table ({@link QuantizerTable}: every method × {w4 g128, w4 g32, w3 g128, w2 g32}, all 36 layers
     * quantized, mean cosine over the 132 evaluation sentences; a few minutes): run with
     * {@code -Dlowbit.quality.table=true}. It checks the targets for the best data-free method (AdaDim over
     * EasyQuant): w4 g128 ≥ 0.975 and w3 g128 ≥ 0.90, and that no method is below RTN at w4 g128 by more than the
     * cosine noise of a few 1e-3.
     */
    @Test
    @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "lowbit.quality.table", matches = "true")
    void embeddingCosineTable() {
        EmbeddingEvaluation eval = new EmbeddingEvaluation(model, Corpus.evaluation());
        List<QuantizerTable.Cell> cells = QuantizerTable.run(eval, QuantizerTable.methods(), QuantizerTable.specs(),
                true);
        System.out.println(QuantizerTable.markdown(cells, QuantizerTable.specs()));
        Map<String, Double> w4g128 = new LinkedHashMap<>();
        Map<String, Double> w3g128 = new LinkedHashMap<>();
        for (QuantizerTable.Cell c : cells) {
            if (c.spec().equals(QuantizerTable.specs().get(0))) {
                w4g128.put(c.method(), c.score().mean());
            } else if (c.spec().equals(QuantizerTable.specs().get(2))) {
                w3g128.put(c.method(), c.score().mean());
            }
        }
        assertThat(w4g128.get("adadim+easyquant")).isGreaterThanOrEqualTo(0.975);
        assertThat(w3g128.get("adadim+easyquant")).isGreaterThanOrEqualTo(0.90);
        for (Map.Entry<String, Double> e : w4g128.entrySet()) {
            assertThat(e.getValue()).as(e.getKey()).isGreaterThan(w4g128.get("rtn") - 0.005);
        }
    }
}

package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.quant.AdaDim;
import lowbit.quant.ClipSearch;
import lowbit.quant.DualScale;
import lowbit.quant.EasyQuant;
import lowbit.quant.FineQuant;
import lowbit.quant.HadamardQuantizer;
import lowbit.quant.Hqq;
import lowbit.quant.QuantResult;
import lowbit.quant.Quantizer;
import lowbit.quant.Rtn;
import lowbit.tensor.layout.AffineSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The data-free quantizers on the 36 Linear weights of all-MiniLM-L6-v2 (loaded once): weight MSE against RTN at the
 * same bits and group, EasyQuant on the FFN down-projections, and the embedding-cosine table (asymmetric u4/u3/u2,
 * groups along in; all 36 layers quantized; mean cosine to the fp32 embeddings over the English test sentences).
 */
class QuantizerQualityTest {
    private static MiniLm model;
    private static Map<String, float[]> weights;
    private static Map<String, int[]> shapes;

    @BeforeAll
    static void load() {
        model = MiniLm.load();
        weights = new LinkedHashMap<>();
        shapes = new LinkedHashMap<>();
        for (Map.Entry<String, Linear> e : model.encoder().linears().entrySet()) {
            Linear l = e.getValue();
            weights.put(e.getKey(), l.weight().toFloats());
            shapes.put(e.getKey(), new int[] {l.outFeatures(), l.inFeatures()});
        }
    }

    static Map<String, Quantizer> methods() {
        Map<String, Quantizer> m = new LinkedHashMap<>();
        m.put("rtn", Rtn.asymmetric());
        m.put("clip", ClipSearch.defaults());
        m.put("easyquant", EasyQuant.defaults());
        m.put("hqq", Hqq.defaults());
        m.put("adadim", AdaDim.defaults());
        m.put("finequant", FineQuant.defaults());
        m.put("d2quant", DualScale.defaults());
        m.put("hadamard", HadamardQuantizer.of(Rtn.asymmetric(), 1));
        return m;
    }

    @Test
    void everyMethodBeatsOrMatchesRtnOnEveryMatrix() {
        for (AffineSpec spec : List.of(AffineSpec.groupsAlongIn(4, 128, false), AffineSpec.groupsAlongIn(2, 32, false))) {
            StringBuilder worse = new StringBuilder();
            for (String name : weights.keySet()) {
                int[] s = shapes.get(name);
                float[] w = weights.get(name);
                double rtn = Rtn.asymmetric().quantize(w, s[0], s[1], spec).mse();
                for (Map.Entry<String, Quantizer> m : methods().entrySet()) {
                    if (m.getKey().equals("rtn") || m.getKey().equals("hadamard")) {
                        continue;
                    }
                    double e = m.getValue().quantize(w, s[0], s[1], spec).mse();
                    if (e > rtn * (1 + 1e-6)) {
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

    /** The full table (32 quantized models): run once with {@code -Dlowbit.quality.table=true}. */
    @Test
    @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "lowbit.quality.table", matches = "true")
    void embeddingCosineTable() {
        List<String> texts = TestSentences.ENGLISH;
        float[][] ref = model.embed(texts);
        AffineSpec[] specs = {AffineSpec.groupsAlongIn(4, 128, false), AffineSpec.groupsAlongIn(4, 32, false),
                AffineSpec.groupsAlongIn(3, 128, false), AffineSpec.groupsAlongIn(2, 32, false)};
        StringBuilder table = new StringBuilder("| method | w4 g128 | w4 g32 | w3 g128 | w2 g32 |\n| --- | --- | --- | --- | --- |\n");
        Map<String, double[]> scores = new LinkedHashMap<>();
        for (Map.Entry<String, Quantizer> m : methods().entrySet()) {
            double[] row = new double[specs.length];
            for (int k = 0; k < specs.length; k++) {
                Map<String, LinearWeight> repl = new LinkedHashMap<>();
                for (String name : weights.keySet()) {
                    int[] s = shapes.get(name);
                    QuantResult r = m.getValue().quantize(weights.get(name), s[0], s[1], specs[k]);
                    // the transformed methods run as their effective weight Ŵ'·R·diag(m), numerically what applying
                    // the InputTransform to x gives; the others run the quantized layout itself
                    repl.put(name, r.transform().changesInput() ? LinearWeight.of(r.effectiveWeight(), s[0], s[1])
                            : LinearWeight.of(r.matrix()));
                }
                float[][] got = model.withWeights(repl).embed(texts);
                double sum = 0;
                for (int i = 0; i < texts.size(); i++) {
                    sum += MiniLm.cosine(ref[i], got[i]);
                }
                row[k] = sum / texts.size();
            }
            scores.put(m.getKey(), row);
            table.append(String.format("| %s | %.4f | %.4f | %.4f | %.4f |%n", m.getKey(), row[0], row[1], row[2],
                    row[3]));
        }
        System.out.println(table);
        double[] rtn = scores.get("rtn");
        assertThat(rtn[0]).isBetween(0.5, 1.0);
        for (Map.Entry<String, double[]> e : scores.entrySet()) {
            assertThat(e.getValue()[0]).as(e.getKey()).isGreaterThan(0.5);
        }
    }
}

package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import lowbit.nn.Gelu;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.quant.CalibrationStats;
import lowbit.quant.Rtn;
import lowbit.tensor.layout.AffineSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The evaluation harness: corpora, Linear input capture, weight replacement and the cosine score. */
class HarnessTest {
    private static MiniLm model;
    private static EmbeddingEvaluation eval;

    @BeforeAll
    static void load() {
        model = SharedModel.get();
        long t0 = System.nanoTime();
        eval = new EmbeddingEvaluation(model, Corpus.evaluation());
        System.out.printf("fp32 embeddings of %d evaluation sentences in %.2f s%n", eval.sentences().size(),
                (System.nanoTime() - t0) / 1e9);
    }

    @Test
    void corporaAreLargeAndDisjoint() {
        List<String> cal = Corpus.calibration(), ev = Corpus.evaluation();
        assertThat(cal).hasSizeGreaterThanOrEqualTo(128).doesNotHaveDuplicates();
        assertThat(ev).hasSizeGreaterThanOrEqualTo(128).doesNotHaveDuplicates();
        assertThat(new HashSet<>(cal)).doesNotContainAnyElementsOf(ev);
    }

    @Test
    void captureKeepsEveryLinearInputAtRealTokens() {
        List<String> sentences = new ArrayList<>(Corpus.calibration().subList(0, 40)); // two batches, padded
        LinearInputs in = LinearInputs.capture(model, sentences);
        int tokens = 0;
        for (String s : sentences) {
            tokens += model.tokenizer().encode(s).length;
        }
        assertThat(in.tokens()).isEqualTo(tokens);
        assertThat(in.names()).containsExactlyElementsOf(model.encoder().linearNames()).hasSize(36);
        for (String name : in.names()) {
            assertThat(in.rows(name)).hasSize(tokens * in.in(name));
        }
        assertThat(in.rows("layer.4.attention.key")).isSameAs(in.rows("layer.4.attention.query"));
        assertThat(in.rows("layer.4.attention.value")).isSameAs(in.rows("layer.4.attention.query"));
        assertThat(in.rows("layer.4.attention.output")).isNotSameAs(in.rows("layer.4.attention.query"));
        CalibrationStats st = in.stats("layer.5.ffn.down", false);
        assertThat(st.features()).isEqualTo(1536);
        assertThat(st.tokens()).isEqualTo(tokens);
        double ms = 0;
        float[] x5 = in.rows("layer.5.ffn.down");
        for (int t = 0; t < tokens; t++) {
            ms += (double) x5[t * 1536 + 7] * x5[t * 1536 + 7];
        }
        assertThat((double) st.meanSquare()[7]).isCloseTo(ms / tokens, org.assertj.core.data.Offset.offset(1e-5 * ms / tokens));

        // consistency: the FFN down-projection's input is GELU(up-projection of the up-projection's input)
        Linear up = model.encoder().linear("layer.2.ffn.up");
        float[] h = up.forward(in.rows("layer.2.ffn.up"), tokens);
        Gelu.ERF.forward(h, h);
        float[] down = in.rows("layer.2.ffn.down");
        double worst = 0;
        for (int i = 0; i < h.length; i++) {
            worst = Math.max(worst, Math.abs(h[i] - down[i]));
        }
        // the same products on a different row count (padding removed): only the summation blocking may differ,
        // within float error of a 384-term dot product of O(1) values (γ_384·Σ|x·w| ≈ 2.3e-5·a few)
        assertThat(worst).isLessThan(1e-4);

        // the first sentence alone gives the same layer-0 query inputs as inside the padded batch
        LinearInputs one = LinearInputs.capture(model, sentences.subList(0, 1));
        float[] a = one.rows("layer.0.attention.query"), b = in.rows("layer.0.attention.query");
        for (int i = 0; i < a.length; i++) {
            assertThat(a[i]).isEqualTo(b[i]); // embeddings + LayerNorm are row-wise: bit-identical
        }
    }

    /**
     * The encoder reuses its work arrays between passes of the same token count: passes of two sizes, interleaved,
     * in parallel threads, and through a fresh encoder (which cannot have reused anything) give the same bits.
     */
    @Test
    void reusedWorkArraysChangeNothing() throws Exception {
        List<String> shortOnes = Corpus.evaluation().subList(0, 3), longOnes = Corpus.evaluation().subList(40, 48);
        // references from encoders that have never run (withWeights builds a new encoder with nothing to reuse)
        float[][] s0 = model.withEncoder(model.encoder().withWeights(Map.of())).embed(shortOnes);
        float[][] l0 = model.withEncoder(model.encoder().withWeights(Map.of())).embed(longOnes);
        assertThat(s0[0]).hasSize(384);
        MiniLm other = model.withEncoder(model.encoder().withWeights(Map.of()));
        float[][] l1 = other.embed(longOnes), l2 = other.embed(longOnes); // the second reuses the first's arrays
        float[][] s1 = other.embed(shortOnes), s2 = other.embed(shortOnes), l3 = other.embed(longOnes);
        assertThat(l1).isDeepEqualTo(l0);
        assertThat(l2).isDeepEqualTo(l0);
        assertThat(l3).isDeepEqualTo(l0);
        assertThat(s1).isDeepEqualTo(s0);
        assertThat(s2).isDeepEqualTo(s0);
        List<java.util.concurrent.Future<float[][]>> runs = new ArrayList<>();
        var pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            for (int i = 0; i < 6; i++) {
                List<String> texts = i % 2 == 0 ? longOnes : shortOnes;
                runs.add(pool.submit(() -> other.embed(texts)));
            }
            for (int i = 0; i < 6; i++) {
                assertThat(runs.get(i).get()).isDeepEqualTo(i % 2 == 0 ? l0 : s0);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void identityReplacementScoresOneAndInt8IsNearlyLossless() {
        EmbeddingEvaluation.Score same = eval.score(Map.of("layer.0.ffn.up",
                model.encoder().linear("layer.0.ffn.up").weight()));
        assertThat(same.mean()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(same.count()).isEqualTo(eval.sentences().size());
        EmbeddingEvaluation.Score int8 = eval.score(LinearReplacements.quantizeAll(model, Rtn.asymmetric(), AffineSpec.groupsAlongIn(8, 32, false)));
        System.out.println("RTN int8 g32: " + int8);
        assertThat(int8.mean()).isGreaterThan(0.999);
        assertThat(int8.min()).isLessThanOrEqualTo(int8.mean());
    }

    /**
     * The baseline table of issue 5: min/max RTN, asymmetric, all 36 Linear layers, mean (min) embedding cosine vs
     * fp32 over the evaluation corpus. Asserted: more bits and smaller groups are never worse here.
     */
    @Test
    void rtnBaselineTable() {
        int[] bits = {4, 3, 2};
        int[] groups = {32, 128};
        double[][] mean = new double[bits.length][groups.length];
        StringBuilder table = new StringBuilder("RTN asym min/max (lowbit.quant.Rtn.asymmetric, F32 scales), all 36 Linears, " + eval.sentences().size()
                + " evaluation sentences\n| bits | g32 mean (min) | g128 mean (min) |\n| --- | --- | --- |\n");
        for (int b = 0; b < bits.length; b++) {
            table.append("| int").append(bits[b]);
            for (int g = 0; g < groups.length; g++) {
                EmbeddingEvaluation.Score s = eval.score(LinearReplacements.quantizeAll(model, Rtn.asymmetric(),
                        AffineSpec.groupsAlongIn(bits[b], groups[g], false)));
                mean[b][g] = s.mean();
                table.append(String.format(" | %.4f (%.4f)", s.mean(), s.min()));
            }
            table.append(" |\n");
        }
        System.out.print(table);
        for (int g = 0; g < groups.length; g++) {
            assertThat(mean[0][g]).isGreaterThan(mean[1][g]);
            assertThat(mean[1][g]).isGreaterThan(mean[2][g]);
        }
        for (int b = 0; b < bits.length; b++) {
            assertThat(mean[b][0]).isGreaterThanOrEqualTo(mean[b][1]);
        }
    }

    @Test
    void badReplacementsAreNamed() {
        LinearWeight wrong = LinearWeight.of(new float[384 * 1536], 384, 1536);
        assertThatThrownBy(() -> eval.score(Map.of("layer.0.ffn.up", wrong)))
                .hasMessageContaining("does not have the shape [1536, 384]");
        assertThatThrownBy(() -> eval.score(Map.of("layer.9.ffn.up", wrong))).hasMessageContaining("layer.9.ffn.up");
        assertThatThrownBy(() -> LinearInputs.capture(model, List.of("x")).rows("nope")).hasMessageContaining("nope");
    }
}

package lowbit.nn.adapter;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.gamma;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import lowbit.nn.Linear;
import lowbit.nn.NnTesting;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.io.SafetensorsFile;
import lowbit.tensor.io.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT adapter directories. The fixtures are written by hand from PEFT's definitions (LoraConfig/BoneConfig fields
 * as {@code save_pretrained} writes them, keys as {@code get_peft_model_state_dict} names them), not by lowbit's
 * writer; the expected outputs are the formulas evaluated in double.
 */
class PeftFilesTest {
    private static final String Q = "model.layers.0.self_attn.q_proj";
    private static final String V = "model.layers.0.self_attn.v_proj";

    @TempDir
    Path dir;

    /** A config as PEFT 0.17 writes it for LoraConfig(r=2, lora_alpha=8, use_rslora=True, rank/alpha patterns). */
    private static final String LORA_CONFIG = """
            {
              "alpha_pattern": {"v_proj": 16},
              "auto_mapping": null,
              "base_model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2",
              "bias": "none",
              "corda_config": null,
              "eva_config": null,
              "exclude_modules": null,
              "fan_in_fan_out": false,
              "inference_mode": true,
              "init_lora_weights": true,
              "layer_replication": null,
              "layers_pattern": null,
              "layers_to_transform": null,
              "loftq_config": {},
              "lora_alpha": 8,
              "lora_bias": false,
              "lora_dropout": 0.05,
              "megatron_config": null,
              "megatron_core": "megatron.core",
              "modules_to_save": null,
              "peft_type": "LORA",
              "peft_version": "0.17.1",
              "qalora_group_size": 16,
              "r": 2,
              "rank_pattern": {"v_proj": 4},
              "revision": null,
              "target_modules": ["v_proj", "q_proj"],
              "target_parameters": null,
              "task_type": "FEATURE_EXTRACTION",
              "trainable_token_indices": null,
              "use_dora": %s,
              "use_qalora": false,
              "use_rslora": true
            }
            """;

    private static Map<String, AdaptedLinear> layers(Random r, int in, int out) {
        Map<String, AdaptedLinear> m = new LinkedHashMap<>();
        m.put(Q, AdaptedLinear.of(Q, Twins.base(r, out, in)));
        m.put(V, AdaptedLinear.of(V, Twins.base(r, out, in)));
        m.put("model.layers.0.mlp.fc1", AdaptedLinear.of("model.layers.0.mlp.fc1", Twins.base(r, out, in)));
        return m;
    }

    /** y = x·Wᵀ + b + c ⊙ … in double: LoRA when m is null, else DoRA with m/‖W + sBA‖ (row norms). */
    private static double[] expected(Linear base, float[] a, float[] b, float[] m, double s, float[] x, int n, int r) {
        int in = base.inFeatures(), out = base.outFeatures();
        double[] w = NnTesting.toDouble(base.weight().toFloats());
        double[] wp = Twins.add(w, Twins.scale(s, Twins.mm(NnTesting.toDouble(b), out, r, NnTesting.toDouble(a), in)));
        double[] y = Twins.mmT(NnTesting.toDouble(x), n, in, wp, out);
        double[] nr = Twins.doraNorms(w, NnTesting.toDouble(b), NnTesting.toDouble(a), s, out, in, r);
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < out; o++) {
                double c = m == null ? 1 : m[o] / nr[o];
                y[i * out + o] = c * y[i * out + o] + base.bias()[o];
            }
        }
        return y;
    }

    private static double[] tol(Linear base, float[] x, int n, float[] a, float[] b, double s, int r) {
        int in = base.inFeatures(), out = base.outFeatures();
        double[] aw = AdapterGradientTest.abs(NnTesting.toDouble(base.weight().toFloats()));
        double[] ad = Twins.scale(Math.abs(s), Twins.mm(AdapterGradientTest.abs(NnTesting.toDouble(b)), out, r,
                AdapterGradientTest.abs(NnTesting.toDouble(a)), in));
        double[] bnd = Twins.mmT(AdapterGradientTest.abs(NnTesting.toDouble(x)), n, in, Twins.add(aw, ad), out);
        double[] t = new double[bnd.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = 1e-9 + 8 * gamma(in + out + r + 8) * (bnd[i] + 1); // the float chains and the DoRA rescaling
        }
        return t;
    }

    @Test
    void loadsAHandWrittenLoraCheckpointWithPatternsRsLoraAndHalfTensors() throws IOException {
        Random r = new Random(1);
        int in = 12, out = 10, n = 3;
        float[] aq = NnTesting.randn(r, 2 * in, 0.3), bq = NnTesting.randn(r, out * 2, 0.3);
        float[] av = NnTesting.randn(r, 4 * in, 0.3), bv = NnTesting.randn(r, out * 4, 0.3);
        Tensor bvHalf = Tensor.ofFloats(DType.BF16, bv, Shape.of(out, 4));
        bv = bvHalf.toFloatArray();
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("base_model.model." + Q + ".lora_A.weight", Tensor.ofFloats(aq, 2, in));
        t.put("base_model.model." + Q + ".lora_B.weight", Tensor.ofFloats(bq, out, 2));
        t.put("base_model.model." + V + ".lora_A.weight", Tensor.ofFloats(av, 4, in));
        t.put("base_model.model." + V + ".lora_B.weight", bvHalf);
        Files.writeString(dir.resolve("adapter_config.json"), LORA_CONFIG.formatted("false"));
        SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), t, Map.of("format", "pt"));
        Map<String, AdaptedLinear> m = layers(r, in, out);
        assertThat(PeftFiles.modules(dir)).containsExactly(Q, V); // the layers load needs, from the keys alone
        List<Adapter> got = PeftFiles.load(dir, m, "default");
        assertThat(got).hasSize(2);
        assertThat(m.get("model.layers.0.mlp.fc1").adapters()).isEmpty();
        LoraAdapter lq = (LoraAdapter) m.get(Q).adapter("default");
        LoraAdapter lv = (LoraAdapter) m.get(V).adapter("default");
        assertThat(lq.rank()).isEqualTo(2);
        assertThat(lv.rank()).isEqualTo(4);
        // rsLoRA: s = α/√r with α = 8 for q (r = 2) and 16 for v (r = 4) from alpha_pattern
        assertThat((double) lq.scaling()).isCloseTo(8 / Math.sqrt(2), org.assertj.core.data.Offset.offset(1e-6));
        assertThat((double) lv.scaling()).isCloseTo(16 / Math.sqrt(4), org.assertj.core.data.Offset.offset(1e-6));
        assertThat(lq.config().dropout()).isEqualTo(0.05);
        float[] x = NnTesting.randn(r, n * in, 1);
        Linear baseQ = m.get(Q).base(), baseV = m.get(V).base();
        assertClose("q_proj", 1, m.get(Q).forward(x, n), expected(baseQ, aq, bq, null, 8 / Math.sqrt(2), x, n, 2),
                tol(baseQ, x, n, aq, bq, 8 / Math.sqrt(2), 2));
        assertClose("v_proj", 1, m.get(V).forward(x, n), expected(baseV, av, bv, null, 8, x, n, 4),
                tol(baseV, x, n, av, bv, 8, 4));
    }

    @Test
    void loadsDoraMagnitudeVectors() throws IOException {
        Random r = new Random(2);
        int in = 9, out = 7, n = 2;
        float[] a = NnTesting.randn(r, 2 * in, 0.3), b = NnTesting.randn(r, out * 2, 0.3);
        float[] mag = new float[out];
        for (int o = 0; o < out; o++) {
            mag[o] = 1 + o * 0.1f;
        }
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("base_model.model." + Q + ".lora_A.weight", Tensor.ofFloats(a, 2, in));
        t.put("base_model.model." + Q + ".lora_B.weight", Tensor.ofFloats(b, out, 2));
        t.put("base_model.model." + Q + ".lora_magnitude_vector", Tensor.ofFloats(mag, out));
        Files.writeString(dir.resolve("adapter_config.json"), LORA_CONFIG.formatted("true"));
        SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), t, Map.of("format", "pt"));
        Map<String, AdaptedLinear> m = layers(r, in, out);
        PeftFiles.load(dir, m, "default");
        assertThat(m.get(Q).adapter("default")).isInstanceOf(DoraAdapter.class);
        float[] x = NnTesting.randn(r, n * in, 1);
        double s = 8 / Math.sqrt(2);
        assertClose("dora q_proj", 2, m.get(Q).forward(x, n), expected(m.get(Q).base(), a, b, mag, s, x, n, 2),
                tol(m.get(Q).base(), x, n, a, b, s, 2));
    }

    @Test
    void loadsBoneAndBatBlocks() throws IOException {
        Random r = new Random(3);
        int in = 12, out = 8, n = 2;
        for (boolean bat : new boolean[] {false, true}) {
            Path d = dir.resolve(bat ? "bat" : "bone");
            Files.createDirectories(d);
            float[] blk = NnTesting.randn(r, bat ? (out / 4) * 16 : 4 * out, 0.2);
            Tensor bt = bat ? Tensor.ofFloats(blk, out / 4, 4, 4) : Tensor.ofFloats(blk, 4, out);
            Files.writeString(d.resolve("adapter_config.json"), """
                    {"peft_type": "BONE", "r": 4, "target_modules": ["q_proj"], "init_weights": %s, "bias": "none",
                     "task_type": null, "inference_mode": true, "layers_to_transform": null, "modules_to_save": null}
                    """.formatted(bat ? "\"bat\"" : "true"));
            SafetensorsWriter.write(d.resolve("adapter_model.safetensors"),
                    Map.of("base_model.model." + Q + ".bone_block", bt), Map.of("format", "pt"));
            Map<String, AdaptedLinear> m = layers(r, in, out);
            PeftFiles.load(d, m, "default");
            Linear base = m.get(Q).base();
            double[] w = NnTesting.toDouble(base.weight().toFloats());
            double[] wp;
            if (bat) {
                wp = Twins.batWeight(w, NnTesting.toDouble(blk), out, in, 4);
            } else {
                wp = w.clone();
                for (int o = 0; o < out; o++) {
                    for (int j = 0; j < in; j++) {
                        wp[o * in + j] += blk[(j % 4) * out + o];
                    }
                }
            }
            float[] x = NnTesting.randn(r, n * in, 1);
            double[] y = Twins.linear(wp, NnTesting.toDouble(base.bias()), NnTesting.toDouble(x), n, in, out);
            assertClose(bat ? "bat" : "bone", 3, m.get(Q).forward(x, n), y, 1e-4);
        }
    }

    @Test
    void savedLoraHasPeftKeysAndConfigAndLoadsBack() throws IOException {
        Random r = new Random(4);
        int in = 10, out = 8;
        Map<String, AdaptedLinear> m = layers(r, in, out);
        LoraAdapter a = m.get(Q).addLora("default", LoraConfig.of(3, 6).withRsLora(true).withDropout(0.1));
        LoraAdapter lv = m.get(V).addLora("default", LoraConfig.of(2, 6)); // no rsLoRA: α becomes 6/2·√2 in the file
        Twins.randomize(a.b(), r, 0.3);
        Twins.randomize(lv.b(), r, 0.3);
        List<String> keys = PeftFiles.save(dir, List.copyOf(m.values()), "default", "my/base");
        assertThat(keys).containsExactlyInAnyOrder("base_model.model." + Q + ".lora_A.weight",
                "base_model.model." + Q + ".lora_B.weight", "base_model.model." + V + ".lora_A.weight",
                "base_model.model." + V + ".lora_B.weight");
        JsonNode cfg = new ObjectMapper().readTree(Files.readString(dir.resolve("adapter_config.json")));
        assertThat(cfg.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(cfg.get("r").asInt()).isEqualTo(3);
        assertThat(cfg.get("lora_alpha").asInt()).isEqualTo(6);
        assertThat(cfg.get("lora_alpha").isIntegralNumber()).isTrue();
        assertThat(cfg.get("use_rslora").asBoolean()).isTrue();
        assertThat(cfg.get("use_dora").asBoolean()).isFalse();
        assertThat(cfg.get("rank_pattern").get(V).asInt()).isEqualTo(2);
        assertThat(cfg.get("alpha_pattern").get(V).asDouble()).isCloseTo(3 * Math.sqrt(2),
                org.assertj.core.data.Offset.offset(1e-6));
        assertThat(cfg.get("target_modules")).hasSize(2);
        assertThat(cfg.get("init_lora_weights").asBoolean()).isTrue();
        assertThat(cfg.get("base_model_name_or_path").asText()).isEqualTo("my/base");
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
            assertThat(f.metadata()).containsEntry("format", "pt");
            assertThat(f.entry("base_model.model." + Q + ".lora_A.weight").spec().shape()).isEqualTo(Shape.of(3, in));
            assertThat(f.entry("base_model.model." + V + ".lora_B.weight").spec().shape()).isEqualTo(Shape.of(out, 2));
        }
        Map<String, AdaptedLinear> fresh = new LinkedHashMap<>();
        for (var e : m.entrySet()) {
            fresh.put(e.getKey(), AdaptedLinear.of(e.getKey(), e.getValue().base()));
        }
        PeftFiles.load(dir, fresh, "default");
        float[] x = NnTesting.randn(r, 2 * in, 1);
        assertThat(fresh.get(Q).forward(x, 2)).isEqualTo(m.get(Q).forward(x, 2));
        // s = α/√r recomputed from the written α: equal up to the rounding of α·√2/√2
        assertClose("v_proj round trip", 4, fresh.get(V).forward(x, 2), NnTesting.toDouble(m.get(V).forward(x, 2)),
                1e-5);

        Path d2 = dir.resolve("dora");
        Map<String, AdaptedLinear> m2 = layers(r, in, out);
        DoraAdapter dq = (DoraAdapter) m2.get(Q).addLora("default", LoraConfig.of(2, 4).withDora(true));
        Twins.randomize(dq.b(), r, 0.3);
        assertThat(PeftFiles.save(d2, List.copyOf(m2.values()), "default", null))
                .contains("base_model.model." + Q + ".lora_magnitude_vector");
        Map<String, AdaptedLinear> f2 = new LinkedHashMap<>();
        f2.put(Q, AdaptedLinear.of(Q, m2.get(Q).base()));
        PeftFiles.load(d2, f2, "default");
        assertThat(f2.get(Q).forward(x, 2)).isEqualTo(m2.get(Q).forward(x, 2));
        m2.get(V).addLora("default", LoraConfig.of(2, 4));
        assertThatThrownBy(() -> PeftFiles.save(d2, List.copyOf(m2.values()), "default", null))
                .hasMessageContaining("use_dora is one flag per PEFT file");
    }

    @Test
    void pissaAndSorsaAreSavedAsLoraRelativeToTheOriginalBase() throws IOException {
        Random r = new Random(5);
        int in = 16, out = 12, n = 3;
        Map<String, AdaptedLinear> m = layers(r, in, out);
        LoraAdapter p = m.get(Q).addLora("default", LoraConfig.of(3, 6).withInit(LoraInit.PISSA));
        SorsaAdapter s = m.get(V).addSorsa("default", SorsaConfig.of(2).withAlpha(4));
        Twins.randomize(p.a(), r, 0.3); // "trained" factors, different from the init
        Twins.randomize(s.s(), r, 1);
        PeftFiles.save(dir, List.of(m.get(Q), m.get(V)), "default", null);
        JsonNode cfg = new ObjectMapper().readTree(Files.readString(dir.resolve("adapter_config.json")));
        assertThat(cfg.get("r").asInt()).isEqualTo(6);
        assertThat(cfg.get("rank_pattern").get(V).asInt()).isEqualTo(4);
        assertThat(cfg.get("init_lora_weights").asBoolean()).isTrue();
        Map<String, AdaptedLinear> onOriginal = new LinkedHashMap<>();
        for (String k : List.of(Q, V)) {
            onOriginal.put(k, AdaptedLinear.of(k, m.get(k).original()));
        }
        PeftFiles.load(dir, onOriginal, "default");
        float[] x = NnTesting.randn(r, n * in, 1);
        for (String k : List.of(Q, V)) {
            float[] want = m.get(k).forward(x, n);
            double[] bnd = Twins.mmT(AdapterGradientTest.abs(NnTesting.toDouble(x)), n, in,
                    AdapterGradientTest.abs(NnTesting.toDouble(m.get(k).original().weight().toFloats())), out);
            double[] t = new double[bnd.length];
            for (int i = 0; i < t.length; i++) {
                t[i] = 1e-5 + 16 * gamma(in + out + 12) * bnd[i] * 4; // both sides' chains, |ΔW| ≲ 3|W| here
            }
            assertClose(k + " on the original base", 5, onOriginal.get(k).forward(x, n), NnTesting.toDouble(want), t);
        }
    }

    @Test
    void boneBatPacaAndDyloraRoundTrip() throws IOException {
        Random r = new Random(7);
        int in = 12, out = 8, n = 2;
        float[] x = NnTesting.randn(r, n * in, 1);
        for (int kind = 0; kind < 4; kind++) {
            Path d = dir.resolve("k" + kind);
            Map<String, AdaptedLinear> m = layers(r, in, out);
            Adapter a = switch (kind) {
                case 0 -> m.get(Q).addBone("default", BoneConfig.bone(5));
                case 1 -> m.get(Q).addBone("default", BoneConfig.bat(4));
                case 2 -> m.get(Q).addPaca("default", new PacaConfig(3, 6, 11));
                default -> m.get(Q).addDyLora("default", DyLoraConfig.of(4, 8));
            };
            for (var p : a.parameters()) {
                Twins.randomize(p, r, 0.2);
            }
            if (a instanceof DyLoraAdapter dl) {
                dl.setInferenceRank(3);
            }
            PeftFiles.save(d, List.of(m.get(Q)), "default", null);
            JsonNode cfg = new ObjectMapper().readTree(Files.readString(d.resolve("adapter_config.json")));
            assertThat(cfg.get("peft_type").asText()).isEqualTo(kind < 2 ? "BONE" : kind == 2 ? "PACA" : "LORA");
            if (kind < 2) { // only BoneConfig's fields
                assertThat(cfg.get("init_weights").toString()).isEqualTo(kind == 0 ? "true" : "\"bat\"");
                assertThat(cfg.has("fan_in_fan_out")).isFalse();
                assertThat(cfg.has("lora_alpha")).isFalse();
            }
            Map<String, AdaptedLinear> f = new LinkedHashMap<>();
            f.put(Q, AdaptedLinear.of(Q, m.get(Q).base()));
            Adapter back = PeftFiles.load(d, f, "default").get(0);
            if (back instanceof PacaAdapter pb) {
                assertThat(pb.indices()).isEqualTo(((PacaAdapter) a).indices());
                assertThat(cfg.get("paca_alpha").asInt()).isEqualTo(6);
            }
            if (kind == 3) {
                assertThat(back.rank()).isEqualTo(3);
                assertThat(cfg.get("r").asInt()).isEqualTo(3);
            }
            // DyLoRA comes back as the rank-3 LoRA with α/3 = 8/3: the same products, the same bits
            assertThat(f.get(Q).forward(x, n)).as("kind " + kind).isEqualTo(m.get(Q).forward(x, n));
        }
    }

    @Test
    void badFilesAreNamed() throws IOException {
        Random r = new Random(6);
        int in = 6, out = 5;
        Map<String, AdaptedLinear> m = layers(r, in, out);
        Files.writeString(dir.resolve("adapter_config.json"), LORA_CONFIG.formatted("false"));
        SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"),
                Map.of("base_model.model." + Q + ".lora_A.weight", Tensor.ofFloats(new float[2 * 7], 2, 7),
                        "base_model.model." + Q + ".lora_B.weight", Tensor.ofFloats(new float[out * 2], out, 2)),
                Map.of());
        assertThatThrownBy(() -> PeftFiles.load(dir, m, "default")).hasMessageContaining("lora_A.weight has shape [2, 7]")
                .hasMessageContaining("expected [2, 6]");
        SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"),
                Map.of("base_model.model.model.nope.lora_A.weight", Tensor.ofFloats(new float[2 * in], 2, in)), Map.of());
        assertThatThrownBy(() -> PeftFiles.load(dir, m, "default")).hasMessageContaining("module 'model.nope' has no layer");
        SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"),
                Map.of("base_model.model." + Q + ".lora_embedding_A", Tensor.ofFloats(new float[2 * in], 2, in)), Map.of());
        assertThatThrownBy(() -> PeftFiles.load(dir, m, "default")).hasMessageContaining("lora_embedding_A")
                .hasMessageContaining("is not a LORA adapter tensor");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"IA3\", \"r\": 2}");
        assertThatThrownBy(() -> PeftFiles.load(dir, m, "default")).hasMessageContaining("peft_type \"IA3\"");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"fan_in_fan_out\": true}");
        assertThatThrownBy(() -> PeftFiles.load(dir, m, "default")).hasMessageContaining("fan_in_fan_out");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": \"two\"}");
        assertThatThrownBy(() -> PeftFiles.load(dir, m, "default")).hasMessageContaining("r must be an integer");
        Files.writeString(dir.resolve("adapter_config.json"), "[1, 2");
        assertThatThrownBy(() -> PeftFiles.load(dir, m, "default")).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> PeftFiles.save(dir, List.copyOf(m.values()), "nothing", null))
                .hasMessageContaining("no layer has an adapter named \"nothing\"");
    }
}

package lowbit.nn.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.io.SafetensorsFile;
import lowbit.tensor.io.SafetensorsWriter;

/**
 * HF PEFT adapter directories: {@code adapter_config.json} + {@code adapter_model.safetensors}, as
 * {@code PeftModel.save_pretrained} writes them and {@code PeftModel.from_pretrained} reads them.
 *
 * <p>Tensor keys are {@code "base_model.model." + <module path> + "." + <suffix>} with the adapter name removed
 * (PEFT's {@code get_peft_model_state_dict}): LoRA {@code lora_A.weight} [r, in], {@code lora_B.weight} [out, r],
 * DoRA also {@code lora_magnitude_vector} [out] (PEFT strips the ".weight" of its DoRA layer); Bone
 * {@code bone_block} ([r, out], or [out/r, r, r] for "bat"); PaCA (the authors' PEFT fork, peft_type "PACA")
 * {@code paca_w} [out, r] and {@code paca_indices} [r] (I64). The config carries {@code peft_type}, {@code r},
 * {@code lora_alpha}, {@code use_rslora}, {@code use_dora}, {@code lora_dropout}, {@code init_lora_weights},
 * {@code target_modules}, and per-module {@code rank_pattern}/{@code alpha_pattern} (keys matched as PEFT's
 * {@code get_pattern_key}: the regex {@code (.*\.)?(key)$} against the module path). Unknown config fields are
 * ignored, as PEFT does.
 *
 * <p><b>Saving.</b> LoRA and DoRA adapters are written as trained. Adapters whose init replaced the base by a
 * residual (PiSSA, OLoRA, SORSA) are written — as PEFT's {@code path_initial_model_for_weight_conversion} does for
 * PiSSA/OLoRA — as a plain LoRA of rank 2r relative to the <em>original</em> base:
 * ΔW = s·(B·A − B₀·A₀) = s·[B, −B₀]·[A; A₀] (SORSA: with S and S₀ folded into A), so PEFT applies it to the
 * unmodified model. DyLoRA is written as the rank-b LoRA of its inference rank b (scale α/b = lora_alpha/r).
 * SORSA and DyLoRA have no PEFT type of their own. All adapters of one file must share a PEFT type.
 *
 * <p><b>Loading</b> attaches, to each layer of {@code modules} named by a key in the file, an adapter with those
 * tensors; layers not in the file are left alone, a file module without a layer, a tensor of the wrong shape, an
 * unknown key or an unsupported option (fan_in_fan_out, lora_bias, bias ≠ "none" with bias tensors) is an
 * {@link IllegalArgumentException} naming the key and the file.
 */
public final class PeftFiles {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    public static final String PREFIX = "base_model.model.";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    private PeftFiles() {
    }

    // ---------------------------------------------------------------- save

    /**
     * Writes the adapter named {@code adapterName} of every layer that has one into {@code dir} (created if needed).
     *
     * @param baseModel written as {@code base_model_name_or_path} (may be null)
     * @return the tensor keys written
     * @throws IllegalArgumentException when no layer has the adapter, or the adapters have different PEFT types
     */
    public static List<String> save(Path dir, List<AdaptedLinear> layers, String adapterName, String baseModel)
            throws IOException {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(layers, "layers");
        Objects.requireNonNull(adapterName, "adapter name");
        Map<String, Tensor> tensors = new TreeMap<>();
        Map<String, Integer> ranks = new LinkedHashMap<>();
        Map<String, Double> scalings = new LinkedHashMap<>();
        Map<String, Double> exactAlpha = new LinkedHashMap<>(); // α of a plain LoRA and its rsLoRA flag
        Map<String, Boolean> exactRs = new LinkedHashMap<>();
        Map<String, Double> alphas = new LinkedHashMap<>();
        List<String> modules = new ArrayList<>();
        String type = null;
        Boolean rs = null, dora = null;
        Object init = Boolean.TRUE;
        double dropout = 0;
        for (AdaptedLinear layer : layers) {
            Adapter a = layer.adapters().stream().filter(x -> x.name().equals(adapterName)).findFirst().orElse(null);
            if (a == null) {
                continue;
            }
            String m = a.module();
            String key = PREFIX + m + ".";
            String t;
            int r;
            double alpha;
            boolean isDora = a instanceof DoraAdapter;
            if (dora != null && dora != isDora) {
                throw new IllegalArgumentException("use_dora is one flag per PEFT file: " + m + " is "
                        + (isDora ? "" : "not ") + "DoRA, an earlier module is " + (dora ? "" : "not"));
            }
            dora = isDora;
            if (a instanceof LoraAdapter l && l.initialA == null) {
                t = "LORA";
                r = l.rank();
                alpha = l.config().scaling();
                exactAlpha.put(m, l.config().alpha());
                exactRs.put(m, l.config().rsLora());
                if (rs == null) {
                    rs = l.config().rsLora();
                }
                init = l.config().init().peftValue();
                dropout = l.config().dropout();
                tensors.put(key + "lora_A.weight", f32(l.a().data(), r, a.inFeatures()));
                tensors.put(key + "lora_B.weight", f32(l.b().data(), a.outFeatures(), r));
                if (l instanceof DoraAdapter d) {
                    tensors.put(key + "lora_magnitude_vector", f32(d.magnitude().data(), a.outFeatures()));
                }
            } else if (a instanceof LoraAdapter l) {
                if (l instanceof DoraAdapter) {
                    throw new IllegalArgumentException(m + ": DoRA initialised with " + l.config().init().kind()
                            + " has no LoRA form relative to the original base; save is not supported");
                }
                t = "LORA";
                r = 2 * l.rank();
                alpha = l.config().scaling();
                tensors.put(key + "lora_A.weight", f32(stack(l.a().data(), l.initialA, null, null), r, a.inFeatures()));
                tensors.put(key + "lora_B.weight", f32(side(l.b().data(), l.initialB, a.outFeatures(), l.rank()),
                        a.outFeatures(), r));
            } else if (a instanceof SorsaAdapter s) {
                t = "LORA";
                r = 2 * s.rank();
                alpha = s.config().scaling();
                tensors.put(key + "lora_A.weight", f32(stack(s.a().data(), s.initialA, s.s().data(), s.initialS), r,
                        a.inFeatures()));
                tensors.put(key + "lora_B.weight", f32(side(s.b().data(), s.initialB, a.outFeatures(), s.rank()),
                        a.outFeatures(), r));
            } else if (a instanceof DyLoraAdapter d) {
                t = "LORA";
                r = d.inferenceRank();
                alpha = d.config().alpha() / r;
                int rMax = d.rank();
                float[] bt = new float[a.outFeatures() * r];
                for (int o = 0; o < a.outFeatures(); o++) {
                    System.arraycopy(d.b().data(), o * rMax, bt, o * r, r);
                }
                tensors.put(key + "lora_A.weight", f32(java.util.Arrays.copyOf(d.a().data(), r * a.inFeatures()), r,
                        a.inFeatures()));
                tensors.put(key + "lora_B.weight", f32(bt, a.outFeatures(), r));
            } else if (a instanceof BoneAdapter b) {
                t = "BONE";
                r = b.rank();
                alpha = 0;
                boolean differs = !ranks.isEmpty() && (!init.equals(b.config().peftInitWeights())
                        || ranks.values().iterator().next() != r);
                if (differs) {
                    throw new IllegalArgumentException("BoneConfig has one r and one init_weights per file: " + m
                            + " has r = " + r + ", init_weights = " + b.config().peftInitWeights() + ", an earlier module "
                            + "r = " + ranks.values().iterator().next() + ", init_weights = " + init);
                }
                init = b.config().peftInitWeights();
                tensors.put(key + "bone_block", Tensor.ofFloats(b.block().data(), toLongs(b.block().shape())));
            } else if (a instanceof PacaAdapter p) {
                t = "PACA";
                r = p.rank();
                alpha = p.config().scaling() * r;
                tensors.put(key + "paca_w", f32(p.columns().data(), a.outFeatures(), r));
                long[] idx = new long[r];
                int[] cols = p.indices();
                for (int k = 0; k < r; k++) {
                    idx[k] = cols[k];
                }
                tensors.put(key + "paca_indices", Tensor.wrap(MemorySegment.ofArray(idx), DType.I64, Shape.of(r)));
            } else {
                throw new IllegalArgumentException(m + ": " + a.method() + " cannot be saved as a PEFT adapter");
            }
            if (type != null && !type.equals(t)) {
                throw new IllegalArgumentException("adapters of one PEFT file must share a type: " + type + " and " + t
                        + " (" + m + ")");
            }
            type = t;
            modules.add(m);
            ranks.put(m, r);
            scalings.put(m, alpha); // the scaling s for LoRA types; α is derived below
        }
        if (type == null) {
            throw new IllegalArgumentException("no layer has an adapter named \"" + adapterName + "\"");
        }
        // one use_rslora for the file; each module's α reproduces its scaling s: α = s·r (or s·√r with rsLoRA)
        boolean rsFile = rs != null && rs;
        for (String m : modules) {
            double s = scalings.get(m);
            int r = ranks.get(m);
            if (exactAlpha.containsKey(m) && exactRs.get(m) == rsFile) {
                alphas.put(m, exactAlpha.get(m));
            } else {
                alphas.put(m, type.equals("LORA") ? s * (rsFile ? Math.sqrt(r) : r) : s);
            }
        }
        for (AdaptedLinear layer : layers) {
            for (Adapter a : layer.adapters()) {
                if (a.name().equals(adapterName) && (a instanceof SorsaAdapter || a instanceof DyLoraAdapter
                        || a instanceof LoraAdapter l && l.initialA != null)) {
                    init = Boolean.TRUE; // converted to a plain LoRA on the original base
                }
            }
        }
        Files.createDirectories(dir);
        ObjectNode cfg = JSON.createObjectNode();
        int r0 = ranks.values().iterator().next();
        double a0 = alphas.values().iterator().next();
        cfg.put("peft_type", type);
        cfg.putNull("task_type");
        if (baseModel == null) {
            cfg.putNull("base_model_name_or_path");
        } else {
            cfg.put("base_model_name_or_path", baseModel);
        }
        cfg.put("inference_mode", true);
        cfg.put("r", r0);
        ArrayNode tm = cfg.putArray("target_modules");
        modules.forEach(tm::add);
        cfg.put("bias", "none");
        if (!type.equals("BONE")) { // BoneConfig has no fan_in_fan_out field
            cfg.put("fan_in_fan_out", false);
        }
        cfg.putNull("modules_to_save");
        if (type.equals("BONE")) {
            putInit(cfg, "init_weights", init);
        } else {
            ObjectNode rp = cfg.putObject("rank_pattern");
            ObjectNode ap = cfg.putObject("alpha_pattern");
            for (String m : modules) {
                if (ranks.get(m) != r0) {
                    rp.put(m, ranks.get(m));
                }
                if (Double.compare(alphas.get(m), a0) != 0) {
                    putNumber(ap, m, alphas.get(m));
                }
            }
            if (type.equals("PACA")) {
                putNumber(cfg, "paca_alpha", a0);
            } else {
                putNumber(cfg, "lora_alpha", a0);
                cfg.put("lora_dropout", dropout);
                cfg.put("use_rslora", rsFile);
                cfg.put("use_dora", dora != null && dora);
                cfg.put("lora_bias", false);
                putInit(cfg, "init_lora_weights", init);
            }
        }
        Files.writeString(dir.resolve(CONFIG_FILE), JSON.writeValueAsString(cfg));
        SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
        return new ArrayList<>(tensors.keySet());
    }

    private static void putInit(ObjectNode cfg, String field, Object v) {
        if (v instanceof Boolean b) {
            cfg.put(field, b);
        } else {
            cfg.put(field, v.toString());
        }
    }

    /** An integer-valued α as a JSON integer (PEFT's lora_alpha is an int), else a double. */
    private static void putNumber(ObjectNode n, String field, double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            n.put(field, (long) v);
        } else {
            n.put(field, v);
        }
    }

    private static long[] toLongs(int[] s) {
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) {
            l[i] = s[i];
        }
        return l;
    }

    private static Tensor f32(float[] v, long... dims) {
        return Tensor.ofFloats(v.clone(), dims);
    }

    /** [diag(s)·A; diag(s₀)·A₀] (s, s₀ null for none). */
    private static float[] stack(float[] a, float[] a0, float[] s, float[] s0) {
        int r = s == null ? -1 : s.length;
        float[] out = new float[a.length + a0.length];
        int in = s == null ? 0 : a.length / r;
        for (int i = 0; i < a.length; i++) {
            out[i] = s == null ? a[i] : s[i / in] * a[i];
        }
        for (int i = 0; i < a0.length; i++) {
            out[a.length + i] = s0 == null ? a0[i] : s0[i / in] * a0[i];
        }
        return out;
    }

    /** [B, −B₀] [out, 2r]. */
    private static float[] side(float[] b, float[] b0, int out, int r) {
        float[] o = new float[out * 2 * r];
        for (int i = 0; i < out; i++) {
            for (int k = 0; k < r; k++) {
                o[i * 2 * r + k] = b[i * r + k];
                o[i * 2 * r + r + k] = -b0[i * r + k];
            }
        }
        return o;
    }

    // ---------------------------------------------------------------- load

    /**
     * Reads the directory's config and tensors and attaches an adapter named {@code adapterName} to each layer the
     * file names (layers by module path).
     *
     * @return the attached adapters, in key order
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException for a config or tensor that does not fit (the message names it)
     */
    public static List<Adapter> load(Path dir, Map<String, AdaptedLinear> modules, String adapterName)
            throws IOException {
        Objects.requireNonNull(modules, "modules");
        PeftConfig c = readConfig(dir);
        Path wPath = dir.resolve(WEIGHTS_FILE);
        List<Adapter> loaded = new ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(wPath)) {
            Map<String, Map<String, Tensor>> byModule = new TreeMap<>();
            for (String key : f.names()) {
                String suffix = suffixOf(c, key, wPath);
                String module = key.substring(PREFIX.length(), key.length() - suffix.length() - 1);
                byModule.computeIfAbsent(module, k -> new LinkedHashMap<>()).put(suffix, f.tensor(key));
            }
            for (Map.Entry<String, Map<String, Tensor>> e : byModule.entrySet()) {
                String module = e.getKey();
                AdaptedLinear layer = modules.get(module);
                if (layer == null) {
                    throw new IllegalArgumentException(wPath + ": module '" + module + "' has no layer; layers are "
                            + modules.keySet());
                }
                Adapter a = c.build(layer, module, adapterName, e.getValue(), wPath.toString());
                layer.attach(a);
                loaded.add(a);
            }
        }
        return loaded;
    }

    /**
     * The module paths (e.g. {@code model.layers.0.self_attn.q_proj}) that the adapter directory {@code dir} has
     * tensors for, sorted: the layers {@link #load} needs in its {@code modules} map. Reads the config and the
     * safetensors header only.
     *
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException for a config or key that {@link #load} would reject (named)
     */
    public static List<String> modules(Path dir) throws IOException {
        PeftConfig c = readConfig(dir);
        Path wPath = dir.resolve(WEIGHTS_FILE);
        java.util.TreeSet<String> out = new java.util.TreeSet<>();
        try (SafetensorsFile f = SafetensorsFile.open(wPath)) {
            for (String key : f.names()) {
                String suffix = suffixOf(c, key, wPath);
                out.add(key.substring(PREFIX.length(), key.length() - suffix.length() - 1));
            }
        }
        return new ArrayList<>(out);
    }

    private static PeftConfig readConfig(Path dir) throws IOException {
        Path cfgPath = dir.resolve(CONFIG_FILE);
        JsonNode cfg;
        try {
            cfg = JSON.readTree(Files.readString(cfgPath));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(cfgPath + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (cfg == null || !cfg.isObject()) {
            throw new IllegalArgumentException(cfgPath + ": the config must be a JSON object");
        }
        return PeftConfig.of(cfg, cfgPath.toString());
    }

    /** The adapter suffix of {@code key}, which must be {@code PREFIX + module + "." + suffix}. */
    private static String suffixOf(PeftConfig c, String key, Path wPath) {
        String suffix = c.suffixOf(key);
        if (!key.startsWith(PREFIX) || suffix == null) {
            throw new IllegalArgumentException(wPath + ": key '" + key + "' is not a " + c.type + " adapter "
                    + "tensor (expected " + PREFIX + "<module>." + c.suffixes() + ")");
        }
        return suffix;
    }
}

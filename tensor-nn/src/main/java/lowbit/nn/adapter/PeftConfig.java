package lowbit.nn.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.foreign.ValueLayout;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;

/**
 * A parsed {@code adapter_config.json} (the fields lowbit uses; others are ignored as PEFT ignores unknown ones) and
 * how the tensors of one module become an adapter: shapes checked against the layer, r and α resolved through
 * {@code rank_pattern}/{@code alpha_pattern} as PEFT's {@code get_pattern_key}. Used by {@link PeftFiles}.
 */
final class PeftConfig {
    final String type;
    final int r;
    final double alpha;
    final boolean rsLora;
    final boolean dora;
    final double dropout;
    final JsonNode rankPattern;
    final JsonNode alphaPattern;
    final JsonNode initWeights;
    final String source;

    private PeftConfig(JsonNode cfg, String source) {
        this.source = source;
        JsonNode t = cfg.get("peft_type");
        if (t == null || !t.isTextual()) {
            throw new IllegalArgumentException(source + ": peft_type is missing or not a string");
        }
        this.type = t.asText();
        if (!type.equals("LORA") && !type.equals("BONE") && !type.equals("PACA")) {
            throw new IllegalArgumentException(source + ": peft_type \"" + type + "\" is not supported (LORA, BONE, "
                    + "PACA)");
        }
        this.r = intField(cfg, "r", 8);
        this.alpha = numField(cfg, type.equals("PACA") ? "paca_alpha" : "lora_alpha", 8);
        this.rsLora = boolField(cfg, "use_rslora");
        this.dora = boolField(cfg, "use_dora");
        this.dropout = numField(cfg, "lora_dropout", 0);
        this.rankPattern = cfg.get("rank_pattern");
        this.alphaPattern = cfg.get("alpha_pattern");
        this.initWeights = cfg.get("init_weights");
        if (boolField(cfg, "fan_in_fan_out")) {
            throw new IllegalArgumentException(source + ": fan_in_fan_out=true (Conv1D [in, out] weights) is not "
                    + "supported; lowbit weights are [out, in]");
        }
        if (boolField(cfg, "lora_bias")) {
            throw new IllegalArgumentException(source + ": lora_bias=true (a bias on lora_B) is not supported");
        }
    }

    static PeftConfig of(JsonNode cfg, String source) {
        return new PeftConfig(cfg, source);
    }

    private int intField(JsonNode cfg, String name, int def) {
        JsonNode v = cfg.get(name);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new IllegalArgumentException(source + ": " + name + " must be an integer, got " + v);
        }
        return v.asInt();
    }

    private double numField(JsonNode cfg, String name, double def) {
        JsonNode v = cfg.get(name);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isNumber()) {
            throw new IllegalArgumentException(source + ": " + name + " must be a number, got " + v);
        }
        return v.asDouble();
    }

    private boolean boolField(JsonNode cfg, String name) {
        JsonNode v = cfg.get(name);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException(source + ": " + name + " must be true or false, got " + v);
        }
        return v.asBoolean();
    }

    List<String> suffixes() {
        return switch (type) {
            case "LORA" -> dora ? List.of("lora_A.weight", "lora_B.weight", "lora_magnitude_vector")
                    : List.of("lora_A.weight", "lora_B.weight");
            case "BONE" -> List.of("bone_block");
            default -> List.of("paca_w", "paca_indices");
        };
    }

    String suffixOf(String key) {
        for (String s : suffixes()) {
            if (key.endsWith("." + s) && key.length() > PeftFiles.PREFIX.length() + s.length() + 1) {
                return s;
            }
        }
        return null;
    }

    /** PEFT's get_pattern_key: the first pattern key k with {@code (.*\.)?(k)$} matching the module. */
    private JsonNode pattern(JsonNode patterns, String module) {
        if (patterns == null || !patterns.isObject()) {
            return null;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = patterns.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")$").matcher(module).matches()) {
                return e.getValue();
            }
        }
        return null;
    }

    private Tensor need(Map<String, Tensor> t, String suffix, String module, String file) {
        Tensor v = t.get(suffix);
        if (v == null) {
            throw new IllegalArgumentException(file + ": module '" + module + "' has no " + suffix);
        }
        return v;
    }

    private static void shape(Tensor t, String what, String file, long... dims) {
        if (!t.shape().equals(Shape.of(dims))) {
            throw new IllegalArgumentException(file + ": " + what + " has shape " + t.shape() + ", expected "
                    + Shape.of(dims));
        }
    }

    Adapter build(AdaptedLinear layer, String module, String name, Map<String, Tensor> t, String file) {
        int in = layer.inFeatures(), out = layer.outFeatures();
        String key = PeftFiles.PREFIX + module + ".";
        switch (type) {
            case "LORA": {
                Tensor ta = need(t, "lora_A.weight", module, file);
                if (ta.shape().rank() != 2) {
                    throw new IllegalArgumentException(file + ": " + key + "lora_A.weight has shape " + ta.shape());
                }
                int rank = (int) ta.shape().dim(0);
                JsonNode rp = pattern(rankPattern, module);
                int rCfg = rp != null ? rp.asInt() : r;
                if (rCfg != rank) {
                    throw new IllegalArgumentException(file + ": " + key + "lora_A.weight has rank " + rank
                            + " but the config gives r = " + rCfg + " for this module");
                }
                shape(ta, key + "lora_A.weight", file, rank, in);
                Tensor tb = need(t, "lora_B.weight", module, file);
                shape(tb, key + "lora_B.weight", file, out, rank);
                JsonNode ap = pattern(alphaPattern, module);
                double al = ap != null ? ap.asDouble() : alpha;
                LoraConfig lc = new LoraConfig(rank, al, rsLora, dropout, LoraInit.DEFAULT, dora, 0);
                LoraAdapter.checkRank("LoRA", rank, in, out);
                float[] av = ta.toFloatArray(), bv = tb.toFloatArray();
                if (!dora) {
                    return new LoraAdapter(name, module, in, out, lc, av, bv);
                }
                Tensor tm = need(t, "lora_magnitude_vector", module, file);
                shape(tm, key + "lora_magnitude_vector", file, out);
                DoraAdapter d = new DoraAdapter(name, module, layer.baseView(), lc, av, bv);
                d.magnitude().set(tm.toFloatArray());
                return d;
            }
            case "BONE": {
                Tensor tb = need(t, "bone_block", module, file);
                boolean bat = initWeights != null && initWeights.isTextual() && initWeights.asText().equals("bat");
                int rank = (int) tb.shape().dim(tb.shape().rank() - 1);
                if (!bat) {
                    rank = (int) tb.shape().dim(0);
                    shape(tb, key + "bone_block", file, rank, out);
                } else {
                    shape(tb, key + "bone_block", file, out / Math.max(1, rank), rank, rank);
                }
                BoneAdapter b = BoneAdapter.create(name, module, layer.baseView(), bat ? BoneConfig.bat(rank)
                        : BoneConfig.bone(rank));
                b.block().set(tb.toFloatArray());
                return b;
            }
            default: {
                Tensor tw = need(t, "paca_w", module, file);
                Tensor ti = need(t, "paca_indices", module, file);
                int rank = (int) ti.shape().dim(0);
                shape(ti, key + "paca_indices", file, rank);
                shape(tw, key + "paca_w", file, out, rank);
                if (ti.dtype() != DType.I64 && ti.dtype() != DType.I32) {
                    throw new IllegalArgumentException(file + ": " + key + "paca_indices must be I64 or I32, got "
                            + ti.dtype());
                }
                int[] cols = new int[rank];
                for (int k = 0; k < rank; k++) {
                    long v = ti.dtype() == DType.I64 ? ti.segment().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, k)
                            : ti.segment().getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, k);
                    if (v < 0 || v >= in) {
                        throw new IllegalArgumentException(file + ": " + key + "paca_indices[" + k + "] = " + v
                                + " is outside [0, " + in + ")");
                    }
                    cols[k] = (int) v;
                }
                JsonNode ap = pattern(alphaPattern, module);
                double al = ap != null ? ap.asDouble() : alpha;
                PacaAdapter p = PacaAdapter.withColumns(name, module, layer.baseView(), new PacaConfig(rank, al, 0),
                        cols);
                p.columns().set(tw.toFloatArray());
                return p;
            }
        }
    }
}

package lowbit.cli;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lowbit.cli.QuantizeCommand.Item;
import lowbit.cli.QuantizeCommand.Target;
import lowbit.quant.GgmlTargets;
import lowbit.quant.HadamardRotation;
import lowbit.quant.InputTransform;
import lowbit.quant.QuantResult;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.io.GgufTensorSpec;
import lowbit.tensor.io.GgufValue;
import lowbit.tensor.io.GgufWriter;
import lowbit.tensor.io.GptqCheckpoint;
import lowbit.tensor.io.LowbitCheckpoint;
import lowbit.tensor.io.SafetensorsSpec;
import lowbit.tensor.io.SafetensorsWriter;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;

/** Writes the tensors of {@code quantize}: lowbit safetensors, GPTQ safetensors or GGUF. */
final class Outputs {
    private Outputs() {
    }

    static void write(BaseCommand cmd, Path out, Target target, List<Item> items, Map<String, String> meta,
            Method method) throws IOException {
        switch (target.kind()) {
            case "gguf" -> gguf(cmd, out, target, items, meta);
            case "gptq" -> gptq(out, target, items, meta, method);
            default -> lowbit(out, items, meta, method);
        }
    }

    /** The module prefix of a weight tensor name: {@code a.b.weight} → {@code a.b}. */
    static String prefix(String name) {
        return name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : name;
    }

    /** A quantization result as a lowbit checkpoint entry (matrix and input transform). */
    static LowbitCheckpoint.Entry entry(QuantResult r, String method) {
        InputTransform t = r.transform();
        HadamardRotation rot = t.rotation();
        return new LowbitCheckpoint.Entry(r.affine(), t.channelMultiplier(), rot == null ? 0 : rot.block(),
                rot == null ? 0 : rot.seed(), t.outputBias(), method);
    }

    /** Collects safetensors tensors (lowbit Tensors or raw bytes) and writes them. */
    static final class Safetensors {
        final List<SafetensorsSpec> specs = new ArrayList<>();
        final Map<String, Object> data = new LinkedHashMap<>();

        void add(String name, Tensor t) {
            specs.add(SafetensorsSpec.of(name, t));
            data.put(name, t);
        }

        void copy(Item it) {
            if (it.tensor() != null) {
                add(it.name(), it.tensor());
            } else {
                specs.add(it.rawSpec());
                data.put(it.name(), it.rawBytes());
            }
        }

        void write(Path out, Map<String, String> meta) throws IOException {
            try (SafetensorsWriter w = SafetensorsWriter.create(out, meta, specs)) {
                for (Map.Entry<String, Object> e : data.entrySet()) {
                    if (e.getValue() instanceof Tensor t) {
                        w.write(e.getKey(), t);
                    } else {
                        w.write(e.getKey(), (MemorySegment) e.getValue());
                    }
                }
            }
        }
    }

    private static void lowbit(Path out, List<Item> items, Map<String, String> meta, Method method)
            throws IOException {
        Safetensors s = new Safetensors();
        Map<String, String> m = new LinkedHashMap<>(meta);
        m.put("lowbit.format", LowbitCheckpoint.FORMAT + "/" + LowbitCheckpoint.VERSION);
        for (Item it : items) {
            if (!it.quantize()) {
                s.copy(it);
                continue;
            }
            String p = prefix(it.name());
            LowbitCheckpoint.Entry e = entry(it.result(), method.id);
            LowbitCheckpoint.tensors(p, e).forEach(s::add);
            m.putAll(LowbitCheckpoint.metadata(p, e));
        }
        s.write(out, m);
    }

    private static void gptq(Path out, Target target, List<Item> items, Map<String, String> meta, Method method)
            throws IOException {
        AffineSpec spec = target.spec();
        boolean descAct = false;
        boolean zeroZero = false;
        for (Item it : items) {
            if (!it.quantize()) {
                continue;
            }
            QuantResult r = it.result();
            if (!r.transform().isIdentity()) {
                throw CliException.failure(method.id + " returns an input transform (" + r.transform() + ") for "
                        + it.name() + ", which a GPTQ checkpoint cannot hold; use --format lowbit");
            }
            GroupwiseAffine g = r.affine();
            if (!g.outliers().isEmpty()) {
                throw CliException.failure(method.id + " keeps " + g.outliers().count() + " exact outliers in "
                        + it.name() + ", which a GPTQ checkpoint cannot hold; use --format lowbit");
            }
            descAct |= g.gIdx() != null;
            int[] z = g.zeros();
            if (z != null) {
                for (int v : z) {
                    zeroZero |= v == 0;
                }
            }
        }
        // v1 ("gptq", what AutoGPTQ loaders expect) stores z - 1 and cannot hold a zero point of 0
        GptqCheckpoint.Config cfg = new GptqCheckpoint.Config(spec.bits(),
                spec.granularity() == AffineSpec.Granularity.PER_OUTPUT_CHANNEL ? -1 : spec.groupSize(), descAct,
                spec.symmetric(), zeroZero ? GptqCheckpoint.Format.GPTQ_V2 : GptqCheckpoint.Format.GPTQ);
        Safetensors s = new Safetensors();
        for (Item it : items) {
            if (!it.quantize()) {
                s.copy(it);
                continue;
            }
            try {
                GptqCheckpoint.tensors(prefix(it.name()), it.result().affine(), cfg).forEach(s::add);
            } catch (IllegalArgumentException e) {
                throw CliException.failure(it.name() + ": " + e.getMessage(), e);
            }
        }
        s.write(out, meta);
        Path parent = out.toAbsolutePath().getParent();
        Files.write(parent.resolve("quantize_config.json"), cfg.toJson());
    }

    private static void gguf(BaseCommand cmd, Path out, Target target, List<Item> items, Map<String, String> meta)
            throws IOException {
        List<GgufTensorSpec> specs = new ArrayList<>();
        List<Item> written = new ArrayList<>();
        for (Item it : items) {
            if (it.name().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > GgufTensorSpec.MAX_NAME_BYTES) {
                throw CliException.failure("tensor name " + it.name() + " is longer than GGUF's "
                        + GgufTensorSpec.MAX_NAME_BYTES + " bytes");
            }
            GgmlType type;
            if (it.quantize()) {
                type = target.ggml();
            } else if (it.tensor() == null) {
                cmd.warn(it.name() + " (" + it.rawSpec().dtype() + ") left out: ggml has no such tensor type");
                continue;
            } else {
                try {
                    type = GgufWriter.plainType(it.tensor().dtype());
                } catch (IllegalArgumentException e) {
                    cmd.warn(it.name() + " left out: " + e.getMessage());
                    continue;
                }
            }
            specs.add(new GgufTensorSpec(it.name(), type, (it.tensor().shape())));
            written.add(it);
        }
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("general.name", GgufValue.ofString(meta.getOrDefault("lowbit.source", out.getFileName().toString())));
        m.put("lowbit.method", GgufValue.ofString(meta.get("lowbit.method")));
        try (GgufWriter w = GgufWriter.create(out, m, specs)) {
            for (Item it : written) {
                if (!it.quantize()) {
                    w.write(it.name(), it.tensor());
                } else if (it.result() == null) {
                    w.quantize(it.name(), it.tensor());
                } else {
                    w.write(it.name(), MemorySegment.ofArray(ggmlBytes(it, target.ggml())));
                }
            }
        }
    }

    private static byte[] ggmlBytes(Item it, GgmlType type) {
        QuantResult r = it.result();
        if (!r.transform().isIdentity()) {
            throw CliException.failure(r.report() == null ? "" : "the method returns an input transform ("
                    + r.transform() + ") for " + it.name() + ", which a ggml tensor cannot hold; write a "
                    + ".safetensors OUT (lowbit format) instead");
        }
        GroupwiseAffine g = r.affine();
        if (!g.outliers().isEmpty()) {
            throw CliException.failure("the method keeps " + g.outliers().count() + " exact outliers in " + it.name()
                    + ", which ggml blocks cannot hold; write a .safetensors OUT (lowbit format) instead");
        }
        try {
            return switch (type) {
                case Q4_0 -> GgmlTargets.toQ4_0(g);
                case Q4_1 -> GgmlTargets.toQ4_1(g);
                default -> GgmlTargets.toQ8_0(g);
            };
        } catch (IllegalArgumentException e) {
            throw CliException.failure(it.name() + ": " + e.getMessage(), e);
        }
    }
}

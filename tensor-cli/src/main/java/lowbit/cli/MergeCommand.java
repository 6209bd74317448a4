package lowbit.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import lowbit.nn.Linear;
import lowbit.nn.adapter.AdaptedLinear;
import lowbit.nn.adapter.Adapter;
import lowbit.nn.adapter.PeftFiles;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.io.SafetensorsEntry;
import lowbit.tensor.io.SafetensorsFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code lowbit merge BASE ADAPTER_DIR OUT}: applies a PEFT adapter to a base safetensors file. */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = {"Merges a PEFT adapter directory (adapter_config.json + adapter_model.safetensors: LoRA, "
                + "rsLoRA, DoRA, Bone, Bat, PaCA) into a base safetensors file: for every module path M the adapter "
                + "names, BASE's M.weight [out, in] becomes W + delta (LoRA: W + s*B*A) in its own dtype. Every "
                + "other tensor is copied unchanged."},
        exitCodeListHeading = "%nExit codes:%n", exitCodeList = {"0:success", "1:missing or malformed files, an "
                + "adapter module that BASE lacks, or shapes that do not match", "2:usage error"})
final class MergeCommand extends BaseCommand {
    @Parameters(index = "0", paramLabel = "BASE", description = "The base model's .safetensors file.")
    Path base;

    @Parameters(index = "1", paramLabel = "ADAPTER_DIR", description = "A PEFT adapter directory.")
    Path adapter;

    @Parameters(index = "2", paramLabel = "OUT", description = "Output .safetensors file.")
    Path out;

    @Override
    public Integer call() throws IOException {
        requireFile(base);
        requireDirectory(adapter);
        requireFile(adapter.resolve(PeftFiles.CONFIG_FILE));
        requireFile(adapter.resolve(PeftFiles.WEIGHTS_FILE));
        if (!extension(out).equals("safetensors")) {
            throw CliException.usage("OUT must be a .safetensors file, got " + out);
        }
        prepareOutput(out, base);
        if (InspectCommand.detect(base) != InspectCommand.Format.SAFETENSORS) {
            throw CliException.failure(base + ": merge needs a .safetensors base, not " + InspectCommand.detect(base));
        }
        long t0 = System.nanoTime();
        List<String> modules = PeftFiles.modules(adapter);
        try (SafetensorsFile f = SafetensorsFile.open(base)) {
            Map<String, AdaptedLinear> layers = new LinkedHashMap<>();
            for (String m : modules) {
                String w = m + ".weight";
                if (!f.contains(w)) {
                    throw CliException.failure("the adapter has module " + m + " but " + base + " has no tensor " + w);
                }
                SafetensorsEntry e = f.entry(w);
                boolean floaty = e.dtype().lowbit().map(DType::isComputeFloat).orElse(false);
                if (e.spec().dims().length != 2 || !floaty) {
                    throw CliException.failure(base + ": " + w + " is " + e.dtype() + " "
                            + java.util.Arrays.toString(e.spec().dims()) + ", expected an F32/F16/BF16 matrix [out, in]");
                }
                layers.put(m, AdaptedLinear.of(m, Linear.of(f.tensor(w), null)));
            }
            List<Adapter> loaded = PeftFiles.load(adapter, layers, "default");
            Outputs.Safetensors s = new Outputs.Safetensors();
            Progress p = Progress.of(this, "merge", layers.size());
            Map<String, Tensor> merged = new LinkedHashMap<>();
            for (Map.Entry<String, AdaptedLinear> e : layers.entrySet()) {
                Tensor src = f.tensor(e.getKey() + ".weight");
                merged.put(e.getKey() + ".weight", Tensor.ofFloats(src.dtype(), e.getValue().mergedWeights(),
                        src.shape()));
                p.step(e.getKey());
            }
            for (SafetensorsEntry e : f.entries()) {
                Tensor m = merged.get(e.name());
                if (m != null) {
                    s.add(e.name(), m);
                } else if (e.dtype().lowbit().isPresent()) {
                    s.add(e.name(), f.tensor(e.name()));
                } else {
                    s.copy(new QuantizeCommand.Item(e.name(), null, e.spec(), f.bytes(e.name()), false, null));
                }
            }
            Map<String, String> meta = new LinkedHashMap<>(f.metadata());
            meta.put("lowbit.merged_adapter", adapter.getFileName().toString());
            s.write(out, meta);
            String kinds = loaded.stream().map(a -> a.method() + " r" + a.rank()).distinct()
                    .reduce((a, b) -> a + ", " + b).orElse("");
            out().printf(Locale.ROOT, "wrote %s: merged %d adapter modules (%s) into %d tensors, %s, in %.1f s%n",
                    out, loaded.size(), kinds, f.entries().size(), bytes(out.toFile().length()),
                    (System.nanoTime() - t0) / 1e9);
        }
        return Main.EXIT_OK;
    }
}

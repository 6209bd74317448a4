package lowbit.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import lowbit.examples.minilm.LinearInputs;
import lowbit.examples.minilm.LinearPruning;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.nn.sparse.NmPattern;
import lowbit.quant.CalibrationStats;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.io.SafetensorsEntry;
import lowbit.tensor.io.SafetensorsFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lowbit prune IN OUT --pattern --criterion}: N:M or unstructured sparsity. */
@Command(name = "prune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Prunes weights to an N:M pattern (2:4, 4:8: N kept in every M consecutive inputs) or to a "
                + "fraction per output row (0.5), and writes them as dense safetensors (pruned weights are 0; same "
                + "dtype, names and other tensors as IN).",
            "Criteria: magnitude |w| (data-free); wanda |w|*||x_j||, ria (relative importance and activations), "
                + "sparsegpt (OBS weight updates with the Hessian) need calibration, i.e. the supported model as IN "
                + "('minilm' or its .onnx), which runs on --calib text."},
        exitCodeListHeading = "%nExit codes:%n", exitCodeList = {"0:success", "1:missing or malformed input, or a "
                + "pattern/criterion that does not fit it", "2:usage error"})
final class PruneCommand extends BaseCommand {
    @Parameters(index = "0", paramLabel = "IN", description = "'minilm', an all-MiniLM-L6-v2 .onnx, or a .safetensors file.")
    String in;

    @Parameters(index = "1", paramLabel = "OUT", description = "Output .safetensors file.")
    Path out;

    @Option(names = {"-p", "--pattern"}, paramLabel = "N:M|FRACTION", defaultValue = "2:4",
            description = "2:4 (default), 4:8, any N:M, or a fraction in [0, 1) pruned per output row.")
    String pattern;

    @Option(names = {"-c", "--criterion"}, paramLabel = "NAME", defaultValue = "magnitude",
            description = "magnitude (default), wanda, ria, sparsegpt.")
    String criterion;

    @Option(names = "--calib", paramLabel = "TEXTFILE",
            description = "Calibration text, one sentence per line (default: the built-in 136 sentences).")
    Path calib;

    @Option(names = "--sequential", description = "Calibrate transformer layer by transformer layer on the model "
            + "whose earlier layers are already pruned (the Wanda/SparseGPT scripts' way; default: one capture).")
    boolean sequential;

    @Option(names = "--include", paramLabel = "REGEX", defaultValue = ".*",
            description = "safetensors input: prune the 2-D tensors whose name matches (default: all).")
    Pattern include;

    @Option(names = "--exclude", paramLabel = "REGEX", description = "safetensors input: keep these unchanged.")
    Pattern exclude;

    @Override
    public Integer call() throws IOException {
        NmPattern nm = null;
        double fraction = 0;
        if (pattern.contains(":")) {
            try {
                nm = NmPattern.parse(pattern);
            } catch (IllegalArgumentException e) {
                throw CliException.usage("--pattern: " + e.getMessage());
            }
        } else {
            try {
                fraction = Double.parseDouble(pattern);
            } catch (NumberFormatException e) {
                throw CliException.usage("--pattern must be N:M (2:4, 4:8) or a fraction in [0, 1), got '" + pattern + "'");
            }
            if (!(fraction >= 0 && fraction < 1)) {
                throw CliException.usage("--pattern fraction must be in [0, 1), got " + pattern);
            }
        }
        String c = criterion.toLowerCase(Locale.ROOT);
        LinearPruning.Method method = switch (c) {
            case "magnitude" -> LinearPruning.Method.MAGNITUDE;
            case "wanda" -> LinearPruning.Method.WANDA;
            case "ria" -> LinearPruning.Method.RIA;
            case "sparsegpt" -> LinearPruning.Method.SPARSEGPT;
            default -> throw CliException.usage("unknown --criterion '" + criterion + "'; criteria: magnitude, wanda, "
                    + "ria, sparsegpt");
        };
        LinearPruning.Target target = nm != null ? LinearPruning.Target.nm(nm)
                : LinearPruning.Target.unstructured(fraction);
        boolean needsData = method != LinearPruning.Method.MAGNITUDE;
        if (!extension(out).equals("safetensors")) {
            throw CliException.usage("OUT must be a .safetensors file, got " + out);
        }
        boolean model = ModelInput.isModel(in);
        if (!model && needsData) {
            throw CliException.failure(c + " needs calibration activations, which lowbit can produce only for the "
                    + "supported model ('minilm' or its .onnx); for " + in + " use --criterion magnitude");
        }
        if (!model && calib != null) {
            throw CliException.usage("--calib runs the model, which needs the supported model as IN ('minilm' or its "
                    + ".onnx)");
        }
        prepareOutput(out, model ? null : Path.of(in));
        long t0 = System.nanoTime();
        Outputs.Safetensors s = new Outputs.Safetensors();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        long kept = 0;
        long total = 0;
        int pruned = 0;
        if (model) {
            ModelInput mi = ModelInput.load(in);
            meta.put("lowbit.source", mi.source);
            mi.otherTensors().forEach(s::add);
            Map<String, LinearWeight> w;
            if (sequential && needsData) {
                List<String> text = ModelInput.calibration(calib);
                err().printf("pruning transformer layer by transformer layer, each calibrated on %d sentences%n",
                        text.size());
                w = LinearPruning.sequential(mi.model, method, target, text);
            } else {
                LinearInputs inputs = null;
                if (needsData) {
                    List<String> text = ModelInput.calibration(calib);
                    err().printf("capturing the inputs of every Linear over %d sentences%n", text.size());
                    inputs = LinearInputs.capture(mi.model, text);
                }
                w = new LinkedHashMap<>();
                Progress p = Progress.of(this, "prune " + c, mi.linearNames().size());
                for (String n : mi.linearNames()) {
                    Linear l = mi.model.encoder().linear(n);
                    w.put(n, prune(n, l, method, target, LinearPruning.stats(inputs, n,
                            method == LinearPruning.Method.SPARSEGPT)));
                    p.step(n);
                }
            }
            for (String n : mi.linearNames()) {
                Linear l = mi.model.encoder().linear(n);
                float[] d = w.get(n).toFloats();
                s.add(ModelInput.weightName(n), Tensor.ofFloats(d, l.outFeatures(), l.inFeatures()));
                kept += count(d);
                total += d.length;
                pruned++;
            }
        } else {
            Path p = requireFile(Path.of(in));
            if (InspectCommand.detect(p) != InspectCommand.Format.SAFETENSORS) {
                throw CliException.failure(p + ": prune reads a .safetensors file or the supported model, not "
                        + InspectCommand.detect(p));
            }
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                meta.putAll(f.metadata());
                List<SafetensorsEntry> todo = new ArrayList<>();
                for (SafetensorsEntry e : f.entries()) {
                    long[] d = e.spec().dims();
                    boolean wanted = d.length == 2 && e.dtype().lowbit().map(DType::isComputeFloat).orElse(false)
                            && include.matcher(e.name()).matches() && (exclude == null
                            || !exclude.matcher(e.name()).matches());
                    if (wanted && nm != null && d[1] % nm.m() != 0) {
                        warn(e.name() + " kept as is: " + d[1] + " columns are not a multiple of M = " + nm.m());
                        wanted = false;
                    }
                    if (wanted) {
                        todo.add(e);
                    }
                }
                if (todo.isEmpty()) {
                    throw CliException.failure(p + ": no 2-D F32/F16/BF16 tensor matches --include " + include
                            + " and fits the pattern");
                }
                Progress pr = Progress.of(this, "prune " + c, todo.size());
                for (SafetensorsEntry e : f.entries()) {
                    if (!todo.contains(e)) {
                        if (e.dtype().lowbit().isPresent()) {
                            s.add(e.name(), f.tensor(e.name()));
                        } else {
                            s.copy(new QuantizeCommand.Item(e.name(), null, e.spec(), f.bytes(e.name()), false, null));
                        }
                        continue;
                    }
                    Tensor t = f.tensor(e.name());
                    int rows = (int) t.shape().dim(0);
                    int cols = (int) t.shape().dim(1);
                    float[] w = prune(e.name(), Linear.of(t, null), method, target, null).toFloats();
                    s.add(e.name(), Tensor.ofFloats(t.dtype(), w, t.shape()));
                    kept += count(w);
                    total += w.length;
                    pruned++;
                    pr.step(e.name());
                }
                meta.put("lowbit.pruning", pattern + " " + c);
                s.write(out, meta);
            }
            return report(pruned, kept, total, t0);
        }
        meta.put("lowbit.pruning", pattern + " " + c);
        s.write(out, meta);
        return report(pruned, kept, total, t0);
    }

    private int report(int pruned, long kept, long total, long t0) {
        out().printf(Locale.ROOT, "wrote %s: %d weights pruned (%s %s), %.2f %% of their entries are zero, %s, in "
                + "%.1f s%n", out, pruned, pattern, criterion, 100.0 * (total - kept) / Math.max(1, total),
                bytes(out.toFile().length()), (System.nanoTime() - t0) / 1e9);
        return Main.EXIT_OK;
    }

    private static long count(float[] w) {
        long n = 0;
        for (float v : w) {
            n += v != 0 ? 1 : 0;
        }
        return n;
    }

    /** One layer pruned (SparseGPT also updates the kept weights), with a failure naming the layer. */
    private static LinearWeight prune(String name, Linear l, LinearPruning.Method m, LinearPruning.Target t,
            CalibrationStats stats) {
        try {
            return LinearPruning.prune(l, m, t, stats);
        } catch (IllegalArgumentException e) {
            throw CliException.failure(name + ": " + e.getMessage(), e);
        }
    }
}

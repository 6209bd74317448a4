package lowbit.cli;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import lowbit.examples.minilm.SequentialQuantization;
import lowbit.nn.Linear;
import lowbit.quant.CalibrationStats;
import lowbit.quant.GgmlTargets;
import lowbit.quant.QuantResult;
import lowbit.quant.Quantizer;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.io.SafetensorsEntry;
import lowbit.tensor.io.SafetensorsFile;
import lowbit.tensor.io.SafetensorsSpec;
import lowbit.tensor.layout.AffineSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lowbit quantize IN OUT}: quantizes the Linear weights of a model file. */
@Command(name = "quantize", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Quantizes weights and writes GGUF, GPTQ-layout safetensors or lowbit's own safetensors.",
            "IN is the supported model ('minilm' = the embedded all-MiniLM-L6-v2, or an ONNX export of it: every "
                + "method, calibration runs the model on --calib text) or any .safetensors file (data-free methods "
                + "on every 2-D F32/F16/BF16 tensor matching --include).",
            "OUT: .gguf (--format q4_0|q4_1|q5_0|q5_1|q8_0|q2_k|q3_k|q4_k|q5_k|q6_k|f16|bf16|f32; rtn = ggml's "
                + "own reference encoder; other methods, or --group G (a multiple of 32, or 0 = per row), write "
                + "q4_0 (symmetric), q4_1 (asymmetric) or q8_0 blocks, a group's scale repeated over its blocks), "
                + "or .safetensors "
                + "(--format lowbit, the default: every layout and input transform, read back by "
                + "lowbit.tensor.io.LowbitCheckpoint; or --format gptq: AutoGPTQ's qweight/qzeros/scales/g_idx "
                + "plus quantize_config.json beside OUT). Other tensors are copied unchanged.",
            "Methods: rtn, clip, easyquant, adadim, fineq, hqq, d2quant, hadamard (data-free); gptq, awq, rsq "
                + "(calibration); gwq (needs --gradient)."},
        exitCodeListHeading = "%nExit codes:%n", exitCodeList = {"0:success", "1:missing or malformed input, or a "
                + "method/format that does not fit it", "2:usage error"})
final class QuantizeCommand extends BaseCommand {
    @Parameters(index = "0", paramLabel = "IN", description = "'minilm', an all-MiniLM-L6-v2 .onnx, or a .safetensors file.")
    String in;

    @Parameters(index = "1", paramLabel = "OUT", description = "Output file: .gguf or .safetensors.")
    Path out;

    @Option(names = {"-m", "--method"}, paramLabel = "METHOD", defaultValue = "rtn",
            description = "rtn (default), clip, easyquant, adadim, fineq, hqq, d2quant, hadamard, gptq, awq, gwq, rsq.")
    String method;

    @Option(names = {"-b", "--bits"}, paramLabel = "N", description = "Code width 2..8 (default 4; GPTQ files: 2, 3, 4, 8).")
    Integer bits;

    @Option(names = {"-g", "--group"}, paramLabel = "G",
            description = "Group size along the input dimension (default 128; 0 = one scale per output channel).")
    Integer group;

    @Option(names = "--sym", description = "Symmetric grid (zero point 2^(bits-1)); default asymmetric.")
    boolean sym;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT",
            description = "lowbit or gptq for .safetensors; a ggml type for .gguf (default q4_0 for 4 bits, q8_0 for 8, "
                    + "q5_0 for 5).")
    String format;

    @Option(names = "--scale-type", paramLabel = "TYPE", defaultValue = "f16",
            description = "Scale storage of lowbit/GPTQ layouts: f16 (default) or f32.")
    String scaleType;

    @Option(names = "--calib", paramLabel = "TEXTFILE",
            description = "Calibration text, one sentence per line (default: the built-in 136 sentences).")
    Path calib;

    @Option(names = "--sequential", description = "Calibrate each layer on the outputs of the already quantized "
            + "layers before it (24 passes; default: all layers from the fp32 model in one pass).")
    boolean sequential;

    @Option(names = "--gradient", paramLabel = "FILE",
            description = "GWQ: safetensors with each weight's gradient dL/dW under the weight's name.")
    Path gradient;

    @Option(names = "--include", paramLabel = "REGEX", defaultValue = ".*",
            description = "safetensors input: quantize the 2-D tensors whose name matches (default: all).")
    Pattern include;

    @Option(names = "--exclude", paramLabel = "REGEX", description = "safetensors input: keep these unchanged.")
    Pattern exclude;

    /** What the output format needs of each quantized weight. */
    record Target(String kind, GgmlType ggml, AffineSpec spec) {
        boolean gguf() {
            return kind.equals("gguf");
        }

        /** GGUF written by ggml's own reference encoder (no lowbit quantizer). */
        boolean reference() {
            return gguf() && spec == null;
        }
    }

    /** A tensor of the output: copied, or quantized (result null: ggml's encoder quantizes it while writing). */
    record Item(String name, Tensor tensor, SafetensorsSpec rawSpec, MemorySegment rawBytes, boolean quantize,
            QuantResult result) {
        /** A tensor copied or quantized from {@code tensor}. */
        static Item of(String name, Tensor tensor, boolean quantize) {
            return new Item(name, tensor, null, null, quantize, null);
        }

        Item withResult(QuantResult r) {
            return new Item(name, tensor, rawSpec, rawBytes, quantize, r);
        }
    }

    @Override
    public Integer call() throws IOException {
        Method m = Method.parse(method);
        Target target = target(m);
        boolean model = ModelInput.isModel(in);
        if (!model) {
            if (calib != null) {
                throw CliException.usage("--calib runs the model, which needs the supported model as IN ('minilm' or "
                        + "its .onnx); " + in + " is a plain tensor file");
            }
            if (m.needsCalibration) {
                throw CliException.failure(m.id + " needs calibration activations, which lowbit can produce only for "
                        + "the supported model ('minilm' or its .onnx); for " + in + " use a data-free method (rtn, "
                        + "clip, easyquant, adadim, fineq, hqq, d2quant, hadamard, or gwq with --gradient)");
            }
        }
        if (m == Method.GWQ && gradient == null) {
            throw CliException.usage("gwq keeps the weights of largest |gradient| exact: give --gradient FILE");
        }
        prepareOutput(out, model ? null : Path.of(in));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("lowbit.method", m.id);
        long t0 = System.nanoTime();
        List<Item> items;
        try (Gradients grads = Gradients.open(gradient)) {
            if (model) {
                ModelInput mi = ModelInput.load(in);
                meta.put("lowbit.source", mi.source);
                items = quantizeModel(mi, m, target, grads);
            } else {
                Path p = requireFile(Path.of(in));
                if (InspectCommand.detect(p) != InspectCommand.Format.SAFETENSORS) {
                    throw CliException.failure(p + ": quantize reads a .safetensors file or the supported model "
                            + "('minilm' or its .onnx), not " + InspectCommand.detect(p));
                }
                try (SafetensorsFile f = SafetensorsFile.open(p)) {
                    meta.putAll(f.metadata());
                    meta.put("lowbit.method", m.id);
                    meta.put("lowbit.source", p.getFileName().toString());
                    items = quantizeFile(f, m, target, grads);
                    Outputs.write(this, out, target, items, meta, m);
                }
                return summary(items, t0);
            }
        }
        Outputs.write(this, out, target, items, meta, m);
        return summary(items, t0);
    }

    private int summary(List<Item> items, long t0) {
        int q = 0;
        for (Item it : items) {
            q += it.quantize() ? 1 : 0;
        }
        out().printf(Locale.ROOT, "wrote %s: %d weights quantized, %d tensors copied, %s, in %.1f s%n", out, q,
                items.size() - q, bytes(out.toFile().length()), (System.nanoTime() - t0) / 1e9);
        return Main.EXIT_OK;
    }

    /** The output kind and each weight's layout, from OUT's extension, --format, --bits, --group, --sym. */
    Target target(Method m) {
        String ext = extension(out);
        DType st = switch (scaleType.toLowerCase(Locale.ROOT)) {
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            default -> throw CliException.usage("--scale-type must be f16 or f32, got '" + scaleType + "'");
        };
        if (bits != null && (bits < AffineSpec.MIN_BITS || bits > AffineSpec.MAX_BITS)) {
            throw CliException.usage("--bits must be 2..8, got " + bits);
        }
        if (group != null && group < 0) {
            throw CliException.usage("--group must be >= 1, or 0 for one scale per output channel; got " + group);
        }
        if (ext.equals("gguf")) {
            String f = format != null ? format.toLowerCase(Locale.ROOT) : bits == null || bits == 4 ? "q4_0"
                    : bits == 8 ? "q8_0" : bits == 5 ? "q5_0" : null;
            if (f == null) {
                throw CliException.usage("GGUF has no " + bits + "-bit type like q4_0; choose --format (q2_k, q3_k, "
                        + "q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k, f16, bf16, f32)");
            }
            GgmlType t;
            try {
                t = GgmlType.valueOf(f.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw CliException.usage("--format " + format + " is not a ggml type (q4_0, q4_1, q5_0, q5_1, q8_0, "
                        + "q2_k, q3_k, q4_k, q5_k, q6_k, f16, bf16, f32)");
            }
            if (t == GgmlType.Q8_1 || t == GgmlType.Q8_K || t.blockSize() == 1 && t != GgmlType.F32
                    && t != GgmlType.F16 && t != GgmlType.BF16) {
                throw CliException.usage("--format " + f + " is not a weight type lowbit writes (q4_0, q4_1, q5_0, "
                        + "q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, f16, bf16, f32)");
            }
            int tb = switch (t) {
                case Q4_0, Q4_1, Q4_K -> 4;
                case Q5_0, Q5_1, Q5_K -> 5;
                case Q8_0 -> 8;
                case Q2_K -> 2;
                case Q3_K -> 3;
                case Q6_K -> 6;
                default -> 0;
            };
            if (bits != null && bits != tb) {
                throw CliException.usage("--bits " + bits + " does not fit ggml " + f + " (" + (tb == 0
                        ? "no quantization" : tb + " bits") + "); drop --bits or choose another --format");
            }
            boolean ownGroups = group != null && group != t.blockSize();
            if (m == Method.RTN && !ownGroups) {
                return new Target("gguf", t, null); // ggml's reference encoder, block by block
            }
            // a lowbit quantizer chooses the grid; the blocks repeat the scale of a group that spans several of them
            boolean symmetricType = switch (t) {
                case Q4_0, Q8_0 -> true;
                case Q4_1 -> false;
                default -> throw CliException.usage((m == Method.RTN ? "--group " + group : "--method " + m.id)
                        + " needs lowbit's quantizer, which writes ggml q4_0, q4_1 or q8_0 blocks; " + f + " is "
                        + "written only by ggml's own encoder (--method rtn without --group)");
            };
            if (sym && !symmetricType) {
                throw CliException.usage("ggml " + f + " is asymmetric (d*q + m); drop --sym or use --format q4_0");
            }
            int g = group == null ? t.blockSize() : group;
            AffineSpec spec = (g == 0 ? AffineSpec.perOutputChannel(tb, symmetricType)
                    : AffineSpec.groupsAlongIn(tb, g, symmetricType)).withScaleType(DType.F16);
            String why = GgmlTargets.misfit(spec, tb, symmetricType, "ggml " + f);
            if (why != null) {
                throw CliException.usage("--group " + g + ": " + why);
            }
            return new Target("gguf", t, spec);
        }
        if (!ext.equals("safetensors")) {
            throw CliException.usage("OUT must end with .safetensors or .gguf, got " + out);
        }
        String f = format == null ? "lowbit" : format.toLowerCase(Locale.ROOT);
        if (!f.equals("lowbit") && !f.equals("gptq")) {
            throw CliException.usage("--format " + format + " does not go in a .safetensors file (lowbit or gptq; "
                    + "ggml types need a .gguf OUT)");
        }
        int b = bits == null ? 4 : bits;
        if (f.equals("gptq") && b != 2 && b != 3 && b != 4 && b != 8) {
            throw CliException.usage("GPTQ files hold 2, 3, 4 or 8 bits, got --bits " + b + " (use --format lowbit)");
        }
        int g = group == null ? 128 : group;
        AffineSpec spec = (g == 0 ? AffineSpec.perOutputChannel(b, sym) : AffineSpec.groupsAlongIn(b, g, sym))
                .withScaleType(st);
        return new Target(f, null, spec);
    }

    /** Whether a [rows, cols] weight fits the target; if not, why. */
    static String misfit(Target t, long rows, long cols) {
        if (t.ggml() != null && cols % t.ggml().blockSize() != 0) {
            return cols + " columns are not a multiple of " + t.ggml() + "'s block of " + t.ggml().blockSize();
        }
        if (t.spec() != null && t.spec().granularity() == AffineSpec.Granularity.GROUP_ALONG_IN
                && cols % t.spec().groupSize() != 0) {
            return cols + " columns are not a multiple of the group size " + t.spec().groupSize();
        }
        if (t.kind().equals("gptq") && (cols % 32 != 0 || rows * t.spec().bits() % 32 != 0)) {
            return "GPTQ packing needs in % 32 == 0 and out*bits % 32 == 0, the weight is [" + rows + ", " + cols + "]";
        }
        return null;
    }

    private List<Item> quantizeModel(ModelInput mi, Method m, Target target, Gradients grads) throws IOException {
        List<Item> items = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : mi.otherTensors().entrySet()) {
            items.add(Item.of(e.getKey(), e.getValue(), false));
        }
        List<String> names = mi.linearNames();
        for (String n : names) { // before the calibration pass, not after it
            Linear l = mi.model.encoder().linear(n);
            String misfit = misfit(target, l.outFeatures(), l.inFeatures());
            if (misfit != null) {
                throw CliException.failure(n + ": " + misfit);
            }
        }
        Map<String, float[]> gradient = new LinkedHashMap<>();
        for (String n : names) {
            Linear l = mi.model.encoder().linear(n);
            gradient.put(n, grads.get(ModelInput.weightName(n), l.outFeatures(), l.inFeatures()));
        }
        Map<String, QuantResult> results = new LinkedHashMap<>();
        String ggml = target.ggml() == null ? null : target.ggml().name().toLowerCase(Locale.ROOT);
        boolean calibrated = m.usesCalibration(true) || calib != null;
        Progress p = Progress.of(this, "quantize " + m.id, names.size());
        if (target.reference()) {
            // ggml's encoder runs while writing
        } else if (calibrated) {
            List<String> text = ModelInput.calibration(calib);
            err().printf("calibrating on %d sentences (%s order)%n", text.size(), sequential ? "sequential" : "parallel");
            SequentialQuantization.Result r = SequentialQuantization.run(mi.model, text,
                    n -> counted(m.quantizer(ggml, gradient.get(n), true), p, n), target.spec(),
                    sequential ? SequentialQuantization.Order.SEQUENTIAL : SequentialQuantization.Order.PARALLEL);
            results.putAll(r.results());
        } else {
            for (String n : names) {
                Linear l = mi.model.encoder().linear(n);
                results.put(n, m.quantizer(ggml, gradient.get(n), false).quantize(l.weight().toFloats(),
                        l.outFeatures(), l.inFeatures(), target.spec(), null));
                p.step(n);
            }
        }
        for (String n : names) {
            Linear l = mi.model.encoder().linear(n);
            Tensor w = Tensor.ofFloats(l.weight().toFloats(), l.outFeatures(), l.inFeatures());
            items.add(Item.of(ModelInput.weightName(n), w, true).withResult(results.get(n)));
        }
        return items;
    }

    /** A quantizer that reports each finished layer to the progress line. */
    private static Quantizer counted(Quantizer q, Progress p, String name) {
        return new Quantizer() {
            @Override
            public String name() {
                return q.name();
            }

            @Override
            public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
                QuantResult r = q.quantize(w, rows, cols, spec, stats);
                p.step(name);
                return r;
            }
        };
    }

    private List<Item> quantizeFile(SafetensorsFile f, Method m, Target target, Gradients grads) {
        List<Item> plan = new ArrayList<>();
        int todo = 0;
        int skipped = 0;
        for (SafetensorsEntry e : f.entries()) {
            long[] d = e.spec().dims();
            boolean floaty = e.dtype().lowbit().map(DType::isComputeFloat).orElse(false);
            boolean wanted = d.length == 2 && floaty && include.matcher(e.name()).matches()
                    && (exclude == null || !exclude.matcher(e.name()).matches());
            String misfit = wanted ? misfit(target, d[0], d[1]) : null;
            if (wanted && misfit != null) {
                warn(e.name() + " kept as is: " + misfit);
                skipped++;
                wanted = false;
            }
            if (wanted && d[0] * d[1] > Integer.MAX_VALUE - 8) {
                warn(e.name() + " kept as is: " + d[0] + " x " + d[1] + " is too large for one quantizer call");
                wanted = false;
            }
            Tensor t = e.dtype().lowbit().isPresent() ? f.tensor(e.name()) : null;
            plan.add(t != null ? Item.of(e.name(), t, wanted)
                    : new Item(e.name(), null, e.spec(), f.bytes(e.name()), false, null));
            todo += wanted ? 1 : 0;
        }
        if (todo == 0) {
            throw CliException.failure(f.source() + ": no 2-D F32/F16/BF16 tensor matches --include " + include
                    + (exclude == null ? "" : " and not --exclude " + exclude) + (skipped > 0 ? " and fits the layout ("
                    + skipped + " did not)" : ""));
        }
        if (target.reference()) {
            return plan;
        }
        String ggml = target.ggml() == null ? null : target.ggml().name().toLowerCase(Locale.ROOT);
        Progress p = Progress.of(this, "quantize " + m.id, todo);
        List<Item> items = new ArrayList<>();
        for (Item it : plan) {
            if (!it.quantize()) {
                items.add(it);
                continue;
            }
            Tensor t = it.tensor();
            int rows = (int) t.shape().dim(0);
            int cols = (int) t.shape().dim(1);
            float[] g = grads.get(it.name(), rows, cols);
            try {
                items.add(it.withResult(m.quantizer(ggml, g, false).quantize(t, target.spec(), null)));
            } catch (IllegalArgumentException ex) {
                throw CliException.failure(it.name() + ": " + ex.getMessage(), ex);
            }
            p.step(it.name());
        }
        return items;
    }
}

package lowbit.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import lowbit.examples.minilm.Corpus;
import lowbit.examples.minilm.EmbeddingEvaluation;
import lowbit.examples.minilm.LinearInputs;
import lowbit.examples.minilm.LinearPruning;
import lowbit.examples.minilm.MiniLm;
import lowbit.examples.minilm.TransformedWeight;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.quant.CalibrationStats;
import lowbit.quant.QuantResult;
import lowbit.quant.Quantizer;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GgmlMatrix;
import lowbit.tensor.layout.QuantizedMatrix;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.VectorizationProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lowbit eval}: the quality report on the embedded all-MiniLM-L6-v2. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The real-model report: all-MiniLM-L6-v2 (embedded) with all 36 Linear weights quantized by "
                + "each method x bits x group, scored by the mean (and min) cosine of its sentence embeddings to the "
                + "fp32 model's over 132 evaluation sentences, with the size of the weights and the embedding "
                + "throughput (sentences/s, and as a ratio to fp32 measured in the same run).",
            "Prints the table as Markdown and writes it, with a PNG chart of cosine against bits per weight, to "
                + "--out. Calibration methods (gptq, awq, rsq) use the 136 built-in calibration sentences "
                + "(disjoint from the evaluation ones); --calib-all also gives them to the data-free methods."},
        exitCodeListHeading = "%nExit codes:%n", exitCodeList = {"0:success", "1:failure", "2:usage error"})
final class EvalCommand extends BaseCommand {
    /** The default methods: the data-free baseline and best, and the two calibrated classics. */
    static final String DEFAULT_METHODS = "rtn,clip,hqq,gptq,awq";

    @Option(names = {"-m", "--methods"}, paramLabel = "LIST", defaultValue = DEFAULT_METHODS,
            description = "Comma-separated methods (default ${DEFAULT-VALUE}; any of rtn, clip, easyquant, adadim, "
                    + "fineq, hqq, d2quant, hadamard, gptq, awq, rsq).")
    String methods;

    @Option(names = {"-b", "--bits"}, paramLabel = "LIST", defaultValue = "4,3",
            description = "Comma-separated code widths (default ${DEFAULT-VALUE}).")
    String bitsList;

    @Option(names = {"-g", "--groups"}, paramLabel = "LIST", defaultValue = "128,32",
            description = "Comma-separated group sizes along in; 0 = per output channel (default ${DEFAULT-VALUE}).")
    String groupsList;

    @Option(names = "--ggml", paramLabel = "LIST", defaultValue = "q8_0,q4_0",
            description = "ggml types to add, encoded by ggml's reference encoder (default ${DEFAULT-VALUE}; 'none' "
                    + "for none; MiniLM's 384-wide rows rule out the 256-blocks of the k-quants).")
    String ggmlList;

    @Option(names = "--sym", description = "Symmetric grids (default asymmetric).")
    boolean sym;

    @Option(names = "--sentences", paramLabel = "N", description = "Score on the first N evaluation sentences only.")
    Integer sentences;

    @Option(names = "--calib-sentences", paramLabel = "N", description = "Calibrate on the first N sentences only.")
    Integer calibSentences;

    @Option(names = "--calib-all", description = "Give the calibration statistics to every method (clip, hqq, ... "
            + "then weight their errors by the activations).")
    boolean calibAll;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", defaultValue = "lowbit-eval",
            description = "Where eval.md and eval.png go (default ./${DEFAULT-VALUE}).")
    Path outDir;

    @Option(names = "--no-chart", description = "Do not draw the PNG.")
    boolean noChart;

    /** Alternating fp32/quantized timing rounds per row (the best of each is kept). */
    static final int TIMED_ROUNDS = 3;

    /** One row of the report. */
    record Row(String method, int bits, int group, String layout, double mean, double min, long linearBytes,
            long modelBytes, double bitsPerWeight, double sentencesPerSecond, double speedup, double quantizeSeconds) {
    }

    @Override
    public Integer call() throws IOException {
        List<Method> ms = Method.parseList(methods);
        for (Method m : ms) {
            if (m == Method.GWQ) {
                throw CliException.usage("gwq needs per-weight gradients, which eval does not compute; use quantize "
                        + "--method gwq --gradient FILE");
            }
        }
        List<Integer> bits = ints(bitsList, "--bits");
        for (int b : bits) {
            if (b < AffineSpec.MIN_BITS || b > AffineSpec.MAX_BITS) {
                throw CliException.usage("--bits entries must be 2..8, got " + b);
            }
        }
        List<Integer> groups = ints(groupsList, "--groups");
        for (int g : groups) {
            if (g < 0 || g > 0 && 384 % g != 0) {
                throw CliException.usage("--groups entries must divide MiniLM's widths 384 and 1536 (e.g. 32, 64, "
                        + "128), or be 0 for per output channel; got " + g);
            }
        }
        List<GgmlType> ggml = new ArrayList<>();
        if (!ggmlList.equalsIgnoreCase("none")) {
            for (String s : ggmlList.split(",")) {
                if (s.isBlank()) {
                    continue;
                }
                GgmlType t;
                try {
                    t = GgmlType.valueOf(s.strip().toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw CliException.usage("--ggml: '" + s + "' is not a ggml type (q4_0, q4_1, q5_0, q5_1, q8_0)");
                }
                if (t.blockSize() == 1 || 384 % t.blockSize() != 0 || t == GgmlType.Q8_1 || t == GgmlType.Q8_K) {
                    throw CliException.usage("--ggml " + s + ": MiniLM's 384-wide rows need a weight type with blocks "
                            + "of 32 (q4_0, q4_1, q5_0, q5_1, q8_0)");
                }
                ggml.add(t);
            }
        }
        if (sentences != null && sentences < 1 || calibSentences != null && calibSentences < 1) {
            throw CliException.usage("--sentences and --calib-sentences must be >= 1");
        }
        Files.createDirectories(outDir);

        long t0 = System.nanoTime();
        err().println("loading all-MiniLM-L6-v2 (embedded) ...");
        ModelInput mi = ModelInput.load(ModelInput.EMBEDDED);
        long otherBytes = 0;
        for (Tensor t : mi.otherTensors().values()) {
            otherBytes += t.byteSize();
        }
        List<String> evalText = limit(Corpus.evaluation(), sentences);
        List<String> calibText = limit(Corpus.calibration(), calibSentences);
        EmbeddingEvaluation eval = new EmbeddingEvaluation(mi.model, evalText);
        List<String> names = mi.linearNames();
        long params = 0;
        long fp32Bytes = 0;
        for (String n : names) {
            Linear l = mi.model.encoder().linear(n);
            params += (long) l.outFeatures() * l.inFeatures();
            fp32Bytes += 4L * l.outFeatures() * l.inFeatures();
        }
        Map<String, CalibrationStats> stats = null;
        boolean anyCalibrated = calibAll || ms.stream().anyMatch(m -> m.needsCalibration);
        if (anyCalibrated) {
            err().printf("calibration: inputs of every Linear over %d sentences%n", calibText.size());
            LinearInputs inputs = LinearInputs.capture(mi.model, calibText);
            stats = new LinkedHashMap<>();
            for (String n : names) {
                stats.put(n, LinearPruning.stats(inputs, n, true)); // H = 2XᵀX/N by the float GEMM
            }
        }

        List<Row> rows = new ArrayList<>();
        int total = 1 + ggml.size() + ms.size() * bits.size() * groups.size();
        Progress p = Progress.of(this, "eval", total);
        double fp32Speed = timedScore(eval, Map.of())[2];
        rows.add(new Row("fp32", 32, 0, "F32", 1, 1, fp32Bytes, fp32Bytes + otherBytes, 32, fp32Speed, 1, 0));
        p.step("fp32");
        for (GgmlType t : ggml) {
            long q0 = System.nanoTime();
            Map<String, LinearWeight> w = new LinkedHashMap<>();
            long size = 0;
            for (String n : names) {
                Linear l = mi.model.encoder().linear(n);
                GgmlMatrix g = GgmlMatrix.encode(l.weight().toFloats(), l.outFeatures(), l.inFeatures(), t);
                size += g.byteSize();
                w.put(n, LinearWeight.of(g));
            }
            double qs = (System.nanoTime() - q0) / 1e9;
            double[] s = timedScore(eval, w);
            String id = t.name().toLowerCase(Locale.ROOT);
            rows.add(new Row("ggml " + id, 0, t.blockSize(), id, s[0], s[1], size, size + otherBytes,
                    8.0 * size / params, s[2], s[3], qs));
            p.step("ggml " + id);
        }
        for (Method m : ms) {
            for (int b : bits) {
                for (int g : groups) {
                    AffineSpec spec = (g == 0 ? AffineSpec.perOutputChannel(b, sym) : AffineSpec.groupsAlongIn(b, g, sym))
                            .withScaleType(DType.F16);
                    boolean useStats = m.needsCalibration || calibAll;
                    long q0 = System.nanoTime();
                    Map<String, LinearWeight> w = new LinkedHashMap<>();
                    long size = 0;
                    for (String n : names) {
                        Linear l = mi.model.encoder().linear(n);
                        Quantizer q = m.quantizer(null, null, useStats);
                        QuantResult r;
                        try {
                            r = q.quantize(l.weight().toFloats(), l.outFeatures(), l.inFeatures(), spec,
                                    useStats ? stats.get(n) : null);
                        } catch (IllegalArgumentException e) {
                            throw CliException.failure(m.id + " " + spec.describe() + " on " + n + ": " + e.getMessage(), e);
                        }
                        size += sizeOf(r);
                        w.put(n, TransformedWeight.of(r));
                    }
                    double qs = (System.nanoTime() - q0) / 1e9;
                    double[] s = timedScore(eval, w);
                    rows.add(new Row(m.id, b, g, spec.describe(), s[0], s[1], size, size + otherBytes,
                            8.0 * size / params, s[2], s[3], qs));
                    p.step(m.id + " " + b + "-bit g" + g);
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        String md = EvalReport.markdown(rows, evalText.size(), calibText.size(), anyCalibrated, sym, seconds);
        out().print(md);
        Path mdFile = outDir.resolve("eval.md");
        Files.writeString(mdFile, md);
        String files = mdFile.toString();
        if (!noChart) {
            Path png = outDir.resolve("eval.png");
            EvalReport.chart(rows, png);
            files += " and " + png;
        }
        out().printf(Locale.ROOT, "%nwrote %s (%.0f s)%n", files, seconds);
        return Main.EXIT_OK;
    }

    /** Bytes of a result: the layout plus its transform's vectors (m, c) in F32. */
    static long sizeOf(QuantResult r) {
        QuantizedMatrix m = r.matrix();
        long n = m.byteSize();
        if (r.transform().channelMultiplier() != null) {
            n += 4L * m.cols();
        }
        if (r.transform().outputBias() != null) {
            n += 4L * m.rows();
        }
        return n;
    }

    /**
     * {mean cos, min cos, sentences/s, speed relative to fp32}: the score over all evaluation sentences, then the
     * throughput on one batch of them, timed three times alternately with the fp32 model (best of each), so that
     * the ratio compares runs made under the same machine load.
     */
    private static double[] timedScore(EmbeddingEvaluation eval, Map<String, LinearWeight> w) {
        EmbeddingEvaluation.Score s = eval.score(w);
        MiniLm fp32 = eval.reference();
        MiniLm q = fp32.withWeights(w);
        List<String> batch = eval.sentences().subList(0, Math.min(MiniLm.BATCH, eval.sentences().size()));
        double tf = Double.MAX_VALUE;
        double tq = Double.MAX_VALUE;
        for (int i = 0; i < TIMED_ROUNDS; i++) {
            long a = System.nanoTime();
            fp32.embed(batch);
            long b = System.nanoTime();
            q.embed(batch);
            long c = System.nanoTime();
            tf = Math.min(tf, (b - a) / 1e9);
            tq = Math.min(tq, (c - b) / 1e9);
        }
        return new double[] {s.mean(), s.min(), batch.size() / tq, tf / tq};
    }

    private static List<String> limit(List<String> l, Integer n) {
        return n == null || n >= l.size() ? l : l.subList(0, n);
    }

    private static List<Integer> ints(String csv, String option) {
        List<Integer> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            if (s.isBlank()) {
                continue;
            }
            try {
                out.add(Integer.parseInt(s.strip()));
            } catch (NumberFormatException e) {
                throw CliException.usage(option + " must be a comma-separated list of integers, got '" + csv + "'");
            }
        }
        if (out.isEmpty()) {
            throw CliException.usage(option + " is empty");
        }
        return out;
    }

    /** A line about the machine, for the report. */
    static String machine() {
        VectorizationProvider v = VectorizationProvider.get();
        double load = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return String.format(Locale.ROOT, "%d cores, %d threads, Java %s, kernels %s %d-bit, load average %.1f",
                Runtime.getRuntime().availableProcessors(), Parallel.parallelism(), Runtime.version(), v.name(),
                v.vectorBitSize(), load);
    }
}

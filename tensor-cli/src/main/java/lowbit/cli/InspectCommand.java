package lowbit.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import lowbit.examples.minilm.OnnxGraph;
import lowbit.tensor.io.GgufFile;
import lowbit.tensor.io.GgufTensorInfo;
import lowbit.tensor.io.GgufValue;
import lowbit.tensor.io.LowbitCheckpoint;
import lowbit.tensor.io.SafetensorsEntry;
import lowbit.tensor.io.SafetensorsFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lowbit inspect FILE}: what a safetensors, GGUF or ONNX file holds. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Lists the tensors of a safetensors, GGUF or ONNX file: name, dtype (or ggml type), shape, "
                + "size, and the layout of quantized weights (lowbit, GPTQ, AWQ, ggml blocks); then the metadata.",
            "The format is recognised by the file's first bytes, not its name."},
        exitCodeListHeading = "%nExit codes:%n", exitCodeList = {"0:success", "1:missing, unreadable or malformed "
                + "file", "2:usage error"})
final class InspectCommand extends BaseCommand {
    @Parameters(paramLabel = "FILE", description = "A .safetensors, .gguf or .onnx file.")
    Path file;

    @Option(names = "--filter", paramLabel = "REGEX", description = "Only tensors whose name (ONNX: or role) contains a match.")
    Pattern filter;

    @Option(names = "--no-metadata", description = "Do not print the metadata.")
    boolean noMetadata;

    /** The formats {@link #detect} recognises. */
    enum Format { SAFETENSORS, GGUF, ONNX }

    @Override
    public Integer call() throws IOException {
        requireFile(file);
        switch (detect(file)) {
            case GGUF -> gguf();
            case SAFETENSORS -> safetensors();
            case ONNX -> onnx();
        }
        return Main.EXIT_OK;
    }

    /**
     * The file's format by its first bytes: "GGUF" magic; a safetensors header (u64 length, then '{'); else ONNX for
     * an .onnx name.
     */
    static Format detect(Path file) throws IOException {
        byte[] head = new byte[9];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (n >= 4 && head[0] == 'G' && head[1] == 'G' && head[2] == 'U' && head[3] == 'F') {
            return Format.GGUF;
        }
        if (n == 9 && head[8] == '{') {
            return Format.SAFETENSORS;
        }
        if (extension(file).equals("onnx")) {
            return Format.ONNX;
        }
        String ext = extension(file);
        if (ext.equals("safetensors") || ext.equals("gguf")) {
            throw CliException.failure(file + ": not a " + ext + " file (" + n + " bytes"
                    + (n == 0 ? "" : ", starting " + hex(head, n)) + ")");
        }
        throw CliException.failure(file + ": not a safetensors, GGUF or ONNX file (starts " + hex(head, n) + ")");
    }

    private static String hex(byte[] b, int n) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(n, 8); i++) {
            s.append(String.format("%02x", b[i] & 0xFF));
        }
        return s.toString();
    }

    private boolean shown(String name) {
        return filter == null || filter.matcher(name).find();
    }

    private void gguf() throws IOException {
        try (GgufFile g = GgufFile.open(file)) {
            List<String[]> rows = new ArrayList<>();
            long total = 0;
            Map<String, Integer> types = new TreeMap<>();
            for (GgufTensorInfo t : g.tensors()) {
                total += t.byteSize();
                types.merge(t.type().name(), 1, Integer::sum);
                if (shown(t.name())) {
                    rows.add(new String[] {t.name(), t.type().name(), Arrays.toString(t.shape().dims()),
                        bytes(t.byteSize()), layout(t)});
                }
            }
            out().printf("%s: GGUF v%d, %d tensors, %s of tensor data (alignment %d), types %s%n", file, g.version(),
                    g.tensors().size(), bytes(total), g.alignment(), types);
            table(new String[] {"tensor", "type", "shape", "size", "layout"}, rows);
            if (!noMetadata) {
                out().printf("%nmetadata (%d keys):%n", g.metadata().size());
                for (Map.Entry<String, GgufValue> e : g.metadata().entrySet()) {
                    out().printf("  %s = %s%n", e.getKey(), e.getValue());
                }
            }
        }
    }

    private static String layout(GgufTensorInfo t) {
        int bs = t.type().blockSize();
        if (bs == 1) {
            return "plain";
        }
        double bpw = 8.0 * t.type().blockBytes() / bs;
        return String.format(java.util.Locale.ROOT, "ggml blocks of %d, %.2f bits/weight", bs, bpw);
    }

    private void safetensors() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            List<String> quantized = LowbitCheckpoint.prefixes(f);
            List<String[]> rows = new ArrayList<>();
            long total = 0;
            Map<String, Integer> dtypes = new TreeMap<>();
            for (SafetensorsEntry e : f.entries()) {
                total += e.byteSize();
                dtypes.merge(e.dtype().name(), 1, Integer::sum);
                if (shown(e.name())) {
                    rows.add(new String[] {e.name(), e.dtype().name(), Arrays.toString(e.spec().dims()),
                        bytes(e.byteSize()), layout(f, e.name(), quantized)});
                }
            }
            out().printf("%s: safetensors, %d tensors, %s of tensor data, dtypes %s%n", file, f.entries().size(),
                    bytes(total), dtypes);
            if (!quantized.isEmpty()) {
                out().printf("lowbit-quantized weights: %d%n", quantized.size());
                for (String p : quantized) {
                    if (shown(p)) {
                        LowbitCheckpoint.Entry q = LowbitCheckpoint.read(f, p);
                        out().printf("  %s: %s [%d, %d]%s%s, %s%n", p, q.matrix().describe(), q.matrix().rows(),
                                q.matrix().cols(), q.method() == null ? "" : " by " + q.method(),
                                transform(q), bytes(q.matrix().byteSize()));
                    }
                }
            }
            table(new String[] {"tensor", "dtype", "shape", "size", "layout"}, rows);
            if (!noMetadata && !f.metadata().isEmpty()) {
                out().printf("%nmetadata (%d keys):%n", f.metadata().size());
                if (!quantized.isEmpty()) {
                    out().printf("  (%d %s* entries: the layouts listed above)%n", quantized.size(),
                            LowbitCheckpoint.METADATA_PREFIX);
                }
                for (Map.Entry<String, String> e : f.metadata().entrySet()) {
                    if (e.getKey().startsWith(LowbitCheckpoint.METADATA_PREFIX)) {
                        continue;
                    }
                    String v = e.getValue();
                    out().printf("  %s = %s%n", e.getKey(), v.length() > 200 ? v.substring(0, 200) + "..." : v);
                }
            }
        }
    }

    private static String transform(LowbitCheckpoint.Entry q) {
        List<String> t = new ArrayList<>();
        if (q.inputMultiplier() != null) {
            t.add("input multiplier");
        }
        if (q.rotationBlock() != 0) {
            t.add("Hadamard rotation b" + q.rotationBlock());
        }
        if (q.outputBias() != null) {
            t.add("output bias");
        }
        return t.isEmpty() ? "" : ", with " + String.join(" + ", t);
    }

    /** What a safetensors tensor is part of, by its name. */
    private static String layout(SafetensorsFile f, String name, List<String> quantized) {
        int dot = name.lastIndexOf('.');
        String prefix = dot < 0 ? "" : name.substring(0, dot);
        String suffix = name.substring(dot + 1);
        if (suffix.startsWith("lowbit_") && quantized.contains(prefix)) {
            return "lowbit " + suffix.substring("lowbit_".length());
        }
        if (List.of("qweight", "qzeros", "scales", "g_idx").contains(suffix) && f.contains(prefix + ".qweight")) {
            return "GPTQ/AWQ " + suffix;
        }
        return "";
    }

    private void onnx() throws IOException {
        OnnxGraph g;
        try (InputStream in = Files.newInputStream(file)) {
            g = OnnxGraph.read(in);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw CliException.failure(file + ": not a valid ONNX protobuf: " + e.getMessage(), e);
        }
        Map<String, Integer> ops = new TreeMap<>();
        for (OnnxGraph.Node n : g.nodes()) {
            ops.merge(n.opType(), 1, Integer::sum);
        }
        // which initializers are MatMul weights, and of which node
        Map<String, String> matmul = new TreeMap<>();
        for (OnnxGraph.Node n : g.nodes()) {
            if (n.opType().equals("MatMul") && n.inputs().size() == 2 && g.initializers().containsKey(n.inputs().get(1))) {
                matmul.put(n.inputs().get(1), "MatMul weight [in, out] of " + n.name());
            }
        }
        List<String[]> rows = new ArrayList<>();
        long total = 0;
        for (OnnxGraph.Initializer t : g.initializers().values()) {
            long b = t.data().remaining();
            total += b;
            String role = matmul.getOrDefault(t.name(), "");
            if (shown(t.name()) || !role.isEmpty() && shown(role)) { // MatMul weights are named onnx::MatMul_NNN
                rows.add(new String[] {t.name(), onnxType(t.dataType()), Arrays.toString(t.dims()), bytes(b), role});
            }
        }
        out().printf("%s: ONNX, %d nodes, %d initializers, %s of weights%n", file, g.nodes().size(),
                g.initializers().size(), bytes(total));
        out().printf("operators: %s%n", ops);
        table(new String[] {"initializer", "dtype", "shape", "size", "role"}, rows);
    }

    private static String onnxType(int t) {
        return switch (t) {
            case 1 -> "FLOAT";
            case 2 -> "UINT8";
            case 3 -> "INT8";
            case 5 -> "INT16";
            case 6 -> "INT32";
            case 7 -> "INT64";
            case 9 -> "BOOL";
            case 10 -> "FLOAT16";
            case 11 -> "DOUBLE";
            case 16 -> "BFLOAT16";
            default -> "type " + t;
        };
    }

    /** Left-aligned columns (the size column right-aligned). */
    private void table(String[] head, List<String[]> rows) {
        int[] w = new int[head.length];
        for (int i = 0; i < head.length; i++) {
            w[i] = head[i].length();
        }
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        List<String[]> all = new ArrayList<>();
        all.add(head);
        all.addAll(rows);
        for (String[] r : all) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                String cell = i == 3 ? " ".repeat(w[i] - r[i].length()) + r[i] : r[i] + " ".repeat(w[i] - r[i].length());
                b.append(i == 0 ? "" : "  ").append(cell);
            }
            out().println(b.toString().stripTrailing());
        }
        if (filter != null && rows.isEmpty()) {
            out().println("(no tensor name matches " + filter + ")");
        }
    }
}

package lowbit.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lowbit.examples.minilm.BertConfig;
import lowbit.examples.minilm.Corpus;
import lowbit.examples.minilm.MiniLm;
import lowbit.examples.minilm.OnnxBertLoader;
import lowbit.examples.minilm.OnnxGraph;
import lowbit.examples.minilm.WordPieceTokenizer;
import lowbit.tensor.Tensor;

/**
 * The supported model, all-MiniLM-L6-v2's BERT encoder: the embedded copy ({@value #EMBEDDED}) or an ONNX export of
 * the same architecture (its tokenizer is the embedded one). Gives the encoder, the PyTorch names of its 36 Linear
 * weights and its other float tensors (embeddings, LayerNorms, biases) under their PyTorch names.
 */
final class ModelInput {
    /** The name that means the embedded model. */
    static final String EMBEDDED = "minilm";

    final MiniLm model;
    final OnnxGraph graph;
    final String source;

    private ModelInput(MiniLm model, OnnxGraph graph, String source) {
        this.model = model;
        this.graph = graph;
        this.source = source;
    }

    /** Whether {@code in} names the supported model (the word {@value #EMBEDDED} or an .onnx file). */
    static boolean isModel(String in) {
        return in.equals(EMBEDDED) || in.toLowerCase(java.util.Locale.ROOT).endsWith(".onnx");
    }

    /** Loads {@code in} ({@value #EMBEDDED} or an ONNX file of the same architecture). */
    static ModelInput load(String in) throws IOException {
        if (in.equals(EMBEDDED)) {
            OnnxGraph g;
            try (InputStream s = resource(MiniLm.ONNX_RESOURCE)) {
                g = OnnxGraph.read(s);
            }
            return new ModelInput(fromGraph(g, "the embedded all-MiniLM-L6-v2"), g, "all-MiniLM-L6-v2 (embedded)");
        }
        Path p = BaseCommand.requireFile(Path.of(in));
        OnnxGraph g;
        try (InputStream s = Files.newInputStream(p)) {
            g = OnnxGraph.read(s);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw CliException.failure(p + ": not a valid ONNX protobuf: " + e.getMessage(), e);
        }
        return new ModelInput(fromGraph(g, p.toString()), g, p.toString());
    }

    private static MiniLm fromGraph(OnnxGraph g, String what) throws IOException {
        WordPieceTokenizer t;
        try (InputStream s = resource(MiniLm.TOKENIZER_RESOURCE)) {
            t = WordPieceTokenizer.fromJson(s);
        }
        try {
            return new MiniLm(t, OnnxBertLoader.load(g, BertConfig.MINILM_L6));
        } catch (IllegalArgumentException e) {
            throw CliException.failure(what + " is not an all-MiniLM-L6-v2 BERT encoder: " + e.getMessage(), e);
        }
    }

    private static InputStream resource(String name) throws IOException {
        InputStream s = MiniLm.class.getResourceAsStream(name);
        if (s == null) {
            throw new IOException("the embedded model resource " + name + " is missing from the classpath");
        }
        return s;
    }

    /** Linear names of the encoder, in forward order. */
    List<String> linearNames() {
        return model.encoder().linearNames();
    }

    /** The PyTorch weight name of a Linear ({@code encoder.layer.0.attention.self.query.weight}). */
    static String weightName(String linear) {
        return OnnxBertLoader.moduleName(linear) + ".weight";
    }

    /**
     * The float tensors of the model other than the 36 MatMul weights (embeddings, LayerNorms, biases), by PyTorch
     * name in file order.
     */
    Map<String, Tensor> otherTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (OnnxGraph.Initializer t : graph.initializers().values()) {
            String n = t.name();
            if (t.dataType() == OnnxGraph.FLOAT && t.dims().length >= 1
                    && (n.startsWith("embeddings.") || n.startsWith("encoder."))) {
                out.put(n, Tensor.ofFloats(t.floats(), t.dims()));
            }
        }
        return out;
    }

    /** Calibration sentences: the lines of {@code file} (blank lines and lines starting with # skipped), or the built-in corpus. */
    static List<String> calibration(Path file) throws IOException {
        if (file == null) {
            return Corpus.calibration();
        }
        BaseCommand.requireFile(file);
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String s = line.strip();
            if (!s.isEmpty() && !s.startsWith("#")) {
                out.add(s);
            }
        }
        if (out.isEmpty()) {
            throw CliException.failure(file + ": no calibration text (every line is blank or a # comment)");
        }
        return out;
    }
}

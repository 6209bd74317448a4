package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The ONNX reader on protobuf messages written here field by field from the ONNX specification (not by the
 * reader's code), and the BERT loader's shape checks on a tiny synthetic BERT graph.
 */
class OnnxGraphTest {
    /** A length-delimited sub-message. */
    private static void message(CodedOutputStream out, int field, Consumer<CodedOutputStream> body) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        CodedOutputStream inner = CodedOutputStream.newInstance(buf);
        body.accept(inner);
        inner.flush();
        out.writeByteArray(field, buf.toByteArray());
    }

    private static byte[] bytes(Consumer<CodedOutputStream> body) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(buf);
        body.accept(out);
        out.flush();
        return buf.toByteArray();
    }

    private interface Io {
        void run() throws IOException;
    }

    private static void unchecked(Io io) {
        try {
            io.run();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** TensorProto: dims = 1 (packed int64), data_type = 2, name = 8, raw_data = 9 (little-endian floats). */
    private static void rawFloatTensor(CodedOutputStream g, String name, float[] v, long... dims) {
        unchecked(() -> message(g, 5, t -> unchecked(() -> {
            byte[] packedDims = bytes(p -> unchecked(() -> {
                for (long d : dims) {
                    p.writeInt64NoTag(d);
                }
            }));
            t.writeByteArray(1, packedDims);
            t.writeInt32(2, 1);
            t.writeString(8, name);
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) {
                b.putFloat(f);
            }
            t.writeBytes(9, ByteString.copyFrom(b.array()));
        })));
    }

    /** NodeProto: input = 1, output = 2, name = 3, op_type = 4. */
    private static void node(CodedOutputStream g, String name, String op, String... inputs) {
        unchecked(() -> message(g, 1, n -> unchecked(() -> {
            for (String i : inputs) {
                n.writeString(1, i);
            }
            n.writeString(2, name + "_output_0");
            n.writeString(3, name);
            n.writeString(4, op);
        })));
    }

    @Test
    void readsNodesAndTensorsInEveryEncoding() throws IOException {
        byte[] model = bytes(m -> unchecked(() -> {
            m.writeInt64(1, 8); // ir_version, skipped
            m.writeString(2, "handwritten"); // producer_name, skipped
            message(m, 7, g -> unchecked(() -> {
                node(g, "/mm", "MatMul", "x", "W");
                rawFloatTensor(g, "W", new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
                // float_data = 4 (packed fixed32), dims unpacked
                message(g, 5, t -> unchecked(() -> {
                    t.writeInt64(1, 2);
                    t.writeInt32(2, 1);
                    t.writeString(8, "typed");
                    t.writeByteArray(4, bytes(p -> unchecked(() -> {
                        p.writeFloatNoTag(-1.5f);
                        p.writeFloatNoTag(0.25f);
                    })));
                }));
                // int64_data = 7 (unpacked), data_type INT64 = 7
                message(g, 5, t -> unchecked(() -> {
                    t.writeInt64(1, 3);
                    t.writeInt32(2, 7);
                    t.writeString(8, "ids");
                    t.writeInt64(7, 5);
                    t.writeInt64(7, -1);
                    t.writeInt64(7, 1L << 40);
                }));
                g.writeString(2, "graph name"); // skipped
            }));
        }));
        OnnxGraph graph = OnnxGraph.read(model);
        assertThat(graph.nodes()).hasSize(1);
        OnnxGraph.Node n = graph.nodes().get(0);
        assertThat(n.opType()).isEqualTo("MatMul");
        assertThat(n.name()).isEqualTo("/mm");
        assertThat(n.inputs()).containsExactly("x", "W");
        OnnxGraph.Initializer w = graph.initializers().get("W");
        assertThat(w.dims()).containsExactly(2, 3);
        assertThat(w.floats()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(graph.initializers().get("typed").floats()).containsExactly(-1.5f, 0.25f);
        assertThat(graph.initializers().get("ids").longs()).containsExactly(5, -1, 1L << 40);
    }

    @Test
    void malformedFilesAreRejected() throws IOException {
        byte[] noGraph = bytes(m -> unchecked(() -> m.writeInt64(1, 8)));
        assertThatThrownBy(() -> OnnxGraph.read(noGraph)).isInstanceOf(IOException.class).hasMessageContaining("no graph");
        byte[] model = bytes(m -> unchecked(() -> message(m, 7,
                g -> rawFloatTensor(g, "W", new float[] {1, 2, 3, 4}, 2, 2))));
        assertThatThrownBy(() -> OnnxGraph.read(Arrays.copyOf(model, model.length - 3))).isInstanceOf(IOException.class);
        byte[] lying = bytes(m -> unchecked(() -> message(m, 7, g -> rawFloatTensor(g, "W", new float[] {1, 2, 3}, 2, 2))));
        assertThatThrownBy(() -> OnnxGraph.read(lying).initializers().get("W").floats())
                .hasMessageContaining("'W'").hasMessageContaining("12 bytes");
    }

    /** A complete BERT graph for a tiny config, with every tensor where the exporter puts it. */
    static byte[] tinyBert(BertConfig c, Map<String, long[]> overrideDims) throws IOException {
        Random r = new Random(7);
        Map<String, long[]> tensors = new LinkedHashMap<>();
        int h = c.hidden();
        tensors.put("embeddings.word_embeddings.weight", new long[] {c.vocab(), h});
        tensors.put("embeddings.position_embeddings.weight", new long[] {c.maxPositions(), h});
        tensors.put("embeddings.token_type_embeddings.weight", new long[] {c.typeVocab(), h});
        tensors.put("embeddings.LayerNorm.weight", new long[] {h});
        tensors.put("embeddings.LayerNorm.bias", new long[] {h});
        String[] paths = {"attention/self/query", "attention/self/key", "attention/self/value", "attention/output/dense",
            "intermediate/dense", "output/dense"};
        String[] modules = {"attention.self.query", "attention.self.key", "attention.self.value",
            "attention.output.dense", "intermediate.dense", "output.dense"};
        List<String[]> nodes = new ArrayList<>();
        int id = 100;
        for (int l = 0; l < c.layers(); l++) {
            for (int k = 0; k < 6; k++) {
                int in = k == 5 ? c.intermediate() : h, out = k == 4 ? c.intermediate() : h;
                String w = "onnx::MatMul_" + id++;
                tensors.put(w, new long[] {in, out});
                tensors.put("encoder.layer." + l + "." + modules[k] + ".bias", new long[] {out});
                nodes.add(new String[] {"/encoder/layer." + l + "/" + paths[k] + "/MatMul", w});
            }
            for (String ln : new String[] {"attention.output.LayerNorm", "output.LayerNorm"}) {
                tensors.put("encoder.layer." + l + "." + ln + ".weight", new long[] {h});
                tensors.put("encoder.layer." + l + "." + ln + ".bias", new long[] {h});
            }
        }
        tensors.putAll(overrideDims);
        return bytes(m -> unchecked(() -> message(m, 7, g -> {
            for (String[] n : nodes) {
                node(g, n[0], "MatMul", "x", n[1]);
            }
            tensors.forEach((name, dims) -> {
                long numel = Arrays.stream(dims).reduce(1, (a, b) -> a * b);
                float[] v = new float[(int) numel];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) r.nextGaussian() * 0.2f + (name.contains("LayerNorm.weight") ? 1 : 0);
                }
                rawFloatTensor(g, name, v, dims);
            });
        })));
    }

    static final BertConfig TINY = new BertConfig(2, 8, 2, 12, 20, 6, 2, 1e-12f);

    @Test
    void tinyBertLoadsAndRunsAndLongInputsAreRejected() throws IOException {
        BertEncoder enc = OnnxBertLoader.load(OnnxGraph.read(tinyBert(TINY, Map.of())), TINY);
        assertThat(enc.linearNames()).hasSize(12).startsWith("layer.0.attention.query").endsWith("layer.1.ffn.down");
        assertThat(enc.linear("layer.1.ffn.up").outFeatures()).isEqualTo(12);
        float[] hOut = enc.forward(new int[] {1, 5, 7, 0}, new int[] {1, 1, 1, 0}, 1, 4);
        assertThat(hOut).hasSize(4 * 8);
        for (float v : hOut) {
            assertThat(Float.isFinite(v)).isTrue();
        }

        assertThatThrownBy(() -> enc.forward(new int[7], new int[7], 1, 7))
                .hasMessageContaining("7 tokens exceed the model's 6 positions");
        assertThatThrownBy(() -> enc.forward(new int[] {1, 20}, new int[] {1, 1}, 1, 2))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("id 20 at position 1");
    }

    @Test
    void wrongShapesAndMissingTensorsAreNamed() throws IOException {
        byte[] wrongWeight = tinyBert(TINY, Map.of("onnx::MatMul_104", new long[] {8, 13}));
        assertThatThrownBy(() -> OnnxBertLoader.load(OnnxGraph.read(wrongWeight), TINY))
                .hasMessageContaining("'onnx::MatMul_104'").hasMessageContaining("layer.0.ffn.up")
                .hasMessageContaining("[8, 13]").hasMessageContaining("expected [8, 12]");
        byte[] wrongNorm = tinyBert(TINY, Map.of("encoder.layer.1.output.LayerNorm.bias", new long[] {9}));
        assertThatThrownBy(() -> OnnxBertLoader.load(OnnxGraph.read(wrongNorm), TINY))
                .hasMessageContaining("encoder.layer.1.output.LayerNorm.bias").hasMessageContaining("[9]");
        // the real model's weights against a config it does not have
        BertConfig bigger = new BertConfig(2, 8, 2, 12, 21, 6, 2, 1e-12f);
        assertThatThrownBy(() -> OnnxBertLoader.load(OnnxGraph.read(tinyBert(TINY, Map.of())), bigger))
                .hasMessageContaining("embeddings.word_embeddings.weight").hasMessageContaining("expected [21, 8]");
        BertConfig deeper = new BertConfig(3, 8, 2, 12, 20, 6, 2, 1e-12f);
        assertThatThrownBy(() -> OnnxBertLoader.load(OnnxGraph.read(tinyBert(TINY, Map.of())), deeper))
                .hasMessageContaining("/encoder/layer.2/attention/self/query/MatMul");
    }
}

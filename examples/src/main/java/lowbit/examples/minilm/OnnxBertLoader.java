package lowbit.examples.minilm;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import lowbit.nn.DenseWeight;
import lowbit.nn.Embedding;
import lowbit.nn.LayerNorm;
import lowbit.nn.Linear;
import lowbit.tensor.Tensor;

/**
 * Maps the initializers of a HuggingFace BERT exported to ONNX (as {@code optimum}/{@code torch.onnx} write it) to a
 * {@link BertEncoder}.
 *
 * <p>Embeddings, LayerNorms and biases keep their PyTorch names ({@code embeddings.word_embeddings.weight},
 * {@code encoder.layer.L.attention.output.LayerNorm.weight}, {@code encoder.layer.L.intermediate.dense.bias}, ...).
 * The six projection weights of a layer are not named by their role: the exporter turned each {@code nn.Linear}
 * into {@code MatMul(x, W)} with W an initializer of shape [in, out] and often a numeric name
 * ({@code onnx::MatMul_885}). Each is found by its role in the graph: the MatMul node whose name is
 * {@code /encoder/layer.L/attention/self/query/MatMul} (likewise {@code key}, {@code value},
 * {@code attention/output/dense}, {@code intermediate/dense}, {@code output/dense}) and whose second input is an
 * initializer; it is transposed to lowbit's [out, in]. Every tensor's shape is checked against the
 * {@link BertConfig}; a mismatch or a missing tensor is an {@link IllegalArgumentException} naming the tensor.
 */
public final class OnnxBertLoader {
    private OnnxBertLoader() {
    }

    /** The ONNX node names of each Linear role (same order as {@link BertEncoder#ROLES}). */
    private static final String[] NODE_PATHS = {"attention/self/query", "attention/self/key", "attention/self/value",
        "attention/output/dense", "intermediate/dense", "output/dense"};
    /** The PyTorch module names of each role (for the bias). */
    private static final String[] MODULES = {"attention.self.query", "attention.self.key", "attention.self.value",
        "attention.output.dense", "intermediate.dense", "output.dense"};

    /**
     * The HuggingFace (PyTorch) module path of a {@link BertEncoder} Linear name, e.g. {@code layer.2.ffn.up} →
     * {@code encoder.layer.2.intermediate.dense} (its weight is {@code <path>.weight} [out, in] in a PyTorch state
     * dict, its bias {@code <path>.bias}).
     *
     * @throws IllegalArgumentException for a name that is not {@code layer.L.<role>} with a role of
     *     {@link BertEncoder#ROLES}
     */
    public static String moduleName(String linearName) {
        java.util.Objects.requireNonNull(linearName, "linear name");
        int dot = linearName.indexOf('.', "layer.".length());
        if (linearName.startsWith("layer.") && dot > "layer.".length()) {
            String l = linearName.substring("layer.".length(), dot);
            int r = BertEncoder.ROLES.indexOf(linearName.substring(dot + 1));
            if (r >= 0 && l.chars().allMatch(Character::isDigit)) {
                return "encoder.layer." + Integer.parseInt(l) + "." + MODULES[r];
            }
        }
        throw new IllegalArgumentException("'" + linearName + "' is not a BERT Linear name layer.L." + BertEncoder.ROLES);
    }

    /**
     * Builds the encoder.
     *
     * @throws IllegalArgumentException when a tensor is missing or has the wrong shape or type (the message names it)
     */
    public static BertEncoder load(OnnxGraph graph, BertConfig c) {
        Map<String, OnnxGraph.Initializer> init = graph.initializers();
        Map<String, OnnxGraph.Node> byName = new HashMap<>();
        for (OnnxGraph.Node n : graph.nodes()) {
            byName.put(n.name(), n);
        }
        int h = c.hidden();
        float[] words = floats(init, "embeddings.word_embeddings.weight", "word embeddings", c.vocab(), h);
        float[] pos = floats(init, "embeddings.position_embeddings.weight", "position embeddings", c.maxPositions(), h);
        float[] types = floats(init, "embeddings.token_type_embeddings.weight", "token type embeddings", c.typeVocab(), h);
        LayerNorm embNorm = layerNorm(init, "embeddings.LayerNorm", c);
        Map<String, Linear> linears = new LinkedHashMap<>();
        LayerNorm[] ln1 = new LayerNorm[c.layers()], ln2 = new LayerNorm[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            for (int r = 0; r < NODE_PATHS.length; r++) {
                String name = "layer." + l + "." + BertEncoder.ROLES.get(r);
                String nodeName = "/encoder/layer." + l + "/" + NODE_PATHS[r] + "/MatMul";
                OnnxGraph.Node node = byName.get(nodeName);
                if (node == null || !"MatMul".equals(node.opType()) || node.inputs().size() != 2) {
                    throw new IllegalArgumentException("ONNX graph: no MatMul node '" + nodeName + "' for " + name);
                }
                String wName = node.inputs().get(1);
                if (!init.containsKey(wName)) {
                    throw new IllegalArgumentException("ONNX graph: the weight '" + wName + "' of MatMul '" + nodeName
                            + "' (" + name + ") is not an initializer");
                }
                int[] oi = BertEncoder.shape(c, name);
                float[] inOut = floats(init, wName, name + " MatMul weight [in, out]", oi[1], oi[0]);
                float[] bias = floats(init, "encoder.layer." + l + "." + MODULES[r] + ".bias", name + " bias", oi[0]);
                // pre-packed once for the forward GEMM (an inference model: the weights never change)
                linears.put(name, new Linear(DenseWeight.of(transpose(inOut, oi[1], oi[0]), oi[0], oi[1]).packed(), bias));
            }
            ln1[l] = layerNorm(init, "encoder.layer." + l + ".attention.output.LayerNorm", c);
            ln2[l] = layerNorm(init, "encoder.layer." + l + ".output.LayerNorm", c);
        }
        return new BertEncoder(c, new Embedding(Tensor.ofFloats(words, c.vocab(), h)), pos, Arrays.copyOf(types, h),
                embNorm, linears, ln1, ln2);
    }

    private static LayerNorm layerNorm(Map<String, OnnxGraph.Initializer> init, String prefix, BertConfig c) {
        return new LayerNorm(floats(init, prefix + ".weight", "LayerNorm γ", c.hidden()),
                floats(init, prefix + ".bias", "LayerNorm β", c.hidden()), c.layerNormEps());
    }

    /** The FLOAT initializer {@code name} with exactly the dims {@code expected}. */
    static float[] floats(Map<String, OnnxGraph.Initializer> init, String name, String role, long... expected) {
        OnnxGraph.Initializer t = init.get(name);
        if (t == null) {
            throw new IllegalArgumentException("ONNX model: missing initializer '" + name + "' (" + role + ")");
        }
        if (!Arrays.equals(t.dims(), expected)) {
            throw new IllegalArgumentException("ONNX initializer '" + name + "' (" + role + ") has shape "
                    + Arrays.toString(t.dims()) + ", expected " + Arrays.toString(expected));
        }
        if (t.dataType() != OnnxGraph.FLOAT) {
            throw new IllegalArgumentException("ONNX initializer '" + name + "' (" + role + ") has data type "
                    + t.dataType() + ", expected FLOAT (1)");
        }
        float[] v = t.floats();
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException("ONNX initializer '" + name + "' (" + role + ") has a non-finite "
                        + "value " + v[i] + " at element " + i);
            }
        }
        return v;
    }

    /** [rows, cols] → [cols, rows]. */
    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }
}

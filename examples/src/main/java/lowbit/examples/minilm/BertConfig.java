package lowbit.examples.minilm;

/**
 * The shape of a BERT encoder (Devlin et al., <i>BERT</i>, 2019).
 *
 * @param layers transformer layers
 * @param hidden hidden size
 * @param heads attention heads (hidden must be a multiple)
 * @param intermediate FFN inner size
 * @param vocab vocabulary size
 * @param maxPositions position embeddings
 * @param typeVocab token-type embeddings
 * @param layerNormEps LayerNorm ε
 */
public record BertConfig(int layers, int hidden, int heads, int intermediate, int vocab, int maxPositions,
        int typeVocab, float layerNormEps) {
    /** all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, FFN 1536, 30522 tokens, 512 positions, ε = 1e-12. */
    public static final BertConfig MINILM_L6 = new BertConfig(6, 384, 12, 1536, 30522, 512, 2, 1e-12f);

    public BertConfig {
        if (layers < 1 || hidden < 1 || heads < 1 || hidden % heads != 0 || intermediate < 1 || vocab < 1
                || maxPositions < 1 || typeVocab < 1 || !(layerNormEps > 0)) {
            throw new IllegalArgumentException("bad BERT config: layers " + layers + ", hidden " + hidden + ", heads "
                    + heads + ", intermediate " + intermediate + ", vocab " + vocab + ", positions " + maxPositions
                    + ", types " + typeVocab + ", eps " + layerNormEps);
        }
    }
}

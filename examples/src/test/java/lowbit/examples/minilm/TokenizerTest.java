package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The WordPiece tokenizer against HuggingFace's own (the Rust {@code tokenizers} library through DJL, which
 * langchain4j uses; test scope only), and against hand-derived id vectors.
 */
class TokenizerTest {
    private static WordPieceTokenizer tok;

    @BeforeAll
    static void load() throws Exception {
        try (InputStream in = MiniLm.class.getResourceAsStream(MiniLm.TOKENIZER_RESOURCE)) {
            tok = WordPieceTokenizer.fromJson(in);
        }
    }

    @Test
    void handDerivedIds() {
        // ids looked up by hand in the vocabulary of tokenizer.json: [CLS] = 101, [SEP] = 102, "a" = 1037,
        // "man" = 2158, "is" = 2003, "eating" = 5983, "food" = 2833, "." = 1012
        assertThat(tok.encode("A man is eating food.")).containsExactly(101, 1037, 2158, 2003, 5983, 2833, 1012, 102);
        assertThat(tok.id("a")).isEqualTo(1037);
        assertThat(tok.id("food")).isEqualTo(2833);
        // accents stripped and lower-cased: "Café" → "cafe"
        assertThat(tok.tokenize("Café")).containsExactly("cafe");
        // punctuation is split off, unknown symbols become [UNK]
        assertThat(tok.tokenize("hi!🙂")).containsExactly("hi", "!", "[UNK]");
        // every CJK ideograph is its own word
        assertThat(tok.tokenize("東京")).containsExactly("東", "京");
        // a word over 100 characters is [UNK] as a whole
        assertThat(tok.tokenize("a".repeat(101))).containsExactly("[UNK]");
        // continuation pieces carry ##
        List<String> pieces = tok.tokenize("tokenization");
        assertThat(pieces.get(0)).doesNotStartWith("##");
        assertThat(pieces.subList(1, pieces.size())).allMatch(p -> p.startsWith("##"));
        assertThat(String.join("", pieces).replace("##", "")).isEqualTo("tokenization");
        // empty text and text of only control characters: [CLS] [SEP]
        assertThat(tok.encode("")).containsExactly(101, 102);
        assertThat(tok.encode("\u0000\u0007\uFFFD")).containsExactly(101, 102);
    }

    @Test
    void truncationFollowsTokenizerJsonAndIsConfigurable() {
        String longText = "word ".repeat(1000);
        assertThat(tok.maxLength()).isEqualTo(128); // truncation.max_length of the file
        int[] ids = tok.encode(longText);
        assertThat(ids).hasSize(128);
        assertThat(ids[0]).isEqualTo(101);
        assertThat(ids[127]).isEqualTo(102);
        assertThat(tok.withMaxLength(512).encode(longText)).hasSize(512);
        assertThatThrownBy(() -> tok.withMaxLength(513)).hasMessageContaining("513");
    }

    @Test
    void idsMatchHuggingFaceTokenizers() throws Exception {
        Path file = Files.createTempFile("minilm-tokenizer", ".json");
        try (InputStream in = MiniLm.class.getResourceAsStream(MiniLm.TOKENIZER_RESOURCE)) {
            Files.write(file, in.readAllBytes());
        }
        List<String> texts = new ArrayList<>(TestSentences.ENGLISH);
        texts.add("word ".repeat(300)); // truncated by both at 128
        texts.add("Ünïcödé ßtraße ΣΊΣΥΦΟΣ Ǆemal ﬁnance ½ ① Ⅻ");
        texts.add("zero\u200Bwidth and soft\u00ADhyphen, non\u00A0breaking");
        texts.add("a".repeat(100) + " " + "b".repeat(101));
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(file,
                Map.of("padding", "false", "truncation", "true", "maxLength", "128"))) {
            for (String t : texts) {
                Encoding e = hf.encode(t);
                long[] expected = e.getIds();
                int[] ours = tok.encode(t);
                long[] oursL = new long[ours.length];
                for (int i = 0; i < ours.length; i++) {
                    oursL[i] = ours[i];
                }
                assertThat(oursL).as("ids of '%s'", t).containsExactly(expected);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}

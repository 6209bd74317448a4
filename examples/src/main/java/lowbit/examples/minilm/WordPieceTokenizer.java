package lowbit.examples.minilm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * BERT's WordPiece tokenizer driven by a HuggingFace {@code tokenizer.json} (read with Jackson): the
 * {@code BertNormalizer}, {@code BertPreTokenizer}, {@code WordPiece} model and the single-sentence
 * {@code [CLS] A [SEP]} template, as in Devlin et al., <i>BERT</i> (2019) and Google's reference tokenizer.
 *
 * <ol>
 *   <li><b>Clean text</b>: drop U+0000, U+FFFD and control characters (Unicode category C*, except tab, newline and
 *       carriage return); map whitespace (those three and category Zs) to a space.</li>
 *   <li><b>CJK</b>: put spaces around every CJK ideograph (the CJK Unified Ideographs blocks and extensions A–E and
 *       the compatibility ideographs), so each becomes a word.</li>
 *   <li><b>Accents and case</b> (when {@code lowercase}; {@code strip_accents} null follows it): NFD, drop
 *       non-spacing marks (category Mn), lower-case each code point with its full Unicode mapping.</li>
 *   <li><b>Pre-tokenize</b>: split on whitespace; every punctuation character (ASCII 33–47, 58–64, 91–96, 123–126,
 *       or Unicode category P*) is a word of its own.</li>
 *   <li><b>WordPiece</b>: a word longer than {@code max_input_chars_per_word} (100) code points is {@code [UNK]};
 *       otherwise greedy longest-match-first from the left, pieces after the first prefixed with {@code ##}; if some
 *       position matches nothing, the whole word is {@code [UNK]}.</li>
 *   <li><b>Truncate and wrap</b>: keep the first {@code maxLength − 2} pieces and add {@code [CLS]} and
 *       {@code [SEP]}.</li>
 * </ol>
 *
 * <p><b>Length.</b> {@link #maxLength()} starts at the file's {@code truncation.max_length} (128 in the
 * all-MiniLM-L6-v2 jar; sentence-transformers uses 256 for this model) or 512 when the file has none; text that
 * produces more pieces is truncated, as the HuggingFace tokenizer does. {@link #withMaxLength} changes it (at most
 * the model's 512 positions: the encoder rejects longer inputs). The file's fixed padding is not applied: batches
 * are padded to their longest member, which does not change a masked model's output.
 *
 * <p><b>Empty text</b> gives {@code [CLS] [SEP]} (as HuggingFace does); characters the vocabulary lacks become
 * {@code [UNK]}. Lower-casing is per code point without context (HuggingFace's per-character mapping; Java's
 * final-sigma rule is not applied).
 */
public final class WordPieceTokenizer {
    /** The model's position limit. */
    public static final int MODEL_MAX_LENGTH = 512;

    private final Map<String, Integer> vocab;
    private final String[] byId;
    private final int unkId;
    private final int clsId;
    private final int sepId;
    private final int padId;
    private final String prefix;
    private final int maxCharsPerWord;
    private final boolean lowercase;
    private final boolean stripAccents;
    private final boolean cleanText;
    private final boolean chineseChars;
    private final int maxLength;

    private WordPieceTokenizer(Map<String, Integer> vocab, String[] byId, int unkId, int clsId, int sepId, int padId,
            String prefix, int maxCharsPerWord, boolean lowercase, boolean stripAccents, boolean cleanText,
            boolean chineseChars, int maxLength) {
        this.vocab = vocab;
        this.byId = byId;
        this.unkId = unkId;
        this.clsId = clsId;
        this.sepId = sepId;
        this.padId = padId;
        this.prefix = prefix;
        this.maxCharsPerWord = maxCharsPerWord;
        this.lowercase = lowercase;
        this.stripAccents = stripAccents;
        this.cleanText = cleanText;
        this.chineseChars = chineseChars;
        this.maxLength = maxLength;
    }

    /**
     * Reads a {@code tokenizer.json} with a WordPiece model.
     *
     * @throws IOException when the stream cannot be read, or the file is not a BERT WordPiece tokenizer (the message
     *     names the missing or unexpected field)
     */
    public static WordPieceTokenizer fromJson(InputStream json) throws IOException {
        Objects.requireNonNull(json, "tokenizer.json stream is null");
        JsonNode root = new ObjectMapper().readTree(json);
        JsonNode model = root.path("model");
        if (!"WordPiece".equals(model.path("type").asText())) {
            throw new IOException("tokenizer.json: model.type is '" + model.path("type").asText() + "', expected WordPiece");
        }
        JsonNode v = model.path("vocab");
        if (!v.isObject() || v.isEmpty()) {
            throw new IOException("tokenizer.json: model.vocab is missing or empty");
        }
        Map<String, Integer> vocab = new HashMap<>(v.size() * 2);
        int maxId = -1;
        for (var it = v.properties().iterator(); it.hasNext();) {
            var e = it.next();
            int id = e.getValue().asInt(-1);
            if (id < 0) {
                throw new IOException("tokenizer.json: vocab entry '" + e.getKey() + "' has no valid id");
            }
            vocab.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        String[] byId = new String[maxId + 1];
        vocab.forEach((t, id) -> byId[id] = t);
        String unk = model.path("unk_token").asText("[UNK]");
        JsonNode norm = root.path("normalizer");
        if (!norm.isMissingNode() && !norm.isNull() && !"BertNormalizer".equals(norm.path("type").asText())) {
            throw new IOException("tokenizer.json: normalizer.type is '" + norm.path("type").asText()
                    + "', expected BertNormalizer");
        }
        boolean lower = norm.path("lowercase").asBoolean(true);
        JsonNode sa = norm.path("strip_accents");
        boolean strip = sa.isMissingNode() || sa.isNull() ? lower : sa.asBoolean();
        int maxLen = MODEL_MAX_LENGTH;
        JsonNode trunc = root.path("truncation");
        if (trunc.isObject() && trunc.path("max_length").isInt()) {
            maxLen = Math.min(MODEL_MAX_LENGTH, trunc.path("max_length").asInt());
        }
        return new WordPieceTokenizer(vocab, byId, id(vocab, unk), id(vocab, "[CLS]"), id(vocab, "[SEP]"),
                id(vocab, "[PAD]"), model.path("continuing_subword_prefix").asText("##"),
                model.path("max_input_chars_per_word").asInt(100), lower, strip,
                norm.path("clean_text").asBoolean(true), norm.path("handle_chinese_chars").asBoolean(true), maxLen);
    }

    private static int id(Map<String, Integer> vocab, String token) throws IOException {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new IOException("tokenizer.json: the vocabulary has no " + token + " token");
        }
        return id;
    }

    /**
     * The same tokenizer truncating to {@code maxLength} tokens including [CLS] and [SEP].
     *
     * @throws IllegalArgumentException unless 2 ≤ maxLength ≤ {@value #MODEL_MAX_LENGTH}
     */
    public WordPieceTokenizer withMaxLength(int maxLength) {
        if (maxLength < 2 || maxLength > MODEL_MAX_LENGTH) {
            throw new IllegalArgumentException("maxLength must be 2.." + MODEL_MAX_LENGTH + " (the model's positions), got "
                    + maxLength);
        }
        return new WordPieceTokenizer(vocab, byId, unkId, clsId, sepId, padId, prefix, maxCharsPerWord, lowercase,
                stripAccents, cleanText, chineseChars, maxLength);
    }

    /** Tokens per encoded text at most, [CLS] and [SEP] included. */
    public int maxLength() {
        return maxLength;
    }

    public int vocabSize() {
        return byId.length;
    }

    public int padId() {
        return padId;
    }

    public int unknownId() {
        return unkId;
    }

    /** The token string of an id. */
    public String token(int id) {
        Objects.checkIndex(id, byId.length);
        return byId[id];
    }

    /** The id of a vocabulary entry, or -1. */
    public int id(String token) {
        Integer id = vocab.get(token);
        return id == null ? -1 : id;
    }

    /** {@code [CLS] pieces… [SEP]} ids of {@code text}, truncated to {@link #maxLength()}. */
    public int[] encode(String text) {
        Objects.requireNonNull(text, "text is null");
        List<Integer> ids = new ArrayList<>();
        ids.add(clsId);
        int budget = maxLength - 2;
        for (String word : preTokenize(normalize(text))) {
            if (ids.size() - 1 >= budget) {
                break;
            }
            wordPiece(word, ids);
        }
        while (ids.size() - 1 > budget) {
            ids.remove(ids.size() - 1);
        }
        ids.add(sepId);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The word-piece strings of {@code text} (no [CLS]/[SEP], no truncation), for inspection. */
    public List<String> tokenize(String text) {
        Objects.requireNonNull(text, "text is null");
        List<Integer> ids = new ArrayList<>();
        for (String word : preTokenize(normalize(text))) {
            wordPiece(word, ids);
        }
        return ids.stream().map(i -> byId[i]).toList();
    }

    /** Steps 1–3: clean, CJK spacing, accents and case. */
    String normalize(String text) {
        StringBuilder sb = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(cp -> {
            if (cleanText) {
                if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                    return;
                }
                if (isWhitespace(cp)) {
                    sb.append(' ');
                    return;
                }
            }
            if (chineseChars && isCjk(cp)) {
                sb.append(' ').appendCodePoint(cp).append(' ');
            } else {
                sb.appendCodePoint(cp);
            }
        });
        String s = sb.toString();
        if (stripAccents) {
            String d = Normalizer.normalize(s, Normalizer.Form.NFD);
            StringBuilder out = new StringBuilder(d.length());
            d.codePoints().filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK).forEach(out::appendCodePoint);
            s = out.toString();
        }
        if (lowercase) {
            StringBuilder out = new StringBuilder(s.length());
            s.codePoints().forEach(cp -> {
                if (cp < 128) {
                    out.append((char) (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
                } else {
                    out.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT));
                }
            });
            s = out.toString();
        }
        return s;
    }

    /** Step 4: whitespace split, punctuation as single-character words. */
    static List<String> preTokenize(String s) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        s.codePoints().forEach(cp -> {
            if (isWhitespace(cp)) {
                flush(cur, words);
            } else if (isPunctuation(cp)) {
                flush(cur, words);
                words.add(new String(Character.toChars(cp)));
            } else {
                cur.appendCodePoint(cp);
            }
        });
        flush(cur, words);
        return words;
    }

    private static void flush(StringBuilder cur, List<String> words) {
        if (!cur.isEmpty()) {
            words.add(cur.toString());
            cur.setLength(0);
        }
    }

    /** Step 5 for one word, appending ids. */
    private void wordPiece(String word, List<Integer> ids) {
        int[] cps = word.codePoints().toArray();
        if (cps.length > maxCharsPerWord) {
            ids.add(unkId);
            return;
        }
        List<Integer> pieces = new ArrayList<>();
        int start = 0;
        while (start < cps.length) {
            int end = cps.length;
            Integer found = null;
            while (start < end) {
                String sub = new String(cps, start, end - start);
                if (start > 0) {
                    sub = prefix + sub;
                }
                found = vocab.get(sub);
                if (found != null) {
                    break;
                }
                end--;
            }
            if (found == null) {
                ids.add(unkId);
                return;
            }
            pieces.add(found);
            start = end;
        }
        ids.addAll(pieces);
    }

    static boolean isWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int t = Character.getType(cp);
        return t == Character.CONTROL || t == Character.FORMAT || t == Character.UNASSIGNED
                || t == Character.PRIVATE_USE || t == Character.SURROGATE;
    }

    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        int t = Character.getType(cp);
        return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION
                || t == Character.START_PUNCTUATION || t == Character.END_PUNCTUATION
                || t == Character.INITIAL_QUOTE_PUNCTUATION || t == Character.FINAL_QUOTE_PUNCTUATION
                || t == Character.OTHER_PUNCTUATION;
    }

    static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}

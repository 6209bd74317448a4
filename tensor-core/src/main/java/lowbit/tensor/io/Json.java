package lowbit.tensor.io;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.StreamWriteConstraints;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * lowbit's JSON, all through Jackson's streaming API (jackson-core): one factory with {@link StreamReadConstraints}
 * (nesting, name, string, number and document length) and duplicate keys rejected, strict UTF-8 decoding before
 * parsing (Jackson would otherwise guess UTF-16/32 from zero bytes), and a small tree reader for config files.
 */
final class Json {
    /** Nesting allowed in headers and configs. */
    static final int MAX_NESTING = 32;
    /** Digits of a number: a u64 has 20. */
    static final int MAX_NUMBER_LENGTH = 32;
    /** Largest config file read as a tree. */
    static final int MAX_CONFIG_BYTES = 16 << 20;

    static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_NESTING)
                    .maxNumberLength(MAX_NUMBER_LENGTH)
                    .maxStringLength((int) SafetensorsFile.MAX_HEADER_BYTES)
                    .maxNameLength((int) SafetensorsFile.MAX_HEADER_BYTES)
                    .maxDocumentLength(SafetensorsFile.MAX_HEADER_BYTES)
                    .build())
            .streamWriteConstraints(StreamWriteConstraints.builder().maxNestingDepth(MAX_NESTING).build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private Json() {
    }

    /** Strict UTF-8 decoding. */
    static String utf8(String source, String field, byte[] bytes) throws TensorFormatException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new TensorFormatException(source, null, field, "is not valid UTF-8", e);
        }
    }

    /** A JSON problem as a format exception. */
    static TensorFormatException invalid(String source, String tensor, String field, IOException e) {
        if (e instanceof TensorFormatException t) {
            return t;
        }
        if (e instanceof JsonProcessingException j) {
            return new TensorFormatException(source, tensor, field, "invalid JSON at character "
                    + (j.getLocation() == null ? -1 : j.getLocation().getCharOffset()) + ": " + j.getOriginalMessage(), e);
        }
        // an in-memory source has no I/O errors: anything else Jackson reports is about the content
        return new TensorFormatException(source, tensor, field, "invalid JSON: " + e.getMessage(), e);
    }

    /**
     * Parses a small JSON document whose root is an object into maps (insertion order), lists, strings, longs
     * (integers that fit), doubles, booleans and nulls.
     *
     * @throws TensorFormatException for invalid UTF-8 or JSON, a non-object root, or more than
     *     {@link #MAX_CONFIG_BYTES}
     */
    static Map<String, Object> readObject(String source, byte[] bytes) throws TensorFormatException {
        if (bytes.length > MAX_CONFIG_BYTES) {
            throw new TensorFormatException(source, null, null, bytes.length + " bytes is more than the "
                    + MAX_CONFIG_BYTES + " a config file may have");
        }
        String text = utf8(source, null, bytes);
        try (JsonParser p = FACTORY.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new TensorFormatException(source, null, null, "the root is not a JSON object");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> root = (Map<String, Object>) value(p);
            if (p.nextToken() != null) {
                throw new TensorFormatException(source, null, null, "content after the JSON object");
            }
            return root;
        } catch (IOException e) {
            throw invalid(source, null, null, e);
        }
    }

    private static Object value(JsonParser p) throws IOException {
        switch (p.currentToken()) {
            case START_OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String k = p.currentName();
                    p.nextToken();
                    m.put(k, value(p));
                }
                return m;
            }
            case START_ARRAY -> {
                List<Object> l = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    l.add(value(p));
                }
                return l;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT -> {
                if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                    return p.getDoubleValue(); // (a ?: with a long would promote every integer to double)
                }
                return p.getLongValue();
            }
            case VALUE_NUMBER_FLOAT -> {
                return p.getDoubleValue();
            }
            case VALUE_TRUE -> {
                return Boolean.TRUE;
            }
            case VALUE_FALSE -> {
                return Boolean.FALSE;
            }
            default -> {
                return null;
            }
        }
    }

    /** Writes JSON with a generator from {@link #FACTORY} (pretty-printed if asked) and returns the UTF-8 bytes. */
    static byte[] write(boolean pretty, GeneratorBody body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = FACTORY.createGenerator(out, JsonEncoding.UTF8)) {
            if (pretty) {
                g.useDefaultPrettyPrinter();
            }
            body.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException("writing JSON to memory failed", e); // cannot happen
        }
        return out.toByteArray();
    }

    /** What to write. */
    @FunctionalInterface
    interface GeneratorBody {
        void write(JsonGenerator g) throws IOException;
    }
}

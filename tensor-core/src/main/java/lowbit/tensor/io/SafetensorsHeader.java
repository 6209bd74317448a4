package lowbit.tensor.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file, read and written with Jackson's streaming API through {@link Json}: no
 * object mapping, no reflection, and stream constraints so that a hostile header cannot exhaust memory or the stack.
 */
final class SafetensorsHeader {
    private final Map<String, String> metadata;
    private final List<Raw> tensors;

    private SafetensorsHeader(Map<String, String> metadata, List<Raw> tensors) {
        this.metadata = metadata;
        this.tensors = tensors;
    }

    Map<String, String> metadata() {
        return metadata;
    }

    List<Raw> tensors() {
        return tensors;
    }

    /** A tensor entry as the header states it, before its numbers are checked against each other and the file. */
    record Raw(String name, String dtype, long[] dims, long begin, long end) {
        SafetensorsEntry toEntry(String source, long dataLength) throws TensorFormatException {
            if (name.isEmpty()) { // SafetensorsSpec would throw IllegalArgumentException (found by SafetensorsFuzzTest)
                throw new TensorFormatException(source, name, "name", "a tensor cannot have an empty name");
            }
            SafetensorsDType t = SafetensorsDType.parse(dtype).orElseThrow(() -> new TensorFormatException(source,
                    name, "dtype", "unknown dtype \"" + cut(dtype) + "\""));
            long n = 1;
            for (long d : dims) {
                if (d != 0 && n > Long.MAX_VALUE / d) {
                    throw new TensorFormatException(source, name, "shape", "the element count of "
                            + Arrays.toString(dims) + " overflows a long");
                }
                n *= d;
            }
            if (n > Long.MAX_VALUE / t.bits()) {
                throw new TensorFormatException(source, name, "shape", n + " elements of " + t
                        + " overflow a long bit count");
            }
            if (n * t.bits() % 8 != 0) {
                throw new TensorFormatException(source, name, "shape", n + " elements of the " + t.bits() + "-bit "
                        + t + " do not end on a byte boundary");
            }
            long bytes = n * t.bits() / 8;
            if (end < begin) {
                throw new TensorFormatException(source, name, "data_offsets", "[" + begin + ", " + end
                        + "] ends before it begins");
            }
            if (end - begin != bytes) {
                throw new TensorFormatException(source, name, "data_offsets", "[" + begin + ", " + end + ") holds "
                        + (end - begin) + " bytes, but " + Arrays.toString(dims) + " of " + t + " needs " + bytes);
            }
            if (end > dataLength) {
                throw new TensorFormatException(source, name, "data_offsets", "[" + begin + ", " + end
                        + ") runs past the end of the " + dataLength + "-byte data region");
            }
            return new SafetensorsEntry(new SafetensorsSpec(name, t, dims), begin, end);
        }
    }

    // ---------------------------------------------------------------- read

    static SafetensorsHeader parse(String source, byte[] header) throws TensorFormatException {
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Raw> tensors = new ArrayList<>();
        String tensor = null;
        // A safetensors header is UTF-8 by definition; given bytes, Jackson would guess UTF-16/32 from zero bytes.
        String text = Json.utf8(source, "header", header);
        try (JsonParser p = Json.FACTORY.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new TensorFormatException(source, null, "header", "the header is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                if (key.equals(SafetensorsFile.METADATA_KEY)) {
                    readMetadata(source, p, metadata);
                } else {
                    tensor = key;
                    tensors.add(readTensor(source, key, p));
                    tensor = null;
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT) {
                throw new TensorFormatException(source, null, "header", "unexpected " + p.currentToken());
            }
            if (p.nextToken() != null) {
                throw new TensorFormatException(source, null, "header", "content after the JSON object at byte "
                        + p.currentTokenLocation().getByteOffset());
            }
        } catch (IOException e) {
            throw Json.invalid(source, tensor, "header", e);
        }
        return new SafetensorsHeader(metadata, tensors);
    }

    private static void readMetadata(String source, JsonParser p, Map<String, String> out) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new TensorFormatException(source, null, SafetensorsFile.METADATA_KEY,
                    "must be an object of strings, is " + p.currentToken());
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String k = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new TensorFormatException(source, null, SafetensorsFile.METADATA_KEY, "value of \""
                        + cut(k) + "\" must be a string, is " + p.currentToken());
            }
            out.put(k, p.getText());
        }
    }

    private static Raw readTensor(String source, String name, JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new TensorFormatException(source, name, null, "must be an object with dtype, shape and data_offsets, is "
                    + p.currentToken());
        }
        String dtype = null;
        long[] dims = null;
        long[] offsets = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            switch (field) {
                case "dtype" -> {
                    if (v != JsonToken.VALUE_STRING) {
                        throw new TensorFormatException(source, name, "dtype", "must be a string, is " + v);
                    }
                    dtype = p.getText();
                }
                case "shape" -> dims = readLongs(source, name, "shape", p, -1);
                case "data_offsets" -> offsets = readLongs(source, name, "data_offsets", p, 2);
                default -> p.skipChildren(); // unknown fields are ignored, as huggingface's crate does
            }
        }
        if (dtype == null || dims == null || offsets == null) {
            String missing = dtype == null ? "dtype" : dims == null ? "shape" : "data_offsets";
            throw new TensorFormatException(source, name, missing, "is missing");
        }
        return new Raw(name, dtype, dims, offsets[0], offsets[1]);
    }

    /** An array of non-negative integers that fit a long; of exactly {@code count} of them unless count is -1. */
    private static long[] readLongs(String source, String name, String field, JsonParser p, int count)
            throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new TensorFormatException(source, name, field, "must be an array of integers, is " + p.currentToken());
        }
        long[] out = new long[4];
        int n = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw new TensorFormatException(source, name, field, "element " + n + " is " + t + ", not an integer");
            }
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0) {
                throw new TensorFormatException(source, name, field, "element " + n + " (" + p.getText()
                        + ") is not an integer in [0, 2^63)");
            }
            if (n == out.length) {
                out = Arrays.copyOf(out, n * 2);
            }
            out[n++] = p.getLongValue();
        }
        if (count >= 0 && n != count) {
            throw new TensorFormatException(source, name, field, "has " + n + " elements, needs " + count);
        }
        return Arrays.copyOf(out, n);
    }

    // ---------------------------------------------------------------- write

    /**
     * The header of a file holding {@code entries} (in data order) and {@code metadata}: compact JSON with
     * {@code __metadata__} first (omitted when empty), then the tensors in data order, padded with spaces to a
     * multiple of 8 bytes, as huggingface's writer does.
     */
    static byte[] write(Map<String, String> metadata, List<SafetensorsEntry> entries) {
        byte[] json = Json.write(false, g -> {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(SafetensorsFile.METADATA_KEY);
                for (Map.Entry<String, String> m : metadata.entrySet()) {
                    g.writeStringField(m.getKey(), m.getValue());
                }
                g.writeEndObject();
            }
            for (SafetensorsEntry e : entries) {
                g.writeObjectFieldStart(e.name());
                g.writeStringField("dtype", e.dtype().name());
                g.writeArrayFieldStart("shape");
                for (long d : e.spec().dims()) {
                    g.writeNumber(d);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(e.begin());
                g.writeNumber(e.end());
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndObject();
        });
        int padded = (json.length + 7) & ~7;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** A short excerpt of a possibly huge string from a hostile header, for messages. */
    private static String cut(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "...(" + s.length() + " chars)";
    }
}

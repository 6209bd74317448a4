package lowbit.tensor.io;

import java.util.Map;

/** Typed, validated access to the fields of a JSON config object read by {@link Json#readObject}. */
final class ConfigFields {
    private final String source;
    private final Map<String, Object> object;

    ConfigFields(String source, Map<String, Object> object) {
        this.source = source;
        this.object = object;
    }

    /** The nested object {@code key} of {@code root}, or null if absent. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> object(String source, Map<String, Object> root, String key) throws TensorFormatException {
        Object v = root.get(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Map)) {
            throw new TensorFormatException(source, null, key, "must be an object");
        }
        return (Map<String, Object>) v;
    }

    TensorFormatException fail(String field, String problem) {
        return new TensorFormatException(source, null, field, problem);
    }

    /** A string field, or {@code dflt} when absent (null dflt: required). */
    String string(String key, String dflt) throws TensorFormatException {
        Object v = object.get(key);
        if (v == null) {
            if (dflt == null) {
                throw fail(key, "is missing");
            }
            return dflt;
        }
        if (!(v instanceof String s)) {
            throw fail(key, "must be a string, is " + v);
        }
        return s;
    }

    /** An integer field that fits an int, or {@code dflt} when absent (null dflt: required). */
    int integer(String key, Integer dflt) throws TensorFormatException {
        Object v = object.get(key);
        if (v == null) {
            if (dflt == null) {
                throw fail(key, "is missing");
            }
            return dflt;
        }
        if (!(v instanceof Long l) || l != l.intValue()) {
            throw fail(key, "must be an integer, is " + v);
        }
        return l.intValue();
    }

    /** A boolean field, or {@code dflt} when absent. */
    boolean bool(String key, boolean dflt) throws TensorFormatException {
        Object v = object.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Boolean b)) {
            throw fail(key, "must be true or false, is " + v);
        }
        return b;
    }

    /** True if the field is present (and not null). */
    boolean has(String key) {
        return object.get(key) != null;
    }
}

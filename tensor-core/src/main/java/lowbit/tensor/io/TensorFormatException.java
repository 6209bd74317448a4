package lowbit.tensor.io;

import java.io.IOException;

/**
 * A model file (safetensors, GGUF) whose bytes break its format: a header that lies about a length, an offset outside
 * the data region, overlapping or unordered tensors, a dtype and shape that disagree with the byte length, a count
 * that would overflow, an unknown dtype, ggml type or version. It is the <em>only</em> exception lowbit's readers throw
 * for bad file contents; other {@link IOException}s mean the file could not be opened or read at all.
 *
 * <p>It is checked, and an {@link IOException}, because reading a file already forces callers to handle I/O failures:
 * one {@code catch (IOException e)} covers both. The message reads
 * {@code "<source>: tensor '<name>': <field>: <problem>"}, leaving out the tensor or field when the problem has none;
 * the parts are also available from {@link #source()}, {@link #tensor()} and {@link #field()}.
 */
public final class TensorFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String source;
    private final String tensor;
    private final String field;

    /**
     * @param source the file (or a name for an in-memory buffer)
     * @param tensor the tensor concerned, or null for file-level problems
     * @param field the header field concerned (e.g. {@code "data_offsets"}, {@code "n_dims"}), or null
     * @param problem what is wrong, with the offending value
     */
    public TensorFormatException(String source, String tensor, String field, String problem) {
        this(source, tensor, field, problem, null);
    }

    /** As {@link #TensorFormatException(String, String, String, String)}, with the underlying cause. */
    public TensorFormatException(String source, String tensor, String field, String problem, Throwable cause) {
        super(message(source, tensor, field, problem), cause);
        this.source = source;
        this.tensor = tensor;
        this.field = field;
    }

    /** The file or buffer name. */
    public String source() {
        return source;
    }

    /** The tensor concerned, or null. */
    public String tensor() {
        return tensor;
    }

    /** The header field concerned, or null. */
    public String field() {
        return field;
    }

    private static String message(String source, String tensor, String field, String problem) {
        StringBuilder b = new StringBuilder(String.valueOf(source));
        if (tensor != null) {
            b.append(": tensor '").append(abbreviate(tensor)).append('\'');
        }
        if (field != null) {
            b.append(": ").append(field);
        }
        return b.append(": ").append(problem).toString();
    }

    /** Names from a hostile file can be huge: keep messages readable. */
    static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...(" + s.length() + " chars)";
    }
}

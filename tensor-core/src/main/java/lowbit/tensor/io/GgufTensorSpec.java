package lowbit.tensor.io;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import lowbit.tensor.Shape;
import lowbit.tensor.ggml.GgmlType;

/**
 * A tensor to be written to a GGUF file: name, ggml type and lowbit row-major shape (written to the file reversed,
 * as ggml's fastest-first {@code ne}; see {@link GgufTensorInfo}).
 *
 * @param name at most 63 UTF-8 bytes (ggml's {@code GGML_MAX_NAME} includes the terminator)
 * @param type the ggml type of the stored data
 * @param shape rank 1..4; the last dimension (the row length) a multiple of the type's block size
 */
public record GgufTensorSpec(String name, GgmlType type, Shape shape) {
    /** ggml's {@code GGML_MAX_NAME}: names have at most 63 bytes. */
    public static final int MAX_NAME_BYTES = 63;

    /** @throws IllegalArgumentException naming the bad name, rank or row length */
    public GgufTensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(shape, "shape");
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name '" + name + "' has " + bytes
                    + " UTF-8 bytes; ggml allows at most " + MAX_NAME_BYTES);
        }
        if (shape.rank() > GgufParser.MAX_DIMS) {
            throw new IllegalArgumentException(name + ": ggml tensors have at most " + GgufParser.MAX_DIMS
                    + " dimensions, shape is " + shape);
        }
        if (shape.dim(-1) % type.blockSize() != 0) {
            throw new IllegalArgumentException(name + ": the row length " + shape.dim(-1) + " of shape " + shape
                    + " is not a multiple of " + type + "'s block size " + type.blockSize());
        }
        try {
            Math.multiplyExact(shape.numel() / Math.max(1, shape.dim(-1)),
                    Math.multiplyExact(shape.dim(-1) / type.blockSize(), type.blockBytes()));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(name + ": " + shape + " of " + type + " overflows a long byte size", e);
        }
    }

    /** The dimensions as ggml stores them: the shape reversed. */
    public long[] ne() {
        long[] d = shape.dims();
        long[] ne = new long[d.length];
        for (int i = 0; i < d.length; i++) {
            ne[i] = d[d.length - 1 - i];
        }
        return ne;
    }

    /** Number of rows: numel / row length (0 for an empty tensor). */
    public long rows() {
        return shape.dim(-1) == 0 ? 0 : shape.numel() / shape.dim(-1);
    }

    /** Bytes of data: rows · {@code type.rowBytes(rowLength)}. */
    public long byteSize() {
        return rows() * type.rowBytes(shape.dim(-1));
    }
}

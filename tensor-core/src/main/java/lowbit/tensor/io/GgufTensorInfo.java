package lowbit.tensor.io;

import java.util.Arrays;
import java.util.Objects;
import lowbit.tensor.Shape;
import lowbit.tensor.ggml.GgmlType;

/**
 * A GGUF tensor info: name, ggml type, dimensions in ggml's order and the data offset.
 *
 * <p><b>Dimension order.</b> ggml lists dimensions fastest-varying first: {@code ne[0]} is the length of a row (the
 * number of elements stored contiguously; for block types, a multiple of the block size), {@code ne[1]} the number
 * of rows, and so on. lowbit is row-major with the last dimension fastest, so {@link #shape()} is {@code ne}
 * reversed: a ggml {@code [4096, 11008]} (4096 per row) is lowbit's {@code [11008, 4096]}, i.e. {@code nn.Linear}'s
 * {@code W[out, in]}. A tensor with no dimensions ({@code n_dims = 0}) is a scalar, lowbit shape {@code [1]}.
 *
 * @param name the tensor's name
 * @param type its ggml type
 * @param ne dimensions as in the file, fastest first (copied; the accessor returns a copy)
 * @param offset byte offset of its data relative to the start of the data section
 * @param byteSize bytes of data: {@code ne[0]/blockSize · blockBytes · ne[1] · ne[2] · ...}
 */
public record GgufTensorInfo(String name, GgmlType type, long[] ne, long offset, long byteSize) {
    /** Copies {@code ne}. */
    public GgufTensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        ne = ne.clone();
    }

    @Override
    public long[] ne() {
        return ne.clone();
    }

    /** lowbit's row-major shape: {@code ne} reversed ({@code [1]} for a scalar). */
    public Shape shape() {
        if (ne.length == 0) {
            return Shape.of(1L);
        }
        long[] d = new long[ne.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = ne[ne.length - 1 - i];
        }
        return Shape.of(d);
    }

    /** Elements per row, {@code ne[0]} (1 for a scalar). */
    public long rowLength() {
        return ne.length == 0 ? 1 : ne[0];
    }

    /** Number of rows: the product of {@code ne[1..]} (1 for vectors and scalars). */
    public long rowCount() {
        long n = 1;
        for (int i = 1; i < ne.length; i++) {
            n *= ne[i];
        }
        return n;
    }

    /** Number of elements. */
    public long numel() {
        return rowLength() * rowCount();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && name.equals(t.name) && type == t.type && Arrays.equals(ne, t.ne)
                && offset == t.offset && byteSize == t.byteSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, type, Arrays.hashCode(ne), offset, byteSize);
    }

    @Override
    public String toString() {
        return name + " " + type + " ne=" + Arrays.toString(ne) + " @" + offset + " (" + byteSize + " bytes)";
    }
}

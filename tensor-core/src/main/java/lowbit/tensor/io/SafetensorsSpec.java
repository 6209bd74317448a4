package lowbit.tensor.io;

import java.util.Arrays;
import java.util.Objects;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;

/**
 * What a safetensors header says about one tensor apart from where its bytes are: name, dtype and dimensions
 * (row-major, the last varying fastest, as PyTorch's {@code shape}). {@code dims} may be empty: a scalar, one element.
 *
 * @param name the tensor's key in the header (not {@code "__metadata__"})
 * @param dtype its element type
 * @param dims its dimensions, each &ge; 0 (copied; the accessor returns a copy)
 */
public record SafetensorsSpec(String name, SafetensorsDType dtype, long[] dims) {
    /**
     * @throws IllegalArgumentException for an empty name or {@code "__metadata__"}, a negative dimension, an element
     *     count or byte size that overflows a long, or a sub-byte dtype whose tensor does not end on a byte
     */
    public SafetensorsSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        dims = dims.clone();
        if (name.isEmpty() || name.equals(SafetensorsFile.METADATA_KEY)) {
            throw new IllegalArgumentException("a tensor cannot be named '" + name + "'");
        }
        long n = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0) {
                throw new IllegalArgumentException(name + ": dimension " + i + " of " + Arrays.toString(dims)
                        + " is negative");
            }
            try {
                n = Math.multiplyExact(n, dims[i]);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(name + ": element count of " + Arrays.toString(dims)
                        + " overflows a long", e);
            }
        }
        if (n > Long.MAX_VALUE / dtype.bits()) {
            throw new IllegalArgumentException(name + ": " + n + " elements of " + dtype + " overflow a long bit count");
        }
        if (n * dtype.bits() % 8 != 0) {
            throw new IllegalArgumentException(name + ": " + n + " elements of the " + dtype.bits()
                    + "-bit " + dtype + " do not fill whole bytes");
        }
    }

    /** The spec of a lowbit tensor: its name, its dtype's safetensors name, its shape. */
    public static SafetensorsSpec of(String name, Tensor t) {
        return new SafetensorsSpec(name, SafetensorsDType.of(t.dtype()), t.shape().dims());
    }

    /** The spec of a tensor of {@code dtype} and the given dimensions. */
    public static SafetensorsSpec of(String name, SafetensorsDType dtype, long... dims) {
        return new SafetensorsSpec(name, dtype, dims);
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** Number of elements: the product of the dimensions (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    /** Bytes of data: numel · bits / 8. */
    public long byteSize() {
        return numel() * dtype.bits() / 8;
    }

    /** The dimensions as a lowbit {@link Shape}; a scalar ({@code dims = []}) becomes {@code [1]}. */
    public Shape shape() {
        return dims.length == 0 ? Shape.of(1L) : Shape.of(dims);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SafetensorsSpec s && name.equals(s.name) && dtype == s.dtype && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(dims));
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(dims);
    }
}

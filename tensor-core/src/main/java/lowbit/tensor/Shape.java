package lowbit.tensor;

import java.util.Arrays;

/**
 * The dimensions of a row-major tensor: rank &ge; 1, each dimension &ge; 0, element count a {@code long}.
 * The last dimension varies fastest. A 2-D weight follows {@code nn.Linear}: {@code [out, in]}.
 * Immutable.
 */
public final class Shape {
    private final long[] dims;
    private final long numel;

    private Shape(long[] dims) {
        if (dims.length == 0) {
            throw new IllegalArgumentException("a shape needs rank >= 1, got rank 0");
        }
        boolean empty = false;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0) {
                throw new IllegalArgumentException(
                        "dimension " + i + " of " + Arrays.toString(dims) + " is negative: " + dims[i]);
            }
            empty |= dims[i] == 0;
        }
        // a zero dimension makes the count 0 whatever the others are (the product must not overflow on the way)
        long n = empty ? 0 : 1;
        for (int i = 0; i < dims.length && !empty; i++) {
            try {
                n = Math.multiplyExact(n, dims[i]);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("element count of " + Arrays.toString(dims) + " overflows a long", e);
            }
        }
        this.dims = dims;
        this.numel = n;
    }

    /** A shape with the given dimensions (copied). */
    public static Shape of(long... dims) {
        return new Shape(dims.clone());
    }

    /** A shape with the given int dimensions. */
    public static Shape of(int... dims) {
        long[] d = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            d[i] = dims[i];
        }
        return new Shape(d);
    }

    /** Number of dimensions (&ge; 1). */
    public int rank() {
        return dims.length;
    }

    /** Dimension {@code i}; negative {@code i} counts from the end ({@code dim(-1)} is the last). */
    public long dim(int i) {
        int j = i < 0 ? dims.length + i : i;
        if (j < 0 || j >= dims.length) {
            throw new IndexOutOfBoundsException("dimension index " + i + " out of range for rank " + dims.length);
        }
        return dims[j];
    }

    /** A copy of the dimensions. */
    public long[] dims() {
        return dims.clone();
    }

    /** Product of the dimensions. */
    public long numel() {
        return numel;
    }

    /** Row-major flat index of a full index tuple, bounds-checked. */
    public long flatIndex(long... index) {
        if (index.length != dims.length) {
            throw new IllegalArgumentException(
                    "index " + Arrays.toString(index) + " has rank " + index.length + ", shape " + this + " has rank " + dims.length);
        }
        long flat = 0;
        for (int i = 0; i < dims.length; i++) {
            if (index[i] < 0 || index[i] >= dims[i]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " out of bounds for shape " + this);
            }
            flat = flat * dims[i] + index[i];
        }
        return flat;
    }

    /** The same shape with dimension {@code i} replaced by {@code size}. */
    public Shape withDim(int i, long size) {
        long[] d = dims.clone();
        int j = i < 0 ? d.length + i : i;
        if (j < 0 || j >= d.length) {
            throw new IndexOutOfBoundsException("dimension index " + i + " out of range for rank " + d.length);
        }
        d[j] = size;
        return new Shape(d);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** Like {@code [4096, 4096]}. */
    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}

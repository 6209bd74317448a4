package lowbit.tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A row-major tensor: a {@link Shape}, a {@link DType} and a little-endian storage {@link MemorySegment}.
 *
 * <p>Storage is one of: a heap {@code byte[]} ({@link #ofFloats}, {@link #ofCodes}, up to 2<sup>31</sup>−1 bytes);
 * off-heap memory owned by an {@link Arena} ({@link #allocate}, 64-byte aligned, any size); a read-only
 * memory-mapped region of a file ({@link #map}, any size, zero-copy); or any segment the caller already has
 * ({@link #wrap}). Element counts are {@code long}, so tensors of more than 2<sup>31</sup> elements work when their
 * storage is off-heap or mapped.
 *
 * <p>The tensor object (shape, dtype, which segment) never changes. The bytes are as mutable as the segment:
 * {@link #setFloat}/{@link #setInt} write through, and fail on read-only storage such as a mapped file. Views
 * ({@link #row}, {@link #rows}, {@link #reshape}) share storage and never copy.
 *
 * <p>Packed integer dtypes (I1..I7, U1..U7) follow the {@link PackedInts} layout; a view of part of a packed
 * tensor must start on a byte boundary.
 */
public final class Tensor {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Alignment of {@link #allocate}d storage, in bytes (a cache line, and the widest vector). */
    public static final long ALIGNMENT = 64;

    private final DType dtype;
    private final Shape shape;
    private final MemorySegment data;

    private Tensor(DType dtype, Shape shape, MemorySegment data) {
        this.dtype = dtype;
        this.shape = shape;
        this.data = data;
    }

    // ---------------------------------------------------------------- factories

    /**
     * A tensor over existing storage, zero-copy. The segment must hold at least {@code dtype.byteSize(numel)}
     * bytes; the tensor covers exactly that many from its start.
     *
     * @throws IllegalArgumentException if the segment is too short
     */
    public static Tensor wrap(MemorySegment storage, DType dtype, Shape shape) {
        Objects.requireNonNull(storage, "storage");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        long need = dtype.byteSize(shape.numel());
        if (storage.byteSize() < need) {
            throw new IllegalArgumentException("a " + dtype + " tensor of shape " + shape + " needs " + need
                    + " bytes, the segment has " + storage.byteSize());
        }
        return new Tensor(dtype, shape, storage.asSlice(0, need));
    }

    /** A zero-filled, writable tensor in off-heap memory owned by {@code arena}, {@value #ALIGNMENT}-byte aligned. */
    public static Tensor allocate(DType dtype, Shape shape, Arena arena) {
        long need = dtype.byteSize(shape.numel());
        return new Tensor(dtype, shape, arena.allocate(Math.max(1, need), ALIGNMENT).asSlice(0, need));
    }

    /**
     * An F32 tensor on the heap holding a copy of {@code values}.
     *
     * @throws IllegalArgumentException if {@code values.length} differs from the shape's element count
     */
    public static Tensor ofFloats(float[] values, long... dims) {
        return ofFloats(DType.F32, values, Shape.of(dims));
    }

    /**
     * A heap tensor of a floating-point dtype (F32, F16 or BF16) holding {@code values} converted to it
     * (round-to-nearest-even for F16 and BF16).
     *
     * @throws IllegalArgumentException if the dtype is not floating point or the length does not match the shape
     */
    public static Tensor ofFloats(DType dtype, float[] values, Shape shape) {
        if (!dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("ofFloats needs F32, F16 or BF16, got " + dtype + "; use ofCodes for integers");
        }
        checkLength(values.length, shape);
        Tensor t = new Tensor(dtype, shape, heap(dtype.byteSize(shape.numel())));
        for (int i = 0; i < values.length; i++) {
            t.setFloat(i, values[i]);
        }
        return t;
    }

    /**
     * A heap tensor of an integer dtype holding {@code codes}, packed for widths below 8.
     *
     * @throws IllegalArgumentException if the dtype is not an integer type, a code is out of its range (the message
     *     names the index and value), or the length does not match the shape
     */
    public static Tensor ofCodes(DType dtype, int[] codes, Shape shape) {
        if (!dtype.isInteger()) {
            throw new IllegalArgumentException("ofCodes needs an integer dtype, got " + dtype + "; use ofFloats");
        }
        checkLength(codes.length, shape);
        Tensor t = new Tensor(dtype, shape, heap(dtype.byteSize(shape.numel())));
        PackedInts.pack(codes, 0, codes.length, dtype.bits(), dtype.isSigned(), t.data, 0);
        return t;
    }

    /**
     * Maps {@code dtype.byteSize(numel)} bytes of {@code file} starting at byte {@code offset}, read-only and
     * zero-copy; the mapping lives as long as {@code arena}.
     *
     * @throws IllegalArgumentException if {@code offset} is negative
     * @throws IndexOutOfBoundsException if the region runs past the end of the file (the message names the region
     *     and the file size)
     * @throws IOException if the file cannot be opened or mapped
     */
    public static Tensor map(Path file, long offset, DType dtype, Shape shape, Arena arena) throws IOException {
        if (offset < 0) {
            throw new IllegalArgumentException("mapping offset must be >= 0, got " + offset);
        }
        long length = dtype.byteSize(shape.numel());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (offset > size || length > size - offset) {
                throw new IndexOutOfBoundsException("region [" + offset + ", " + (offset + length) + ") of " + file
                        + " for a " + dtype + " tensor of shape " + shape + " runs past the end of the file (" + size + " bytes)");
            }
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, offset, length, arena);
            return new Tensor(dtype, shape, seg);
        }
    }

    // ---------------------------------------------------------------- properties

    /** The element type. */
    public DType dtype() {
        return dtype;
    }

    /** The dimensions. */
    public Shape shape() {
        return shape;
    }

    /** Number of elements. */
    public long numel() {
        return shape.numel();
    }

    /** The storage: exactly {@link #byteSize()} bytes, little-endian. Writable unless {@link #isReadOnly()}. */
    public MemorySegment segment() {
        return data;
    }

    /** Bytes of storage: {@code ceil(numel · bits / 8)}. */
    public long byteSize() {
        return data.byteSize();
    }

    /** True for read-only storage (e.g. a mapped file). */
    public boolean isReadOnly() {
        return data.isReadOnly();
    }

    // ---------------------------------------------------------------- elements

    /**
     * Element {@code flatIndex} (row-major) of a floating-point tensor, as a float.
     *
     * @throws UnsupportedOperationException for integer dtypes (use {@link #getInt})
     * @throws IndexOutOfBoundsException if the index is outside [0, numel)
     */
    public float getFloat(long flatIndex) {
        Objects.checkIndex(flatIndex, numel());
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, flatIndex);
            case F16 -> Float.float16ToFloat(data.getAtIndex(I16, flatIndex));
            case BF16 -> Float.intBitsToFloat(data.getAtIndex(I16, flatIndex) << 16);
            default -> throw new UnsupportedOperationException(dtype + " is an integer dtype: use getInt");
        };
    }

    /**
     * Element {@code flatIndex} of an integer tensor: sign-extended for I1..I8, zero-extended for U1..U8.
     *
     * @throws UnsupportedOperationException for floating-point dtypes (use {@link #getFloat})
     * @throws IndexOutOfBoundsException if the index is outside [0, numel)
     */
    public int getInt(long flatIndex) {
        Objects.checkIndex(flatIndex, numel());
        requireInteger("getInt");
        return PackedInts.get(data, flatIndex, dtype.bits(), dtype.isSigned());
    }

    /**
     * Writes element {@code flatIndex} of a floating-point tensor, rounding to nearest-even for F16/BF16.
     *
     * @throws UnsupportedOperationException for integer dtypes or read-only storage
     */
    public void setFloat(long flatIndex, float value) {
        Objects.checkIndex(flatIndex, numel());
        requireWritable();
        switch (dtype) {
            case F32 -> data.setAtIndex(F32, flatIndex, value);
            case F16 -> data.setAtIndex(I16, flatIndex, Float.floatToFloat16(value));
            case BF16 -> data.setAtIndex(I16, flatIndex, toBf16(value));
            default -> throw new UnsupportedOperationException(dtype + " is an integer dtype: use setInt");
        }
    }

    /**
     * Writes element {@code flatIndex} of an integer tensor, leaving neighbouring packed codes unchanged.
     *
     * @throws IllegalArgumentException if the value is out of the dtype's range (names index and value)
     * @throws UnsupportedOperationException for floating-point dtypes or read-only storage
     */
    public void setInt(long flatIndex, int value) {
        Objects.checkIndex(flatIndex, numel());
        requireInteger("setInt");
        requireWritable();
        if (value < dtype.minCode() || value > dtype.maxCode()) {
            throw new IllegalArgumentException("element " + flatIndex + ": value " + value + " is out of range ["
                    + dtype.minCode() + ", " + dtype.maxCode() + "] of " + dtype);
        }
        PackedInts.set(data, flatIndex, dtype.bits(), dtype.isSigned(), value);
    }

    /**
     * All elements of a floating-point tensor as a new float array.
     *
     * @throws UnsupportedOperationException for integer dtypes, or when numel exceeds what an array holds
     */
    public float[] toFloatArray() {
        if (!dtype.isFloatingPoint()) {
            throw new UnsupportedOperationException(dtype + " is an integer dtype: use toIntArray");
        }
        float[] out = new float[arrayLength()];
        for (int i = 0; i < out.length; i++) {
            out[i] = getFloat(i);
        }
        return out;
    }

    /**
     * All elements of an integer tensor as a new int array (unpacked, sign- or zero-extended).
     *
     * @throws UnsupportedOperationException for floating-point dtypes, or when numel exceeds what an array holds
     */
    public int[] toIntArray() {
        requireInteger("toIntArray");
        int[] out = new int[arrayLength()];
        PackedInts.unpack(data, 0, dtype.bits(), dtype.isSigned(), out, 0, out.length);
        return out;
    }

    // ---------------------------------------------------------------- views

    /**
     * Sub-tensor {@code i} along the first dimension, without copying: row {@code i} of a matrix is a 1-D tensor of
     * its columns; of a 3-D tensor, a matrix.
     *
     * @throws IllegalArgumentException for rank-1 tensors or packed rows that do not start on a byte boundary
     * @throws IndexOutOfBoundsException if {@code i} is outside [0, dim(0))
     */
    public Tensor row(long i) {
        if (shape.rank() < 2) {
            throw new IllegalArgumentException("row() needs rank >= 2, shape is " + shape);
        }
        Objects.checkIndex(i, shape.dim(0));
        long[] d = shape.dims();
        long[] rest = java.util.Arrays.copyOfRange(d, 1, d.length);
        Shape sub = Shape.of(rest);
        return new Tensor(dtype, sub, slice(i * sub.numel(), sub.numel()));
    }

    /**
     * Rows {@code [from, to)} along the first dimension, without copying.
     *
     * @throws IndexOutOfBoundsException if the range is outside [0, dim(0)]
     * @throws IllegalArgumentException for packed rows that do not start on a byte boundary
     */
    public Tensor rows(long from, long to) {
        Objects.checkFromToIndex(from, to, shape.dim(0));
        long per = shape.dim(0) == 0 ? 0 : shape.numel() / shape.dim(0);
        Shape sub = shape.withDim(0, to - from);
        return new Tensor(dtype, sub, slice(from * per, sub.numel()));
    }

    /**
     * The same storage seen with another shape of the same element count.
     *
     * @throws IllegalArgumentException if the element counts differ
     */
    public Tensor reshape(Shape newShape) {
        if (newShape.numel() != shape.numel()) {
            throw new IllegalArgumentException("cannot reshape " + shape + " (" + shape.numel() + " elements) to "
                    + newShape + " (" + newShape.numel() + " elements)");
        }
        return new Tensor(dtype, newShape, data);
    }

    /** Like {@code Tensor[F32 [4096, 4096], 67108864 bytes, native]}. */
    @Override
    public String toString() {
        String where = data.isNative() ? (data.isMapped() ? "mapped" : "native") : "heap";
        return "Tensor[" + dtype + " " + shape + ", " + data.byteSize() + " bytes, " + where
                + (data.isReadOnly() ? ", read-only" : "") + "]";
    }

    // ---------------------------------------------------------------- internals

    private MemorySegment slice(long firstElement, long count) {
        long bit = firstElement * dtype.bits();
        if ((bit & 7) != 0) {
            throw new IllegalArgumentException("a view starting at element " + firstElement + " of a " + dtype
                    + " tensor would start at bit " + (bit & 7) + " of a byte; views of packed tensors must start on a byte boundary");
        }
        return data.asSlice(bit >>> 3, dtype.byteSize(count));
    }

    private int arrayLength() {
        if (numel() > Integer.MAX_VALUE - 8) {
            throw new UnsupportedOperationException("tensor of " + numel() + " elements does not fit in a Java array");
        }
        return (int) numel();
    }

    private void requireInteger(String op) {
        if (!dtype.isInteger()) {
            throw new UnsupportedOperationException(op + " needs an integer dtype, this tensor is " + dtype);
        }
    }

    private void requireWritable() {
        if (data.isReadOnly()) {
            throw new UnsupportedOperationException("tensor storage is read-only: " + this);
        }
    }

    private static short toBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((b >>> 16) | 0x40);
        }
        return (short) ((b + 0x7FFF + ((b >>> 16) & 1)) >>> 16);
    }

    private static MemorySegment heap(long bytes) {
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(bytes + " bytes do not fit a heap tensor; use allocate(..., arena) or map(...)");
        }
        return MemorySegment.ofArray(new byte[(int) bytes]);
    }

    private static void checkLength(int length, Shape shape) {
        if (length != shape.numel()) {
            throw new IllegalArgumentException(length + " values for shape " + shape + " of " + shape.numel() + " elements");
        }
    }
}

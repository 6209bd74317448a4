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
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
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
     * A heap tensor of a floating-point dtype (F32, F16, BF16 or F64) holding {@code values} converted to it
     * (round-to-nearest-even for F16 and BF16, exact for F64).
     *
     * @throws IllegalArgumentException if the dtype is not F32, F16, BF16 or F64 (lowbit does not encode F8) or the
     *     length does not match the shape
     */
    public static Tensor ofFloats(DType dtype, float[] values, Shape shape) {
        if (!dtype.isComputeFloat() && dtype != DType.F64) {
            throw new IllegalArgumentException("ofFloats needs F32, F16, BF16 or F64, got " + dtype
                    + (dtype.isFloatingPoint() ? " (lowbit decodes F8 but does not encode it)" : "; use ofCodes for integers"));
        }
        checkLength(values.length, shape);
        Tensor t = new Tensor(dtype, shape, heap(dtype.byteSize(shape.numel())));
        switch (dtype) {
            case F32 -> MemorySegment.copy(values, 0, t.data, F32, 0, values.length);
            case F16 -> Fp16.fromFloats(values, 0, t.data, 0, values.length);
            case BF16 -> Bf16.fromFloats(values, 0, t.data, 0, values.length);
            default -> {
                for (int i = 0; i < values.length; i++) {
                    t.data.setAtIndex(F64, i, values[i]);
                }
            }
        }
        return t;
    }

    /**
     * A heap tensor of an integer dtype (or BOOL, codes 0 and 1) holding {@code codes}, packed for widths below 8,
     * sign-extended for I64.
     *
     * @throws IllegalArgumentException if the dtype is not an integer type or BOOL, a code is out of its range (the
     *     message names the index and value), or the length does not match the shape
     */
    public static Tensor ofCodes(DType dtype, int[] codes, Shape shape) {
        if (!dtype.isInteger() && !dtype.isBool()) {
            throw new IllegalArgumentException("ofCodes needs an integer dtype or BOOL, got " + dtype + "; use ofFloats");
        }
        checkLength(codes.length, shape);
        Tensor t = new Tensor(dtype, shape, heap(dtype.byteSize(shape.numel())));
        if (dtype.bits() <= 8 && dtype.isInteger()) {
            PackedInts.pack(codes, 0, codes.length, dtype.bits(), dtype.isSigned(), t.data, 0);
        } else {
            for (int i = 0; i < codes.length; i++) {
                if (dtype != DType.I64 && (codes[i] < dtype.minCode() || codes[i] > dtype.maxCode())) {
                    throw new IllegalArgumentException("codes[" + i + "] = " + codes[i] + " is out of range ["
                            + dtype.minCode() + ", " + dtype.maxCode() + "] of " + dtype);
                }
                t.storeInt(i, codes[i]);
            }
        }
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
     * Element {@code flatIndex} (row-major) of a floating-point tensor, as a float: exact for F32, F16, BF16 and F8
     * ({@link Fp8}), rounded to nearest-even for F64.
     *
     * @throws UnsupportedOperationException for integer and BOOL dtypes (use {@link #getInt})
     * @throws IndexOutOfBoundsException if the index is outside [0, numel)
     */
    public float getFloat(long flatIndex) {
        Objects.checkIndex(flatIndex, numel());
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, flatIndex);
            case F16 -> Fp16.toFloat(data.getAtIndex(I16, flatIndex));
            case BF16 -> Bf16.toFloat(data.getAtIndex(I16, flatIndex));
            case F64 -> (float) data.getAtIndex(F64, flatIndex);
            case F8_E4M3 -> Fp8.e4m3ToFloat(data.get(ValueLayout.JAVA_BYTE, flatIndex));
            case F8_E5M2 -> Fp8.e5m2ToFloat(data.get(ValueLayout.JAVA_BYTE, flatIndex));
            default -> throw new UnsupportedOperationException(dtype + " is not a floating-point dtype: use getInt");
        };
    }

    /**
     * Element {@code flatIndex} of a floating-point tensor, as a double (exact for every floating-point dtype).
     *
     * @throws UnsupportedOperationException for integer and BOOL dtypes
     * @throws IndexOutOfBoundsException if the index is outside [0, numel)
     */
    public double getDouble(long flatIndex) {
        if (dtype == DType.F64) {
            Objects.checkIndex(flatIndex, numel());
            return data.getAtIndex(F64, flatIndex);
        }
        return getFloat(flatIndex);
    }

    /**
     * Element {@code flatIndex} of an integer tensor: sign-extended for I1..I8, I16 and I32, zero-extended for
     * U1..U8; 0 or 1 for BOOL (any non-zero byte is 1).
     *
     * @throws UnsupportedOperationException for floating-point dtypes (use {@link #getFloat}) and I64 (use
     *     {@link #getLong})
     * @throws IndexOutOfBoundsException if the index is outside [0, numel)
     */
    public int getInt(long flatIndex) {
        Objects.checkIndex(flatIndex, numel());
        requireInteger("getInt");
        return switch (dtype) {
            case I16 -> data.getAtIndex(I16, flatIndex);
            case I32 -> data.getAtIndex(I32, flatIndex);
            case BOOL -> data.get(ValueLayout.JAVA_BYTE, flatIndex) != 0 ? 1 : 0;
            case I64 -> throw new UnsupportedOperationException("I64 elements do not fit an int: use getLong");
            default -> PackedInts.get(data, flatIndex, dtype.bits(), dtype.isSigned());
        };
    }

    /**
     * Element {@code flatIndex} of an integer or BOOL tensor as a long (every integer dtype, I64 included).
     *
     * @throws UnsupportedOperationException for floating-point dtypes
     * @throws IndexOutOfBoundsException if the index is outside [0, numel)
     */
    public long getLong(long flatIndex) {
        if (dtype == DType.I64) {
            Objects.checkIndex(flatIndex, numel());
            return data.getAtIndex(I64, flatIndex);
        }
        return getInt(flatIndex);
    }

    /**
     * Writes element {@code flatIndex} of a floating-point tensor, rounding to nearest-even for F16/BF16 (exact for
     * F64).
     *
     * @throws UnsupportedOperationException for integer and BOOL dtypes, F8 (not encoded), or read-only storage
     */
    public void setFloat(long flatIndex, float value) {
        Objects.checkIndex(flatIndex, numel());
        requireWritable();
        switch (dtype) {
            case F32 -> data.setAtIndex(F32, flatIndex, value);
            case F16 -> data.setAtIndex(I16, flatIndex, Fp16.fromFloat(value));
            case BF16 -> data.setAtIndex(I16, flatIndex, Bf16.fromFloat(value));
            case F64 -> data.setAtIndex(F64, flatIndex, value);
            case F8_E4M3, F8_E5M2 -> throw new UnsupportedOperationException("lowbit decodes " + dtype
                    + " but does not encode it");
            default -> throw new UnsupportedOperationException(dtype + " is not a floating-point dtype: use setInt");
        }
    }

    /**
     * Writes element {@code flatIndex} of an integer or BOOL tensor (BOOL takes 0 or 1), leaving neighbouring packed
     * codes unchanged; an I64 element gets the sign-extended value.
     *
     * @throws IllegalArgumentException if the value is out of the dtype's range (names index and value)
     * @throws UnsupportedOperationException for floating-point dtypes or read-only storage
     */
    public void setInt(long flatIndex, int value) {
        Objects.checkIndex(flatIndex, numel());
        requireInteger("setInt");
        requireWritable();
        if (dtype != DType.I64 && (value < dtype.minCode() || value > dtype.maxCode())) {
            throw new IllegalArgumentException("element " + flatIndex + ": value " + value + " is out of range ["
                    + dtype.minCode() + ", " + dtype.maxCode() + "] of " + dtype);
        }
        storeInt(flatIndex, value);
    }

    /**
     * All elements of a floating-point tensor as a new float array (F64 rounded to nearest-even, the others exact).
     *
     * @throws UnsupportedOperationException for integer and BOOL dtypes, or when numel exceeds what an array holds
     */
    public float[] toFloatArray() {
        if (!dtype.isFloatingPoint()) {
            throw new UnsupportedOperationException(dtype + " is not a floating-point dtype: use toIntArray");
        }
        float[] out = new float[arrayLength()];
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, F32, 0, out, 0, out.length);
            case F16 -> Fp16.toFloats(data, 0, out, 0, out.length);
            case BF16 -> Bf16.toFloats(data, 0, out, 0, out.length);
            default -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = getFloat(i);
                }
            }
        }
        return out;
    }

    /**
     * All elements of an integer or BOOL tensor as a new int array (unpacked, sign- or zero-extended; BOOL as 0/1).
     *
     * @throws UnsupportedOperationException for floating-point dtypes and I64, or when numel exceeds what an array
     *     holds
     */
    public int[] toIntArray() {
        requireInteger("toIntArray");
        if (dtype == DType.I64) {
            throw new UnsupportedOperationException("I64 elements do not fit an int: use getLong");
        }
        int[] out = new int[arrayLength()];
        if (dtype.bits() <= 8 && dtype.isInteger()) {
            PackedInts.unpack(data, 0, dtype.bits(), dtype.isSigned(), out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getInt(i);
            }
        }
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
        if (!dtype.isInteger() && !dtype.isBool()) {
            throw new UnsupportedOperationException(op + " needs an integer or BOOL dtype, this tensor is " + dtype);
        }
    }

    /** Stores an in-range code of an integer or BOOL dtype (I64 sign-extends). */
    private void storeInt(long i, int value) {
        switch (dtype) {
            case I16 -> data.setAtIndex(I16, i, (short) value);
            case I32 -> data.setAtIndex(I32, i, value);
            case I64 -> data.setAtIndex(I64, i, value);
            case BOOL -> data.set(ValueLayout.JAVA_BYTE, i, (byte) (value != 0 ? 1 : 0));
            default -> PackedInts.set(data, i, dtype.bits(), dtype.isSigned(), value);
        }
    }

    private void requireWritable() {
        if (data.isReadOnly()) {
            throw new UnsupportedOperationException("tensor storage is read-only: " + this);
        }
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

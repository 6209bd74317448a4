package lowbit.tensor;

/**
 * Element types of a {@link Tensor}.
 *
 * <p>Floating point: {@link #F32} (IEEE binary32), {@link #F16} (IEEE binary16) and {@link #BF16} (bfloat16: the
 * upper 16 bits of a binary32). Integers: signed two's-complement {@code I1..I8} and unsigned {@code U1..U8}. Integer
 * types narrower than 8 bits are <em>packed</em>: element {@code i} of an n-bit tensor occupies bits
 * {@code [i·n, i·n + n)} of the storage, counted from bit 0 of byte 0 upward (little-endian bit order, see
 * {@link PackedInts}). All multi-byte values are stored little-endian.
 */
public enum DType {
    F32(32, Kind.FLOAT, true),
    F16(16, Kind.FLOAT, true),
    BF16(16, Kind.FLOAT, true),
    I8(8, Kind.INT, true),
    U8(8, Kind.INT, false),
    I7(7, Kind.INT, true),
    I6(6, Kind.INT, true),
    I5(5, Kind.INT, true),
    I4(4, Kind.INT, true),
    I3(3, Kind.INT, true),
    I2(2, Kind.INT, true),
    I1(1, Kind.INT, true),
    U7(7, Kind.INT, false),
    U6(6, Kind.INT, false),
    U5(5, Kind.INT, false),
    U4(4, Kind.INT, false),
    U3(3, Kind.INT, false),
    U2(2, Kind.INT, false),
    U1(1, Kind.INT, false);

    private enum Kind { FLOAT, INT }

    private static final DType[] SIGNED = {null, I1, I2, I3, I4, I5, I6, I7, I8};
    private static final DType[] UNSIGNED = {null, U1, U2, U3, U4, U5, U6, U7, U8};

    private final int bits;
    private final Kind kind;
    private final boolean signed;

    DType(int bits, Kind kind, boolean signed) {
        this.bits = bits;
        this.kind = kind;
        this.signed = signed;
    }

    /** The integer dtype of the given width and signedness, e.g. {@code integer(4, false) == U4}. */
    public static DType integer(int bits, boolean signed) {
        PackedInts.checkBits(bits);
        return signed ? SIGNED[bits] : UNSIGNED[bits];
    }

    /** Bits per element: 32, 16, or 1..8 for integers. */
    public int bits() {
        return bits;
    }

    /** True for F32, F16 and BF16. */
    public boolean isFloatingPoint() {
        return kind == Kind.FLOAT;
    }

    /** True for the integer types I1..I8 and U1..U8. */
    public boolean isInteger() {
        return kind == Kind.INT;
    }

    /** True for floating point types and the signed integers; false for U1..U8. */
    public boolean isSigned() {
        return signed;
    }

    /** True for integer types narrower than a byte, whose elements share bytes. */
    public boolean isPacked() {
        return kind == Kind.INT && bits < 8;
    }

    /** Smallest representable integer: {@code -2^(bits-1)} signed, 0 unsigned. Only for integer types. */
    public int minCode() {
        requireInteger();
        return signed ? -(1 << (bits - 1)) : 0;
    }

    /** Largest representable integer: {@code 2^(bits-1) - 1} signed, {@code 2^bits - 1} unsigned. Only for integer types. */
    public int maxCode() {
        requireInteger();
        return signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    }

    /**
     * Bytes needed to store {@code count} elements: {@code ceil(count · bits / 8)}.
     *
     * @throws IllegalArgumentException if count is negative or the size overflows a long
     */
    public long byteSize(long count) {
        if (count < 0) {
            throw new IllegalArgumentException("element count must be >= 0, got " + count);
        }
        if (count > (Long.MAX_VALUE - 7) / bits) {
            throw new IllegalArgumentException(count + " elements of " + this + " overflow a long byte size");
        }
        return (count * bits + 7) >>> 3;
    }

    private void requireInteger() {
        if (kind != Kind.INT) {
            throw new UnsupportedOperationException(this + " is not an integer dtype");
        }
    }
}

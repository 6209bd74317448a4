package lowbit.tensor;

/**
 * Element types of a {@link Tensor}.
 *
 * <p>Floating point: {@link #F32} (IEEE binary32), {@link #F16} (IEEE binary16) and {@link #BF16} (bfloat16: the
 * upper 16 bits of a binary32), which lowbit computes with; {@link #F64} (IEEE binary64) and the 8-bit
 * {@link #F8_E4M3} / {@link #F8_E5M2} (see {@link Fp8}), which lowbit reads and writes so that checkpoints holding
 * them load (F8 is decoded to float exactly but not encoded). Integers: signed two's-complement {@code I1..I8},
 * {@link #I16}, {@link #I32}, {@link #I64} and unsigned {@code U1..U8}. {@link #BOOL}: one byte per element, zero
 * false and anything else true (numpy's and PyTorch's bool). Integer types narrower than 8 bits are <em>packed</em>:
 * element {@code i} of an n-bit tensor occupies bits {@code [i·n, i·n + n)} of the storage, counted from bit 0 of
 * byte 0 upward (little-endian bit order, see {@link PackedInts}). All multi-byte values are stored little-endian.
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
    U1(1, Kind.INT, false),
    /** IEEE binary64: read and written, not computed with (element access converts to float or double). */
    F64(64, Kind.FLOAT, true),
    /** 16-bit two's-complement integer. */
    I16(16, Kind.INT, true),
    /** 32-bit two's-complement integer. */
    I32(32, Kind.INT, true),
    /** 64-bit two's-complement integer (element access through {@link Tensor#getLong}). */
    I64(64, Kind.INT, true),
    /** One byte per element: 0 is false, any other byte true; read as 0/1. Neither integer nor floating point. */
    BOOL(8, Kind.BOOL, false),
    /** 8-bit float E4M3 "FN" (OCP FP8, PyTorch {@code float8_e4m3fn}): bias 7, no infinities, max 448; decode only. */
    F8_E4M3(8, Kind.FLOAT, true),
    /** 8-bit float E5M2 (OCP FP8, PyTorch {@code float8_e5m2}): bias 15, IEEE-style infinities and NaNs; decode only. */
    F8_E5M2(8, Kind.FLOAT, true);

    private enum Kind { FLOAT, INT, BOOL }

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

    /**
     * True for F32, F16, BF16, F64, F8_E4M3 and F8_E5M2. Only F32, F16 and BF16 are computed with (GEMV, GEMM, the
     * float kernels); check {@link #isComputeFloat()} before choosing a kernel.
     */
    public boolean isFloatingPoint() {
        return kind == Kind.FLOAT;
    }

    /** True for F32, F16 and BF16: the float types lowbit's kernels accept. */
    public boolean isComputeFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** True for the integer types I1..I8, U1..U8, I16, I32 and I64 (not {@link #BOOL}). */
    public boolean isInteger() {
        return kind == Kind.INT;
    }

    /** True for {@link #BOOL}. */
    public boolean isBool() {
        return kind == Kind.BOOL;
    }

    /** Bytes per element for the byte-aligned types (bits &ge; 8): bits / 8; 0 for packed types. */
    public int elementBytes() {
        return bits >= 8 ? bits / 8 : 0;
    }

    /** True for floating point types and the signed integers; false for U1..U8 and BOOL. */
    public boolean isSigned() {
        return signed;
    }

    /** True for integer types narrower than a byte, whose elements share bytes. */
    public boolean isPacked() {
        return kind == Kind.INT && bits < 8;
    }

    /**
     * Smallest representable integer: {@code -2^(bits-1)} signed, 0 unsigned and for BOOL. Only for integer types up
     * to 32 bits and BOOL.
     *
     * @throws UnsupportedOperationException for floating point types and I64 (whose range does not fit an int)
     */
    public int minCode() {
        requireIntCodes();
        return signed ? (int) -(1L << (bits - 1)) : 0;
    }

    /**
     * Largest representable integer: {@code 2^(bits-1) - 1} signed, {@code 2^bits - 1} unsigned, 1 for BOOL. Only for
     * integer types up to 32 bits and BOOL.
     *
     * @throws UnsupportedOperationException for floating point types and I64 (whose range does not fit an int)
     */
    public int maxCode() {
        requireIntCodes();
        if (kind == Kind.BOOL) {
            return 1;
        }
        return signed ? (int) ((1L << (bits - 1)) - 1) : (1 << bits) - 1;
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

    private void requireIntCodes() {
        if (kind == Kind.FLOAT) {
            throw new UnsupportedOperationException(this + " is not an integer dtype");
        }
        if (bits > 32) {
            throw new UnsupportedOperationException(this + "'s range does not fit an int");
        }
    }
}

package lowbit.tensor.io;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * One GGUF metadata value: a {@link GgufType} and its payload. Immutable; equal values have equal types and bits.
 *
 * <p>Typed access is strict where a silent conversion could lose information: {@link #asString()} only for STRING,
 * {@link #asLong()} for the integer types (UINT64 as its raw 64 bits, see {@link #asUnsignedString()}),
 * {@link #asInt()} only when the value fits an int, {@link #asFloat()}/{@link #asDouble()} for any number. A wrong
 * type is an {@link IllegalStateException} naming both types.
 *
 * <p>Strings keep their bytes: a value read from a file is written back byte for byte, even when the bytes are not
 * valid UTF-8 ({@link #asString()} then shows U+FFFD for them).
 */
public final class GgufValue {
    private final GgufType type;
    private final long bits; // integers sign/zero-extended, floats' raw bits, bool 0/1
    private final Object ref; // byte[] for STRING, GgufArray for ARRAY

    GgufValue(GgufType type, long bits, Object ref) {
        this.type = type;
        this.bits = bits;
        this.ref = ref;
    }

    // ---------------------------------------------------------------- factories

    /**
     * An integer value of {@code type} (UINT8..INT64; for UINT64 the long's raw 64 bits).
     *
     * @throws IllegalArgumentException if the type is not an integer type or the value is out of its range
     */
    public static GgufValue ofInteger(GgufType type, long value) {
        if (!type.isInteger()) {
            throw new IllegalArgumentException("ofInteger needs an integer type, got " + type);
        }
        checkRange(type, value, "value");
        return new GgufValue(type, value, null);
    }

    /** A UINT8 value, 0..255. */
    public static GgufValue ofU8(int v) {
        return ofInteger(GgufType.UINT8, v);
    }

    /** An INT8 value, &minus;128..127. */
    public static GgufValue ofI8(int v) {
        return ofInteger(GgufType.INT8, v);
    }

    /** A UINT16 value, 0..65535. */
    public static GgufValue ofU16(int v) {
        return ofInteger(GgufType.UINT16, v);
    }

    /** An INT16 value. */
    public static GgufValue ofI16(int v) {
        return ofInteger(GgufType.INT16, v);
    }

    /** A UINT32 value, 0..2<sup>32</sup>&minus;1. */
    public static GgufValue ofU32(long v) {
        return ofInteger(GgufType.UINT32, v);
    }

    /** An INT32 value. */
    public static GgufValue ofI32(int v) {
        return ofInteger(GgufType.INT32, v);
    }

    /** A UINT64 value: the raw 64 bits of {@code v} (use {@link Long#parseUnsignedLong} for values &ge; 2<sup>63</sup>). */
    public static GgufValue ofU64(long v) {
        return ofInteger(GgufType.UINT64, v);
    }

    /** An INT64 value. */
    public static GgufValue ofI64(long v) {
        return ofInteger(GgufType.INT64, v);
    }

    /** A FLOAT32 value (its raw bits, NaN payloads included). */
    public static GgufValue ofF32(float v) {
        return new GgufValue(GgufType.FLOAT32, Float.floatToRawIntBits(v) & 0xFFFF_FFFFL, null);
    }

    /** A FLOAT64 value. */
    public static GgufValue ofF64(double v) {
        return new GgufValue(GgufType.FLOAT64, Double.doubleToRawLongBits(v), null);
    }

    /** A BOOL value. */
    public static GgufValue ofBool(boolean v) {
        return new GgufValue(GgufType.BOOL, v ? 1 : 0, null);
    }

    /** A STRING value, encoded as UTF-8. */
    public static GgufValue ofString(String s) {
        return new GgufValue(GgufType.STRING, 0, Objects.requireNonNull(s, "string").getBytes(StandardCharsets.UTF_8));
    }

    /** A STRING value with exactly these bytes (copied). */
    public static GgufValue ofStringBytes(byte[] utf8) {
        return new GgufValue(GgufType.STRING, 0, utf8.clone());
    }

    /** An ARRAY value. */
    public static GgufValue ofArray(GgufArray a) {
        return new GgufValue(GgufType.ARRAY, 0, Objects.requireNonNull(a, "array"));
    }

    static void checkRange(GgufType type, long v, String what) {
        long min;
        long max;
        switch (type) {
            case UINT8 -> { min = 0; max = 0xFF; }
            case INT8 -> { min = Byte.MIN_VALUE; max = Byte.MAX_VALUE; }
            case UINT16 -> { min = 0; max = 0xFFFF; }
            case INT16 -> { min = Short.MIN_VALUE; max = Short.MAX_VALUE; }
            case UINT32 -> { min = 0; max = 0xFFFF_FFFFL; }
            case INT32 -> { min = Integer.MIN_VALUE; max = Integer.MAX_VALUE; }
            default -> { return; } // 64-bit: every long is a valid bit pattern
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException(what + " " + v + " is out of range [" + min + ", " + max + "] of "
                    + type);
        }
    }

    // ---------------------------------------------------------------- access

    /** The value's type. */
    public GgufType type() {
        return type;
    }

    /** An integer value, sign- or zero-extended (UINT64: the raw 64 bits, negative at and above 2<sup>63</sup>). */
    public long asLong() {
        if (!type.isInteger()) {
            throw wrong("an integer");
        }
        return bits;
    }

    /**
     * An integer value that fits an int.
     *
     * @throws ArithmeticException if it does not (e.g. a UINT32 above 2<sup>31</sup>&minus;1)
     */
    public int asInt() {
        long v = asLong();
        if (v != (int) v || (type == GgufType.UINT64 && v < 0)) {
            throw new ArithmeticException(type + " value " + asUnsignedString() + " does not fit an int");
        }
        return (int) v;
    }

    /** An integer value in decimal, UINT64 as unsigned. */
    public String asUnsignedString() {
        return type == GgufType.UINT64 ? Long.toUnsignedString(asLong()) : Long.toString(asLong());
    }

    /** A FLOAT32 value exactly, or any other number converted to the nearest float. */
    public float asFloat() {
        return type == GgufType.FLOAT32 ? Float.intBitsToFloat((int) bits) : (float) asDouble();
    }

    /** A number as a double: FLOAT32/FLOAT64 exactly, integers converted (UINT64 as unsigned). */
    public double asDouble() {
        return switch (type) {
            case FLOAT32 -> Float.intBitsToFloat((int) bits);
            case FLOAT64 -> Double.longBitsToDouble(bits);
            // round-to-odd halving keeps a single rounding for values >= 2^63
            case UINT64 -> bits >= 0 ? bits : (double) ((bits >>> 1) | (bits & 1)) * 2.0;
            default -> {
                if (!type.isInteger()) {
                    throw wrong("a number");
                }
                yield bits;
            }
        };
    }

    /** A BOOL value. */
    public boolean asBoolean() {
        if (type != GgufType.BOOL) {
            throw wrong("a BOOL");
        }
        return bits != 0;
    }

    /** A STRING value decoded from UTF-8 (malformed bytes become U+FFFD). */
    public String asString() {
        return new String(stringBytes(), StandardCharsets.UTF_8);
    }

    /** A STRING value's bytes (a copy). */
    public byte[] asStringBytes() {
        return stringBytes().clone();
    }

    byte[] stringBytes() {
        if (type != GgufType.STRING) {
            throw wrong("a STRING");
        }
        return (byte[]) ref;
    }

    /** An ARRAY value. */
    public GgufArray asArray() {
        if (type != GgufType.ARRAY) {
            throw wrong("an ARRAY");
        }
        return (GgufArray) ref;
    }

    long rawBits() {
        return bits;
    }

    private IllegalStateException wrong(String wanted) {
        return new IllegalStateException("the value is " + type + ", not " + wanted);
    }

    // ---------------------------------------------------------------- encoding

    /** Appends the value's type id and encoding, as a metadata value. */
    void writeTo(LeBuffer out) {
        out.u32(type.id());
        switch (type) {
            case STRING -> out.string((byte[]) ref);
            case ARRAY -> ((GgufArray) ref).writeTo(out);
            default -> out.le(bits, type.size());
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof GgufValue v) || v.type != type || v.bits != bits) {
            return false;
        }
        return switch (type) {
            case STRING -> Arrays.equals((byte[]) ref, (byte[]) v.ref);
            case ARRAY -> ref.equals(v.ref);
            default -> true;
        };
    }

    @Override
    public int hashCode() {
        return switch (type) {
            case STRING -> Arrays.hashCode((byte[]) ref);
            case ARRAY -> ref.hashCode();
            default -> 31 * type.hashCode() + Long.hashCode(bits);
        };
    }

    /** Like {@code UINT32 32}, {@code STRING "llama"}, {@code ARRAY [INT32 x 3: ...]}. */
    @Override
    public String toString() {
        return type + " " + switch (type) {
            case STRING -> {
                String s = asString();
                yield "\"" + (s.length() > 80 ? s.substring(0, 80) + "..." : s) + "\"";
            }
            case ARRAY -> ref.toString();
            case FLOAT32, FLOAT64 -> Double.toString(asDouble());
            case BOOL -> Boolean.toString(bits != 0);
            default -> asUnsignedString();
        };
    }
}

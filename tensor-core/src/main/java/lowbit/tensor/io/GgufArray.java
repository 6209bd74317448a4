package lowbit.tensor.io;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A GGUF metadata array: an item type and {@link #size()} items, stored compactly (a primitive array of the item's
 * width; strings as one UTF-8 blob with end offsets; nested arrays as arrays). Immutable.
 *
 * <p>Arrays may nest (the GGUF spec allows any item type); note that ggml's own reader ({@code gguf.cpp}) rejects
 * arrays of arrays, so files meant for llama.cpp should not use them.
 */
public final class GgufArray {
    /** The strings of a STRING array: item i is {@code blob[i == 0 ? 0 : ends[i-1], ends[i])}. */
    record Strings(byte[] blob, int[] ends) {
    }

    private final GgufType itemType;
    private final int size;
    private final Object data; // byte[] | short[] | int[] | long[] | Strings | GgufArray[]

    GgufArray(GgufType itemType, int size, Object data) {
        this.itemType = itemType;
        this.size = size;
        this.data = data;
    }

    // ---------------------------------------------------------------- factories

    /**
     * An array of integers of {@code itemType} (UINT8..INT64; UINT64 items are the values' raw 64 bits).
     *
     * @throws IllegalArgumentException if the type is not an integer type or a value is out of its range (named)
     */
    public static GgufArray ofIntegers(GgufType itemType, long... values) {
        if (!itemType.isInteger()) {
            throw new IllegalArgumentException("ofIntegers needs an integer item type, got " + itemType);
        }
        for (int i = 0; i < values.length; i++) {
            GgufValue.checkRange(itemType, values[i], "item " + i);
        }
        return new GgufArray(itemType, values.length, narrow(itemType.size(), values));
    }

    /** An array of FLOAT32 items. */
    public static GgufArray ofFloats(float... values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return new GgufArray(GgufType.FLOAT32, values.length, bits);
    }

    /** An array of FLOAT64 items. */
    public static GgufArray ofDoubles(double... values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = Double.doubleToRawLongBits(values[i]);
        }
        return new GgufArray(GgufType.FLOAT64, values.length, bits);
    }

    /** An array of BOOL items. */
    public static GgufArray ofBooleans(boolean... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (values[i] ? 1 : 0);
        }
        return new GgufArray(GgufType.BOOL, values.length, b);
    }

    /** An array of STRING items, encoded as UTF-8. */
    public static GgufArray ofStrings(List<String> values) {
        List<byte[]> utf8 = new ArrayList<>(values.size());
        for (String s : values) {
            utf8.add(Objects.requireNonNull(s, "string item").getBytes(StandardCharsets.UTF_8));
        }
        return ofStringBytes(utf8);
    }

    /** An array of STRING items given as raw bytes (written unchanged, even if they are not valid UTF-8). */
    public static GgufArray ofStringBytes(List<byte[]> values) {
        long total = 0;
        for (byte[] b : values) {
            total += b.length;
        }
        if (total > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("string array of " + total + " bytes is too large");
        }
        byte[] blob = new byte[(int) total];
        int[] ends = new int[values.size()];
        int at = 0;
        for (int i = 0; i < ends.length; i++) {
            byte[] b = values.get(i);
            System.arraycopy(b, 0, blob, at, b.length);
            at += b.length;
            ends[i] = at;
        }
        return new GgufArray(GgufType.STRING, ends.length, new Strings(blob, ends));
    }

    /** An array of arrays. */
    public static GgufArray ofArrays(List<GgufArray> values) {
        GgufArray[] a = values.toArray(new GgufArray[0]);
        for (GgufArray x : a) {
            Objects.requireNonNull(x, "array item");
        }
        return new GgufArray(GgufType.ARRAY, a.length, a);
    }

    /**
     * An array of {@code items}, which must all have type {@code itemType}.
     *
     * @throws IllegalArgumentException naming the first item of another type
     */
    public static GgufArray of(GgufType itemType, List<GgufValue> items) {
        for (int i = 0; i < items.size(); i++) {
            if (items.get(i).type() != itemType) {
                throw new IllegalArgumentException("item " + i + " is " + items.get(i).type() + ", the array holds "
                        + itemType);
            }
        }
        return switch (itemType) {
            case STRING -> ofStringBytes(items.stream().map(GgufValue::stringBytes).toList());
            case ARRAY -> ofArrays(items.stream().map(GgufValue::asArray).toList());
            default -> {
                long[] raw = new long[items.size()];
                for (int i = 0; i < raw.length; i++) {
                    raw[i] = items.get(i).rawBits();
                }
                yield new GgufArray(itemType, raw.length, narrow(itemType.size(), raw));
            }
        };
    }

    private static Object narrow(int width, long[] v) {
        switch (width) {
            case 1 -> {
                byte[] b = new byte[v.length];
                for (int i = 0; i < b.length; i++) {
                    b[i] = (byte) v[i];
                }
                return b;
            }
            case 2 -> {
                short[] s = new short[v.length];
                for (int i = 0; i < s.length; i++) {
                    s[i] = (short) v[i];
                }
                return s;
            }
            case 4 -> {
                int[] n = new int[v.length];
                for (int i = 0; i < n.length; i++) {
                    n[i] = (int) v[i];
                }
                return n;
            }
            default -> {
                return v.clone();
            }
        }
    }

    // ---------------------------------------------------------------- access

    /** The type of every item. */
    public GgufType itemType() {
        return itemType;
    }

    /** Number of items. */
    public int size() {
        return size;
    }

    /** Item {@code i} as a value. */
    public GgufValue get(int i) {
        Objects.checkIndex(i, size);
        return switch (itemType) {
            case STRING -> GgufValue.ofStringBytes(getStringBytes(i));
            case ARRAY -> GgufValue.ofArray(((GgufArray[]) data)[i]);
            default -> new GgufValue(itemType, rawBits(i), null);
        };
    }

    /**
     * Integer item {@code i}: sign- or zero-extended as its type says (UINT64: the raw 64 bits).
     *
     * @throws IllegalStateException for arrays of non-integers
     */
    public long getLong(int i) {
        if (!itemType.isInteger()) {
            throw new IllegalStateException("an array of " + itemType + " has no integer items");
        }
        Objects.checkIndex(i, size);
        return rawBits(i);
    }

    /** Numeric item {@code i} as a double (FLOAT32/FLOAT64 exactly; integers converted, UINT64 as unsigned). */
    public double getDouble(int i) {
        return get(i).asDouble();
    }

    /** String item {@code i}, decoded from UTF-8 (malformed bytes become U+FFFD). */
    public String getString(int i) {
        return new String(getStringBytes(i), StandardCharsets.UTF_8);
    }

    /** String item {@code i}'s raw bytes (a copy). */
    public byte[] getStringBytes(int i) {
        if (itemType != GgufType.STRING) {
            throw new IllegalStateException("an array of " + itemType + " has no string items");
        }
        Objects.checkIndex(i, size);
        Strings s = (Strings) data;
        int from = i == 0 ? 0 : s.ends[i - 1];
        return Arrays.copyOfRange(s.blob, from, s.ends[i]);
    }

    /** Array item {@code i} of an array of arrays. */
    public GgufArray getArray(int i) {
        if (itemType != GgufType.ARRAY) {
            throw new IllegalStateException("an array of " + itemType + " has no array items");
        }
        return ((GgufArray[]) data)[Objects.checkIndex(i, size)];
    }

    /** All integer items (as {@link #getLong}). */
    public long[] toLongArray() {
        long[] out = new long[size];
        for (int i = 0; i < size; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    /**
     * All items of a FLOAT32 array.
     *
     * @throws IllegalStateException for other item types
     */
    public float[] toFloatArray() {
        if (itemType != GgufType.FLOAT32) {
            throw new IllegalStateException("toFloatArray needs a FLOAT32 array, this one holds " + itemType);
        }
        float[] out = new float[size];
        for (int i = 0; i < size; i++) {
            out[i] = Float.intBitsToFloat(((int[]) data)[i]);
        }
        return out;
    }

    /** All items of a STRING array, decoded. */
    public List<String> strings() {
        List<String> out = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            out.add(getString(i));
        }
        return out;
    }

    /** The item's bits zero- or sign-extended per its type (floats as their raw bits, BOOL as 0/1). */
    long rawBits(int i) {
        return switch (itemType) {
            case UINT8 -> ((byte[]) data)[i] & 0xFFL;
            case INT8 -> ((byte[]) data)[i];
            case BOOL -> ((byte[]) data)[i] != 0 ? 1 : 0;
            case UINT16 -> ((short[]) data)[i] & 0xFFFFL;
            case INT16 -> ((short[]) data)[i];
            case UINT32, FLOAT32 -> ((int[]) data)[i] & 0xFFFF_FFFFL;
            case INT32 -> ((int[]) data)[i];
            case UINT64, INT64, FLOAT64 -> ((long[]) data)[i];
            default -> throw new IllegalStateException(itemType + " items have no bits");
        };
    }

    // ---------------------------------------------------------------- encoding

    /** Appends the array's encoding after its ARRAY type id: item type, count, items. */
    void writeTo(LeBuffer out) {
        out.u32(itemType.id()).u64(size);
        switch (itemType) {
            case STRING -> {
                Strings s = (Strings) data;
                for (int i = 0; i < size; i++) {
                    int from = i == 0 ? 0 : s.ends[i - 1];
                    out.u64(s.ends[i] - from).bytes(s.blob, from, s.ends[i] - from);
                }
            }
            case ARRAY -> {
                for (GgufArray a : (GgufArray[]) data) {
                    a.writeTo(out);
                }
            }
            default -> {
                for (int i = 0; i < size; i++) {
                    out.le(rawBits(i), itemType.size());
                }
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof GgufArray a) || a.itemType != itemType || a.size != size) {
            return false;
        }
        return switch (data) {
            case byte[] b -> Arrays.equals(b, (byte[]) a.data);
            case short[] s -> Arrays.equals(s, (short[]) a.data);
            case int[] n -> Arrays.equals(n, (int[]) a.data);
            case long[] l -> Arrays.equals(l, (long[]) a.data);
            case Strings s -> Arrays.equals(s.blob, ((Strings) a.data).blob)
                    && Arrays.equals(s.ends, ((Strings) a.data).ends);
            default -> Arrays.equals((GgufArray[]) data, (GgufArray[]) a.data);
        };
    }

    @Override
    public int hashCode() {
        int h = 31 * itemType.hashCode() + size;
        for (int i = 0; i < Math.min(size, 16); i++) {
            h = 31 * h + get(i).hashCode();
        }
        return h;
    }

    /** Like {@code [INT32 x 3: 1, 2, 3]}, the first 8 items. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("[").append(itemType).append(" x ").append(size);
        for (int i = 0; i < Math.min(size, 8); i++) {
            b.append(i == 0 ? ": " : ", ").append(get(i));
        }
        return b.append(size > 8 ? ", ...]" : "]").toString();
    }
}

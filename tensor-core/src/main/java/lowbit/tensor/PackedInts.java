package lowbit.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Dense n-bit integer codes, n in 1..8, signed (two's complement) or unsigned.
 *
 * <p>Layout: code {@code i} occupies bits {@code [i·n, i·n + n)} of the storage, where bit {@code k} is bit
 * {@code k mod 8} (0 = least significant) of byte {@code k / 8}. Codes therefore fill each byte from its low bits
 * upward and may straddle a byte boundary (n = 3, 5, 6, 7). For n = 4, code {@code 2j} is the low nibble of byte
 * {@code j} and code {@code 2j+1} its high nibble. {@code count} codes take {@code ceil(count·n/8)} bytes; unused
 * high bits of the last byte are zero.
 */
public final class PackedInts {
    private PackedInts() {
    }

    /** Checks a code width. @throws IllegalArgumentException unless 1 &le; bits &le; 8 */
    public static void checkBits(int bits) {
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("code width must be 1..8 bits, got " + bits);
        }
    }

    /** Reads code {@code index} of an n-bit stream in {@code seg} (starting at byte 0), sign-extended if signed. */
    public static int get(MemorySegment seg, long index, int bits, boolean signed) {
        long bit = index * bits;
        long b = bit >>> 3;
        int shift = (int) (bit & 7);
        int word = seg.get(ValueLayout.JAVA_BYTE, b) & 0xFF;
        if (shift + bits > 8) {
            word |= (seg.get(ValueLayout.JAVA_BYTE, b + 1) & 0xFF) << 8;
        }
        int v = (word >>> shift) & ((1 << bits) - 1);
        return signed ? (v << (32 - bits)) >> (32 - bits) : v;
    }

    /**
     * Writes code {@code index} of an n-bit stream in {@code seg}, leaving the other codes unchanged.
     *
     * @throws IllegalArgumentException if {@code value} is out of range for the width and signedness
     */
    public static void set(MemorySegment seg, long index, int bits, boolean signed, int value) {
        checkCode(value, bits, signed);
        int v = value & ((1 << bits) - 1);
        long bit = index * bits;
        long b = bit >>> 3;
        int shift = (int) (bit & 7);
        int mask = ((1 << bits) - 1) << shift;
        int lo = seg.get(ValueLayout.JAVA_BYTE, b) & 0xFF;
        seg.set(ValueLayout.JAVA_BYTE, b, (byte) ((lo & ~mask) | (v << shift)));
        if (shift + bits > 8) {
            int hi = seg.get(ValueLayout.JAVA_BYTE, b + 1) & 0xFF;
            seg.set(ValueLayout.JAVA_BYTE, b + 1, (byte) ((hi & ~(mask >>> 8)) | (v >>> (8 - shift))));
        }
    }

    /** @throws IllegalArgumentException if {@code value} does not fit {@code bits} bits of the given signedness */
    public static void checkCode(int value, int bits, boolean signed) {
        int min = signed ? -(1 << (bits - 1)) : 0;
        int max = signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
        if (value < min || value > max) {
            throw new IllegalArgumentException("code " + value + " is out of range [" + min + ", " + max + "] for "
                    + (signed ? "signed " : "unsigned ") + bits + "-bit codes");
        }
    }
}

package lowbit.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import lowbit.tensor.simd.PackKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * Dense n-bit integer codes, n in 1..8, signed (two's complement) or unsigned.
 *
 * <p>Layout: code {@code i} occupies bits {@code [i·n, i·n + n)} of the storage, where bit {@code k} is bit
 * {@code k mod 8} (0 = least significant) of byte {@code k / 8}. Codes therefore fill each byte from its low bits
 * upward and may straddle a byte boundary (n = 3, 5, 6, 7). For n = 4, code {@code 2j} is the low nibble of byte
 * {@code j} and code {@code 2j+1} its high nibble. {@code count} codes take {@code ceil(count·n/8)} bytes; unused
 * high bits of the last byte are zero.
 *
 * <p>Examples: the 4-bit codes [1, 2, 3] are the bytes {@code 0x21, 0x03}. The 3-bit codes [1, 2, 3] are, from bit 0
 * upward, the bits {@code 1,0,0 | 0,1,0 | 1,1,0}: nine bits in {@code ceil(9/8) = 2} bytes, {@code 0xD1, 0x00}.
 *
 * <p>Besides the single-code {@link #get}/{@link #set}, the bulk methods {@link #pack(int[], int, boolean) pack} and
 * {@link #unpack(byte[], int, int, boolean) unpack} (and their forms over a range, an existing destination or a
 * {@link MemorySegment}) convert whole runs of codes with the kernels of the
 * {@linkplain VectorizationProvider chosen provider} (SIMD for 1, 2, 4 and 8 bits). They validate everything at this
 * boundary: a width outside 1..8 or a code out of range throws {@link IllegalArgumentException} naming the value (and
 * the code's index); a negative count or offset, or a source or destination too short, throws
 * {@link IndexOutOfBoundsException} naming the sizes; writing into a read-only segment throws
 * {@link IllegalArgumentException} before anything is written. Nothing is silently truncated. Code positions are code
 * indices {@code first} counted from byte 0 of the array or segment and need not fall on a byte boundary; packing into
 * an existing destination leaves every bit outside the written codes unchanged.
 */
public final class PackedInts {
    private PackedInts() {
    }

    /** The provider's kernels, looked up on first bulk use (not when {@link DType} merely checks a width). */
    private static final class Kernels {
        static final PackKernels K = VectorizationProvider.get().packing();
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

    /**
     * Bytes that {@code count} codes of {@code bits} bits occupy: {@code ceil(count·bits/8)}.
     *
     * @throws IllegalArgumentException if the width is not 1..8 or count is negative
     */
    public static long byteSize(long count, int bits) {
        checkBits(bits);
        if (count < 0) {
            throw new IllegalArgumentException("code count must be >= 0, got " + count);
        }
        if (count > Long.MAX_VALUE / 8) {
            throw new IllegalArgumentException(count + " codes overflow a long bit count");
        }
        return (count * bits + 7) >>> 3;
    }

    // ---- pack ----

    /**
     * Packs all of {@code codes} into a new array of {@code ceil(codes.length·bits/8)} bytes (unused high bits of the
     * last byte are zero).
     *
     * @throws IllegalArgumentException if the width is not 1..8 or a code is out of range (the message names its index)
     */
    public static byte[] pack(int[] codes, int bits, boolean signed) {
        checkBits(bits);
        checkCodes(codes, 0, codes.length, bits, signed);
        byte[] out = new byte[(int) byteSize(codes.length, bits)];
        Kernels.K.pack(codes, 0, codes.length, bits, out, 0);
        return out;
    }

    /**
     * Packs {@code codes[codesOff .. codesOff+count)} as codes {@code first .. first+count-1} of the packed stream in
     * {@code dst}, keeping all other bits of {@code dst}.
     *
     * @throws IllegalArgumentException if the width is not 1..8 or a code is out of range
     * @throws IndexOutOfBoundsException if the range is outside {@code codes}, {@code first} or {@code count} is
     *     negative, or {@code dst} is shorter than {@code ceil((first+count)·bits/8)} bytes
     */
    public static void pack(int[] codes, int codesOff, int count, int bits, boolean signed, byte[] dst, long first) {
        checkBits(bits);
        checkRange("codes", codesOff, count, codes.length);
        checkPacked("destination", first, count, bits, dst.length);
        checkCodes(codes, codesOff, count, bits, signed);
        Kernels.K.pack(codes, codesOff, count, bits, dst, first);
    }

    /**
     * Segment form of {@link #pack(int[], int, int, int, boolean, byte[], long)}; code index 0 is at byte 0 of
     * {@code dst}.
     *
     * @throws IllegalArgumentException also if {@code dst} is read-only
     */
    public static void pack(int[] codes, int codesOff, int count, int bits, boolean signed, MemorySegment dst,
            long first) {
        checkBits(bits);
        checkRange("codes", codesOff, count, codes.length);
        checkPacked("destination", first, count, bits, dst.byteSize());
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("pack: the destination segment is read-only");
        }
        checkCodes(codes, codesOff, count, bits, signed);
        Kernels.K.pack(codes, codesOff, count, bits, dst, first);
    }

    // ---- unpack ----

    /**
     * Unpacks the first {@code count} codes of {@code packed} into a new array, sign-extended if {@code signed}.
     *
     * @throws IllegalArgumentException if the width is not 1..8
     * @throws IndexOutOfBoundsException if count is negative or {@code packed} is shorter than
     *     {@code ceil(count·bits/8)} bytes
     */
    public static int[] unpack(byte[] packed, int count, int bits, boolean signed) {
        checkBits(bits);
        checkPacked("source", 0, count, bits, packed.length);
        int[] out = new int[count];
        Kernels.K.unpack(packed, 0, bits, signed, out, 0, count);
        return out;
    }

    /**
     * Unpacks codes {@code first .. first+count-1} of {@code packed} into {@code dst[dstOff .. dstOff+count)},
     * sign-extended if {@code signed}.
     *
     * @throws IllegalArgumentException if the width is not 1..8
     * @throws IndexOutOfBoundsException if the range is outside {@code dst}, {@code first} or {@code count} is
     *     negative, or {@code packed} is shorter than {@code ceil((first+count)·bits/8)} bytes
     */
    public static void unpack(byte[] packed, long first, int bits, boolean signed, int[] dst, int dstOff, int count) {
        checkBits(bits);
        checkRange("destination", dstOff, count, dst.length);
        checkPacked("source", first, count, bits, packed.length);
        Kernels.K.unpack(packed, first, bits, signed, dst, dstOff, count);
    }

    /** Segment form of {@link #unpack(byte[], long, int, boolean, int[], int, int)}; code 0 is at byte 0. */
    public static void unpack(MemorySegment packed, long first, int bits, boolean signed, int[] dst, int dstOff,
            int count) {
        checkBits(bits);
        checkRange("destination", dstOff, count, dst.length);
        checkPacked("source", first, count, bits, packed.byteSize());
        Kernels.K.unpack(packed, first, bits, signed, dst, dstOff, count);
    }

    /**
     * Unpacks codes {@code first .. first+count-1} into one byte each, {@code dst[dstOff+i] = (byte) code}, the input
     * form of int8 kernels. Signed codes and unsigned codes of up to 7 bits are exact; unsigned 8-bit codes keep their
     * bit pattern (read them with {@code & 0xFF}).
     *
     * @throws IllegalArgumentException if the width is not 1..8
     * @throws IndexOutOfBoundsException as {@link #unpack(byte[], long, int, boolean, int[], int, int)}
     */
    public static void unpackToBytes(byte[] packed, long first, int bits, boolean signed, byte[] dst, int dstOff,
            int count) {
        checkBits(bits);
        checkRange("destination", dstOff, count, dst.length);
        checkPacked("source", first, count, bits, packed.length);
        Kernels.K.unpackToBytes(packed, first, bits, signed, dst, dstOff, count);
    }

    /** Segment form of {@link #unpackToBytes(byte[], long, int, boolean, byte[], int, int)}; code 0 is at byte 0. */
    public static void unpackToBytes(MemorySegment packed, long first, int bits, boolean signed, byte[] dst,
            int dstOff, int count) {
        checkBits(bits);
        checkRange("destination", dstOff, count, dst.length);
        checkPacked("source", first, count, bits, packed.byteSize());
        Kernels.K.unpackToBytes(packed, first, bits, signed, dst, dstOff, count);
    }

    // ---- validation ----

    private static void checkRange(String what, int off, int count, int length) {
        if (off < 0 || count < 0 || off > length - count) {
            throw new IndexOutOfBoundsException(what + " range [" + off + ", " + off + " + " + count
                    + ") is out of bounds for an array of length " + length);
        }
    }

    /** Packed storage of {@code size} bytes must hold codes [first, first+count) of the given width. */
    private static void checkPacked(String what, long first, long count, int bits, long size) {
        if (first < 0 || count < 0) {
            throw new IndexOutOfBoundsException("negative code index or count: first = " + first + ", count = " + count);
        }
        if (first > Long.MAX_VALUE / 8 - count) {
            throw new IndexOutOfBoundsException("codes [" + first + ", " + first + " + " + count
                    + ") overflow a long bit position");
        }
        long need = ((first + count) * bits + 7) >>> 3;
        if (count > 0 && need > size) {
            throw new IndexOutOfBoundsException("the packed " + what + " has " + size + " bytes, but codes [" + first
                    + ", " + (first + count) + ") of " + bits + " bits need " + need);
        }
    }

    /** All codes[off .. off+count) must fit the width: one OR-reduction, then a search only when one does not. */
    private static void checkCodes(int[] codes, int off, int count, int bits, boolean signed) {
        int bias = signed ? 1 << (bits - 1) : 0;
        int outside = -(1 << bits); // every bit above the low `bits`
        int any = 0;
        for (int i = off; i < off + count; i++) {
            any |= (codes[i] + bias) & outside;
        }
        if (any == 0) {
            return;
        }
        for (int i = off; i < off + count; i++) {
            if (((codes[i] + bias) & outside) != 0) {
                int min = -bias;
                int max = (1 << bits) - 1 - bias;
                throw new IllegalArgumentException("code at index " + i + " is " + codes[i] + ", out of range [" + min
                        + ", " + max + "] for " + (signed ? "signed " : "unsigned ") + bits + "-bit codes");
            }
        }
    }
}

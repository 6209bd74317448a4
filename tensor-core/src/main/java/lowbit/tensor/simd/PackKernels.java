package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Bulk conversion between {@code int} codes and the packed n-bit layout of {@link lowbit.tensor.PackedInts}, for code
 * widths n = {@code bits} in 1..8, signed (two's complement, sign-extended on unpack) or unsigned.
 *
 * <p>Layout: code {@code c} of a packed stream occupies bits {@code [c·n, c·n + n)}, bit {@code k} being bit
 * {@code k mod 8} of byte {@code k / 8} (least significant first), counted from byte 0 of the array or segment.
 * Code positions are given as a code index {@code first}, which need not fall on a byte boundary.
 *
 * <p>Implementations trust their arguments (widths in range, codes in range, indices in bounds, output writable):
 * {@link lowbit.tensor.PackedInts} is the validated public entry point. Every implementation produces exactly the same
 * ints and bytes as {@link ScalarPackKernels}.
 */
public interface PackKernels {
    /**
     * Reads codes {@code first .. first+count-1} of the packed stream {@code src} into
     * {@code dst[dstOff .. dstOff+count)}, sign-extended when {@code signed}.
     */
    void unpack(byte[] src, long first, int bits, boolean signed, int[] dst, int dstOff, int count);

    /** Segment form of {@link #unpack(byte[], long, int, boolean, int[], int, int)}. */
    void unpack(MemorySegment src, long first, int bits, boolean signed, int[] dst, int dstOff, int count);

    /**
     * Reads codes {@code first .. first+count-1} into one byte each, {@code dst[dstOff+i] = (byte) code}: the form the
     * int8 kernels consume. Signed codes and unsigned codes of up to 7 bits are exact; unsigned 8-bit codes keep
     * their bit pattern (read them back with {@code & 0xFF}).
     */
    void unpackToBytes(byte[] src, long first, int bits, boolean signed, byte[] dst, int dstOff, int count);

    /** Segment form of {@link #unpackToBytes(byte[], long, int, boolean, byte[], int, int)}. */
    void unpackToBytes(MemorySegment src, long first, int bits, boolean signed, byte[] dst, int dstOff, int count);

    /**
     * Writes {@code src[srcOff .. srcOff+count)} as codes {@code first .. first+count-1} of the packed stream
     * {@code dst}, keeping every other bit of {@code dst} (neighbouring codes in partially covered bytes) unchanged.
     * Only the low {@code bits} bits of each int are stored, which is the two's-complement code for a signed value
     * in range, so packing needs no signedness.
     */
    void pack(int[] src, int srcOff, int count, int bits, byte[] dst, long first);

    /** Segment form of {@link #pack(int[], int, int, int, byte[], long)}. */
    void pack(int[] src, int srcOff, int count, int bits, MemorySegment dst, long first);
}

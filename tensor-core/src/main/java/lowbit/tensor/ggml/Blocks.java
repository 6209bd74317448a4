package lowbit.tensor.ggml;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.simd.FloatOps;

/** Argument checks shared by the block formats: lengths, non-finite input, buffer bounds. */
final class Blocks {
    private Blocks() {
    }

    /** The number of blocks in {@code n} elements; rejects negative n and n not a multiple of the block size. */
    static int blocks(GgmlType type, long n) {
        if (n < 0) {
            throw new IllegalArgumentException(type + ": negative length " + n);
        }
        if (n % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + ": length " + n + " is not a multiple of the block size "
                    + type.blockSize());
        }
        long nb = n / type.blockSize();
        if (nb > Integer.MAX_VALUE / type.blockSize()) {
            throw new IllegalArgumentException(type + ": length " + n + " is too large for one row");
        }
        return (int) nb;
    }

    /** Checks that {@code src[off, off+n)} is in range and, under {@link NonFinitePolicy#REJECT}, finite. */
    static void checkSource(GgmlType type, float[] src, int off, int n, NonFinitePolicy policy) {
        Objects.checkFromIndexSize(off, n, src.length);
        Objects.requireNonNull(policy, "policy");
        if (policy == NonFinitePolicy.REJECT && !Float.isFinite(FloatOps.maxAbs(src, off, n))) {
            for (int i = 0; i < n; i++) {
                if (!Float.isFinite(src[off + i])) {
                    throw new IllegalArgumentException(type + ": input element " + i + " (array index " + (off + i)
                            + ") is " + src[off + i] + "; non-finite values cannot be quantized"
                            + " (NonFinitePolicy.ENCODE_LIKE_GGML encodes them as ggml does)");
                }
            }
        }
    }

    /** Checks that {@code bytes} bytes from {@code off} fit in {@code seg} (a truncated buffer fails here). */
    static void checkBytes(GgmlType type, String what, MemorySegment seg, long off, long bytes) {
        if (off < 0 || bytes < 0 || off > seg.byteSize() - bytes) {
            throw new IndexOutOfBoundsException(type + ": " + what + " needs bytes [" + off + ", " + (off + bytes)
                    + ") but the buffer has " + seg.byteSize());
        }
    }

    static void checkWritable(GgmlType type, MemorySegment seg) {
        if (seg.isReadOnly()) {
            throw new IllegalArgumentException(type + ": the destination segment is read-only");
        }
    }
}

package lowbit.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/** Argument checks shared by {@link Fp16} and {@link Bf16}: messages name the operation, the argument and the range. */
final class HalfArgs {
    private HalfArgs() {
    }

    static void checkRange(String op, String arg, int off, int n, int length) {
        try {
            Objects.checkFromIndexSize(off, n, length);
        } catch (IndexOutOfBoundsException e) {
            throw new IndexOutOfBoundsException(op + ": " + arg + " range [" + off + ", " + off + " + " + n
                    + ") is out of bounds for length " + length);
        }
    }

    /** Checks that elements [off, off + n) of 16-bit values lie inside the segment. */
    static void checkRange(String op, String arg, long off, int n, MemorySegment s) {
        long length = s.byteSize() / Short.BYTES;
        try {
            Objects.checkFromIndexSize(off, n, length);
        } catch (IndexOutOfBoundsException e) {
            throw new IndexOutOfBoundsException(op + ": " + arg + " range [" + off + ", " + off + " + " + n
                    + ") is out of bounds for a segment of " + length + " 16-bit elements (" + s.byteSize() + " bytes)");
        }
    }

    static void checkWritable(String op, String arg, MemorySegment s) {
        if (s.isReadOnly()) {
            throw new IllegalArgumentException(op + ": the output segment " + arg + " is read-only");
        }
    }
}

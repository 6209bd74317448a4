package lowbit.tensor.linalg;

import java.lang.foreign.MemorySegment;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;

/** Argument validation shared by {@link Gemv} and {@link Gemm}; messages name the operation and the shapes. */
final class MatrixChecks {
    private MatrixChecks() {
    }

    /** An unstarted thread: a segment it may not access is confined to its owner. */
    private static final Thread PROBE = Thread.ofVirtual().unstarted(() -> { });

    /** True when {@code s} is confined to one thread, so that worker threads may not read it. */
    static boolean confined(MemorySegment s) {
        return !s.isAccessibleBy(PROBE);
    }

    static void nonNegative(String op, String what, long v) {
        if (v < 0) {
            throw new IllegalArgumentException(op + ": " + what + " must be >= 0, got " + v);
        }
    }

    /**
     * A stored rows×cols matrix at element offset {@code off} with leading dimension {@code ld} inside a buffer of
     * {@code capacity} elements.
     */
    static void matrix(String op, String name, long rows, long cols, long off, long ld, long capacity) {
        nonNegative(op, name + " rows", rows);
        nonNegative(op, name + " columns", cols);
        if (off < 0) {
            throw new IndexOutOfBoundsException(op + ": " + name + " offset is negative: " + off);
        }
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException(op + ": " + name + " is stored " + rows + "×" + cols
                    + " so its leading dimension must be >= " + Math.max(1, cols) + ", got " + ld);
        }
        if (rows == 0 || cols == 0) {
            return;
        }
        long last;
        try {
            last = Math.addExact(Math.addExact(off, Math.multiplyExact(rows - 1, ld)), cols);
        } catch (ArithmeticException e) {
            last = Long.MAX_VALUE;
        }
        if (last > capacity) {
            throw new IndexOutOfBoundsException(op + ": " + name + " stored " + rows + "×" + cols + " with offset " + off
                    + " and leading dimension " + ld + " needs " + last + " elements, but its storage holds " + capacity);
        }
    }

    /**
     * Whether {@link #matrix} would accept the stored matrix, without building its message (for hot small calls:
     * callers run {@link #matrix} only when this is false, so the message is built only for bad input).
     */
    static boolean fits(long rows, long cols, long off, long ld, long capacity) {
        if (rows < 0 || cols < 0 || off < 0 || ld < Math.max(1, cols)) {
            return false;
        }
        if (rows == 0 || cols == 0) {
            return true;
        }
        // no overflow: rows, ld < 2^31·2^32 and off fits a long here
        return rows <= Integer.MAX_VALUE && ld <= (1L << 40) && off <= (1L << 60)
                && off + (rows - 1) * ld + cols <= capacity;
    }

    /** Element capacity of a segment holding {@code type} values. */
    static long capacity(MemorySegment s, DType type) {
        return s.byteSize() / (type.bits() / 8);
    }

    static void weightType(String op, DType type, boolean segment) {
        if (type == null) {
            throw new NullPointerException(op + ": the weight dtype is null");
        }
        boolean ok = segment ? type == DType.F32 || type == DType.F16 || type == DType.BF16
                : type == DType.F16 || type == DType.BF16;
        if (!ok) {
            throw new IllegalArgumentException(op + ": " + (segment ? "segment weights must be F32, F16 or BF16"
                    : "short[] weights hold raw bits and must be F16 or BF16") + ", got " + type);
        }
    }

    static void length(String op, String what, int actual, long expected, String shape) {
        if (actual != expected) {
            throw new IllegalArgumentException(op + ": " + what + " has length " + actual + " but " + shape
                    + " needs " + expected);
        }
    }

    static void notSame(String op, Object out, String outName, Object in, String inName) {
        if (out == in && out != null) {
            throw new IllegalArgumentException(op + ": the output " + outName + " is the same array as the input "
                    + inName + "; in-place use is not supported");
        }
    }

    /** The output array must not be the heap array behind an input segment. */
    static void notBehind(String op, float[] out, String outName, MemorySegment in, String inName) {
        if (in.heapBase().orElse(null) == out) {
            throw new IllegalArgumentException(op + ": the output " + outName + " is the array behind the input segment "
                    + inName + "; in-place use is not supported");
        }
    }

    /** The [rows, cols] of a rank-2 weight tensor whose dimensions fit an int. */
    static int[] matrixShape(String op, Tensor w) {
        if (w == null) {
            throw new NullPointerException(op + ": W is null");
        }
        if (w.shape().rank() != 2) {
            throw new IllegalArgumentException(op + ": W must be a matrix [out, in], got shape " + w.shape());
        }
        long rows = w.shape().dim(0), cols = w.shape().dim(1);
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": W " + w.shape() + " has a dimension over 2^31 - 1");
        }
        return new int[] {(int) rows, (int) cols};
    }
}

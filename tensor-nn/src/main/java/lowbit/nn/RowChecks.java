package lowbit.nn;

import java.util.Objects;

/** Checks for row-wise operations on [rows, cols] float matrices; messages name the operation and the operand. */
final class RowChecks {
    private RowChecks() {
    }

    static void matrix(String op, String name, float[] a, int rows, int cols) {
        Objects.requireNonNull(a, op + ": " + name + " is null");
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException(op + ": negative shape [" + rows + ", " + cols + "]");
        }
        if (a.length != (long) rows * cols) {
            throw new IllegalArgumentException(op + ": " + name + " has " + a.length + " elements, expected [" + rows
                    + ", " + cols + "] = " + (long) rows * cols);
        }
    }

    static void vector(String op, String name, float[] a, int length) {
        Objects.requireNonNull(a, op + ": " + name + " is null");
        if (a.length != length) {
            throw new IllegalArgumentException(op + ": " + name + " has " + a.length + " elements, expected " + length);
        }
    }

    static void sameLength(String op, String name, float[] a, String otherName, float[] other) {
        Objects.requireNonNull(a, op + ": " + name + " is null");
        Objects.requireNonNull(other, op + ": " + otherName + " is null");
        if (a.length != other.length) {
            throw new IllegalArgumentException(op + ": " + name + " has " + a.length + " elements but " + otherName
                    + " has " + other.length);
        }
    }

    /** Rows per parallel chunk so that a chunk covers about 16K elements (at least one row). */
    static long grain(int cols) {
        return Math.max(1, (1 << 14) / Math.max(1, cols));
    }
}

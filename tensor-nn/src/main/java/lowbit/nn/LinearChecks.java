package lowbit.nn;

/** Shape checks shared by the weights and the layer; messages name the operand and the shapes. */
final class LinearChecks {
    private LinearChecks() {
    }

    static void backwardInput(String what, float[] dy, int n, int out, int in, float[] dx) {
        if (n < 0) {
            throw new IllegalArgumentException(what + " backward: negative n " + n);
        }
        String shapes = " (dX [" + n + ", " + in + "] = dY [" + n + ", " + out + "] · W [" + out + ", " + in + "])";
        length(what + " backward", "dY", dy.length, (long) n * out, shapes);
        length(what + " backward", "dX", dx.length, (long) n * in, shapes);
        if (dx == dy) {
            throw new IllegalArgumentException(what + " backward: dX must not be the same array as dY");
        }
    }

    static void length(String op, String name, int actual, long expected, String shapes) {
        if (actual != expected) {
            throw new IllegalArgumentException(op + ": " + name + " has " + actual + " elements, expected " + expected
                    + shapes);
        }
    }
}

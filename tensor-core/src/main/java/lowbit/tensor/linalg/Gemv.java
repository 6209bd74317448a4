package lowbit.tensor.linalg;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * Matrix-vector product {@code y = W·x + b} for a row-major weight {@code W[rows, cols]} (the {@code nn.Linear}
 * convention {@code [out, in]}) stored as F32, F16 or BF16, with float x, y and optional bias b. Half-precision
 * weights are widened to float inside the dot-product loop; no float copy of W is made.
 *
 * <p>Rows are split across {@link Parallel#parallelism()} threads in chunks that do not depend on the thread count,
 * and each row's dot product is computed in an order that depends only on {@code cols}: the result has identical
 * bits for any number of threads. Accumulation is in float; compared with a left-to-right sum the result differs by
 * at most about {@code 2·γ_cols·Σ|W[r,c]·x[c]|} ({@code γ_n = n·u/(1 − n·u)}, u = 2^-24).
 *
 * <p>Validation: lengths must match the stated shape exactly (or, for the strided form, cover it), weights in a
 * {@code short[]} must be F16 or BF16, segment weights F32, F16 or BF16 (little-endian); y may not be x, the bias or
 * the weight storage. A segment confined to one thread ({@code Arena.ofConfined()}) is read by the calling thread
 * alone; use a shared, global or automatic arena for parallel speed. Violations throw {@link IllegalArgumentException} or {@link IndexOutOfBoundsException} naming
 * the shapes.
 */
public final class Gemv {
    private static final DenseKernels K = VectorizationProvider.get().dense();
    /** Elements of W per parallel chunk, at least (chunks are whole groups of four rows). */
    private static final int CHUNK_ELEMENTS = 1 << 15;
    /**
     * The same for F16/BF16 weights: larger, because the F16 kernel scales x once per chunk (4096×14336: 16-row
     * chunks, 256 of them).
     */
    private static final int HALF_CHUNK_ELEMENTS = 1 << 17;

    private Gemv() {
    }

    /** {@code y = W·x} for an F32 weight {@code w} of shape [rows, cols] (length rows·cols). */
    public static void multiply(float[] w, int rows, int cols, float[] x, float[] y) {
        multiply(w, rows, cols, x, null, y);
    }

    /** {@code y = W·x + bias} for an F32 weight of shape [rows, cols]; {@code bias} may be null. */
    public static void multiply(float[] w, int rows, int cols, float[] x, float[] bias, float[] y) {
        String op = "gemv";
        checkVectors(op, rows, cols, x, bias, y);
        MatrixChecks.length(op, "W", w.length, (long) rows * cols, "W [" + rows + ", " + cols + "]");
        MatrixChecks.notSame(op, y, "y", w, "W");
        run(rows, cols, CHUNK_ELEMENTS, bias, y, 0, (r0, r1) -> K.gemvRows(w, 0, cols, x, 0, cols, y, 0, r0, r1));
    }

    /** {@code y = W·x + bias} for a weight of raw F16 or BF16 bits ({@code type}) of shape [rows, cols]. */
    public static void multiply(short[] w, DType type, int rows, int cols, float[] x, float[] bias, float[] y) {
        String op = "gemv";
        MatrixChecks.weightType(op, type, false);
        checkVectors(op, rows, cols, x, bias, y);
        MatrixChecks.length(op, "W", w.length, (long) rows * cols, type + " W [" + rows + ", " + cols + "]");
        run(rows, cols, HALF_CHUNK_ELEMENTS, bias, y, 0,
                (r0, r1) -> K.gemvRows(w, type, 0, cols, x, 0, cols, y, 0, r0, r1));
    }

    /**
     * {@code y = W·x + bias} for a little-endian F32, F16 or BF16 weight of shape [rows, cols] starting at byte 0
     * of {@code w} (which may be larger, e.g. a memory-mapped file).
     */
    public static void multiply(MemorySegment w, DType type, int rows, int cols, float[] x, float[] bias, float[] y) {
        checkVectors("gemv", rows, cols, x, bias, y);
        multiply(w, type, 0, Math.max(1, cols), rows, cols, x, 0, bias, y, 0);
    }

    /**
     * {@code y = W·x + bias} for a matrix tensor W [rows, cols] of dtype F32, F16 or BF16 (its little-endian
     * {@link Tensor#segment() segment}, e.g. memory-mapped, is read in place); {@code bias} may be null.
     */
    public static void multiply(Tensor w, float[] x, float[] bias, float[] y) {
        int[] rc = MatrixChecks.matrixShape("gemv", w);
        multiply(w.segment(), w.dtype(), rc[0], rc[1], x, bias, y);
    }

    /**
     * The strided form: {@code y[yOff + r] = Σ_c W[r, c]·x[xOff + c] + bias[r]} for {@code r < rows}, where
     * {@code W[r, c]} is element {@code wOff + r·ldw + c} (counted in elements of {@code type}) of the little-endian
     * segment {@code w}. {@code bias} may be null; otherwise it has at least {@code rows} elements.
     */
    public static void multiply(MemorySegment w, DType type, long wOff, long ldw, int rows, int cols, float[] x,
            int xOff, float[] bias, float[] y, int yOff) {
        String op = "gemv";
        Objects.requireNonNull(w, "gemv: W is null");
        MatrixChecks.weightType(op, type, true);
        MatrixChecks.nonNegative(op, "rows", rows);
        MatrixChecks.nonNegative(op, "cols", cols);
        MatrixChecks.matrix(op, type + " W", rows, cols, wOff, ldw, MatrixChecks.capacity(w, type));
        Objects.requireNonNull(x, "gemv: x is null");
        Objects.requireNonNull(y, "gemv: y is null");
        Objects.checkFromIndexSize(xOff, cols, x.length);
        Objects.checkFromIndexSize(yOff, rows, y.length);
        if (bias != null && bias.length < rows) {
            throw new IllegalArgumentException("gemv: bias has length " + bias.length + " but W has " + rows + " rows");
        }
        MatrixChecks.notSame(op, y, "y", x, "x");
        MatrixChecks.notSame(op, y, "y", bias, "bias");
        MatrixChecks.notBehind(op, y, "y", w, "W");
        Rows body = (r0, r1) -> K.gemvRows(w, type, wOff, ldw, x, xOff, cols, y, yOff, r0, r1);
        if (MatrixChecks.confined(w)) {
            body.run(0, rows); // a confined segment may only be read by this thread
            addBias(bias, y, yOff, 0, rows);
        } else {
            run(rows, cols, type == DType.F32 ? CHUNK_ELEMENTS : HALF_CHUNK_ELEMENTS, bias, y, yOff, body);
        }
    }

    private static void checkVectors(String op, int rows, int cols, float[] x, float[] bias, float[] y) {
        MatrixChecks.nonNegative(op, "rows", rows);
        MatrixChecks.nonNegative(op, "cols", cols);
        Objects.requireNonNull(x, "gemv: x is null");
        Objects.requireNonNull(y, "gemv: y is null");
        String shape = "W [" + rows + ", " + cols + "]";
        MatrixChecks.length(op, "x", x.length, cols, shape);
        MatrixChecks.length(op, "y", y.length, rows, shape);
        if (bias != null) {
            MatrixChecks.length(op, "bias", bias.length, rows, shape);
        }
        MatrixChecks.notSame(op, y, "y", x, "x");
        MatrixChecks.notSame(op, y, "y", bias, "bias");
    }

    /** A kernel call over rows [r0, r1). */
    @FunctionalInterface
    private interface Rows {
        void run(int r0, int r1);
    }

    private static void run(int rows, int cols, int chunkElements, float[] bias, float[] y, int yOff, Rows kernel) {
        long grain = Math.max(4, ((chunkElements / Math.max(1, cols)) + 3) & ~3L);
        Parallel.forRange(0, rows, grain, (from, to) -> {
            int r0 = (int) from, r1 = (int) to;
            kernel.run(r0, r1);
            addBias(bias, y, yOff, r0, r1);
        });
    }

    private static void addBias(float[] bias, float[] y, int yOff, int r0, int r1) {
        if (bias != null) {
            for (int r = r0; r < r1; r++) {
                y[yOff + r] += bias[r];
            }
        }
    }
}

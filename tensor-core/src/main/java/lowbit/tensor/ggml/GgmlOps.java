package lowbit.tensor.ggml;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * The integer dot-product path llama.cpp uses for ggml weights, validated: quantize the activation row once to the
 * weight type's {@linkplain #activationType activation type} (Q8_0, or Q8_1 for Q4_1/Q5_1, Q8_K for the k-quants
 * Q2_K..Q6_K), then per 32-element block an exact integer sum of code products and one float multiply by d_w·d_a
 * (plus m_w·s_a for types with a minimum); per 256-element k-quant super-block the exact integer sums of
 * {@code ggml_vec_dot_*_q8_K} (sub-block scales applied in integers, minimums through the Q8_K block sums) and two
 * float multiplies, by d_w·d_a and dmin_w·d_a. Kernels come from the {@linkplain VectorizationProvider chosen
 * provider}.
 *
 * <p>Accuracy: the result is the float evaluation of &Sigma;_b d_w,b·d_a,b·S_b, i.e. the dot product of the
 * dequantized weight row with the dequantized activation. Against a float dot with the original activation it also
 * carries the activation's Q8 rounding (|x &minus; x&#770;| &le; d_a/2 per element). The vector kernels add in another
 * order than the scalar twin (within the float summation bound).
 *
 * <p>GEMV runs rows in parallel with {@link Parallel}; each row is computed by one thread from start to end, so the
 * result is identical for any thread count.
 */
public final class GgmlOps {
    private static final GgmlKernels K = VectorizationProvider.get().ggml();
    private static final KQuantKernels KQ = VectorizationProvider.get().kquants();

    private GgmlOps() {
    }

    /**
     * The activation type ggml pairs with weight type {@code weight} ({@code vec_dot_type} in ggml's CPU backend).
     *
     * @throws IllegalArgumentException for a type without an integer dot product here
     */
    public static GgmlType activationType(GgmlType weight) {
        return switch (Objects.requireNonNull(weight, "weight")) {
            case Q4_0, Q5_0, Q8_0 -> GgmlType.Q8_0;
            case Q4_1, Q5_1 -> GgmlType.Q8_1;
            case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> GgmlType.Q8_K;
            default -> throw new IllegalArgumentException("no integer dot product for ggml type " + weight
                    + " (supported: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
        };
    }

    /**
     * Quantizes {@code x[xOff, xOff+n)} to {@code activationType(weight)} at byte {@code dstOff} of {@code dst}
     * (ggml's reference encoder; non-finite input is rejected).
     */
    public static void quantizeActivation(GgmlType weight, float[] x, int xOff, MemorySegment dst, long dstOff, int n) {
        switch (activationType(weight)) {
            case Q8_1 -> Q8_1.quantizeRow(x, xOff, dst, dstOff, n);
            case Q8_K -> Q8_K.quantizeRow(x, xOff, dst, dstOff, n);
            default -> Q8_0.quantizeRow(x, xOff, dst, dstOff, n);
        }
    }

    /**
     * Dot product of {@code n} elements: a {@code weight}-typed row at byte {@code wOff} of {@code w} with an
     * activation row of {@code activationType(weight)} at byte {@code aOff} of {@code a}.
     *
     * @throws IllegalArgumentException for an unsupported type or n not a multiple of the block size (32, or 256 for the
     *     k-quants)
     * @throws IndexOutOfBoundsException when either row does not fit in its buffer
     */
    public static float dot(GgmlType weight, MemorySegment w, long wOff, MemorySegment a, long aOff, int n) {
        GgmlType at = activationType(weight);
        int nb = Blocks.blocks(weight, n);
        Blocks.checkBytes(weight, "weight row", w, wOff, (long) nb * weight.blockBytes());
        Blocks.checkBytes(at, "activation row", a, aOff, (long) nb * at.blockBytes());
        return dotUnchecked(weight, w, wOff, a, aOff, nb);
    }

    /**
     * y[yOff + r] = &Sigma;_k W&#770;[r, k]·x&#770;[k] for r &lt; rows: W is {@code rows} rows of {@code cols} elements of
     * type {@code weight}, contiguous from byte {@code wOff} of {@code w} (row r at {@code wOff + r·rowBytes(cols)});
     * x&#770; is {@code x[xOff, xOff+cols)} quantized once to the activation type.
     *
     * @throws IllegalArgumentException for an unsupported type, cols not a multiple of the block size, negative rows,
     *     non-finite x
     * @throws IndexOutOfBoundsException when W, x or y is too short
     */
    public static void gemv(GgmlType weight, MemorySegment w, long wOff, int rows, int cols, float[] x, int xOff,
            float[] y, int yOff) {
        GgmlType at = activationType(weight);
        int nb = Blocks.blocks(weight, cols);
        if (rows < 0) {
            throw new IllegalArgumentException(weight + ": negative row count " + rows);
        }
        long rowBytes = (long) nb * weight.blockBytes();
        Blocks.checkBytes(weight, "weight matrix of " + rows + "x" + cols, w, wOff, rowBytes * rows);
        Objects.checkFromIndexSize(xOff, cols, x.length);
        Objects.checkFromIndexSize(yOff, rows, y.length);
        // native like mapped weights: kernels that see one segment class inline its accessors (mixing heap and native
        // segments in the same loads left virtual calls in the hot loop)
        MemorySegment act = prepareActivation(weight, x, xOff, cols);
        long grain = Math.max(1, Math.min(64, rows / (8L * Parallel.parallelism())));
        if (grain >= 4) {
            grain &= ~3L; // whole groups of four rows for the multi-row kernels
        }
        Parallel.forRange(0, rows, grain, (from, to) -> {
            dotRowsUnchecked(weight, w, wOff + from * rowBytes, rowBytes, (int) (to - from), act, nb, y,
                    yOff + (int) from);
        });
    }

    private static float dotUnchecked(GgmlType weight, MemorySegment w, long wOff, MemorySegment a, long aOff, int nb) {
        return switch (weight) {
            case Q4_0 -> K.dotQ4_0Q8_0(w, wOff, a, aOff, nb);
            case Q4_1 -> K.dotQ4_1Q8_1(w, wOff, a, aOff, nb);
            case Q5_0 -> K.dotQ5_0Q8_0(w, wOff, a, aOff, nb);
            case Q5_1 -> K.dotQ5_1Q8_1(w, wOff, a, aOff, nb);
            case Q8_0 -> K.dotQ8_0Q8_0(w, wOff, a, aOff, nb);
            case Q2_K -> KQ.dotQ2_KQ8_K(w, wOff, a, aOff, nb);
            case Q3_K -> KQ.dotQ3_KQ8_K(w, wOff, a, aOff, nb);
            case Q4_K -> KQ.dotQ4_KQ8_K(w, wOff, a, aOff, nb);
            case Q5_K -> KQ.dotQ5_KQ8_K(w, wOff, a, aOff, nb);
            case Q6_K -> KQ.dotQ6_KQ8_K(w, wOff, a, aOff, nb);
            default -> throw new IllegalArgumentException("no integer dot product for ggml type " + weight);
        };
    }

    /**
     * Encodes {@code n} floats as {@code type} with its reference encoder (dispatch to the format class), rejecting
     * non-finite input.
     *
     * @throws IllegalArgumentException for a type lowbit cannot encode, a bad length or a non-finite value
     */
    public static void quantizeRow(GgmlType type, float[] x, int xOff, MemorySegment dst, long dstOff, int n) {
        switch (Objects.requireNonNull(type, "type")) {
            case Q4_0 -> Q4_0.quantizeRow(x, xOff, dst, dstOff, n);
            case Q4_1 -> Q4_1.quantizeRow(x, xOff, dst, dstOff, n);
            case Q5_0 -> Q5_0.quantizeRow(x, xOff, dst, dstOff, n);
            case Q5_1 -> Q5_1.quantizeRow(x, xOff, dst, dstOff, n);
            case Q8_0 -> Q8_0.quantizeRow(x, xOff, dst, dstOff, n);
            case Q8_1 -> Q8_1.quantizeRow(x, xOff, dst, dstOff, n);
            case Q2_K -> Q2_K.quantizeRow(x, xOff, dst, dstOff, n);
            case Q3_K -> Q3_K.quantizeRow(x, xOff, dst, dstOff, n);
            case Q4_K -> Q4_K.quantizeRow(x, xOff, dst, dstOff, n);
            case Q5_K -> Q5_K.quantizeRow(x, xOff, dst, dstOff, n);
            case Q6_K -> Q6_K.quantizeRow(x, xOff, dst, dstOff, n);
            case Q8_K -> Q8_K.quantizeRow(x, xOff, dst, dstOff, n);
            default -> throw new IllegalArgumentException("no encoder for ggml type " + type);
        }
    }

    /**
     * Decodes {@code n} values of a {@code type} row (dispatch to the format class).
     *
     * @throws IllegalArgumentException for a type lowbit cannot decode or a bad length
     */
    public static void dequantizeRow(GgmlType type, MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        switch (Objects.requireNonNull(type, "type")) {
            case Q4_0 -> Q4_0.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q4_1 -> Q4_1.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q5_0 -> Q5_0.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q5_1 -> Q5_1.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q8_0 -> Q8_0.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q8_1 -> Q8_1.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q2_K -> Q2_K.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q3_K -> Q3_K.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q4_K -> Q4_K.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q5_K -> Q5_K.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q6_K -> Q6_K.dequantizeRow(src, srcOff, dst, dstOff, n);
            case Q8_K -> Q8_K.dequantizeRow(src, srcOff, dst, dstOff, n);
            default -> throw new IllegalArgumentException("no decoder for ggml type " + type);
        }
    }

    /**
     * A Q8 activation row prepared once for many {@link #dotRows} calls: x quantized to
     * {@code activationType(weight)} in a native segment (the kernels see one segment class).
     *
     * @throws IllegalArgumentException for an unsupported type, a bad length or a non-finite x
     */
    public static MemorySegment prepareActivation(GgmlType weight, float[] x, int xOff, int n) {
        GgmlType at = activationType(weight);
        int nb = Blocks.blocks(weight, n);
        Objects.checkFromIndexSize(xOff, n, x.length);
        MemorySegment act = Arena.ofAuto().allocate(Math.max(1, (long) nb * at.blockBytes()), 64);
        quantizeActivation(weight, x, xOff, act, 0, n);
        return act;
    }

    /**
     * {@code y[yOff + r] = dot(weight, w, wOff + r·rowBytes(n), act, 0, n)} for r &lt; rows, sequential: the row
     * kernel of {@link #gemv} with an activation from {@link #prepareActivation} (its bits for the same rows).
     */
    public static void dotRows(GgmlType weight, MemorySegment w, long wOff, int rows, int n, MemorySegment act,
            float[] y, int yOff) {
        GgmlType at = activationType(weight);
        int nb = Blocks.blocks(weight, n);
        long rowBytes = (long) nb * weight.blockBytes();
        Blocks.checkBytes(weight, "weight matrix of " + rows + "x" + n, w, wOff, rowBytes * rows);
        Blocks.checkBytes(at, "activation row", act, 0, (long) nb * at.blockBytes());
        Objects.checkFromIndexSize(yOff, rows, y.length);
        dotRowsUnchecked(weight, w, wOff, rowBytes, rows, act, nb, y, yOff);
    }

    private static void dotRowsUnchecked(GgmlType weight, MemorySegment w, long wOff, long rowBytes, int rows,
            MemorySegment act, int nb, float[] y, int yOff) {
        switch (weight) {
            case Q4_0 -> K.dotRowsQ4_0Q8_0(w, wOff, rowBytes, rows, act, 0, nb, y, yOff);
            case Q8_0 -> K.dotRowsQ8_0Q8_0(w, wOff, rowBytes, rows, act, 0, nb, y, yOff);
            case Q4_K -> KQ.dotRowsQ4_KQ8_K(w, wOff, rowBytes, rows, act, 0, nb, y, yOff);
            case Q6_K -> KQ.dotRowsQ6_KQ8_K(w, wOff, rowBytes, rows, act, 0, nb, y, yOff);
            default -> {
                for (int r = 0; r < rows; r++) {
                    y[yOff + r] = dotUnchecked(weight, w, wOff + r * rowBytes, act, 0, nb);
                }
            }
        }
    }
}

package lowbit.nn;

import lowbit.tensor.Tensor;
import lowbit.tensor.layout.QuantizedMatrix;

/**
 * The weight of a {@link Linear} layer: a matrix {@code W[out, in]} ({@code nn.Linear}'s convention) in any storage
 * lowbit has, seen only through the two products a layer needs:
 * <ul>
 *   <li>forward {@code Y = X·Wᵀ + b} for X [n, in], Y [n, out];</li>
 *   <li>the input gradient {@code dX = dY·W} for dY [n, out], dX [n, in] (backpropagation through a frozen or
 *       quantized base, as LoRA-style adapters need).</li>
 * </ul>
 * Dense F32/F16/BF16 tensors ({@link DenseWeight}) and every {@link QuantizedMatrix} ({@link QuantizedWeight}) are
 * weights; sparse layouts will be too. Implementations are immutable and thread-safe, and their products give the
 * same bits for any thread count.
 */
public interface LinearWeight {
    /** Output features: rows of W. */
    int outFeatures();

    /** Input features: columns of W. */
    int inFeatures();

    /** A short description of the storage, e.g. {@code "F32 [384, 1536]"}. */
    String describe();

    /**
     * {@code Y = X·Wᵀ + bias}: X [n, in] and Y [n, out] row-major, bias [out] or null. Y is overwritten.
     *
     * @throws IllegalArgumentException when a length does not match the shapes (the message names them)
     */
    void forward(float[] x, int n, float[] bias, float[] y);

    /**
     * {@code dX = dY·W}: dY [n, out], dX [n, in] row-major; dX is overwritten.
     *
     * @throws IllegalArgumentException when a length does not match the shapes
     */
    void backwardInput(float[] dy, int n, float[] dx);

    /** W as a new row-major float array [out, in] (the values the products use). */
    float[] toFloats();

    /**
     * Whether a {@link Linear} over this weight computes the weight gradient {@code dW = dYᵀ·X} (and the bias
     * gradient): true for a dense weight not marked frozen, false for quantized layouts, which are frozen bases.
     */
    boolean trainable();

    /** A dense weight over a matrix tensor [out, in] of dtype F32, F16 or BF16 (read in place, not copied). */
    static LinearWeight of(Tensor w) {
        return new DenseWeight(w, true);
    }

    /** A dense F32 weight over {@code w} (row-major [out, in], not copied). */
    static LinearWeight of(float[] w, int out, int in) {
        return DenseWeight.of(w, out, in);
    }

    /** A frozen weight over a quantized layout. */
    static LinearWeight of(QuantizedMatrix w) {
        return new QuantizedWeight(w);
    }
}

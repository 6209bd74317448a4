package lowbit.nn;

import java.util.Objects;
import lowbit.tensor.Tensor;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.layout.QuantizedMatrix;
import lowbit.tensor.simd.FloatOps;

/**
 * A fully connected layer {@code Y = X·Wᵀ + b} ({@code torch.nn.Linear}): X [n, in], W [out, in] in any
 * {@link LinearWeight} storage (dense F32/F16/BF16, any quantized layout), optional bias b [out], Y [n, out].
 *
 * <p>Backward, for an upstream gradient dY [n, out] of a scalar loss L:
 * <pre>
 *   dX = dY·W            (always)
 *   dW = dYᵀ·X           (only when the weight is {@linkplain LinearWeight#trainable() trainable})
 *   db = Σ_i dY[i, :]    (only when trainable and there is a bias)
 * </pre>
 * A frozen or quantized base gives only dX: this is what adapters (LoRA and relatives) build on. All products run
 * on lowbit's GEMM and give the same bits for any thread count; db is summed over rows in index order.
 *
 * <p>Instances are immutable (the bias array is not copied: do not change it while the layer is in use).
 * <pre>{@code
 * Linear fc = Linear.of(Tensor.ofFloats(w, out, in), bias);
 * float[] y = fc.forward(x, n);                        // [n, out]
 * Linear.Gradients g = fc.backward(x, dy, n);          // g.dx() [n, in], g.dw() [out, in], g.db() [out]
 * }</pre>
 */
public final class Linear {
    private final LinearWeight weight;
    private final float[] bias;

    /**
     * @param weight W [out, in]
     * @param bias b [out], or null for none
     * @throws IllegalArgumentException when the bias length is not {@code out}
     */
    public Linear(LinearWeight weight, float[] bias) {
        this.weight = Objects.requireNonNull(weight, "weight is null");
        if (bias != null && bias.length != weight.outFeatures()) {
            throw new IllegalArgumentException("bias has " + bias.length + " elements but the weight " + weight.describe()
                    + " has " + weight.outFeatures() + " outputs");
        }
        this.bias = bias;
    }

    /** A layer over a dense matrix tensor W [out, in] (F32, F16 or BF16; trainable) and an optional bias. */
    public static Linear of(Tensor w, float[] bias) {
        return new Linear(DenseWeight.of(w), bias);
    }

    /** A layer over a quantized layout (frozen) and an optional bias. */
    public static Linear of(QuantizedMatrix w, float[] bias) {
        return new Linear(new QuantizedWeight(w), bias);
    }

    /** The same bias with another weight of the same shape (a quantized, pruned or adapted version). */
    public Linear withWeight(LinearWeight other) {
        Objects.requireNonNull(other, "weight is null");
        if (other.outFeatures() != outFeatures() || other.inFeatures() != inFeatures()) {
            throw new IllegalArgumentException("replacement weight " + other.describe() + " does not have the shape ["
                    + outFeatures() + ", " + inFeatures() + "] of " + weight.describe());
        }
        return new Linear(other, bias);
    }

    public LinearWeight weight() {
        return weight;
    }

    /** The bias (not a copy), or null. */
    public float[] bias() {
        return bias;
    }

    public int inFeatures() {
        return weight.inFeatures();
    }

    public int outFeatures() {
        return weight.outFeatures();
    }

    /** {@code Y = X·Wᵀ + b} into a new array [n, out]. */
    public float[] forward(float[] x, int n) {
        checkN(n);
        float[] y = new float[Math.multiplyExact(n, outFeatures())];
        forward(x, n, y);
        return y;
    }

    /** {@code Y = X·Wᵀ + b}; Y [n, out] is overwritten. */
    public void forward(float[] x, int n, float[] y) {
        weight.forward(x, n, bias, y);
    }

    /** {@code dX = dY·W} into a new array [n, in]. */
    public float[] backwardInput(float[] dy, int n) {
        checkN(n);
        float[] dx = new float[Math.multiplyExact(n, inFeatures())];
        weight.backwardInput(dy, n, dx);
        return dx;
    }

    /**
     * The gradients for input X [n, in] and upstream gradient dY [n, out]: dX always; dW [out, in] and db [out]
     * when the weight is trainable (null otherwise, and db null without a bias).
     */
    public Gradients backward(float[] x, float[] dy, int n) {
        Objects.requireNonNull(x, "X is null");
        checkN(n);
        int in = inFeatures(), out = outFeatures();
        LinearChecks.length("linear backward", "X", x.length, (long) n * in,
                " (X [" + n + ", " + in + "], W " + weight.describe() + ")");
        float[] dx = backwardInput(dy, n);
        if (!weight.trainable()) {
            return new Gradients(dx, null, null);
        }
        float[] dw = new float[Math.multiplyExact(out, in)];
        Gemm.gemm(true, false, out, in, n, 1f, dy, 0, out, x, 0, in, 0f, dw, 0, in);
        float[] db = null;
        if (bias != null) {
            db = new float[out];
            for (int i = 0; i < n; i++) {
                FloatOps.axpy(1f, dy, i * out, db, 0, out);
            }
        }
        return new Gradients(dx, dw, db);
    }

    private static void checkN(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative row count n = " + n);
        }
    }

    @Override
    public String toString() {
        return "Linear[" + weight.describe() + (bias == null ? ", no bias" : ", bias") + "]";
    }

    /**
     * Gradients of a {@link Linear} layer.
     *
     * @param dx dL/dX [n, in]
     * @param dw dL/dW [out, in], or null for a frozen weight
     * @param db dL/db [out], or null for a frozen weight or no bias
     */
    public record Gradients(float[] dx, float[] dw, float[] db) {
    }
}

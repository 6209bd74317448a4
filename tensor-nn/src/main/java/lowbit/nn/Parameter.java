package lowbit.nn;

import java.util.Arrays;
import java.util.Objects;

/**
 * A trainable tensor: a name (for adapters PEFT's tensor name, e.g. {@code "lora_A.weight"}), a row-major shape, its
 * values and the gradient accumulated for them ({@code torch.nn.Parameter} with its {@code .grad}).
 *
 * <p>Backward passes <em>add</em> into {@link #grad()}; an optimizer step reads it, writes {@link #data()} and calls
 * {@link #markUpdated()}; {@link #zeroGrad()} clears it for the next step (as in PyTorch, where gradients accumulate
 * until zeroed). The {@link #version()} counter lets layers cache values derived from the parameter (a DoRA weight
 * norm, a Bone-bat block delta) and recompute them only after an update.
 *
 * <p>The arrays are live (not copies). A parameter is not thread-safe: one training loop owns it.
 */
public final class Parameter {
    private final String name;
    private final int[] shape;
    private final float[] data;
    private final float[] grad;
    private long version;

    /**
     * @param name the parameter's name (non-empty)
     * @param data the values, row-major, wrapped (not copied)
     * @param shape the dimensions; their product must be {@code data.length}
     * @throws IllegalArgumentException for an empty name, a negative dimension or a length that does not match
     */
    public Parameter(String name, float[] data, int... shape) {
        Objects.requireNonNull(name, "parameter name is null");
        Objects.requireNonNull(data, "parameter data is null");
        Objects.requireNonNull(shape, "parameter shape is null");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("parameter name is empty");
        }
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("parameter " + name + ": negative dimension in " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != data.length) {
            throw new IllegalArgumentException("parameter " + name + ": shape " + Arrays.toString(shape) + " has " + n
                    + " elements but the data has " + data.length);
        }
        this.name = name;
        this.shape = shape.clone();
        this.data = data;
        this.grad = new float[data.length];
    }

    public String name() {
        return name;
    }

    /** The dimensions (a copy). */
    public int[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public int size() {
        return data.length;
    }

    /** The values (live). */
    public float[] data() {
        return data;
    }

    /** The accumulated gradient dL/d(data) (live), same layout as {@link #data()}. */
    public float[] grad() {
        return grad;
    }

    /** Sets the gradient to zero. */
    public void zeroGrad() {
        Arrays.fill(grad, 0f);
    }

    /** Counts updates of {@link #data()}; starts at 0. */
    public long version() {
        return version;
    }

    /** Records that {@link #data()} was changed (optimizers call this after every step; call it after editing data). */
    public void markUpdated() {
        version++;
    }

    /** Copies {@code values} into the data and marks the update. */
    public void set(float[] values) {
        Objects.requireNonNull(values, "values");
        if (values.length != data.length) {
            throw new IllegalArgumentException("parameter " + name + " " + Arrays.toString(shape) + " has " + data.length
                    + " elements, got " + values.length);
        }
        System.arraycopy(values, 0, data, 0, data.length);
        markUpdated();
    }

    @Override
    public String toString() {
        return "Parameter[" + name + " " + Arrays.toString(shape) + "]";
    }
}

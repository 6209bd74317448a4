package lowbit.nn.optim;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import lowbit.nn.Parameter;

/**
 * A first-order optimizer over a fixed list of {@link Parameter}s ({@code torch.optim.Optimizer}): {@link #step()}
 * applies one update from the accumulated gradients, {@link #zeroGrad()} clears them.
 *
 * <p>Every step first checks all gradients and throws {@link IllegalStateException} naming the parameter and the
 * index when one is NaN or infinite — before changing any value, so a failed step leaves the parameters as they were.
 * Updates are element-wise and sequential: results do not depend on the thread count.
 */
public abstract class Optimizer {
    private final List<Parameter> params;
    private long steps;

    protected Optimizer(List<Parameter> params) {
        Objects.requireNonNull(params, "parameter list is null");
        this.params = List.copyOf(new ArrayList<>(params));
        java.util.Set<Parameter> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Parameter p : this.params) {
            if (!seen.add(p)) {
                throw new IllegalArgumentException("parameter " + p.name() + " is listed twice");
            }
        }
    }

    /** The parameters this optimizer updates. */
    public List<Parameter> parameters() {
        return params;
    }

    /** Completed steps. */
    public long steps() {
        return steps;
    }

    /**
     * One update from the current gradients (which are not cleared).
     *
     * @throws IllegalStateException when a gradient holds NaN or ±Inf (nothing is updated then)
     */
    public final void step() {
        for (Parameter p : params) {
            float[] g = p.grad();
            for (int i = 0; i < g.length; i++) {
                if (!Float.isFinite(g[i])) {
                    throw new IllegalStateException(getClass().getSimpleName() + " step " + (steps + 1) + ": gradient of "
                            + p.name() + " " + java.util.Arrays.toString(p.shape()) + " is " + g[i] + " at index " + i
                            + "; no parameter was updated");
                }
            }
        }
        steps++;
        for (Parameter p : params) {
            update(p, steps);
            p.markUpdated();
        }
    }

    /** Sets every gradient to zero. */
    public void zeroGrad() {
        for (Parameter p : params) {
            p.zeroGrad();
        }
    }

    /** Updates one parameter for step {@code t} (1-based); gradients are finite. */
    protected abstract void update(Parameter p, long t);

    static void checkNonNegative(String what, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(what + " must be finite and non-negative, got " + v);
        }
    }
}

package lowbit.nn;

import java.util.Objects;
import lowbit.tensor.parallel.Parallel;

/**
 * An element-wise activation {@code y = f(x)} with its derivative, for forward and backward passes
 * ({@code dx = dy ⊙ f'(x)}). {@link Gelu} (erf and tanh forms) and {@link Silu} implement it.
 */
public interface Activation {
    /** f(x). */
    float apply(float x);

    /** f'(x). */
    float derivative(float x);

    /** {@code y[i] = f(x[i])}; y may be x (in place). Runs in parallel chunks (order does not matter: no sums). */
    default void forward(float[] x, float[] y) {
        RowChecks.sameLength(toString(), "x", x, "y", y);
        Parallel.forRange(0, x.length, 1 << 14, (a, b) -> {
            for (int i = (int) a; i < b; i++) {
                y[i] = apply(x[i]);
            }
        });
    }

    /** {@code f(x)} into a new array. */
    default float[] forward(float[] x) {
        Objects.requireNonNull(x, "x is null");
        float[] y = new float[x.length];
        forward(x, y);
        return y;
    }

    /** {@code dx[i] = dy[i]·f'(x[i])}; dx may be dy. */
    default void backward(float[] x, float[] dy, float[] dx) {
        RowChecks.sameLength(toString() + " backward", "x", x, "dy", dy);
        RowChecks.sameLength(toString() + " backward", "dy", dy, "dx", dx);
        Parallel.forRange(0, x.length, 1 << 14, (a, b) -> {
            for (int i = (int) a; i < b; i++) {
                dx[i] = dy[i] * derivative(x[i]);
            }
        });
    }

    /** {@code dy ⊙ f'(x)} into a new array. */
    default float[] backward(float[] x, float[] dy) {
        Objects.requireNonNull(dy, "dy is null");
        float[] dx = new float[dy.length];
        backward(x, dy, dx);
        return dx;
    }
}

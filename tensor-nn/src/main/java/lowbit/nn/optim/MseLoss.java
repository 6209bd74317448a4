package lowbit.nn.optim;

import java.util.Objects;

/**
 * Mean squared error {@code L = (1/N)·Σ (y_i − t_i)²} over all N elements ({@code torch.nn.MSELoss}, mean reduction),
 * with {@code dL/dy_i = 2·(y_i − t_i)/N}. The sum is accumulated in double.
 */
public final class MseLoss {
    private MseLoss() {
    }

    /**
     * @throws IllegalArgumentException when the lengths differ or are zero
     */
    public static Loss of(float[] prediction, float[] target) {
        Objects.requireNonNull(prediction, "prediction");
        Objects.requireNonNull(target, "target");
        if (prediction.length != target.length || prediction.length == 0) {
            throw new IllegalArgumentException("MSE: prediction has " + prediction.length + " elements, target "
                    + target.length + " (must be equal and non-zero)");
        }
        int n = prediction.length;
        float[] g = new float[n];
        double s = 0;
        float k = 2f / n;
        for (int i = 0; i < n; i++) {
            float d = prediction[i] - target[i];
            s += (double) d * d;
            g[i] = k * d;
        }
        return new Loss(s / n, g);
    }

    /** The loss value only. */
    public static double value(float[] prediction, float[] target) {
        return of(prediction, target).value();
    }
}

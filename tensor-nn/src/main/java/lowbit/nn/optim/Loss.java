package lowbit.nn.optim;

/**
 * The value of a scalar loss and its gradient with respect to the prediction (same layout as the prediction), ready
 * to be passed to a layer's backward.
 *
 * @param value L
 * @param gradient dL/dprediction
 */
public record Loss(double value, float[] gradient) {
}

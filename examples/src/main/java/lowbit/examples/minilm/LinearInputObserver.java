package lowbit.examples.minilm;

/**
 * Sees the input of every {@link lowbit.nn.Linear} of a {@link BertEncoder} forward pass, before the product: the
 * calibration hook of quantizers (GPTQ's Hessian X·Xᵀ, AWQ's activation scales, Wanda's ‖x‖ per channel).
 */
@FunctionalInterface
public interface LinearInputObserver {
    /**
     * @param name the layer's stable name, e.g. {@code layer.3.ffn.down} ({@link BertEncoder#linearNames()})
     * @param x the input [tokens, in], row-major, padding rows included (do not modify; valid only during the call:
     *     the encoder overwrites it later in the pass and reuses it in the next one, so copy what you keep)
     * @param in input features
     * @param mask [tokens]: 1 for a real token, 0 for padding
     */
    void accept(String name, float[] x, int in, int[] mask);
}

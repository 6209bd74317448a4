/**
 * Neural-network building blocks over lowbit's tensors and kernels, usable from a unit test in a few lines:
 * {@link lowbit.nn.Linear} over any {@link lowbit.nn.LinearWeight} (dense F32/F16/BF16 {@link lowbit.nn.DenseWeight},
 * any quantized layout {@link lowbit.nn.QuantizedWeight}) with forward and backward (dX; dW and db when trainable),
 * {@link lowbit.nn.LayerNorm} and {@link lowbit.nn.RmsNorm} with backward, the activations {@link lowbit.nn.Gelu}
 * (erf and tanh forms) and {@link lowbit.nn.Silu} with backward, a stable {@link lowbit.nn.Softmax} with backward,
 * scaled dot-product {@link lowbit.nn.MultiHeadAttention} with an {@link lowbit.nn.AttentionMask},
 * {@link lowbit.nn.Embedding}, {@link lowbit.nn.MeanPooling} and {@link lowbit.nn.L2Norm}.
 *
 * <p>Tensors are row-major float arrays with explicit sizes ([n, in] for n tokens); results do not depend on the
 * thread count. Adapters ({@code lowbit.nn.adapter}) and optimizers ({@code lowbit.nn.optim}) build on these; a
 * trainable tensor is a {@link lowbit.nn.Parameter}.
 */
package lowbit.nn;

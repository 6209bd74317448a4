/**
 * Quantization algorithms: how to choose scales, zero points, codes, outliers and rotations (RTN, clip search,
 * EasyQuant, AdaDim, FineQuant, HQQ, GPTQ, AWQ, GWQ, RSQ, ...). Every method produces a tensor-core layout, so what
 * it makes runs in the fused kernels and can be saved.
 */
package lowbit.quant;

/**
 * Quantized weight layouts: a 2-D weight {@code W[rows, cols]} ({@code nn.Linear}'s {@code [out, in]}) stored as
 * packed codes plus scales (plus zero points) (plus an exact {@linkplain lowbit.tensor.layout.Outliers outlier} side
 * list), and the kernels that use it without unpacking the whole matrix to float.
 *
 * <p>Every layout is a {@link lowbit.tensor.layout.QuantizedMatrix}: dequantize (all or a row range), fused GEMV
 * {@code y = Ŵ·x + b} and fused GEMM {@code Y = X·Ŵᵀ + b}. The layouts: group-wise affine int2–8
 * ({@code GroupwiseAffine}), ggml blocks ({@code GgmlMatrix}), NF4/FP4 codebooks ({@code Nf4}, {@code Fp4}), N:M
 * sparse ones ({@code NmSparseMatrix}, {@code NmSparseAffine}), and repacks of these into 16-row tiles for faster
 * kernels ({@code AffineInt4Tiles}, {@code NmSparseInt4Tiles}: llama.cpp's integer path; {@code Codebook4Tiles}: NF4/FP4
 * with a vector lane per row).
 */
package lowbit.tensor.layout;

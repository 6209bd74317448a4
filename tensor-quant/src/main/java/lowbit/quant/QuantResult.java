package lowbit.quant;

import java.util.Objects;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.QuantizedMatrix;

/**
 * What a {@link Quantizer} produces: the quantized matrix (a tensor-core layout, possibly with exact outliers), the
 * {@link InputTransform} the caller must apply to x (or fold upstream) — identity for most methods — and the
 * {@link QuantReport}. The layer computes y = matrix·transform(x) + b + c.
 *
 * @param matrix Ŵ' in a tensor-core layout
 * @param transform what to do to x and y around it (never null)
 * @param report errors, outliers, time and chosen options
 */
public record QuantResult(QuantizedMatrix matrix, InputTransform transform, QuantReport report) {

    /** Null checks. */
    public QuantResult {
        Objects.requireNonNull(matrix, "matrix");
        Objects.requireNonNull(transform, "transform");
        Objects.requireNonNull(report, "report");
    }

    /** The matrix as a {@link GroupwiseAffine} (every method of this package produces one). */
    public GroupwiseAffine affine() {
        if (matrix instanceof GroupwiseAffine g) {
            return g;
        }
        throw new IllegalStateException("the result is " + matrix.describe() + ", not a group-wise affine layout");
    }

    /** Ŵ_eff = the dequantized matrix with the input transform folded in: the weight the layer applies to x. */
    public float[] effectiveWeight() {
        float[] d = matrix.dequantize();
        transform.effectiveWeight(d, matrix.rows(), matrix.cols());
        return d;
    }

    /** The report's mean squared weight error. */
    public double mse() {
        return report.mse();
    }
}

package lowbit.quant;

import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.AffineSpec;

/**
 * A quantization method: given a weight W [rows = out, cols = in] (row-major, {@code nn.Linear}'s layout), an
 * {@link AffineSpec} (bits, symmetric or not, granularity, scale type) and optionally calibration statistics of the
 * layer's inputs, it chooses scales, zero points, codes, outliers and any input-side transform, and returns them as a
 * {@link QuantResult}. Implementations are immutable, thread-safe, deterministic (same bits for any thread count;
 * seeded where random) and configured by small immutable option records with defaults.
 *
 * <pre>{@code
 * QuantResult r = Rtn.asymmetric().quantize(w, rows, cols, AffineSpec.groupsAlongIn(4, 128, false));
 * float[] y = new float[rows];
 * r.matrix().gemv(r.transform().apply(x, 1, cols), bias, y);   // transform is identity for RTN
 * System.out.println(r.report());                                // mse, outliers, time, chosen options
 * }</pre>
 *
 * <p>Every method validates at this boundary: a null or mis-sized array, an empty matrix, a spec whose group does not
 * divide the grouped dimension, NaN or infinite weights, statistics for another width all throw
 * {@link IllegalArgumentException} naming the value.
 */
public interface Quantizer {
    /** Short name used in reports and tables, e.g. {@code "rtn"}, {@code "easyquant"}. */
    String name();

    /**
     * Quantizes W.
     *
     * @param w row-major [rows, cols], read only (not modified, not retained)
     * @param spec bits, symmetry, granularity and scale type of the layout to produce (methods that choose the
     *     granularity — FineQuant, AdaDim — treat it as the starting point and report their choice)
     * @param stats calibration statistics of the layer's inputs, or null for data-free use; data-free methods may use
     *     them when given (activation-weighted errors) and say so
     * @throws IllegalArgumentException for bad input (see the class comment)
     */
    QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats);

    /** Data-free: {@code quantize(w, rows, cols, spec, null)}. */
    default QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec) {
        return quantize(w, rows, cols, spec, null);
    }

    /**
     * Quantizes a rank-2 F32/F16/BF16 tensor [out, in] (read as floats).
     *
     * @throws IllegalArgumentException for another rank or dtype, or a matrix over 2^31 elements
     */
    default QuantResult quantize(Tensor w, AffineSpec spec, CalibrationStats stats) {
        Objects.requireNonNull(w, name() + ": weight tensor is null");
        if (w.shape().rank() != 2) {
            throw new IllegalArgumentException(name() + ": weight must be a matrix, got shape " + w.shape());
        }
        if (w.dtype() != DType.F32 && w.dtype() != DType.F16 && w.dtype() != DType.BF16) {
            throw new IllegalArgumentException(name() + ": weight dtype must be F32, F16 or BF16, got " + w.dtype());
        }
        long rows = w.shape().dim(0);
        long cols = w.shape().dim(1);
        if (rows * cols > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(name() + ": " + w.shape() + " is too large for one float[]");
        }
        return quantize(w.toFloatArray(), (int) rows, (int) cols, spec, stats);
    }
}

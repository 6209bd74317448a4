package lowbit.nn.sparse;

import java.util.Objects;
import lowbit.quant.CalibrationStats;

/**
 * How important each weight of W [rows = out, cols = in] is: a score tensor of the same shape (larger = keep), which
 * {@link Masks} turns into an N:M, per-row, per-matrix or structured mask. Implementations: {@link Magnitude},
 * {@link Wanda}, {@link Ria}; {@link SparseGpt} chooses its mask inside its own sweep.
 */
public interface PruningCriterion {
    /** A short name for reports ({@code "magnitude"}, {@code "wanda"}, {@code "ria"}). */
    String name();

    /** Whether {@link #scores} needs calibration statistics of the layer's inputs. */
    boolean needsCalibration();

    /**
     * The scores of W.
     *
     * @param stats the layer's input statistics (ignored when not {@link #needsCalibration()})
     * @throws IllegalArgumentException for a wrong length, a NaN or infinite weight (named), missing statistics or
     *     statistics of another width
     */
    float[] scores(float[] w, int rows, int cols, CalibrationStats stats);

    /** Scores then an N:M mask. */
    default PruningMask nm(float[] w, int rows, int cols, CalibrationStats stats, NmPattern p) {
        return Masks.nm(scores(w, rows, cols, stats), rows, cols, p);
    }

    /** Scores then a per-row unstructured mask. */
    default PruningMask perRow(float[] w, int rows, int cols, CalibrationStats stats, double sparsity) {
        return Masks.perRow(scores(w, rows, cols, stats), rows, cols, sparsity);
    }

    /** Validates a weight matrix (shared by the implementations). */
    static void checkWeights(String method, float[] w, int rows, int cols) {
        Objects.requireNonNull(w, method + ": weights are null");
        if (rows < 0 || cols < 0 || w.length != (long) rows * cols) {
            throw new IllegalArgumentException(method + ": " + w.length + " weights, expected [" + rows + ", " + cols
                    + "] = " + (long) rows * cols);
        }
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new IllegalArgumentException(method + ": weight at row " + i / cols + ", col " + i % cols + " is "
                        + w[i]);
            }
        }
    }

    /** ‖X_j‖₂/√N = √(mean x_j²) per input channel, validated against the width. */
    static float[] inputNorms(String method, CalibrationStats stats, int cols) {
        if (stats == null) {
            throw new IllegalArgumentException(method + " needs calibration statistics of the layer's inputs (mean x² "
                    + "per input channel), got none");
        }
        stats.checkFeatures(cols);
        float[] ms = stats.meanSquare();
        float[] n = new float[cols];
        for (int j = 0; j < cols; j++) {
            if (!(ms[j] >= 0) || Float.isInfinite(ms[j])) {
                throw new IllegalArgumentException(method + ": mean x² of input channel " + j + " is " + ms[j]);
            }
            n[j] = (float) Math.sqrt(ms[j]);
        }
        return n;
    }
}

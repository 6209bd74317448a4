package lowbit.nn.sparse;

import java.util.Objects;

/**
 * Scores and selections for structured pruning: whole output channels (rows of W), input channels (columns), or
 * groups of consecutive channels such as attention heads (head_dim rows of the query/key/value projections, the
 * same columns of the output projection). A channel's score is the sum of its weights' scores (from any
 * {@link PruningCriterion}, or LoRAPrune's {@link LoraPrune#sensitivity}); a group's, the sum of its channels'.
 * Selections keep the highest scores with ties toward the lower index.
 */
public final class StructuredScores {
    private StructuredScores() {
    }

    /** Σ_j S[r, j] for every row r (output channel). */
    public static float[] rows(float[] scores, int rows, int cols) {
        Masks.check(scores, rows, cols);
        float[] out = new float[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int j = 0; j < cols; j++) {
                s += scores[r * cols + j];
            }
            out[r] = (float) s;
        }
        return out;
    }

    /** Σ_r S[r, j] for every column j (input channel). */
    public static float[] columns(float[] scores, int rows, int cols) {
        Masks.check(scores, rows, cols);
        double[] acc = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                acc[j] += scores[r * cols + j];
            }
        }
        float[] out = new float[cols];
        for (int j = 0; j < cols; j++) {
            out[j] = (float) acc[j];
        }
        return out;
    }

    /**
     * Sums of consecutive blocks of {@code groupSize} channel scores (heads of head_dim channels).
     *
     * @throws IllegalArgumentException when groupSize does not divide the channel count
     */
    public static float[] groups(float[] channelScores, int groupSize) {
        Objects.requireNonNull(channelScores, "channel scores");
        if (groupSize < 1 || channelScores.length % groupSize != 0) {
            throw new IllegalArgumentException("group size " + groupSize + " does not divide " + channelScores.length
                    + " channels");
        }
        float[] out = new float[channelScores.length / groupSize];
        for (int g = 0; g < out.length; g++) {
            double s = 0;
            for (int i = 0; i < groupSize; i++) {
                s += channelScores[g * groupSize + i];
            }
            out[g] = (float) s;
        }
        return out;
    }

    /**
     * Which of the scored units to keep: the {@code keep} highest (ties: lower index).
     *
     * @throws IllegalArgumentException for keep outside [0, length] or a NaN score
     */
    public static boolean[] keepTop(float[] scores, int keep) {
        Objects.requireNonNull(scores, "scores");
        if (keep < 0 || keep > scores.length) {
            throw new IllegalArgumentException("cannot keep " + keep + " of " + scores.length + " units");
        }
        Masks.check(scores, 1, scores.length);
        boolean[] k = new boolean[scores.length];
        TopK.mark(scores, 0, scores.length, keep, k, 0, null);
        return k;
    }

    /** A unit selection expanded to its channels (each unit repeated groupSize times). */
    public static boolean[] expand(boolean[] units, int groupSize) {
        Objects.requireNonNull(units, "units");
        if (groupSize < 1) {
            throw new IllegalArgumentException("group size must be >= 1, got " + groupSize);
        }
        boolean[] c = new boolean[Math.multiplyExact(units.length, groupSize)];
        for (int g = 0; g < units.length; g++) {
            java.util.Arrays.fill(c, g * groupSize, (g + 1) * groupSize, units[g]);
        }
        return c;
    }
}

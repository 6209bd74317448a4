package lowbit.nn.optim;

import java.util.Objects;

/**
 * Cross-entropy of integer class labels against logits ({@code torch.nn.CrossEntropyLoss}, mean reduction): for
 * logits Z [n, C] and labels t ∈ [0, C),
 * <pre>
 *   L = (1/n)·Σ_i ( logΣ_c exp(Z_ic) − Z_i,t_i ),     dL/dZ_ic = (softmax(Z_i)_c − [c = t_i]) / n
 * </pre>
 * computed stably (the row maximum is subtracted before exponentiating; sums in double).
 */
public final class CrossEntropyLoss {
    private CrossEntropyLoss() {
    }

    /**
     * @throws IllegalArgumentException for a logits length that is not n·C, a label out of range or n = 0
     */
    public static Loss of(float[] logits, int n, int classes, int[] labels) {
        Objects.requireNonNull(logits, "logits");
        Objects.requireNonNull(labels, "labels");
        if (n <= 0 || classes <= 0 || (long) n * classes != logits.length || labels.length != n) {
            throw new IllegalArgumentException("cross-entropy: logits have " + logits.length + " elements and "
                    + labels.length + " labels, expected [" + n + ", " + classes + "] and " + n + " (n, C > 0)");
        }
        float[] g = new float[logits.length];
        double total = 0;
        for (int i = 0; i < n; i++) {
            int t = labels[i];
            if (t < 0 || t >= classes) {
                throw new IllegalArgumentException("cross-entropy: label " + t + " of row " + i + " is outside [0, "
                        + classes + ")");
            }
            int off = i * classes;
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, logits[off + c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                sum += Math.exp(logits[off + c] - max);
            }
            double lse = max + Math.log(sum);
            total += lse - logits[off + t];
            for (int c = 0; c < classes; c++) {
                double p = Math.exp(logits[off + c] - lse);
                g[off + c] = (float) ((p - (c == t ? 1 : 0)) / n);
            }
        }
        return new Loss(total / n, g);
    }
}

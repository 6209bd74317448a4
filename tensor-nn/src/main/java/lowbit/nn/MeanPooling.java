package lowbit.nn;

import java.util.Objects;
import lowbit.tensor.simd.FloatOps;

/**
 * Mean pooling of token vectors with an attention mask, as sentence-transformers pools BERT outputs: for batch
 * item b with hidden states H_b [seq, dim] and 0/1 mask m_b [seq],
 * <pre>
 *   e_b = Σ_t m_b[t]·H_b[t, :] / max(Σ_t m_b[t], 1)
 * </pre>
 * (padding tokens do not count; an all-zero mask gives the zero vector, as sentence-transformers' clamp to 1e-9
 * does). Sums run over t in index order, in float.
 */
public final class MeanPooling {
    private MeanPooling() {
    }

    /**
     * Pools x [batch, seq, dim] with mask [batch, seq] (entries 0 or 1; null = all 1) into [batch, dim].
     *
     * @throws IllegalArgumentException when a length does not match or a mask entry is not 0 or 1
     */
    public static float[] forward(float[] x, int[] mask, int batch, int seq, int dim) {
        Objects.requireNonNull(x, "mean pooling: x is null");
        if (batch < 0 || seq < 0 || dim < 0 || x.length != (long) batch * seq * dim) {
            throw new IllegalArgumentException("mean pooling: x has " + x.length + " elements, expected [" + batch + ", "
                    + seq + ", " + dim + "]");
        }
        if (mask != null && mask.length != (long) batch * seq) {
            throw new IllegalArgumentException("mean pooling: mask has " + mask.length + " entries, expected [" + batch
                    + ", " + seq + "]");
        }
        float[] out = new float[batch * dim];
        for (int b = 0; b < batch; b++) {
            int count = 0;
            for (int t = 0; t < seq; t++) {
                int m = mask == null ? 1 : mask[b * seq + t];
                if (m != 0 && m != 1) {
                    throw new IllegalArgumentException("mean pooling: mask entry (batch " + b + ", position " + t
                            + ") is " + m + ", expected 0 or 1");
                }
                if (m == 1) {
                    count++;
                    FloatOps.axpy(1f, x, (b * seq + t) * dim, out, b * dim, dim);
                }
            }
            if (count > 1) {
                FloatOps.scale(1f / count, out, b * dim, dim);
            }
        }
        return out;
    }
}

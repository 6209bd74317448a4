package lowbit.nn;

import java.util.Objects;

/**
 * An additive mask for {@link MultiHeadAttention}: a value added to the scaled score {@code q_i·k_j/√d} before the
 * softmax, 0 to keep a position and −∞ to drop it (any finite value shifts the score). One of:
 * <ul>
 *   <li>{@link #none()}: every query sees every key;</li>
 *   <li>{@link #keys(float[], int, int)}: one value per key, [batch, seqK], shared by all queries and heads (BERT's
 *       padding mask);</li>
 *   <li>{@link #padding(int[], int, int)}: the same built from a 0/1 attention mask (1 = real token, 0 = padding →
 *       −∞), as tokenizers return it;</li>
 *   <li>{@link #full(float[], int, int, int)}: one value per (query, key), [batch, seqQ, seqK], shared by heads;</li>
 *   <li>{@link #causal()}: query i sees keys j ≤ i + (seqK − seqQ) (decoder self-attention).</li>
 * </ul>
 */
public final class AttentionMask {
    enum Kind { NONE, KEYS, FULL, CAUSAL }

    private static final AttentionMask NONE = new AttentionMask(Kind.NONE, null, 0, 0, 0);
    private static final AttentionMask CAUSAL = new AttentionMask(Kind.CAUSAL, null, 0, 0, 0);

    final Kind kind;
    final float[] values;
    final int batch;
    final int seqQ;
    final int seqK;

    private AttentionMask(Kind kind, float[] values, int batch, int seqQ, int seqK) {
        this.kind = kind;
        this.values = values;
        this.batch = batch;
        this.seqQ = seqQ;
        this.seqK = seqK;
    }

    /** No mask. */
    public static AttentionMask none() {
        return NONE;
    }

    /** The causal mask (key j visible to query i iff j ≤ i + seqK − seqQ). */
    public static AttentionMask causal() {
        return CAUSAL;
    }

    /**
     * A per-key additive mask [batch, seqK] (not copied).
     *
     * @throws IllegalArgumentException when the length is not batch·seqK or a value is NaN or +∞
     */
    public static AttentionMask keys(float[] additive, int batch, int seqK) {
        RowChecks.matrix("attention mask", "key mask", additive, batch, seqK);
        checkValues(additive);
        return new AttentionMask(Kind.KEYS, additive, batch, 0, seqK);
    }

    /** A per-key mask from a 0/1 attention mask [batch, seq]: 1 keeps the token, 0 drops it (−∞). */
    public static AttentionMask padding(int[] mask01, int batch, int seq) {
        Objects.requireNonNull(mask01, "attention mask: mask is null");
        if (batch < 0 || seq < 0 || mask01.length != (long) batch * seq) {
            throw new IllegalArgumentException("attention mask: 0/1 mask has " + mask01.length + " entries, expected ["
                    + batch + ", " + seq + "]");
        }
        float[] add = new float[mask01.length];
        for (int i = 0; i < add.length; i++) {
            if (mask01[i] != 0 && mask01[i] != 1) {
                throw new IllegalArgumentException("attention mask: entry " + i + " (batch " + i / Math.max(1, seq)
                        + ", position " + i % Math.max(1, seq) + ") is " + mask01[i] + ", expected 0 or 1");
            }
            add[i] = mask01[i] == 1 ? 0f : Float.NEGATIVE_INFINITY;
        }
        return new AttentionMask(Kind.KEYS, add, batch, 0, seq);
    }

    /** A per-(query, key) additive mask [batch, seqQ, seqK] (not copied), shared by all heads. */
    public static AttentionMask full(float[] additive, int batch, int seqQ, int seqK) {
        Objects.requireNonNull(additive, "attention mask: mask is null");
        if (batch < 0 || seqQ < 0 || seqK < 0 || additive.length != (long) batch * seqQ * seqK) {
            throw new IllegalArgumentException("attention mask: full mask has " + additive.length
                    + " entries, expected [" + batch + ", " + seqQ + ", " + seqK + "]");
        }
        checkValues(additive);
        return new AttentionMask(Kind.FULL, additive, batch, seqQ, seqK);
    }

    private static void checkValues(float[] a) {
        for (int i = 0; i < a.length; i++) {
            if (Float.isNaN(a[i]) || a[i] == Float.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("attention mask: entry " + i + " is " + a[i]
                        + "; use 0 to keep a position and -Infinity (or a large negative value) to drop it");
            }
        }
    }

    /** Checks that the mask fits the attention's shapes. */
    void check(int batch, int seqQ, int seqK) {
        switch (kind) {
            case KEYS -> {
                if (this.batch != batch || this.seqK != seqK) {
                    throw new IllegalArgumentException("attention mask: key mask is [" + this.batch + ", " + this.seqK
                            + "] but the attention has batch " + batch + " and " + seqK + " keys");
                }
            }
            case FULL -> {
                if (this.batch != batch || this.seqQ != seqQ || this.seqK != seqK) {
                    throw new IllegalArgumentException("attention mask: full mask is [" + this.batch + ", " + this.seqQ
                            + ", " + this.seqK + "] but the attention is [" + batch + ", " + seqQ + ", " + seqK + "]");
                }
            }
            default -> {
            }
        }
    }

    /** Adds the mask to the scores s [seqQ, seqK] of batch item b. */
    void apply(float[] s, int b, int seqQ, int seqK) {
        switch (kind) {
            case NONE -> {
            }
            case KEYS -> {
                int o = b * seqK;
                for (int i = 0; i < seqQ; i++) {
                    int r = i * seqK;
                    for (int j = 0; j < seqK; j++) {
                        s[r + j] += values[o + j];
                    }
                }
            }
            case FULL -> {
                int o = b * seqQ * seqK;
                for (int t = 0; t < seqQ * seqK; t++) {
                    s[t] += values[o + t];
                }
            }
            case CAUSAL -> {
                int shift = seqK - seqQ;
                for (int i = 0; i < seqQ; i++) {
                    int r = i * seqK;
                    for (int j = Math.max(0, i + shift + 1); j < seqK; j++) {
                        s[r + j] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
        }
    }

    @Override
    public String toString() {
        return switch (kind) {
            case NONE -> "AttentionMask.none";
            case CAUSAL -> "AttentionMask.causal";
            case KEYS -> "AttentionMask.keys[" + batch + ", " + seqK + "]";
            case FULL -> "AttentionMask.full[" + batch + ", " + seqQ + ", " + seqK + "]";
        };
    }
}

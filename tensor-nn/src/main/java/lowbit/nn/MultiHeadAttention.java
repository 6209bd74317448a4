package lowbit.nn;

import java.util.Objects;
import lowbit.tensor.linalg.AttentionHead;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.parallel.Parallel;

/**
 * Scaled dot-product multi-head attention (Vaswani et al., <i>Attention Is All You Need</i>, 2017, §3.2) on already
 * projected queries, keys and values. With hidden = heads·d and head h using columns {@code [h·d, (h+1)·d)}:
 * <pre>
 *   S_h = Q_h·K_hᵀ/√d + M,   P_h = softmax_rows(S_h),   O_h = P_h·V_h
 * </pre>
 * for each batch item, Q [batch·seqQ, hidden], K and V [batch·seqK, hidden], O [batch·seqQ, hidden] (row-major,
 * token-major as a Linear layer produces them), M an {@link AttentionMask}. The (batch, head) pairs run in parallel,
 * each with two GEMMs on strided views (no head is copied out); for short sequences (seqQ·seqK ≤ {@value #SMALL} and
 * at most {@value #FUSED_KEYS} keys) each pair is instead one fused {@link AttentionHead} kernel call (scores, mask,
 * softmax and the weighted values in one pass over a small scratch: 5–6× faster on BERT-sized heads of 16 tokens).
 * Either way the result depends only on the shapes, not on the thread count.
 */
public final class MultiHeadAttention {
    /** Score-matrix size up to which the fused per-head kernel is used. */
    static final int SMALL = 64 * 64;
    /** Most keys for the fused kernel (its transposed key head and score row live in a small scratch). */
    static final int FUSED_KEYS = 256;

    /**
     * Largest batch item (its Q, K, V and O rows together, in bytes) that {@link #fused} reads in once, row by row,
     * before its heads: a quarter of a 1–2 MiB L2, so the heads then run from cache.
     */
    static final int WARM_BYTES = 256 * 1024;
    /** Keeps {@link #warm}'s loads alive (one plain write per parallel chunk; its value means nothing). */
    private static int warmSink;

    private MultiHeadAttention() {
    }

    /**
     * O = attention(Q, K, V) into {@code out} (overwritten; must not be q, k or v).
     *
     * @throws IllegalArgumentException when hidden is not a multiple of heads, a length does not match, or the mask
     *     does not fit; or from the softmax when a query row has every key masked
     */
    public static void forward(float[] q, float[] k, float[] v, int batch, int seqQ, int seqK, int heads,
            AttentionMask mask, float[] out) {
        String op = "attention";
        Objects.requireNonNull(q, op + ": Q is null");
        Objects.requireNonNull(k, op + ": K is null");
        Objects.requireNonNull(v, op + ": V is null");
        Objects.requireNonNull(out, op + ": O is null");
        Objects.requireNonNull(mask, op + ": mask is null (use AttentionMask.none())");
        if (batch < 0 || seqQ < 0 || seqK < 0 || heads < 1) {
            throw new IllegalArgumentException(op + ": bad sizes batch " + batch + ", seqQ " + seqQ + ", seqK " + seqK
                    + ", heads " + heads);
        }
        long qRows = (long) batch * seqQ, kRows = (long) batch * seqK;
        if (qRows == 0) {
            if (q.length != 0 || out.length != 0) {
                throw new IllegalArgumentException(op + ": no queries but Q has " + q.length + " and O " + out.length
                        + " elements");
            }
            return;
        }
        if (q.length % qRows != 0) {
            throw new IllegalArgumentException(op + ": Q has " + q.length + " elements, not a multiple of batch·seqQ = "
                    + qRows);
        }
        int hidden = (int) (q.length / qRows);
        if (hidden % heads != 0) {
            throw new IllegalArgumentException(op + ": hidden size " + hidden + " is not a multiple of " + heads + " heads");
        }
        RowChecks.matrix(op, "K", k, (int) kRows, hidden);
        RowChecks.matrix(op, "V", v, (int) kRows, hidden);
        RowChecks.matrix(op, "O", out, (int) qRows, hidden);
        if (out == q || out == k || out == v) {
            throw new IllegalArgumentException(op + ": O must not be the same array as Q, K or V");
        }
        if (seqK == 0) {
            throw new IllegalArgumentException(op + ": no keys (seqK = 0): the softmax has no distribution");
        }
        mask.check(batch, seqQ, seqK);
        int d = hidden / heads;
        float scale = (float) (1.0 / Math.sqrt(d));
        if ((long) seqQ * seqK <= SMALL && seqK <= FUSED_KEYS) {
            fused(q, k, v, batch, seqQ, seqK, heads, hidden, d, scale, mask, out);
            return;
        }
        Parallel.forRange(0, (long) batch * heads, grain(batch, heads), (t0, t1) -> {
            float[] s = new float[seqQ * seqK];
            for (long t = t0; t < t1; t++) {
                int b = (int) (t / heads), h = (int) (t % heads);
                int qOff = b * seqQ * hidden + h * d, kOff = b * seqK * hidden + h * d;
                Gemm.gemm(false, true, seqQ, seqK, d, scale, q, qOff, hidden, k, kOff, hidden, 0f, s, 0, seqK);
                mask.apply(s, b, seqQ, seqK);
                for (int i = 0; i < seqQ; i++) {
                    Softmax.inPlace(s, i * seqK, seqK);
                }
                Gemm.gemm(false, false, seqQ, d, seqK, 1f, s, 0, seqK, v, kOff, hidden, 0f, out, qOff, hidden);
            }
        });
    }

    /**
     * (batch item, head) pairs per parallel chunk: up to a batch item's heads, as long as every thread gets about four
     * chunks. Each chunk allocates its scratch once; one chunk per head made that allocation (and its zeroing) cost
     * as much as the 16-token heads of MiniLM themselves (32 sentences × 12 heads: 1.6× faster with a batch item per
     * chunk on one thread, 1.9× on two). The result does not depend on the chunks.
     */
    private static long grain(int batch, int heads) {
        long pairs = (long) batch * heads;
        return Math.max(1, Math.min(heads, pairs / (4L * Parallel.parallelism())));
    }

    /**
     * Short sequences: each (batch item, head) is one {@link AttentionHead} call (scores, mask, softmax and the
     * weighted sum of values fused, no product dispatched on its own); the mask is handed over as an additive bias
     * (a key mask's row shared by the queries, a full mask's rows, the causal mask materialised once).
     */
    private static void fused(float[] q, float[] k, float[] v, int batch, int seqQ, int seqK, int heads, int hidden,
            int d, float scale, AttentionMask mask, float[] out) {
        float[] causal = null;
        if (mask.kind == AttentionMask.Kind.CAUSAL) {
            causal = new float[seqQ * seqK];
            mask.apply(causal, 0, seqQ, seqK);
        }
        float[] biasAll = causal;
        boolean warm = 8L * (seqQ + seqK) * hidden <= WARM_BYTES;
        Parallel.forRange(0, (long) batch * heads, grain(batch, heads), (t0, t1) -> {
            float[] scratch = new float[AttentionHead.scratchLength(seqK, d)];
            int sink = 0;
            for (long t = t0; t < t1; t++) {
                int b = (int) (t / heads), h = (int) (t % heads);
                int qOff = b * seqQ * hidden + h * d, kOff = b * seqK * hidden + h * d;
                if (warm && (h == 0 || t == t0)) {
                    int q0 = b * seqQ * hidden, k0 = b * seqK * hidden;
                    sink |= warm(q, out, q0, q0 + seqQ * hidden) | warm(k, v, k0, k0 + seqK * hidden);
                }
                float[] bias = null;
                int biasOff = 0, stride = 0;
                switch (mask.kind) {
                    case NONE -> {
                    }
                    case KEYS -> {
                        bias = mask.values;
                        biasOff = b * seqK;
                    }
                    case FULL -> {
                        bias = mask.values;
                        biasOff = b * seqQ * seqK;
                        stride = seqK;
                    }
                    case CAUSAL -> {
                        bias = biasAll;
                        stride = seqK;
                    }
                }
                int row = AttentionHead.forward(seqQ, seqK, d, scale, q, qOff, k, kOff, v, kOff, hidden, bias, biasOff,
                        stride, out, qOff, scratch);
                if (row >= 0) {
                    throw Softmax.noDistribution(row + " of batch item " + b);
                }
            }
            warmSink = sink;
        });
    }

    /**
     * Reads a and b over [from, to), one float per 64-byte line, in address order, and returns their bits OR'ed
     * (only to keep the loads). A head reads 2·d floats of each of its rows, rows a whole hidden width apart: in that
     * order the hardware prefetchers see no stream, and with the Q, K, V just written by the projections (beyond L2
     * for a batch of MiniLM) each head waited on its cache misses (2.9 µs per 16-token head, against 0.9 µs with the
     * rows in cache). Java has no prefetch instruction; one sequential pass over the batch item's rows before its
     * heads brings them in at streaming speed (MiniLM's attention 4.0–4.5 → 2.9–3.2 ms per batch on one thread,
     * 2.9 → 1.9–2.3 ms on two). Writing O then also hits lines already in cache.
     */
    private static int warm(float[] a, float[] b, int from, int to) {
        int bits = 0;
        for (int i = from; i < to; i += 16) {
            bits |= Float.floatToRawIntBits(a[i]) | Float.floatToRawIntBits(b[i]);
        }
        return bits;
    }

    /** Self-attention (seqQ = seqK = seq) into a new array. */
    public static float[] forward(float[] q, float[] k, float[] v, int batch, int seq, int heads, AttentionMask mask) {
        Objects.requireNonNull(q, "attention: Q is null");
        float[] out = new float[q.length];
        forward(q, k, v, batch, seq, seq, heads, mask, out);
        return out;
    }
}

package lowbit.nn;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.gamma;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.Test;

class MultiHeadAttentionTest {
    private static final int BATCH = 3;
    private static final int SEQ = 11;
    private static final int HEADS = 4;
    private static final int D = 12;
    private static final int HIDDEN = HEADS * D;

    /**
     * Naive attention in double; returns {O, tol}. The tolerance follows the float error model: the scores carry
     * e_s = γ_d·Σ|q·k|/√d absolute error, which changes P_ij by at most P_ij·(2·e_s + 3·γ_(n+3)) (the softmax's own
     * error, SoftmaxTest), and the P·V product adds γ_n·Σ_j P_ij·|V_jc|; doubled for the unspecified summation order.
     */
    static double[][] reference(float[] q, float[] k, float[] v, int batch, int seqQ, int seqK, double[] mask) {
        double[] o = new double[batch * seqQ * HIDDEN];
        double[] tol = new double[o.length];
        double scale = 1 / Math.sqrt(D);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < HEADS; h++) {
                for (int i = 0; i < seqQ; i++) {
                    double[] s = new double[seqK];
                    double m = Double.NEGATIVE_INFINITY, es = 0;
                    for (int j = 0; j < seqK; j++) {
                        double dot = 0, abs = 0;
                        for (int c = 0; c < D; c++) {
                            double qv = q[(b * seqQ + i) * HIDDEN + h * D + c], kv = k[(b * seqK + j) * HIDDEN + h * D + c];
                            dot += qv * kv;
                            abs += Math.abs(qv * kv);
                        }
                        es = Math.max(es, gamma(D) * abs * scale);
                        s[j] = dot * scale + (mask == null ? 0 : mask[(b * seqQ + i) * seqK + j]);
                        m = Math.max(m, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < seqK; j++) {
                        s[j] = Math.exp(s[j] - m);
                        sum += s[j];
                    }
                    for (int c = 0; c < D; c++) {
                        double acc = 0, abs = 0;
                        for (int j = 0; j < seqK; j++) {
                            double p = s[j] / sum, vv = v[(b * seqK + j) * HIDDEN + h * D + c];
                            acc += p * vv;
                            abs += p * Math.abs(vv);
                        }
                        int at = (b * seqQ + i) * HIDDEN + h * D + c;
                        o[at] = acc;
                        tol[at] = 2 * (2 * es + 3 * gamma(seqK + 3) + gamma(seqK)) * abs + 1e-30;
                    }
                }
            }
        }
        return new double[][] {o, tol};
    }

    @Test
    void unmaskedAttentionMatchesDouble() {
        long seed = 401;
        Random r = new Random(seed);
        float[] q = NnTesting.randn(r, BATCH * SEQ * HIDDEN, 1);
        float[] k = NnTesting.randn(r, BATCH * SEQ * HIDDEN, 1);
        float[] v = NnTesting.randn(r, BATCH * SEQ * HIDDEN, 1);
        double[][] ref = reference(q, k, v, BATCH, SEQ, SEQ, null);
        assertClose("attention", seed, MultiHeadAttention.forward(q, k, v, BATCH, SEQ, HEADS, AttentionMask.none()),
                ref[0], ref[1]);
    }

    @Test
    void longSequencesTakeTheGemmPathAndAgree() {
        long seed = 405;
        Random r = new Random(seed);
        int seq = 70; // 70·70 > MultiHeadAttention.SMALL: blocked GEMMs instead of dot/axpy
        assertThat(seq * seq).isGreaterThan(MultiHeadAttention.SMALL);
        float[] q = NnTesting.randn(r, seq * HIDDEN, 1);
        float[] k = NnTesting.randn(r, seq * HIDDEN, 1);
        float[] v = NnTesting.randn(r, seq * HIDDEN, 1);
        int[] mask01 = new int[seq];
        double[] additive = new double[seq * seq];
        for (int t = 0; t < seq; t++) {
            mask01[t] = t < 61 ? 1 : 0;
            for (int i = 0; i < seq; i++) {
                additive[i * seq + t] = t < 61 ? 0 : Double.NEGATIVE_INFINITY;
            }
        }
        double[][] ref = reference(q, k, v, 1, seq, seq, additive);
        assertClose("long attention", seed, MultiHeadAttention.forward(q, k, v, 1, seq, HEADS,
                AttentionMask.padding(mask01, 1, seq)), ref[0], ref[1]);
    }

    @Test
    void paddingMaskIgnoresMaskedKeysEntirely() {
        long seed = 402;
        Random r = new Random(seed);
        float[] q = NnTesting.randn(r, BATCH * SEQ * HIDDEN, 1);
        float[] k = NnTesting.randn(r, BATCH * SEQ * HIDDEN, 1);
        float[] v = NnTesting.randn(r, BATCH * SEQ * HIDDEN, 1);
        int[] lengths = {SEQ, 5, 1};
        int[] mask01 = new int[BATCH * SEQ];
        double[] additive = new double[BATCH * SEQ * SEQ];
        for (int b = 0; b < BATCH; b++) {
            for (int t = 0; t < SEQ; t++) {
                mask01[b * SEQ + t] = t < lengths[b] ? 1 : 0;
                for (int i = 0; i < SEQ; i++) {
                    additive[(b * SEQ + i) * SEQ + t] = t < lengths[b] ? 0 : Double.NEGATIVE_INFINITY;
                }
            }
        }
        AttentionMask mask = AttentionMask.padding(mask01, BATCH, SEQ);
        float[] o = MultiHeadAttention.forward(q, k, v, BATCH, SEQ, HEADS, mask);
        double[][] ref = reference(q, k, v, BATCH, SEQ, SEQ, additive);
        assertClose("padded attention", seed, o, ref[0], ref[1]);
        // changing the keys and values of padding positions changes nothing, bit for bit
        float[] k2 = k.clone(), v2 = v.clone();
        for (int b = 0; b < BATCH; b++) {
            for (int t = lengths[b]; t < SEQ; t++) {
                for (int c = 0; c < HIDDEN; c++) {
                    k2[(b * SEQ + t) * HIDDEN + c] = 1e3f;
                    v2[(b * SEQ + t) * HIDDEN + c] = -7f;
                }
            }
        }
        assertThat(MultiHeadAttention.forward(q, k2, v2, BATCH, SEQ, HEADS, mask)).isEqualTo(o);
    }

    @Test
    void fullAndCausalMasksAndCrossLengths() {
        long seed = 403;
        Random r = new Random(seed);
        int seqQ = 4, seqK = 9;
        float[] q = NnTesting.randn(r, BATCH * seqQ * HIDDEN, 1);
        float[] k = NnTesting.randn(r, BATCH * seqK * HIDDEN, 1);
        float[] v = NnTesting.randn(r, BATCH * seqK * HIDDEN, 1);
        float[] full = NnTesting.randn(r, BATCH * seqQ * seqK, 2);
        double[] fullD = NnTesting.toDouble(full);
        float[] o = new float[BATCH * seqQ * HIDDEN];
        MultiHeadAttention.forward(q, k, v, BATCH, seqQ, seqK, HEADS, AttentionMask.full(full, BATCH, seqQ, seqK), o);
        double[][] ref = reference(q, k, v, BATCH, seqQ, seqK, fullD);
        assertClose("full-mask attention", seed, o, ref[0], ref[1]);

        double[] causal = new double[BATCH * seqQ * seqK];
        for (int b = 0; b < BATCH; b++) {
            for (int i = 0; i < seqQ; i++) {
                for (int j = 0; j < seqK; j++) {
                    causal[(b * seqQ + i) * seqK + j] = j <= i + seqK - seqQ ? 0 : Double.NEGATIVE_INFINITY;
                }
            }
        }
        MultiHeadAttention.forward(q, k, v, BATCH, seqQ, seqK, HEADS, AttentionMask.causal(), o);
        ref = reference(q, k, v, BATCH, seqQ, seqK, causal);
        assertClose("causal attention", seed, o, ref[0], ref[1]);
    }

    @Test
    void threadCountDoesNotChangeBits() {
        Random r = new Random(404);
        float[] q = NnTesting.randn(r, BATCH * SEQ * HIDDEN, 1);
        int saved = Parallel.parallelism();
        try {
            Parallel.setParallelism(1);
            float[] o1 = MultiHeadAttention.forward(q, q.clone(), q.clone(), BATCH, SEQ, HEADS, AttentionMask.none());
            Parallel.setParallelism(3);
            assertThat(MultiHeadAttention.forward(q, q.clone(), q.clone(), BATCH, SEQ, HEADS, AttentionMask.none()))
                    .isEqualTo(o1);
        } finally {
            Parallel.setParallelism(saved);
        }
    }

    @Test
    void badShapesAndMasksAreNamed() {
        float[] q = new float[2 * 3 * 8];
        assertThatThrownBy(() -> MultiHeadAttention.forward(q, q.clone(), q.clone(), 2, 3, 3, AttentionMask.none()))
                .hasMessageContaining("hidden size 8 is not a multiple of 3 heads");
        assertThatThrownBy(() -> MultiHeadAttention.forward(q, q.clone(), q.clone(), 2, 3, 2,
                AttentionMask.padding(new int[] {1, 1, 1, 1}, 2, 2))).hasMessageContaining("key mask is [2, 2]");
        assertThatThrownBy(() -> AttentionMask.padding(new int[] {1, 2}, 1, 2)).hasMessageContaining("is 2, expected 0 or 1");
        assertThatThrownBy(() -> MultiHeadAttention.forward(q, q.clone(), q.clone(), 2, 3, 3, 2, AttentionMask.none(), q))
                .hasMessageContaining("O must not be the same array");
        // every key of batch item 1 masked: the softmax has no distribution
        assertThatThrownBy(() -> MultiHeadAttention.forward(q, q.clone(), q.clone(), 2, 3, 2,
                AttentionMask.padding(new int[] {1, 1, 1, 0, 0, 0}, 2, 3))).hasMessageContaining("-Infinity");
    }
}

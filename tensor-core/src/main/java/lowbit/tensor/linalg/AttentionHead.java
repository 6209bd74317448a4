package lowbit.tensor.linalg;

import java.util.Objects;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.ElementwiseMath;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * One head of scaled dot-product attention for short sequences, fused into one kernel call: for query rows
 * i &lt; seqQ, keys j &lt; seqK and head columns p &lt; d, on row-major matrices with a common leading dimension
 * {@code ld} (token-major activations, the head at a column offset):
 * <pre>
 *   s_ij = Σ_p q[qOff + i·ld + p]·(scale·k[kOff + j·ld + p]) + bias[biasOff + i·biasRowStride + j]
 *   out[oOff + i·ld + p] = Σ_j softmax_j(s_i)·v[vOff + j·ld + p]
 * </pre>
 * The bias is an additive mask (−∞ drops a key; null adds nothing; a row stride of 0 shares one row between the
 * queries). The softmax subtracts the row maximum and uses {@link ElementwiseMath#exp}. Accuracy: each score is a
 * float dot product of length d and each output a float sum over the keys, so with u = 2^-24 the result differs
 * from the exact one by about {@code (γ_d·max_j Σ_p|q_ip·scale·k_jp| + γ_(seqK+4))·Σ_j P_ij·|v_jp|}. The work is
 * not blocked for cache: meant for seqK and d up to a few hundred (BERT-style heads of 16–128 tokens).
 */
public final class AttentionHead {
    private static final DenseKernels K = VectorizationProvider.get().dense();

    private AttentionHead() {
    }

    /**
     * Floats of scratch {@link #forward} needs for seqK keys of d columns.
     *
     * @throws IllegalArgumentException when seqK or d is negative
     */
    public static int scratchLength(int seqK, int d) {
        MatrixChecks.nonNegative("attention head scratch", "seqK", seqK);
        MatrixChecks.nonNegative("attention head scratch", "d", d);
        return K.attentionScratch(seqK, d);
    }

    /**
     * Computes the head into {@code out} (see the class comment).
     *
     * @return −1, or the first query row whose scores are all −∞ (no distribution: that row and later ones are not
     *     written; the caller reports it)
     * @throws IllegalArgumentException for negative sizes, {@code ld < d}, a scratch shorter than
     *     {@link #scratchLength}, or out being q, k or v; {@link IndexOutOfBoundsException} when a matrix does not
     *     fit its array
     */
    public static int forward(int seqQ, int seqK, int d, float scale, float[] q, int qOff, float[] k, int kOff,
            float[] v, int vOff, int ld, float[] bias, int biasOff, int biasRowStride, float[] out, int oOff,
            float[] scratch) {
        if (!valid(seqQ, seqK, d, q, qOff, k, kOff, v, vOff, ld, bias, biasOff, biasRowStride, out, oOff, scratch)) {
            check(seqQ, seqK, d, q, qOff, k, kOff, v, vOff, ld, bias, biasOff, biasRowStride, out, oOff, scratch);
        }
        if (seqQ == 0 || d == 0 && seqK > 0) {
            return -1;
        }
        if (seqK == 0) {
            return 0;
        }
        return K.attentionHead(seqQ, seqK, d, scale, q, qOff, k, kOff, v, vOff, ld, bias, biasOff, biasRowStride, out,
                oOff, scratch);
    }

    /** The checks of {@link #check} without building messages (called once per head, so kept cheap). */
    private static boolean valid(int seqQ, int seqK, int d, float[] q, int qOff, float[] k, int kOff, float[] v,
            int vOff, int ld, float[] bias, int biasOff, int biasRowStride, float[] out, int oOff, float[] scratch) {
        return q != null && k != null && v != null && out != null && scratch != null && ld >= d && d >= 0
                && MatrixChecks.fits(seqQ, d, qOff, ld, q.length) && MatrixChecks.fits(seqK, d, kOff, ld, k.length)
                && MatrixChecks.fits(seqK, d, vOff, ld, v.length) && MatrixChecks.fits(seqQ, d, oOff, ld, out.length)
                && (bias == null || biasRowStride == 0 && biasOff >= 0 && (long) biasOff + seqK <= bias.length
                        || biasRowStride > 0 && MatrixChecks.fits(seqQ, seqK, biasOff, biasRowStride, bias.length))
                && out != q && out != k && out != v && scratch.length >= K.attentionScratch(seqK, d);
    }

    private static void check(int seqQ, int seqK, int d, float[] q, int qOff, float[] k, int kOff, float[] v,
            int vOff, int ld, float[] bias, int biasOff, int biasRowStride, float[] out, int oOff, float[] scratch) {
        String op = "attention head";
        Objects.requireNonNull(q, op + ": Q is null");
        Objects.requireNonNull(k, op + ": K is null");
        Objects.requireNonNull(v, op + ": V is null");
        Objects.requireNonNull(out, op + ": O is null");
        Objects.requireNonNull(scratch, op + ": scratch is null");
        MatrixChecks.nonNegative(op, "seqQ", seqQ);
        MatrixChecks.nonNegative(op, "seqK", seqK);
        MatrixChecks.nonNegative(op, "d", d);
        if (ld < d) {
            throw new IllegalArgumentException(op + ": ld " + ld + " is less than the head width d = " + d);
        }
        MatrixChecks.matrix(op, "Q", seqQ, d, qOff, ld, q.length);
        MatrixChecks.matrix(op, "K", seqK, d, kOff, ld, k.length);
        MatrixChecks.matrix(op, "V", seqK, d, vOff, ld, v.length);
        MatrixChecks.matrix(op, "O", seqQ, d, oOff, ld, out.length);
        if (bias != null) {
            if (biasRowStride < 0) {
                throw new IllegalArgumentException(op + ": negative bias row stride " + biasRowStride);
            }
            if (biasRowStride == 0) {
                Objects.checkFromIndexSize(biasOff, seqK, bias.length);
            } else {
                MatrixChecks.matrix(op, "bias", seqQ, seqK, biasOff, biasRowStride, bias.length);
            }
        }
        if (out == q || out == k || out == v) {
            throw new IllegalArgumentException(op + ": O must not be the same array as Q, K or V");
        }
        int need = K.attentionScratch(seqK, d);
        if (scratch.length < need) {
            throw new IllegalArgumentException(op + ": scratch has " + scratch.length + " floats, needs " + need);
        }
    }
}

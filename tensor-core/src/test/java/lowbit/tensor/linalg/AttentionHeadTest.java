package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.ScalarDenseKernels;
import lowbit.tensor.simd.SimdTesting;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link AttentionHead} (the chosen provider's kernel) and the scalar twin, both against attention computed in
 * double, at sizes around every vector width (keys and head columns 1 … 70, leading dimensions and offsets that
 * misalign the rows), with no mask, a shared key mask and a full mask holding −∞.
 *
 * <p>Tolerance, per output element (i, p), for either implementation against the exact value: a score is a float
 * dot product of d terms plus the scale multiply and the bias add, so its error is at most
 * γ_(d+2)·S_ij with S_ij = Σ_p|q_ip·scale·k_jp| + |bias_ij| (Higham, eq. 3.4); s − m rounds once more (u·|s − m|)
 * and exp adds at most 1 ulp (2u), so each e_j carries a relative error ε_j ≤ γ_(d+2)·S_ij + u·|s_ij − m| + 2u. The
 * normalisation (a sum of seqK terms and one reciprocal) and P = e·(1/Σ) at most double the largest ε and add
 * γ_(seqK+2); the weighted sum over the keys adds γ_seqK relative to Σ_j P_ij·|v_jp|. So
 * |ΔO_ip| ≤ (2·max_j ε_j + 2·γ_(seqK+2))·Σ_j P_ij·|v_jp|, plus the smallest normal for underflow.
 */
@Tag("simd")
class AttentionHeadTest {
    private static final long SEED = 0xa77e_2026L;
    private static final DenseKernels REF = new ScalarDenseKernels();

    private static double gamma(int n) {
        double u = 0x1p-24;
        return n * u / (1 - n * u);
    }

    @Test
    void matchesDoubleAttentionAtAwkwardSizes() {
        Random r = new Random(SEED);
        int[] keys = {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 47, 64, 70};
        int[] widths = {1, 3, 4, 7, 8, 15, 16, 17, 32, 33, 64};
        for (int seqK : keys) {
            for (int d : widths) {
                int seqQ = 1 + r.nextInt(20);
                int ld = d + r.nextInt(5);
                int qOff = r.nextInt(7), kOff = r.nextInt(7), vOff = r.nextInt(7), oOff = r.nextInt(7);
                float[] q = SimdTesting.randomFloats(r, qOff + seqQ * ld + 3, 2f);
                float[] k = SimdTesting.randomFloats(r, kOff + seqK * ld + 3, 2f);
                float[] v = SimdTesting.randomFloats(r, vOff + seqK * ld + 3, 2f);
                float scale = (float) (1 / Math.sqrt(d));
                for (int mode = 0; mode < 3; mode++) {
                    float[] bias = null;
                    int biasOff = 0, stride = 0;
                    if (mode == 1) { // one key mask shared by every query: drop some keys, never all
                        biasOff = r.nextInt(4);
                        bias = new float[biasOff + seqK];
                        for (int j = 0; j < seqK; j++) {
                            bias[biasOff + j] = j > 0 && r.nextInt(4) == 0 ? Float.NEGATIVE_INFINITY : (float) r.nextGaussian();
                        }
                    } else if (mode == 2) { // a full mask [seqQ, seqK] with its own stride
                        stride = seqK + r.nextInt(3);
                        bias = new float[seqQ * stride];
                        for (int i = 0; i < seqQ; i++) {
                            for (int j = 0; j < seqK; j++) {
                                bias[i * stride + j] = j != i % seqK && r.nextInt(3) == 0 ? Float.NEGATIVE_INFINITY
                                        : (float) r.nextGaussian();
                            }
                        }
                    }
                    String at = "seqQ " + seqQ + " seqK " + seqK + " d " + d + " ld " + ld + " mask mode " + mode
                            + " seed " + SEED + " on " + SimdTesting.providerName();
                    float[] got = new float[oOff + seqQ * ld + 2];
                    float[] twin = new float[got.length];
                    float[] scratch = new float[AttentionHead.scratchLength(seqK, d)];
                    assertThat(AttentionHead.forward(seqQ, seqK, d, scale, q, qOff, k, kOff, v, vOff, ld, bias, biasOff,
                            stride, got, oOff, scratch)).as(at).isEqualTo(-1);
                    assertThat(REF.attentionHead(seqQ, seqK, d, scale, q, qOff, k, kOff, v, vOff, ld, bias, biasOff,
                            stride, twin, oOff, new float[REF.attentionScratch(seqK, d)])).as(at).isEqualTo(-1);
                    checkAgainstDouble(seqQ, seqK, d, scale, q, qOff, k, kOff, v, vOff, ld, bias, biasOff, stride, got,
                            twin, oOff, at);
                }
            }
        }
    }

    private static void checkAgainstDouble(int seqQ, int seqK, int d, float scale, float[] q, int qOff, float[] k,
            int kOff, float[] v, int vOff, int ld, float[] bias, int biasOff, int stride, float[] got, float[] twin,
            int oOff, String at) {
        double u = 0x1p-24;
        for (int i = 0; i < seqQ; i++) {
            double[] s = new double[seqK];
            double[] mag = new double[seqK];
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < seqK; j++) {
                double t = 0, a = 0;
                for (int p = 0; p < d; p++) {
                    double term = (double) q[qOff + i * ld + p] * scale * k[kOff + j * ld + p];
                    t += term;
                    a += Math.abs(term);
                }
                double b = bias == null ? 0 : bias[biasOff + i * stride + j];
                s[j] = t + b;
                mag[j] = a + (Double.isInfinite(b) ? 0 : Math.abs(b));
                m = Math.max(m, s[j]);
            }
            double z = 0;
            double eps = 0;
            for (int j = 0; j < seqK; j++) {
                z += Math.exp(s[j] - m);
                if (s[j] != Double.NEGATIVE_INFINITY) {
                    eps = Math.max(eps, gamma(d + 2) * mag[j] + u * Math.abs(s[j] - m) + 2 * u);
                }
            }
            for (int p = 0; p < d; p++) {
                double o = 0, w = 0;
                for (int j = 0; j < seqK; j++) {
                    double pj = Math.exp(s[j] - m) / z;
                    o += pj * v[vOff + j * ld + p];
                    w += pj * Math.abs(v[vOff + j * ld + p]);
                }
                double tol = (2 * eps + 2 * gamma(seqK + 2)) * w + Float.MIN_NORMAL;
                int oi = oOff + i * ld + p;
                assertThat((double) got[oi]).as(at + " row " + i + " col " + p).isCloseTo(o,
                        org.assertj.core.data.Offset.offset(tol));
                assertThat((double) twin[oi]).as("scalar twin, " + at + " row " + i + " col " + p).isCloseTo(o,
                        org.assertj.core.data.Offset.offset(tol));
            }
        }
    }

    /** Random Q [seqQ, ld], K and V [seqK, ld] with entries in [−1, 1). */
    private static float[][] randomHead(long seed, int seqQ, int seqK, int ld) {
        Random r = new Random(seed);
        return new float[][] {SimdTesting.randomFloats(r, seqQ * ld, 1f), SimdTesting.randomFloats(r, seqK * ld, 1f),
            SimdTesting.randomFloats(r, seqK * ld, 1f)};
    }

    @Test
    void anAllMaskedRowIsReportedAndNothingElseIsTouched() {
        int seqQ = 3, seqK = 5, d = 4, ld = 4;
        float[][] qkv = randomHead(SEED + 1, seqQ, seqK, ld);
        float[] q = qkv[0], k = qkv[1], v = qkv[2];
        float[] bias = new float[seqQ * seqK];
        for (int j = 0; j < seqK; j++) {
            bias[seqK + j] = Float.NEGATIVE_INFINITY; // row 1 sees no key
        }
        float[] out = new float[seqQ * ld];
        java.util.Arrays.fill(out, 42f);
        float[] scratch = new float[AttentionHead.scratchLength(seqK, d)];
        assertThat(AttentionHead.forward(seqQ, seqK, d, 0.5f, q, 0, k, 0, v, 0, ld, bias, 0, seqK, out, 0, scratch))
                .isEqualTo(1);
        for (int p = 0; p < d; p++) {
            assertThat(out[ld + p]).isEqualTo(42f);
            assertThat(out[2 * ld + p]).isEqualTo(42f);
        }
        assertThat(REF.attentionHead(seqQ, seqK, d, 0.5f, q, 0, k, 0, v, 0, ld, bias, 0, seqK, new float[seqQ * ld], 0,
                new float[seqK])).isEqualTo(1);
    }

    /**
     * A query row's output has the same bits wherever it sits: the kernel takes rows four at a time and the rest one
     * by one (within blocks of 16), and both must run each row's operations in the same order. All rows of Q are
     * one random row; 21 rows put copies in four-row groups, in the one-row remainder of the first block and in the
     * second block; d = 40 and 17 keys leave a partial vector block at every width.
     */
    @Test
    void aRowsOutputDoesNotDependOnItsPositionInTheBlock() {
        int seqQ = 21, seqK = 17, d = 40, ld = 43;
        float[][] qkv = randomHead(SEED + 3, seqQ, seqK, ld);
        float[] q = qkv[0], k = qkv[1], v = qkv[2];
        for (int i = 1; i < seqQ; i++) {
            System.arraycopy(q, 0, q, i * ld, ld);
        }
        float[] bias = new float[seqK];
        bias[5] = Float.NEGATIVE_INFINITY;
        bias[11] = -0.75f;
        float[] out = new float[seqQ * ld];
        assertThat(AttentionHead.forward(seqQ, seqK, d, 0.3f, q, 0, k, 0, v, 0, ld, bias, 0, 0, out, 0,
                new float[AttentionHead.scratchLength(seqK, d)])).isEqualTo(-1);
        for (int i = 1; i < seqQ; i++) {
            for (int p = 0; p < d; p++) {
                assertThat(Float.floatToRawIntBits(out[i * ld + p])).as("row %d column %d", i, p)
                        .isEqualTo(Float.floatToRawIntBits(out[p]));
            }
        }
    }

    @Test
    void nanPropagatesToItsRow() {
        int seqQ = 2, seqK = 17, d = 16, ld = 16;
        float[][] qkv = randomHead(SEED + 2, seqQ, seqK, ld);
        float[] q = qkv[0], k = qkv[1], v = qkv[2];
        q[3] = Float.NaN; // row 0
        float[] out = new float[seqQ * ld];
        AttentionHead.forward(seqQ, seqK, d, 0.25f, q, 0, k, 0, v, 0, ld, null, 0, 0, out, 0,
                new float[AttentionHead.scratchLength(seqK, d)]);
        for (int p = 0; p < d; p++) {
            assertThat(out[p]).isNaN();
            assertThat(out[ld + p]).isFinite();
        }
    }

    @Test
    void badInputIsNamed() {
        float[] a = new float[64];
        float[] s = new float[AttentionHead.scratchLength(4, 4)];
        assertThatThrownBy(() -> AttentionHead.forward(4, 4, 4, 1f, a, 0, a.clone(), 0, a.clone(), 0, 3, null, 0, 0,
                new float[64], 0, s)).hasMessageContaining("ld 3 is less than the head width d = 4");
        assertThatThrownBy(() -> AttentionHead.forward(4, 4, 4, 1f, new float[10], 0, a, 0, a, 0, 4, null, 0, 0,
                new float[64], 0, s)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("Q stored 4×4");
        assertThatThrownBy(() -> AttentionHead.forward(4, 4, 4, 1f, a, 0, a, 0, a, 0, 4, null, 0, 0, a, 0, s))
                .hasMessageContaining("O must not be the same array");
        assertThatThrownBy(() -> AttentionHead.forward(4, 4, 4, 1f, a, 0, a, 0, a, 0, 4, new float[3], 0, 0,
                new float[64], 0, s)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> AttentionHead.forward(4, 4, 4, 1f, a, 0, a, 0, a, 0, 4, null, 0, 0, new float[64], 0,
                new float[1])).hasMessageContaining("scratch has 1 floats");
        assertThatThrownBy(() -> AttentionHead.scratchLength(-1, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("seqK");
    }
}

package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.ScalarKQuantKernels;
import lowbit.tensor.simd.SimdTesting;
import lowbit.tensor.simd.VectorizationProvider;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The provider's k-quant kernels against {@link ScalarKQuantKernels} (whose dots have ggml's generic bits, see
 * {@link KQuantGgmlVectorsTest}): the Q8_K encoder byte for byte, the dots within the float summation bound, the
 * multi-row dots bit for bit against the one-row dot. Run at 128/256/512 bits by the simd-* runs.
 *
 * <p>Dot tolerance: both kernels form the same exact integer sums per super-block (lanes of &Sigma;_j sc_j·q·a, and
 * &Sigma; m_j·bsum_j) and then evaluate &Sigma;_b (d_b·S_b &minus; dmin_b·M_b) in float in different orders (the scalar
 * twin per 8 lanes as ggml's generic code, the vector kernel per vector lane with FMA, then a lane reduction). Each
 * term passes through at most k = nBlocks + 24 roundings (the scale products, the int-to-float conversion, the
 * multiply, the adds along its path, a reduction over at most 16 lanes), so each result is within γ_k·T of the exact
 * value (Higham, eq. 3.4) and the two differ by at most 2γ_k·T, with T = &Sigma;_b (|d_b|·&Sigma;_i |sc·q_i·a_i| +
 * |dmin_b|·&Sigma;_j m_j·|bsum_j|) computed here from the decoded blocks in double.
 */
@Tag("simd")
class KQuantKernelsTest {
    private static final long SEED = 0x4b_51L;
    static final KQuantKernels REF = new ScalarKQuantKernels();
    private final KQuantKernels k = VectorizationProvider.get().kquants();

    /** Random super-blocks: per 32 elements a scale 2^e (|e| &le; maxExp) and a kind (zeros, constant, ties, gaussian). */
    static float[] row(Random r, int nb, int maxExp) {
        float[] x = new float[nb * 256];
        for (int s = 0; s < nb * 8; s++) {
            float scale = (float) Math.pow(2, r.nextInt(2 * maxExp + 1) - maxExp);
            int kind = r.nextInt(8);
            for (int j = 0; j < 32; j++) {
                x[s * 32 + j] = switch (kind) {
                    case 0 -> 0f;
                    case 1 -> scale;
                    case 2 -> (r.nextInt(5) - 2) * scale; // equal magnitudes of both signs: the first-max rule
                    case 3 -> (r.nextInt(255) - 127) * 0.5f; // halves: nearest_int ties
                    default -> (float) r.nextGaussian() * scale;
                };
            }
        }
        return x;
    }

    @Test
    void q8kEncoderIsByteIdenticalToTheReference() {
        Random r = new Random(SEED);
        for (int nb : new int[] {1, 2, 3, 5}) {
            for (int rep = 0; rep < 20; rep++) {
                float[] x = row(r, nb + 1, 30);
                int off = r.nextInt(64);
                checkQ8K(x, off, nb, "nb=" + nb + " rep=" + rep);
            }
        }
    }

    @Test
    void q8kEncoderMatchesOnNonFiniteAndExtremeBlocks() {
        float[][] specials = {
            {Float.NaN}, {Float.POSITIVE_INFINITY}, {Float.NEGATIVE_INFINITY, 1f}, {1f, Float.NaN}, {Float.MIN_VALUE},
            {0x1p-126f}, {-0x1p-125f, 0x1p-130f}, {Float.MAX_VALUE, -Float.MAX_VALUE}, {-0f}, {1e38f, -1e38f}
        };
        for (float[] s : specials) {
            for (int pos = 0; pos < 256; pos += 37) {
                float[] x = new float[256];
                for (int j = 0; j < 256; j++) {
                    x[j] = (j % 3 - 1) * 0.25f;
                }
                if (s.length == 1 && s[0] == -0f) {
                    java.util.Arrays.fill(x, -0f);
                }
                for (int i = 0; i < s.length; i++) {
                    x[(pos + 101 * i) % 256] = s[i];
                }
                checkQ8K(x, 0, 1, "special " + java.util.Arrays.toString(s) + " at " + pos);
            }
        }
    }

    private void checkQ8K(float[] x, int off, int nb, String at) {
        int n = Math.min(nb, (x.length - off) / 256);
        MemorySegment got = MemorySegment.ofArray(new byte[n * 292 + 3]);
        MemorySegment want = MemorySegment.ofArray(new byte[n * 292 + 3]);
        k.quantizeQ8_K(x, off, got, 1, n);
        REF.quantizeQ8_K(x, off, want, 1, n);
        assertThat(got.toArray(ValueLayout.JAVA_BYTE)).as("%s seed=%d provider=%s", at, SEED, SimdTesting.providerName())
                .containsExactly(want.toArray(ValueLayout.JAVA_BYTE));
    }

    /** Random weight bytes (any pattern is a valid block) with fp16 scales of moderate size at their offsets. */
    static MemorySegment randomBlocks(Random r, GgmlType t, int nb, int pad) {
        byte[] b = new byte[nb * t.blockBytes() + pad];
        r.nextBytes(b);
        MemorySegment s = MemorySegment.ofArray(b);
        for (int i = 0; i < nb; i++) {
            saneScales(r, t, s, pad + (long) i * t.blockBytes());
        }
        return s;
    }

    static void saneScales(Random r, GgmlType t, MemorySegment s, long o) {
        long[] at = switch (t) {
            case Q2_K -> new long[] {80, 82};
            case Q3_K -> new long[] {108};
            case Q4_K, Q5_K -> new long[] {0, 2};
            case Q6_K -> new long[] {208};
            default -> throw new IllegalArgumentException(t.toString());
        };
        for (long a : at) {
            s.set(ScalarGgmlKernels.F16_LE, o + a, Float.floatToFloat16((float) r.nextGaussian() * 0.01f));
        }
    }

    static MemorySegment activation(Random r, int nb, int pad) {
        MemorySegment a = MemorySegment.ofArray(new byte[nb * 292 + pad]);
        REF.quantizeQ8_K(row(r, nb, 10), 0, a, pad, nb);
        return a;
    }

    static final GgmlType[] KTYPES = {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K};

    @Test
    void dotProductsMatchTheScalarTwin() {
        Random r = new Random(SEED + 1);
        for (GgmlType t : KTYPES) {
            for (int nb : new int[] {0, 1, 2, 3, 5, 8, 13, 56}) {
                int pw = r.nextInt(5), pa = r.nextInt(5);
                MemorySegment w = randomBlocks(r, t, nb, pw);
                MemorySegment a = activation(r, nb, pa);
                float got = dot(k, t, w, pw, a, pa, nb);
                float want = dot(REF, t, w, pw, a, pa, nb);
                assertThat((double) got).as("%s nb=%d seed=%d provider=%s", t, nb, SEED, SimdTesting.providerName())
                        .isCloseTo(want, Offset.offset(tolerance(t, w, pw, a, pa, nb)));
            }
        }
    }

    /** The multi-row dots (which share activation loads between rows) give each row the one-row dot's bits. */
    @Test
    void multiRowDotsEqualTheOneRowDotBitForBit() {
        Random r = new Random(SEED + 2);
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q6_K}) {
            for (int rows : new int[] {1, 2, 3, 4, 5, 7, 8, 9}) {
                for (int nb : new int[] {1, 3, 8}) {
                    int pw = r.nextInt(5), pa = r.nextInt(5);
                    long stride = (long) nb * t.blockBytes() + r.nextInt(3);
                    MemorySegment w = randomBlocks(r, t, (int) ((stride * rows + t.blockBytes() - 1) / t.blockBytes()), pw);
                    for (int row = 0; row < rows; row++) { // sane scales at every row's block starts
                        for (int b = 0; b < nb; b++) {
                            saneScales(r, t, w, pw + row * stride + (long) b * t.blockBytes());
                        }
                    }
                    MemorySegment a = activation(r, nb, pa);
                    float[] y = new float[rows + 2];
                    if (t == GgmlType.Q4_K) {
                        k.dotRowsQ4_KQ8_K(w, pw, stride, rows, a, pa, nb, y, 1);
                    } else {
                        k.dotRowsQ6_KQ8_K(w, pw, stride, rows, a, pa, nb, y, 1);
                    }
                    for (int row = 0; row < rows; row++) {
                        float want = dot(k, t, w, pw + row * stride, a, pa, nb);
                        assertThat(y[1 + row]).as("%s rows=%d nb=%d row=%d provider=%s", t, rows, nb, row,
                                SimdTesting.providerName()).isEqualTo(want);
                    }
                    assertThat(y[0]).isZero();
                    assertThat(y[rows + 1]).isZero();
                }
            }
        }
    }

    static float dot(KQuantKernels k, GgmlType t, MemorySegment w, long wo, MemorySegment a, long ao, int nb) {
        return switch (t) {
            case Q2_K -> k.dotQ2_KQ8_K(w, wo, a, ao, nb);
            case Q3_K -> k.dotQ3_KQ8_K(w, wo, a, ao, nb);
            case Q4_K -> k.dotQ4_KQ8_K(w, wo, a, ao, nb);
            case Q5_K -> k.dotQ5_KQ8_K(w, wo, a, ao, nb);
            case Q6_K -> k.dotQ6_KQ8_K(w, wo, a, ao, nb);
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    /**
     * 2γ_k·T as in the class comment. The decoded weight x̂ = d·sc·q − dmin·m gives |d·sc·q·a| &le; |x̂·a| + |dmin·m·a|,
     * and the activation a = d_a·q_a: T &le; &Sigma; |x̂_i·â_i| + 2·&Sigma;_b |dmin_b·d_a|·&Sigma;_j m_j·&Sigma;_i∈j |q_a,i|,
     * bounded by 2·|dmin·d_a|·63·&Sigma;|q_a| per block.
     */
    static double tolerance(GgmlType t, MemorySegment w, long wo, MemorySegment a, long ao, int nb) {
        float[] xw = new float[nb * 256], xa = new float[nb * 256];
        dequantize(t, w, wo, xw, nb);
        Q8_K.dequantizeRow(a, ao, xa, 0, nb * 256);
        double sum = 0;
        for (int i = 0; i < xw.length; i++) {
            sum += Math.abs((double) xw[i] * xa[i]);
        }
        if (t == GgmlType.Q2_K || t == GgmlType.Q4_K || t == GgmlType.Q5_K) {
            long dminAt = t == GgmlType.Q2_K ? 82 : 2;
            for (int b = 0; b < nb; b++) {
                double dmin = ScalarGgmlKernels.f16(w, wo + (long) b * t.blockBytes() + dminAt);
                double da = a.get(ScalarKQuantKernels.F32_LE, ao + 292L * b);
                double qa = 0;
                for (int i = 0; i < 256; i++) {
                    qa += Math.abs(a.get(ValueLayout.JAVA_BYTE, ao + 292L * b + 4 + i));
                }
                sum += 2 * Math.abs(dmin * da) * (t == GgmlType.Q2_K ? 15 : 63) * qa;
            }
        }
        int kk = nb + 24;
        double u = 0x1p-24;
        return 2 * (kk * u / (1 - kk * u)) * sum + Float.MIN_NORMAL;
    }

    static void dequantize(GgmlType t, MemorySegment s, long off, float[] dst, int nb) {
        int n = nb * 256;
        switch (t) {
            case Q2_K -> Q2_K.dequantizeRow(s, off, dst, 0, n);
            case Q3_K -> Q3_K.dequantizeRow(s, off, dst, 0, n);
            case Q4_K -> Q4_K.dequantizeRow(s, off, dst, 0, n);
            case Q5_K -> Q5_K.dequantizeRow(s, off, dst, 0, n);
            case Q6_K -> Q6_K.dequantizeRow(s, off, dst, 0, n);
            default -> throw new IllegalArgumentException(t.toString());
        }
    }
}

package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.SimdTesting;
import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The provider's ggml kernels against {@link ScalarGgmlKernels}: encoders byte for byte (random, special and
 * non-finite blocks), dot products within the float summation bound. Run at 128/256/512 bits by the simd-* runs.
 *
 * <p>Dot tolerance: both kernels evaluate &Sigma;_b &Sigma;_l c_b·S_b,l (+ &Sigma;_b m_b·s_b) exactly in integers
 * inside a block and then in float, in different orders (the vector kernel multiplies lane partials by c_b and adds
 * lanes at the end). Every term passes through at most k = nBlocks + 8 roundings (scale product, multiply, the adds
 * along its path), so each result is within &gamma;_k·&Sigma;|terms| of the exact sum (Higham, eq. 3.4) and they
 * differ by at most 2&gamma;_k·T with T = &Sigma;_b |c_b|·&Sigma;_j |q_w,j·q_a,j| + &Sigma;_b |m_b·s_b|.
 */
@Tag("simd")
class GgmlKernelsTest {
    private static final long SEED = 0x99_1bL;
    private static final GgmlKernels REF = new ScalarGgmlKernels();
    private final GgmlKernels k = VectorizationProvider.get().ggml();

    /** Random blocks with a per-block scale spanning many binades, plus special blocks. */
    static float[] row(Random r, int nb) {
        return row(r, nb, 20);
    }

    /** As {@link #row(Random, int)} with block scales 2^e, |e| &le; maxExp. */
    static float[] row(Random r, int nb, int maxExp) {
        float[] x = new float[nb * 32];
        for (int b = 0; b < nb; b++) {
            float scale = (float) Math.pow(2, r.nextInt(2 * maxExp) - maxExp);
            int kind = r.nextInt(10);
            for (int j = 0; j < 32; j++) {
                float v = switch (kind) {
                    case 0 -> 0f;
                    case 1 -> scale; // constant
                    case 2 -> -Math.abs(r.nextFloat()) * scale; // all negative
                    case 3 -> (r.nextInt(5) - 2) * scale; // many equal magnitudes of both signs: ties
                    case 4 -> (r.nextInt(255) - 127) * 0.5f; // exact halves after scaling by id = 1 or 2
                    default -> (float) r.nextGaussian() * scale;
                };
                x[b * 32 + j] = v;
            }
        }
        return x;
    }

    @Test
    void encodersAreByteIdenticalToTheReference() {
        Random r = new Random(SEED);
        for (int nb : new int[] {1, 2, 3, 7, 16, 33}) {
            for (int rep = 0; rep < 20; rep++) {
                float[] x = row(r, nb + 1);
                int off = r.nextInt(32);
                check(x, off, nb, "nb=" + nb + " rep=" + rep);
            }
        }
    }

    @Test
    void encodersMatchOnNonFiniteAndExtremeBlocks() {
        float[][] specials = {
            {Float.NaN}, {Float.POSITIVE_INFINITY}, {Float.NEGATIVE_INFINITY, 1f}, {1f, Float.NaN},
            {Float.MIN_VALUE}, {0x1p-126f}, {-0x1p-125f, 0x1p-130f}, {Float.MAX_VALUE, -Float.MAX_VALUE}, {-0f},
            {65504f * 8}, {-1e-40f, 2e-40f}
        };
        for (float[] s : specials) {
            for (int pos = 0; pos < 32; pos += 7) {
                float[] x = new float[32];
                for (int j = 0; j < 32; j++) {
                    x[j] = (j % 3 - 1) * 0.25f;
                }
                for (int i = 0; i < s.length; i++) {
                    x[(pos + 13 * i) % 32] = s[i];
                }
                check(x, 0, 1, "special " + java.util.Arrays.toString(s) + " at " + pos);
            }
        }
    }

    private void check(float[] x, int off, int nb, String at) {
        int n = Math.min(nb, (x.length - off) / 32);
        for (int t = 0; t < 3; t++) {
            int bytes = new int[] {18, 34, 36}[t];
            MemorySegment a = MemorySegment.ofArray(new byte[n * bytes + 3]);
            MemorySegment e = MemorySegment.ofArray(new byte[n * bytes + 3]);
            switch (t) {
                case 0 -> {
                    k.quantizeQ4_0(x, off, a, 1, n);
                    REF.quantizeQ4_0(x, off, e, 1, n);
                }
                case 1 -> {
                    k.quantizeQ8_0(x, off, a, 1, n);
                    REF.quantizeQ8_0(x, off, e, 1, n);
                }
                default -> {
                    k.quantizeQ8_1(x, off, a, 1, n);
                    REF.quantizeQ8_1(x, off, e, 1, n);
                }
            }
            assertThat(a.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                    .as("%s type=%s seed=%d provider=%s", at, new String[] {"Q4_0", "Q8_0", "Q8_1"}[t], SEED,
                            SimdTesting.providerName())
                    .containsExactly(e.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
    }

    /** Random weight bytes for every type (any bit pattern is a valid block once the scales are sane). */
    static MemorySegment randomBlocks(Random r, GgmlType t, int nb, int pad) {
        byte[] b = new byte[nb * t.blockBytes() + pad];
        r.nextBytes(b);
        MemorySegment s = MemorySegment.ofArray(b);
        for (int i = 0; i < nb; i++) {
            long o = pad + (long) i * t.blockBytes();
            s.set(ScalarGgmlKernels.F16_LE, o, Float.floatToFloat16((float) r.nextGaussian() * 0.01f));
            if (t == GgmlType.Q4_1 || t == GgmlType.Q5_1) {
                s.set(ScalarGgmlKernels.F16_LE, o + 2, Float.floatToFloat16((float) r.nextGaussian() * 0.1f));
            }
        }
        return s;
    }

    @Test
    void dotProductsMatchTheScalarTwin() {
        Random r = new Random(SEED + 1);
        GgmlType[] types = {GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0};
        for (GgmlType t : types) {
            GgmlType at = GgmlOps.activationType(t);
            for (int nb : new int[] {0, 1, 2, 3, 5, 8, 13, 32, 100, 448}) {
                int pw = r.nextInt(5), pa = r.nextInt(5);
                MemorySegment w = randomBlocks(r, t, nb, pw);
                float[] x = row(r, nb);
                MemorySegment a = MemorySegment.ofArray(new byte[nb * at.blockBytes() + pa]);
                if (at == GgmlType.Q8_1) {
                    REF.quantizeQ8_1(x, 0, a, pa, nb);
                } else {
                    REF.quantizeQ8_0(x, 0, a, pa, nb);
                }
                float got = dot(k, t, w, pw, a, pa, nb);
                float want = dot(REF, t, w, pw, a, pa, nb);
                double tol = tolerance(t, w, pw, a, pa, nb);
                assertThat((double) got).as("%s nb=%d seed=%d provider=%s", t, nb, SEED, SimdTesting.providerName())
                        .isCloseTo(want, org.assertj.core.data.Offset.offset(tol));
            }
        }
    }

    /** The multi-row dots (which share activation loads between rows) give each row the one-row dot's bits. */
    @Test
    void multiRowDotsEqualTheOneRowDotBitForBit() {
        Random r = new Random(SEED + 2);
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0}) {
            for (int rows : new int[] {1, 2, 3, 4, 5, 7, 8, 9}) {
                for (int nb : new int[] {1, 3, 13, 32}) {
                    int pw = r.nextInt(5), pa = r.nextInt(5);
                    long stride = (long) nb * t.blockBytes() + r.nextInt(3);
                    MemorySegment w = randomBlocks(r, t, (int) ((stride * rows + t.blockBytes() - 1) / t.blockBytes()), pw);
                    for (int row = 0; row < rows; row++) { // sane scales at every row start
                        for (int b = 0; b < nb; b++) {
                            w.set(ScalarGgmlKernels.F16_LE, pw + row * stride + (long) b * t.blockBytes(),
                                    Float.floatToFloat16((float) r.nextGaussian() * 0.01f));
                        }
                    }
                    MemorySegment a = MemorySegment.ofArray(new byte[nb * 34 + pa]);
                    REF.quantizeQ8_0(row(r, nb), 0, a, pa, nb);
                    float[] y = new float[rows + 2];
                    if (t == GgmlType.Q4_0) {
                        k.dotRowsQ4_0Q8_0(w, pw, stride, rows, a, pa, nb, y, 1);
                    } else {
                        k.dotRowsQ8_0Q8_0(w, pw, stride, rows, a, pa, nb, y, 1);
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

    static float dot(GgmlKernels k, GgmlType t, MemorySegment w, long wo, MemorySegment a, long ao, int nb) {
        return switch (t) {
            case Q4_0 -> k.dotQ4_0Q8_0(w, wo, a, ao, nb);
            case Q4_1 -> k.dotQ4_1Q8_1(w, wo, a, ao, nb);
            case Q5_0 -> k.dotQ5_0Q8_0(w, wo, a, ao, nb);
            case Q5_1 -> k.dotQ5_1Q8_1(w, wo, a, ao, nb);
            default -> k.dotQ8_0Q8_0(w, wo, a, ao, nb);
        };
    }

    /** 2γ_k·T as in the class comment, T from the dequantized codes (|c_b·q_w·q_a| = |x̂_w·x̂_a|). */
    static double tolerance(GgmlType t, MemorySegment w, long wo, MemorySegment a, long ao, int nb) {
        GgmlType at = GgmlOps.activationType(t);
        float[] xw = new float[nb * 32], xa = new float[nb * 32];
        dequantize(t, w, wo, xw, nb);
        dequantize(at, a, ao, xa, nb);
        double sum = 0;
        for (int i = 0; i < xw.length; i++) {
            sum += Math.abs((double) xw[i] * xa[i]);
        }
        // types with a minimum: the m·s terms and the m·Σq_a share of the product are bounded by |m|·|d_a|·32·127
        if (t == GgmlType.Q4_1 || t == GgmlType.Q5_1) {
            for (int b = 0; b < nb; b++) {
                double m = ScalarGgmlKernels.f16(w, wo + (long) b * t.blockBytes() + 2);
                double da = ScalarGgmlKernels.f16(a, ao + (long) b * at.blockBytes());
                sum += 2 * Math.abs(m * da) * 32 * 127;
            }
        }
        int kk = nb + 8;
        double u = 0x1p-24;
        return 2 * (kk * u / (1 - kk * u)) * sum + Float.MIN_NORMAL;
    }

    static void dequantize(GgmlType t, MemorySegment s, long off, float[] dst, int nb) {
        int n = nb * 32;
        switch (t) {
            case Q4_0 -> Q4_0.dequantizeRow(s, off, dst, 0, n);
            case Q4_1 -> Q4_1.dequantizeRow(s, off, dst, 0, n);
            case Q5_0 -> Q5_0.dequantizeRow(s, off, dst, 0, n);
            case Q5_1 -> Q5_1.dequantizeRow(s, off, dst, 0, n);
            case Q8_0 -> Q8_0.dequantizeRow(s, off, dst, 0, n);
            case Q8_1 -> Q8_1.dequantizeRow(s, off, dst, 0, n);
            default -> throw new IllegalArgumentException(t.toString());
        }
    }
}

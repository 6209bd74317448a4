package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The provider's {@link AffineFitKernels} and the scalar twin against the definitions, for group lengths that hit
 * every tail at every width (shorter than a vector, one element past a vector, odd lengths), segments of several
 * groups at odd offsets, every code width 2..8, grids that clamp on both sides, and HQQ thresholds that do and do
 * not trigger the shrink. Run at 128/256/512 bits by the simd-* executions.
 *
 * <p>Ranges and codes must match exactly. Each sum is compared with the double sum of the same float terms (the
 * terms themselves are computed exactly as the definition says): a float sum of m terms in any order is within
 * γ_m·Σ|terms| of it (γ_m = m·u/(1 − m·u), u = 2⁻²⁴), which is the tolerance, for both implementations.
 */
@Tag("simd")
class AffineFitKernelsTest {
    private static final long SEED = 0x5eed_f17L;
    private static final AffineFitKernels REF = new ScalarAffineFitKernels();
    private final AffineFitKernels k = VectorizationProvider.get().affineFit();
    private static final int[] GROUPS = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100, 128, 130, 257};

    private static float rint(float t) {
        return (t + 12582912f) - 12582912f;
    }

    private static double gamma(int m) {
        return m * 0x1p-24 / (1 - m * 0x1p-24);
    }

    /** Gaussian-ish weights with a few large ones, at offset {@code off} in a longer array. */
    private static float[] weights(Random r, int off, int n) {
        float[] w = new float[off + n + 3];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.05);
            if (r.nextInt(50) == 0) {
                w[i] *= 20;
            }
        }
        return w;
    }

    private static void near(float got, double exact, double absSum, int m, String what) {
        assertThat((double) got).as(what).isCloseTo(exact, org.assertj.core.data.Offset.offset(gamma(m) * absSum + 1e-30));
    }

    @Test
    void rangesAndCodesAreExactAndErrorsWithinTheSumBound() {
        Random r = new Random(SEED);
        for (int group : GROUPS) {
            for (int bits = 2; bits <= 8; bits++) {
                int maxq = (1 << bits) - 1;
                int groups = 1 + r.nextInt(4);
                int n = groups * group;
                int off = r.nextInt(5);
                float[] w = weights(r, off, n);
                String what = "group " + group + " bits " + bits + " groups " + groups + " seed " + SEED + " on "
                        + SimdTesting.providerName();
                int gOff = r.nextInt(3);
                float[] lo = new float[gOff + groups];
                float[] hi = new float[gOff + groups];
                k.groupMinMax(w, off, n, group, lo, hi, gOff);
                float[] scales = new float[gOff + groups];
                int[] zeros = new int[gOff + groups];
                for (int g = 0; g < groups; g++) {
                    float mn = Float.POSITIVE_INFINITY;
                    float mx = Float.NEGATIVE_INFINITY;
                    for (int i = 0; i < group; i++) {
                        mn = Math.min(mn, w[off + g * group + i]);
                        mx = Math.max(mx, w[off + g * group + i]);
                    }
                    assertThat(lo[gOff + g]).as(what).isEqualTo(mn);
                    assertThat(hi[gOff + g]).as(what).isEqualTo(mx);
                    // a grid narrower than the range (clamps at both ends), zero point anywhere in [0, maxq]
                    scales[gOff + g] = (mx - mn) / maxq * (0.5f + r.nextFloat() * 0.6f) + 1e-6f;
                    zeros[gOff + g] = r.nextInt(maxq + 1);
                }
                for (boolean sym : new boolean[] {false, true}) {
                    int zero = 1 << (bits - 1);
                    int[] zs = sym ? null : zeros;
                    int cOff = r.nextInt(4);
                    int[] codes = new int[cOff + n];
                    int[] codesRef = new int[cOff + n];
                    float[] err = new float[gOff + groups];
                    float[] errRef = new float[gOff + groups];
                    k.quantizeGroups(w, off, n, group, scales, zs, zero, gOff, bits, codes, cOff, err);
                    REF.quantizeGroups(w, off, n, group, scales, zs, zero, gOff, bits, codesRef, cOff, errRef);
                    for (int g = 0; g < groups; g++) {
                        float s = scales[gOff + g];
                        int z = sym ? zero : zeros[gOff + g];
                        double exact = 0;
                        for (int i = g * group; i < (g + 1) * group; i++) {
                            float x = w[off + i];
                            // the definition: clamp(round_half_even(w/s) + z, 0, maxq)
                            int q = (int) Math.min(Math.max(Math.rint(x / s) + z, 0), maxq);
                            assertThat(codes[cOff + i]).as(what + " sym " + sym + " element " + i).isEqualTo(q);
                            assertThat(codesRef[cOff + i]).as(what).isEqualTo(q);
                            float d = x - s * (q - z);
                            exact += (double) d * d;
                        }
                        near(err[gOff + g], exact, exact, group, what + " err");
                        near(errRef[gOff + g], exact, exact, group, what + " err (scalar)");
                        float seg = k.squaredError(w, off + g * group, group, s, z, bits);
                        near(seg, exact, exact, group, what + " squaredError");
                        near(REF.squaredError(w, off + g * group, group, s, z, bits), exact, exact, group, what);
                    }
                }
            }
        }
    }

    @Test
    void candidateSumsMatchTheDefinitions() {
        Random r = new Random(SEED + 1);
        for (int n : new int[] {1, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 300, 1000}) {
            for (int bits : new int[] {2, 3, 4, 8}) {
                int maxq = (1 << bits) - 1;
                int off = r.nextInt(5);
                float[] w = weights(r, off, n);
                float[] h = new float[off + n];
                for (int i = 0; i < h.length; i++) {
                    h[i] = r.nextFloat() * 3;
                }
                float mn = Float.POSITIVE_INFINITY;
                float mx = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < n; i++) {
                    mn = Math.min(mn, w[off + i]);
                    mx = Math.max(mx, w[off + i]);
                }
                float s = (Math.max(mx, 0) - Math.min(mn, 0)) / maxq * (0.4f + r.nextFloat() * 0.7f) + 1e-6f;
                int z = r.nextInt(maxq + 1);
                float zf = z + (r.nextFloat() - 0.5f);
                String what = "n " + n + " bits " + bits + " seed " + SEED + " on " + SimdTesting.providerName();
                float lo = -z;
                float hi = maxq - z;
                double we = 0, weAbs = 0, e2 = 0, ge = 0, geAbs = 0, gz = 0, gzAbs = 0, ab = 0;
                for (int i = 0; i < n; i++) {
                    float x = w[off + i];
                    float t = x / s;
                    float rr = rint(Math.min(Math.max(t, lo), hi));
                    float d = x - s * rr;
                    float hd = h[off + i] * (d * d);
                    we += hd;
                    weAbs += Math.abs(hd);
                    float e = s * rr - x;
                    e2 += (double) e * e;
                    float dq = t < lo ? lo : t > hi ? hi : rr - t;
                    ge += (double) (e * dq);
                    geAbs += Math.abs(e * dq);
                    if (t < lo || t > hi) {
                        gz += e;
                        gzAbs += Math.abs(e);
                    }
                    float q = Math.min(Math.max(rint(x / s + zf), 0), maxq);
                    ab += Math.abs(x - s * (q - zf));
                }
                for (AffineFitKernels impl : new AffineFitKernels[] {k, REF}) {
                    String who = what + (impl == REF ? " (scalar)" : "");
                    near(impl.weightedSquaredError(w, off, n, s, z, bits, h, off), we, weAbs, n, who + " weighted");
                    float[] out = new float[3];
                    impl.steGradient(w, off, n, s, z, bits, out);
                    near(out[0], e2, e2, n, who + " ste err");
                    near(out[1], ge, geAbs, n, who + " ste gs");
                    near(out[2], gz, gzAbs, n, who + " ste gz");
                    near(impl.absError(w, off, n, s, zf, maxq), ab, ab, n, who + " absError");
                }
                // HQQ's steps, with a threshold that never triggers the shrink and with small ones that do
                for (float thr : new float[] {1e30f, 0.01f, 0f}) {
                    float p = 0.7f;
                    float invBeta = 0.02f;
                    double ea = 0, acc = 0, accAbs = 0, num = 0, numAbs = 0, den = 0, ea2 = 0;
                    for (int i = 0; i < n; i++) {
                        float x = w[off + i];
                        float q = Math.min(Math.max(rint(x / s + zf), 0), maxq);
                        float e = x - s * (q - zf);
                        float a = Math.abs(e);
                        ea += a;
                        float term = q - (x - shrink(e, a, p, invBeta, thr)) / s;
                        acc += term;
                        accAbs += Math.abs(term);
                        float d = Math.min(Math.max(rint(x / s + z), 0), maxq) - z;
                        float e2s = x - s * d;
                        float nt = (x - shrink(e2s, Math.abs(e2s), p, invBeta, thr)) * d;
                        num += nt;
                        ea2 += Math.abs(e2s);
                        numAbs += Math.abs(nt);
                        den += d * d;
                    }
                    for (AffineFitKernels impl : new AffineFitKernels[] {k, REF}) {
                        String who = what + " thr " + thr + (impl == REF ? " (scalar)" : "");
                        float[] out = new float[3];
                        impl.hqqZeroStep(w, off, n, s, zf, maxq, p, invBeta, thr, out);
                        near(out[0], ea, ea, n, who + " hqq |e|");
                        near(out[1], acc, accAbs, n, who + " hqq z");
                        impl.hqqScaleStep(w, off, n, s, z, maxq, p, invBeta, thr, out);
                        near(out[0], num, numAbs, n, who + " hqq num");
                        near(out[1], den, den, n, who + " hqq den");
                        near(out[2], ea2, ea2, n, who + " hqq scale |e|");
                    }
                }
            }
        }
    }

    /** HQQ's generalized soft threshold, from its definition. */
    private static float shrink(float e, float a, float p, float invBeta, float thr) {
        if (!(a > thr)) {
            return 0;
        }
        float m = a - (float) Math.pow(a, p - 1) * invBeta;
        return m > 0 ? Math.copySign(m, e) : 0;
    }

    /**
     * The sums' bits must not depend on whether the kernel runs interpreted or C2-compiled (the quantizers choose by
     * them, and their choices must not depend on JIT timing or thread count): a cold call and a call after many
     * warm-up calls agree exactly.
     */
    @Test
    void sumsDoNotChangeOnceCompiled() {
        Random r = new Random(SEED + 2);
        float[] w = weights(r, 0, 1000);
        float[] cold = new float[4];
        float[] out = new float[3];
        cold[0] = k.squaredError(w, 3, 997, 0.01f, 7, 4);
        k.steGradient(w, 3, 997, 0.01f, 7, 4, out);
        cold[1] = out[1];
        cold[2] = k.absError(w, 3, 997, 0.01f, 7.3f, 15);
        float[] err = new float[8];
        k.quantizeGroups(w, 0, 1000, 125, new float[] {.01f, .02f, .01f, .03f, .01f, .01f, .02f, .01f}, null, 8, 0, 4,
                new int[1000], 0, err);
        cold[3] = err[5];
        float sink = 0;
        for (int it = 0; it < 20_000; it++) {
            sink += k.squaredError(w, 3, 997, 0.01f, 7, 4);
            k.steGradient(w, 3, 997, 0.01f, 7, 4, out);
            sink += k.absError(w, 3, 997, 0.01f, 7.3f, 15);
        }
        assertThat(sink).isFinite();
        assertThat(k.squaredError(w, 3, 997, 0.01f, 7, 4)).isEqualTo(cold[0]);
        k.steGradient(w, 3, 997, 0.01f, 7, 4, out);
        assertThat(out[1]).isEqualTo(cold[1]);
        assertThat(k.absError(w, 3, 997, 0.01f, 7.3f, 15)).isEqualTo(cold[2]);
        for (int it = 0; it < 2_000; it++) {
            k.quantizeGroups(w, 0, 1000, 125, new float[] {.01f, .02f, .01f, .03f, .01f, .01f, .02f, .01f}, null, 8, 0,
                    4, new int[1000], 0, err);
        }
        assertThat(err[5]).isEqualTo(cold[3]);
    }

    @Test
    void nanPropagatesIntoTheRangeAndSignedZerosAreOrdered() {
        float[] w = new float[200];
        for (int i = 0; i < w.length; i++) {
            w[i] = i * 0.01f;
        }
        w[77] = Float.NaN;
        float[] lo = new float[2];
        float[] hi = new float[2];
        k.groupMinMax(w, 0, 200, 100, lo, hi, 0);
        assertThat(Float.isNaN(lo[0]) || Float.isNaN(hi[0])).as("lo %s hi %s", lo[0], hi[0]).isTrue();
        assertThat(lo[1]).isEqualTo(w[100]);
        assertThat(hi[1]).isEqualTo(w[199]);
        // −0.0 is below +0.0 (Math.min/max), at any position of a group
        for (int pos : new int[] {0, 5, 16, 63, 99}) {
            float[] z = new float[100];
            z[pos] = -0f;
            k.groupMinMax(z, 0, 100, 100, lo, hi, 0);
            assertThat(Float.floatToRawIntBits(lo[0])).as("pos " + pos).isEqualTo(Float.floatToRawIntBits(-0f));
            assertThat(Float.floatToRawIntBits(hi[0])).isEqualTo(0);
            java.util.Arrays.fill(z, -0f);
            z[pos] = 0f;
            k.groupMinMax(z, 0, 100, 100, lo, hi, 0);
            assertThat(Float.floatToRawIntBits(lo[0])).isEqualTo(Float.floatToRawIntBits(-0f));
            assertThat(Float.floatToRawIntBits(hi[0])).isEqualTo(0);
        }
        // infinities are ordinary values of the range
        w[150] = Float.NEGATIVE_INFINITY;
        w[160] = Float.POSITIVE_INFINITY;
        k.groupMinMax(w, 0, 200, 100, lo, hi, 0);
        assertThat(lo[1]).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(hi[1]).isEqualTo(Float.POSITIVE_INFINITY);
    }
}

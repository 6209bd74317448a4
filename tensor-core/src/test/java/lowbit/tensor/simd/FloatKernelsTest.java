package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The chosen float kernels against {@link ScalarFloatKernels}, at every length 0..300 and larger ones, at offsets
 * that misalign the arrays, for arrays and segments. Run at 128/256/512 bits by the simd-* Surefire executions.
 *
 * <p>Tolerance for sums: both results are computed in float by different summation orders. Each differs from the
 * exact sum by at most γ_n·Σ|t_i| with γ_n = n·u/(1 − n·u) and u = 2^-24 (Higham, Accuracy and Stability of
 * Numerical Algorithms, eq. 3.4), so they differ from each other by at most 2·γ_n·Σ|t_i|. min, max, maxAbs,
 * scale and axpy involve no reordering (axpy/scale: one rounding per element, and FMA is at least as exact as
 * mul+add, within one ulp of it) and must match exactly or within one rounding.
 */
@Tag("simd")
class FloatKernelsTest {
    private static final long SEED = 0x10_b17L;
    private static final FloatKernels REF = new ScalarFloatKernels();
    private final FloatKernels k = VectorizationProvider.get().floats();

    private static double bound(int n, double sumAbs) {
        double u = 0x1p-24;
        double gamma = n * u / (1 - n * u);
        return 2 * gamma * sumAbs + Float.MIN_NORMAL;
    }

    /**
     * Values that hit every branch-free case of exp and GELU: zeros of both signs, ±∞, NaN, the clamps, the
     * subnormal and overflow edges of exp, and ordinary values.
     */
    private static final float[] SPECIAL = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 1f,
        -1f, 88.72f, 88.73f, 89f, 100f, -87.33f, -87.34f, -103.9f, -103.98f, -104f, -200f, 5.656854f, -5.656854f,
        5.6568546f, -5.6568546f, 6f, -6f, 1e-30f, -1e-30f, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, 0.34657359f,
        -0.34657359f};

    private static float[] elementwiseInputs(Random r, int n, float spread) {
        float[] x = SimdTesting.randomFloats(r, n, spread);
        for (int i = 0; i < n; i++) {
            if (r.nextInt(8) == 0) {
                x[i] = SPECIAL[r.nextInt(SPECIAL.length)];
            }
        }
        return x;
    }

    @Test
    void addScalarAndScaleMulAddMatchTheScalarLoopBitForBit() {
        Random r = new Random(SEED + 9);
        for (int n : SimdTesting.lengths()) {
            int off = r.nextInt(5);
            String at = "n=" + n + " off=" + off + " seed=" + (SEED + 9) + " provider=" + SimdTesting.providerName();
            float[] x = elementwiseInputs(r, n + off + 3, 8f);
            float[] g = SimdTesting.randomFloats(r, n + 2, 3f);
            float[] b = SimdTesting.randomFloats(r, n + 1, 3f);
            float c = (float) r.nextGaussian(), s = (float) r.nextGaussian();
            float[] y = new float[n + 3], yRef = new float[n + 3];
            k.addScalar(x, off, c, y, 1, n);
            REF.addScalar(x, off, c, yRef, 1, n);
            assertThat(y).as("addScalar " + at).usingElementComparator(Float::compare).containsExactly(yRef);
            k.scaleMulAdd(x, off, s, g, 2, b, 1, y, 0, n);
            REF.scaleMulAdd(x, off, s, g, 2, b, 1, yRef, 0, n);
            assertThat(y).as("scaleMulAdd " + at).usingElementComparator(Float::compare).containsExactly(yRef);
            for (int i = 0; i < n; i++) {
                assertThat(Float.floatToIntBits(yRef[i])).as("definition, element " + i)
                        .isEqualTo(Float.floatToIntBits(x[off + i] * s * g[2 + i] + b[1 + i]));
            }
        }
    }

    @Test
    void expAndGeluMatchTheScalarDefinitionBitForBit() {
        Random r = new Random(SEED + 7);
        for (int n : SimdTesting.lengths()) {
            int off = r.nextInt(5);
            String at = "n=" + n + " off=" + off + " seed=" + (SEED + 7) + " provider=" + SimdTesting.providerName();
            for (float spread : new float[] {1f, 12f, 120f}) {
                float[] x = elementwiseInputs(r, n + off + 3, spread);
                float shift = r.nextBoolean() ? 0f : (float) r.nextGaussian() * spread;
                float[] y = new float[n + 4];
                float[] yRef = new float[n + 4];
                k.expShifted(x, off, shift, y, 2, n);
                REF.expShifted(x, off, shift, yRef, 2, n);
                assertThat(y).as("exp " + at + " shift " + shift).usingElementComparator(Float::compare).containsExactly(yRef);
                for (int i = 0; i < n; i++) {
                    assertThat(Float.floatToIntBits(yRef[2 + i])).as("scalar exp of element " + i)
                            .isEqualTo(Float.floatToIntBits(ElementwiseMath.exp(x[off + i] - shift)));
                }
                k.geluErf(x, off, y, 1, n);
                REF.geluErf(x, off, yRef, 1, n);
                assertThat(y).as("gelu " + at).usingElementComparator(Float::compare).containsExactly(yRef);
            }
        }
        float[] s = SPECIAL.clone();
        float[] y = new float[s.length];
        k.expShifted(s, 0, 0f, y, 0, s.length);
        for (int i = 0; i < s.length; i++) {
            assertThat(Float.floatToIntBits(y[i])).as("exp(" + s[i] + ")")
                    .isEqualTo(Float.floatToIntBits(ElementwiseMath.exp(s[i])));
        }
        // in place
        float[] a = elementwiseInputs(r, 100, 4f);
        float[] b = a.clone();
        k.geluErf(a, 0, a, 0, a.length);
        REF.geluErf(b, 0, b, 0, b.length);
        assertThat(a).usingElementComparator(Float::compare).containsExactly(b);
    }

    @Test
    void reductionsMatchScalarAtEveryLength() {
        Random r = new Random(SEED);
        for (int n : SimdTesting.lengths()) {
            int off = r.nextInt(5);
            float[] a = SimdTesting.randomFloats(r, n + off + 3, 4f);
            float[] b = SimdTesting.randomFloats(r, n + off + 3, 4f);
            double sumAbsAB = 0, sumAbs = 0, sumSq = 0;
            for (int i = 0; i < n; i++) {
                sumAbsAB += Math.abs((double) a[off + i] * b[off + 1 + i]);
                sumAbs += Math.abs(a[off + i]);
                sumSq += (double) a[off + i] * a[off + i];
            }
            String at = "n=" + n + " off=" + off + " seed=" + SEED + " provider=" + SimdTesting.providerName();
            assertThat((double) k.dot(a, off, b, off + 1, n)).as("dot " + at)
                    .isCloseTo(REF.dot(a, off, b, off + 1, n), org.assertj.core.data.Offset.offset(bound(n, sumAbsAB)));
            assertThat((double) k.sum(a, off, n)).as("sum " + at)
                    .isCloseTo(REF.sum(a, off, n), org.assertj.core.data.Offset.offset(bound(n, sumAbs)));
            assertThat((double) k.sumOfSquares(a, off, n)).as("sumOfSquares " + at)
                    .isCloseTo(REF.sumOfSquares(a, off, n), org.assertj.core.data.Offset.offset(bound(n, sumSq)));
            assertThat(k.maxAbs(a, off, n)).as("maxAbs " + at).isEqualTo(REF.maxAbs(a, off, n));
            assertThat(k.min(a, off, n)).as("min " + at).isEqualTo(REF.min(a, off, n));
            assertThat(k.max(a, off, n)).as("max " + at).isEqualTo(REF.max(a, off, n));
        }
    }

    @Test
    void elementwiseMatchScalarAtEveryLength() {
        Random r = new Random(SEED + 1);
        for (int n : SimdTesting.lengths()) {
            int off = r.nextInt(5);
            float[] x = SimdTesting.randomFloats(r, n + off, 3f);
            float[] y = SimdTesting.randomFloats(r, n + off + 2, 3f);
            float alpha = r.nextFloat() * 4 - 2;
            float[] y1 = y.clone(), y2 = y.clone();
            k.axpy(alpha, x, off, y1, off + 2, n);
            REF.axpy(alpha, x, off, y2, off + 2, n);
            for (int i = 0; i < y.length; i++) {
                boolean touched = i >= off + 2 && i < off + 2 + n;
                // FMA rounds once where mul+add rounds twice: |difference| <= ulp(result) + ulp(alpha*x).
                double tol = touched ? Math.ulp(y2[i]) + Math.ulp(alpha * x[i - 2]) : 0;
                assertThat(Math.abs((double) y1[i] - y2[i])).as("axpy |diff| n=%d i=%d seed=%d", n, i, SEED)
                        .isLessThanOrEqualTo(tol);
            }
            float[] s1 = x.clone(), s2 = x.clone();
            k.scale(alpha, s1, off, n);
            REF.scale(alpha, s2, off, n);
            assertThat(s1).as("scale n=%d", n).containsExactly(s2);
        }
    }

    @Test
    void segmentKernelsMatchScalar() {
        Random r = new Random(SEED + 2);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : SimdTesting.lengths()) {
                int off = r.nextInt(5);
                float[] a = SimdTesting.randomFloats(r, n + off, 4f);
                float[] b = SimdTesting.randomFloats(r, n + off, 4f);
                MemorySegment sa = copy(arena, a), sb = copy(arena, b);
                double sumAbsAB = 0, sumAbs = 0, sumSq = 0;
                for (int i = 0; i < n; i++) {
                    sumAbsAB += Math.abs((double) a[off + i] * b[off + i]);
                    sumAbs += Math.abs(a[off + i]);
                    sumSq += (double) a[off + i] * a[off + i];
                }
                String at = "segment n=" + n + " seed=" + SEED;
                assertThat((double) k.dot(sa, off, sb, off, n)).as("dot " + at)
                        .isCloseTo(REF.dot(a, off, b, off, n), org.assertj.core.data.Offset.offset(bound(n, sumAbsAB)));
                assertThat((double) k.sum(sa, off, n)).as("sum " + at)
                        .isCloseTo(REF.sum(a, off, n), org.assertj.core.data.Offset.offset(bound(n, sumAbs)));
                assertThat((double) k.sumOfSquares(sa, off, n)).as("sumsq " + at)
                        .isCloseTo(REF.sumOfSquares(a, off, n), org.assertj.core.data.Offset.offset(bound(n, sumSq)));
                assertThat(k.maxAbs(sa, off, n)).as("maxAbs " + at).isEqualTo(REF.maxAbs(a, off, n));
                assertThat(k.min(sa, off, n)).as("min " + at).isEqualTo(REF.min(a, off, n));
                assertThat(k.max(sa, off, n)).as("max " + at).isEqualTo(REF.max(a, off, n));

                float alpha = 0.75f;
                k.scale(alpha, sa, off, n);
                float[] scaled = a.clone();
                REF.scale(alpha, scaled, off, n);
                for (int i = 0; i < a.length; i++) {
                    assertThat(sa.getAtIndex(ScalarFloatKernels.F32_LE, i)).as("scale %s i=%d", at, i).isEqualTo(scaled[i]);
                }
                k.axpy(2f, sb, off, sa, off, n); // 2·b is exact, so one rounding either way
                REF.axpy(2f, b, off, scaled, off, n);
                for (int i = 0; i < a.length; i++) {
                    assertThat(sa.getAtIndex(ScalarFloatKernels.F32_LE, i)).as("axpy %s i=%d", at, i).isEqualTo(scaled[i]);
                }
            }
        }
    }

    @Test
    void specialValues() {
        for (int n : new int[] {1, 7, 16, 33, 100, 1000}) {
            float[] x = new float[n];
            java.util.Arrays.fill(x, 1f);
            x[n / 2] = Float.NaN;
            assertThat(k.maxAbs(x, 0, n)).as("NaN in maxAbs, n=%d", n).isNaN();
            assertThat(k.max(x, 0, n)).as("NaN in max, n=%d", n).isNaN();
            assertThat(k.min(x, 0, n)).as("NaN in min, n=%d", n).isNaN();
            assertThat(k.sum(x, 0, n)).as("NaN in sum, n=%d", n).isNaN();
            x[n / 2] = Float.NEGATIVE_INFINITY;
            assertThat(k.maxAbs(x, 0, n)).isEqualTo(Float.POSITIVE_INFINITY);
            assertThat(k.min(x, 0, n)).isEqualTo(Float.NEGATIVE_INFINITY);
            assertThat(k.max(x, 0, n)).isEqualTo(n == 1 ? Float.NEGATIVE_INFINITY : 1f);
        }
        float[] none = new float[3];
        assertThat(k.min(none, 1, 0)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(k.max(none, 1, 0)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(k.maxAbs(none, 1, 0)).isZero();
        assertThat(k.dot(none, 0, none, 0, 0)).isZero();
    }

    @Test
    void facadeRejectsBadRanges() {
        float[] a = new float[10];
        assertThatThrownBy(() -> FloatOps.dot(a, 5, a, 0, 6)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("10");
        assertThatThrownBy(() -> FloatOps.dot(a, new float[9])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("10").hasMessageContaining("9");
        assertThatThrownBy(() -> FloatOps.sum(a, -1, 2)).isInstanceOf(IndexOutOfBoundsException.class);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(40);
            assertThatThrownBy(() -> FloatOps.sum(s, 0, 11)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("11");
            assertThatThrownBy(() -> FloatOps.scale(2f, s.asReadOnly(), 0, 10))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("read-only");
            assertThat(FloatOps.sum(s, 0, 10)).isZero();
        }
    }

    private static MemorySegment copy(Arena arena, float[] a) {
        MemorySegment s = arena.allocate((long) a.length * Float.BYTES, 64);
        for (int i = 0; i < a.length; i++) {
            s.setAtIndex(ScalarFloatKernels.F32_LE, i, a[i]);
        }
        return s;
    }
}

package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.ScalarDenseKernels;
import lowbit.tensor.simd.SimdTesting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link Gemm} against the scalar triple loop of {@link ScalarDenseKernels}, for every transpose combination, for
 * α, β including β = 0 over a C full of NaN (C must not be read), with offsets and leading dimensions larger than a
 * row, for F32/F16/BF16 weights in arrays and segments; sizes cross the register tile (MR rows, NR = 2 vectors), the
 * k-slice (at most 256, balanced: 257 runs as 129 + 128) and the column block (1024, in the thread-count test), and take the small-batch (m ≤ 8) path.
 *
 * <p>Tolerance: each C element is α·s + β·c where s is a float dot product of length k. The kernel sums s in a
 * blocked order (and adds across k-slices through C), the twin left to right; both are within γ_k·Σ|a·b| of the
 * exact s, and α·s + β·c adds at most three roundings, so the two results differ by at most
 * 2·γ_(k+3)·(|α|·Σ_p|a_ip·b_pj| + |β·c_ij|) (Higham, Accuracy and Stability of Numerical Algorithms, §3.1–3.5).
 */
@Tag("simd")
class GemmTest {
    private static final long SEED = 0x6e33L;
    private static final ScalarDenseKernels REF = new ScalarDenseKernels();

    @AfterEach
    void restoreParallelism() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    /** One randomized case: stored A, B (as values), C; checks every storage of B against the twin. */
    private static void check(Random rnd, Arena arena, DType type, boolean ta, boolean tb, int m, int n, int k,
            float alpha, float beta) {
        int lda = (ta ? m : k) + rnd.nextInt(3), ldb = (tb ? k : n) + rnd.nextInt(3), ldc = n + rnd.nextInt(3);
        int aOff = rnd.nextInt(4), bOff = rnd.nextInt(4), cOff = rnd.nextInt(4);
        int aRows = ta ? k : m, bRows = tb ? n : k;
        float[] a = DenseTesting.floats(rnd, aOff + aRows * lda, 2f);
        DenseTesting.Weight b = DenseTesting.weight(rnd, type, bOff + bRows * ldb, 2f);
        float[] c0 = DenseTesting.floats(rnd, cOff + m * ldc, 2f);
        if (beta == 0f) {
            Arrays.fill(c0, Float.NaN); // BLAS: C is not read when beta is 0
        }
        float[] ref = c0.clone();
        REF.gemm(ta, tb, m, n, k, alpha, a, aOff, lda, b.values(), bOff, ldb, beta, ref, cOff, ldc);

        float[] got = c0.clone();
        if (type == DType.F32) {
            Gemm.gemm(ta, tb, m, n, k, alpha, a, aOff, lda, b.f32(), bOff, ldb, beta, got, cOff, ldc);
        } else {
            Gemm.gemm(ta, tb, m, n, k, alpha, a, aOff, lda, b.halves(), type, bOff, ldb, beta, got, cOff, ldc);
        }
        float[] gotSeg = c0.clone();
        MemorySegment seg = b.segment(arena, 0);
        Gemm.gemm(ta, tb, m, n, k, alpha, a, aOff, lda, seg, type, bOff, ldb, beta, gotSeg, cOff, ldc);
        String at = String.format("%s ta=%b tb=%b m=%d n=%d k=%d alpha=%s beta=%s seed=%d %s", type, ta, tb, m, n, k,
                alpha, beta, SEED, SimdTesting.providerName());
        assertThat(gotSeg).as("segment vs array, " + at).isEqualTo(got);
        for (int i = 0; i < c0.length; i++) {
            int rel = i - cOff;
            boolean inC = rel >= 0 && rel / ldc < m && rel % ldc < n;
            if (!inC) {
                assertThat(Float.floatToRawIntBits(got[i])).as("outside C at %d, %s", i, at)
                        .isEqualTo(Float.floatToRawIntBits(c0[i]));
                continue;
            }
            int ii = rel / ldc, jj = rel % ldc;
            double sumAbs = 0;
            for (int p = 0; p < k; p++) {
                float av = ta ? a[aOff + p * lda + ii] : a[aOff + ii * lda + p];
                float bv = tb ? b.values()[bOff + jj * ldb + p] : b.values()[bOff + p * ldb + jj];
                sumAbs += Math.abs((double) av * bv);
            }
            double cAbs = beta == 0f ? 0 : Math.abs((double) beta * c0[i]);
            double tol = 2 * DenseTesting.gamma(k + 3) * (Math.abs(alpha) * sumAbs + cAbs) + Float.MIN_VALUE;
            assertThat(got[i]).as("C[%d, %d], %s", ii, jj, at).isNotNaN();
            assertThat(Math.abs((double) got[i] - ref[i])).as("C[%d, %d], %s", ii, jj, at).isLessThanOrEqualTo(tol);
        }
    }

    @Test
    void everyTransposeAndScalingAtAwkwardSizes() {
        Random rnd = new Random(SEED);
        // also the unpacked small-product kernel (untransposed, m·n·k ≤ 2^16, k ≤ 256): whole vectors, pairs of
        // vectors and scalar column tails at every width, and just past its limits
        int[][] shapes = {{1, 1, 1}, {1, 7, 17}, {7, 1, 5}, {3, 17, 0}, {8, 33, 16}, {9, 16, 1}, {17, 40, 33},
                {13, 255, 7}, {33, 19, 100}, {16, 16, 32}, {16, 32, 16}, {5, 47, 13}, {3, 100, 200}, {1, 17, 256},
                {2, 9, 257}, {16, 64, 65}, {20, 40, 300}, {11, 70, 513}};
        float[][] ab = {{1f, 0f}, {-0.75f, 1f}, {1.5f, -0.5f}, {0f, 2f}};
        try (Arena arena = Arena.ofShared()) {
            for (int[] s : shapes) {
                for (int t = 0; t < 4; t++) {
                    float[] scal = ab[(t + s[0]) % ab.length];
                    check(rnd, arena, DType.F32, (t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], scal[0], scal[1]);
                }
            }
        }
    }

    @Test
    void crossesTheKSliceAndColumnBlockForEveryWeightType() {
        Random rnd = new Random(SEED + 1);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                check(rnd, arena, type, false, true, 19, 530, 300, 1f, 0f);
                check(rnd, arena, type, true, false, 11, 515, 257, 0.5f, 1f);
            }
        }
    }

    /**
     * From three k-slices on, the slices before the last accumulate in a packed copy of the C tiles and only the last
     * writes C (with α, β·C): k = 1100 is five slices; m and n leave edge tiles, n crosses a column block.
     */
    @Test
    void manyKSlicesGoThroughPackedC() {
        Random rnd = new Random(SEED + 4);
        try (Arena arena = Arena.ofShared()) {
            float[][] ab = {{1f, 0f}, {-0.75f, 1f}, {1.5f, -0.5f}};
            for (int t = 0; t < 4; t++) {
                for (float[] scal : ab) {
                    check(rnd, arena, DType.F32, (t & 1) != 0, (t & 2) != 0, 37, 1030, 1100, scal[0], scal[1]);
                }
            }
            check(rnd, arena, DType.BF16, false, true, 9, 70, 769, 1f, 0.5f);
            for (DType type : new DType[] {DType.F16, DType.BF16}) { // large enough for every thread to take part
                check(rnd, arena, type, false, true, 20, 600, 700, 1f, 0f);
                check(rnd, arena, type, true, false, 21, 90, 700, -0.5f, 1f);
            }
        }
        int m = 29, n = 300, k = 1100;
        float[] a = DenseTesting.floats(rnd, m * k, 1f);
        float[] b = DenseTesting.floats(rnd, n * k, 1f);
        float[] c0 = DenseTesting.floats(rnd, m * n, 1f);
        float[] first = null;
        for (int threads : new int[] {1, 2, 3}) {
            Parallel.setParallelism(threads);
            float[] c = c0.clone();
            Gemm.gemm(false, true, m, n, k, 0.5f, a, 0, k, b, 0, k, -1f, c, 0, n);
            if (first == null) {
                first = c;
            }
            assertThat(c).as("packed C, %d threads vs 1", threads).isEqualTo(first);
        }
    }

    @Test
    void smallBatchPathForEveryWeightType() {
        Random rnd = new Random(SEED + 2);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                for (int m = 1; m <= 9; m++) {
                    check(rnd, arena, type, false, true, m, 37 + m, 70 + 3 * m, 1f, m % 2 == 0 ? 0f : 0.5f);
                }
            }
        }
    }

    @Test
    void threadCountDoesNotChangeTheResult() {
        Random rnd = new Random(SEED + 3);
        int m = 40, n = 1100, k = 70;
        float[] a = DenseTesting.floats(rnd, m * k, 1f);
        float[] b = DenseTesting.floats(rnd, n * k, 1f);
        float[] first = null;
        for (int threads : new int[] {1, 2, 3}) {
            Parallel.setParallelism(threads);
            float[] c = new float[m * n];
            Gemm.linear(a, m, k, b, n, null, c);
            if (first == null) {
                first = c;
            }
            assertThat(c).as("%d threads vs 1", threads).isEqualTo(first);
        }
    }
}

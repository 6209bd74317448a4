package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link NmSparseInt4Tiles} against its source {@link NmSparseAffine} and the definition: the repack is lossless
 * (codes, indices and Ŵ bit for bit), the integer GEMV is the float evaluation of Ŵ·x̂ with x̂ = Q8_0(x) from ggml's
 * reference encoder, GEMM rows (n &le; 8) are the GEMV's bits, larger GEMMs are the float product with x, any thread
 * count gives the same bits, bad input is rejected by name.
 *
 * <p>Tolerance of the integer path, against an exact double evaluation of Ŵ·x̂ with the real x̂: γ_m·&Sigma;_c
 * |s_c|·|q_c − z_c|·|x̂_c| with m = cols/32 + groups + 3: the block sums S_b are exact integers, each term then passes
 * through at most one rounding per block of its group's chain f = fma(S_b, d_b, f), one for s·f, one per group of
 * the row sum, and the reference's own Ŵ = fl(s·(q − z)) differs from s·(q − z) by one more. Against the exact Ŵ·x the
 * quantization of x adds &Sigma;_c |Ŵ[r,c]|·|x_c − x̂_c| (computed exactly from the real x̂).
 */
@Tag("simd")
class NmSparseInt4TilesTest {
    private static final long SEED = 0x24_71_e5L;
    private static final int[][] SHAPES = {{1, 32}, {3, 64}, {16, 128}, {17, 96}, {33, 256}, {40, 384}, {5, 32 * 9}};

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    /** A random int4 + 2:4 matrix: codes (extremes 0 and 15 included), two sorted positions per group of 4. */
    private static NmSparseAffine random(Random rnd, int rows, int cols, AffineSpec spec) {
        int kept = cols / 2;
        int[] codes = new int[rows * kept];
        int[] idx = new int[rows * kept];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = switch (rnd.nextInt(8)) {
                case 0 -> 0;
                case 1 -> 15;
                default -> rnd.nextInt(16);
            };
        }
        for (int g = 0; g < rows * cols / 4; g++) {
            int a = rnd.nextInt(4), b = rnd.nextInt(3);
            b = b >= a ? b + 1 : b;
            idx[2 * g] = Math.min(a, b);
            idx[2 * g + 1] = Math.max(a, b);
        }
        int gs = spec.scaleRows(rows) * spec.scaleCols(cols);
        float[] scales = new float[gs];
        int[] zeros = spec.symmetric() ? null : new int[gs];
        for (int i = 0; i < gs; i++) {
            scales[i] = (0.05f + rnd.nextFloat()) / 16 * (rnd.nextBoolean() ? 1 : -1);
            if (zeros != null) {
                zeros[i] = rnd.nextInt(16);
            }
        }
        return NmSparseAffine.of(rows, cols, 2, 4, spec, codes, idx, scales, zeros);
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /** Asserts the integer-path bounds (class comment) for every X row of the product. */
    private static void assertIntegerProduct(NmSparseAffine src, NmSparseInt4Tiles t, float[] x, int n, float[] bias,
            float[] y, String what) {
        int rows = src.rows(), cols = src.cols();
        float[] w = src.dequantize();
        double[] mag = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            mag[i] = Math.abs((double) w[i]) * (1 + 0x1p-23); // |s·(q − z)| ≤ |fl(s·(q − z))|/(1 − u)
        }
        IntegerPathTesting.assertIntegerProduct(w, mag, rows, cols, cols / 32 + cols / t.group() + 3, x, n, bias, y,
                what);
    }

    @Test
    void repackIsLosslessAndProductsMatchTheDefinition() {
        Random rnd = new Random(SEED);
        for (int[] shape : SHAPES) {
            int rows = shape[0], cols = shape[1];
            for (AffineSpec spec : IntegerPathTesting.int4Specs(cols)) {
                NmSparseAffine src = random(rnd, rows, cols, spec);
                NmSparseInt4Tiles t = NmSparseInt4Tiles.of(src);
                String what = t.describe() + " [" + rows + ", " + cols + "] seed " + SEED;
                assertThat(t.dequantize()).as(what).isEqualTo(src.dequantize());
                int[] codes = src.codes();
                int[] idx = src.indices();
                for (int r = 0; r < rows; r++) {
                    for (int k = 0; k < cols / 2; k++) {
                        assertThat(t.code(r, k)).as(what).isEqualTo(codes[r * cols / 2 + k]);
                        assertThat(t.index(r, k)).as(what).isEqualTo(idx[r * cols / 2 + k]);
                    }
                }
                float[] x = gaussian(rnd, cols);
                float[] bias = gaussian(rnd, rows);
                float[] y = new float[rows];
                t.gemv(x, bias, y);
                assertIntegerProduct(src, t, x, 1, bias, y, what + " gemv");
                for (int n : new int[] {2, 8}) {
                    float[] xs = gaussian(rnd, n * cols);
                    float[] ys = new float[n * rows];
                    t.gemm(xs, n, null, ys);
                    assertIntegerProduct(src, t, xs, n, null, ys, what + " gemm n=" + n);
                    float[] y1 = new float[rows];
                    for (int i = 0; i < n; i++) {
                        t.gemv(Arrays.copyOfRange(xs, i * cols, (i + 1) * cols), null, y1);
                        assertThat(Arrays.copyOfRange(ys, i * rows, (i + 1) * rows)).as("%s gemm n=%d row %d = gemv",
                                what, n, i).isEqualTo(y1);
                    }
                }
                // more than 8 rows: decoded Ŵ and the dense GEMM on the exact x (the float bound)
                int n = 9;
                float[] xs = gaussian(rnd, n * cols);
                float[] ys = new float[n * rows];
                t.gemm(xs, n, bias, ys);
                IntegerPathTesting.assertFloatGemm(src.dequantize(), rows, cols, xs, n, bias, ys, what);
            }
        }
    }

    /** {@code vectorized()} follows the width the build forces (the simd-128/256/512 and scalar test runs). */
    @Test
    void vectorizedTellsTheWidth() {
        String expect = System.getProperty("lowbit.expect.vector.bits");
        if (expect != null) {
            assertThat(NmSparseInt4Tiles.vectorized()).as("expected width %s", expect)
                    .isEqualTo(expect.equals("512") || expect.equals("256") || expect.equals("128"));
        }
        int bits = lowbit.tensor.simd.VectorizationProvider.get().vectorBitSize();
        assertThat(NmSparseInt4Tiles.vectorized()).isEqualTo(bits == 512 || bits == 256 || bits == 128);
    }

    @Test
    void threadCountsGiveTheSameBits() {
        Random rnd = new Random(SEED + 1);
        NmSparseInt4Tiles t = NmSparseInt4Tiles.of(random(rnd, 200, 512, AffineSpec.groupsAlongIn(4, 128, false)));
        float[] x = gaussian(rnd, 512);
        float[] want = null;
        for (int threads : new int[] {1, 2, 3}) {
            Parallel.setParallelism(threads);
            float[] y = new float[200];
            t.gemv(x, null, y);
            if (want == null) {
                want = y;
            } else {
                assertThat(y).as("%d threads", threads).isEqualTo(want);
            }
        }
    }

    /** Outliers of the source are kept and honoured (at pruned and at kept positions). */
    @Test
    void outliersOverrideTheirPositions() {
        Random rnd = new Random(SEED + 3);
        int rows = 20, cols = 128;
        NmSparseAffine plainSrc = random(rnd, rows, cols, AffineSpec.groupsAlongIn(4, 64, false));
        int[] or = {0, 0, 7, 19};
        int[] oc = {3, 127, 64, 0};
        float[] ov = {12.5f, -3f, 0.25f, 100f};
        NmSparseAffine src = plainSrc.withOutliers(Outliers.of(rows, cols, or, oc, ov, lowbit.tensor.DType.F32));
        NmSparseInt4Tiles t = NmSparseInt4Tiles.of(src);
        assertThat(t.outliers().count()).isEqualTo(4);
        float[] wHat = t.dequantize();
        assertThat(wHat).isEqualTo(src.dequantize());
        assertThat(wHat[19 * cols]).isEqualTo(100f);
        float[] x = gaussian(rnd, cols);
        float[] y = new float[rows];
        t.gemv(x, null, y);
        float[] base = new float[rows];
        t.withOutliers(Outliers.none(rows, cols)).gemv(x, null, base);
        float[] plain = plainSrc.dequantize();
        IntegerPathTesting.assertOutliersAdded(plain, rows, cols, or, oc, ov, x, base, y);
    }

    @Test
    void badInputIsRejectedByName() {
        Random rnd = new Random(SEED + 2);
        NmSparseAffine four8 = NmSparseAffine.of(1, 32, 4, 8, AffineSpec.groupsAlongIn(4, 32, true), new int[16],
                new int[] {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}, new float[] {1}, null);
        assertThatThrownBy(() -> NmSparseInt4Tiles.of(four8)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2:4").hasMessageContaining("4:8");
        NmSparseAffine three = random3(rnd);
        assertThatThrownBy(() -> NmSparseInt4Tiles.of(three)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4-bit codes, got 3");
        NmSparseAffine g16 = random(rnd, 2, 64, AffineSpec.groupsAlongIn(4, 16, false));
        assertThatThrownBy(() -> NmSparseInt4Tiles.of(g16)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 32").hasMessageContaining("16");
        NmSparseAffine row40 = random(rnd, 2, 40, AffineSpec.perOutputChannel(4, false));
        assertThatThrownBy(() -> NmSparseInt4Tiles.of(row40)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 32").hasMessageContaining("40");
        NmSparseInt4Tiles t = NmSparseInt4Tiles.of(random(rnd, 3, 64, AffineSpec.groupsAlongIn(4, 32, false)));
        float[] x = gaussian(rnd, 64);
        x[17] = Float.NaN;
        assertThatThrownBy(() -> t.gemv(x, null, new float[3])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("NaN").hasMessageContaining("Q8_0");
        assertThatThrownBy(() -> t.gemv(new float[63], null, new float[3])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("63");
    }

    private static NmSparseAffine random3(Random rnd) {
        int[] codes = new int[16];
        int[] idx = new int[16];
        for (int g = 0; g < 8; g++) {
            idx[2 * g] = 0;
            idx[2 * g + 1] = 2;
            codes[2 * g] = rnd.nextInt(8);
            codes[2 * g + 1] = rnd.nextInt(8);
        }
        return NmSparseAffine.of(1, 32, 2, 4, AffineSpec.groupsAlongIn(3, 32, false), codes, idx, new float[] {0.5f},
                new int[] {3});
    }
}

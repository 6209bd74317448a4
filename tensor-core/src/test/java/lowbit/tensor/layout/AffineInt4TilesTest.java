package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link AffineInt4Tiles} against its source {@link GroupwiseAffine} and the definition: the repack is lossless
 * (codes and Ŵ bit for bit), the integer GEMV is the float evaluation of Ŵ·x̂ with x̂ = Q8_0(x) from ggml's reference
 * encoder, GEMM rows (n &le; 8) are the GEMV's bits, larger GEMMs are the float product with x, any thread count
 * gives the same bits, outliers are honoured, bad input is rejected by name.
 *
 * <p>Tolerance of the integer path, against an exact double evaluation of Ŵ·x̂ with the real x̂: γ_m·&Sigma;_c
 * |s_c|·(q_c + z_c)·|x̂_c| with m = cols/32 + groups + 3 — each term passes through at most one rounding per block
 * of its group's float sum, one for u = f − z·X̂ (X̂ itself rounded once per block), one for s·u and one per group of
 * the row sum; the code sum and the zero-point sum are bounded separately because they may cancel. Against the exact
 * Ŵ·x the quantization of x adds &Sigma;_c |Ŵ[r,c]|·|x_c − x̂_c| (computed exactly from the real x̂).
 */
@Tag("simd")
class AffineInt4TilesTest {
    private static final long SEED = 0x1_4_71_e5L;
    private static final int[][] SHAPES = {{1, 32}, {3, 64}, {16, 128}, {17, 96}, {33, 256}, {40, 384}, {5, 32 * 9}};

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    /** Asserts the integer-path bounds (class comment) for every X row of the product. */
    private static void assertIntegerProduct(AffineTesting.Instance in, float[] x, int n, float[] bias, float[] y,
            String what) {
        int rows = in.rows(), cols = in.cols();
        double[] mag = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                mag[r * cols + c] = Math.abs(in.scale(r, c)) * (in.codes()[r * cols + c] + in.zero(r, c));
            }
        }
        IntegerPathTesting.assertIntegerProduct(in.weights(), mag, rows, cols, cols / 32 + in.groupsPerRow() + 3, x, n,
                bias, y, what);
    }

    @Test
    void repackIsLosslessAndProductsMatchTheDefinition() {
        Random rnd = new Random(SEED);
        for (int[] shape : SHAPES) {
            int rows = shape[0], cols = shape[1];
            for (AffineSpec spec : IntegerPathTesting.int4Specs(cols)) {
                AffineTesting.Instance in = AffineTesting.random(rnd, rows, cols, spec, false);
                GroupwiseAffine src = in.build();
                AffineInt4Tiles t = AffineInt4Tiles.of(src);
                String what = t + " seed " + SEED;
                assertThat(t.dequantize()).as(what).isEqualTo(src.dequantize());
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        assertThat(t.code(r, c)).isEqualTo(in.codes()[r * cols + c]);
                    }
                }
                float[] x = AffineTesting.gaussian(rnd, cols);
                float[] bias = AffineTesting.gaussian(rnd, rows);
                float[] y = new float[rows];
                t.gemv(x, bias, y);
                assertIntegerProduct(in, x, 1, bias, y, what + " gemv");
                float[] y0 = new float[rows];
                t.gemv(x, null, y0);
                assertIntegerProduct(in, x, 1, null, y0, what + " gemv, no bias");
                for (int n : new int[] {2, 8}) {
                    float[] xs = AffineTesting.gaussian(rnd, n * cols);
                    float[] ys = new float[n * rows];
                    t.gemm(xs, n, null, ys);
                    float[] y1 = new float[rows];
                    for (int i = 0; i < n; i++) {
                        t.gemv(Arrays.copyOfRange(xs, i * cols, (i + 1) * cols), null, y1);
                        assertThat(Arrays.copyOfRange(ys, i * rows, (i + 1) * rows)).as("%s gemm n=%d row %d = gemv",
                                what, n, i).isEqualTo(y1);
                    }
                }
                // more than 8 rows: decoded tiles and the dense GEMM on the exact x (the float bound)
                int n = 9;
                float[] xs = AffineTesting.gaussian(rnd, n * cols);
                float[] ys = new float[n * rows];
                t.gemm(xs, n, bias, ys);
                IntegerPathTesting.assertFloatGemm(in.weights(), rows, cols, xs, n, bias, ys, what);
            }
        }
    }

    @Test
    void anyThreadCountGivesTheSameBits() {
        Random rnd = new Random(SEED + 1);
        AffineTesting.Instance in = AffineTesting.random(rnd, 16 * 37 + 5, 256,
                AffineSpec.groupsAlongIn(4, 128, false).withScaleType(DType.F16), false);
        AffineInt4Tiles t = AffineInt4Tiles.of(in.build());
        float[] x = AffineTesting.gaussian(rnd, 256);
        float[] xs = AffineTesting.gaussian(rnd, 5 * 256);
        float[][] ys = new float[3][];
        float[][] gs = new float[3][];
        for (int threads = 1; threads <= 3; threads++) {
            Parallel.setParallelism(threads);
            ys[threads - 1] = new float[in.rows()];
            t.gemv(x, null, ys[threads - 1]);
            gs[threads - 1] = new float[5 * in.rows()];
            t.gemm(xs, 5, null, gs[threads - 1]);
        }
        assertThat(ys[1]).isEqualTo(ys[0]);
        assertThat(ys[2]).isEqualTo(ys[0]);
        assertThat(gs[1]).isEqualTo(gs[0]);
        assertThat(gs[2]).isEqualTo(gs[0]);
        assertIntegerProduct(in, x, 1, null, ys[0], "threads");
    }

    @Test
    void outliersOverrideTheirPositions() {
        Random rnd = new Random(SEED + 2);
        int rows = 20, cols = 128;
        AffineTesting.Instance in = AffineTesting.random(rnd, rows, cols, AffineSpec.groupsAlongIn(4, 64, false), false);
        int[] or = {0, 0, 7, 19};
        int[] oc = {3, 127, 64, 0};
        float[] ov = {12.5f, -3f, 0.25f, 100f};
        Outliers o = Outliers.of(rows, cols, or, oc, ov, DType.F32);
        GroupwiseAffine src = in.build().withOutliers(o);
        AffineInt4Tiles t = AffineInt4Tiles.of(src);
        assertThat(t.outliers().count()).isEqualTo(4);
        float[] wHat = t.dequantize();
        assertThat(wHat).isEqualTo(src.dequantize());
        assertThat(wHat[19 * cols]).isEqualTo(100f);
        float[] x = AffineTesting.gaussian(rnd, cols);
        float[] y = new float[rows];
        t.gemv(x, null, y);
        float[] base = new float[rows];
        t.withOutliers(Outliers.none(rows, cols)).gemv(x, null, base);
        float[] plain = in.weights();
        IntegerPathTesting.assertOutliersAdded(plain, rows, cols, or, oc, ov, x, base, y);
    }

    @Test
    void rejectsWhatItCannotTileAndNonFiniteInput() {
        Random rnd = new Random(SEED + 3);
        GroupwiseAffine three = AffineTesting.random(rnd, 4, 128, AffineSpec.groupsAlongIn(3, 32, false), false).build();
        assertThatThrownBy(() -> AffineInt4Tiles.of(three)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4-bit codes, got 3");
        GroupwiseAffine g16 = AffineTesting.random(rnd, 4, 128, AffineSpec.groupsAlongIn(4, 16, false), false).build();
        assertThatThrownBy(() -> AffineInt4Tiles.of(g16)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 32 columns, got 16");
        GroupwiseAffine act = AffineTesting.random(rnd, 4, 128, AffineSpec.groupsAlongIn(4, 32, false), true).build();
        assertThatThrownBy(() -> AffineInt4Tiles.of(act)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("act-order");
        GroupwiseAffine col = AffineTesting.random(rnd, 4, 128, AffineSpec.perInputChannel(4, false), false).build();
        assertThatThrownBy(() -> AffineInt4Tiles.of(col)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("PER_INPUT_CHANNEL");
        GroupwiseAffine row48 = AffineTesting.random(rnd, 4, 48, AffineSpec.perOutputChannel(4, false), false).build();
        assertThatThrownBy(() -> AffineInt4Tiles.of(row48)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("got 48");
        assertThat(AffineInt4Tiles.unsupportedReason(row48)).contains("48");

        AffineInt4Tiles t = AffineInt4Tiles.of(AffineTesting.random(rnd, 4, 64, AffineSpec.groupsAlongIn(4, 32, false),
                false).build());
        float[] x = new float[64];
        x[33] = Float.NaN;
        assertThatThrownBy(() -> t.gemv(x, null, new float[4])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("element 33 is NaN");
        x[33] = Float.POSITIVE_INFINITY;
        assertThatThrownBy(() -> t.gemm(x, 1, null, new float[4])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Infinity");
        assertThatThrownBy(() -> t.gemv(new float[63], null, new float[4])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("63");
    }
}

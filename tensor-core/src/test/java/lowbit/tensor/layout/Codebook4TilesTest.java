package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.ScalarCodebookKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link Codebook4Tiles}: the repack is lossless (codes, absmax and Ŵ of the NF4/FP4 source bit for bit, double
 * quantized or not), the tile bytes are the documented ones (built here from the source's codes), the GEMV equals the
 * scalar twin's fixed order bit for bit (so every vector width and thread count gives the same bits) and the exact
 * product in double within γ_m·Σ|Ŵ·x|, m = blockSize/2 + cols/blockSize + 1 (the depth of the documented sums: a
 * block's even or odd partial, the blocks, the final E + O), small GEMMs equal their GEMV rows, large ones the
 * definition within the dense bound; outliers and bias are honoured; NaN in x propagates; shapes that cannot be tiled
 * are rejected by name.
 */
class Codebook4TilesTest {
    private static final long SEED = 0x7113_c0deL;

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static float[] gaussianX(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static void assertWithinBound(float[] w, int rows, int cols, int block, float[] x, float[] y, int n,
            String what) {
        CodebookTesting.assertWithinGamma(w, rows, cols, x, n, y, block / 2 + cols / block + 1, what);
    }

    @Test
    @Tag("simd") // the tile kernel at every vector width
    void repackIsLosslessAndProductsFollowTheContract() {
        Random rnd = new Random(SEED);
        int[][] shapes = {{1, 64, 64}, {15, 128, 64}, {16, 64, 32}, {17, 192, 64}, {33, 256, 128}, {40, 48, 8},
            {5, 24, 24}, {64, 512, 256}};
        for (int[] s : shapes) {
            int rows = s[0];
            int cols = s[1];
            int block = s[2];
            for (boolean nf4 : new boolean[] {true, false}) {
                for (boolean dq : new boolean[] {false, true}) {
                    String what = (nf4 ? "nf4" : "fp4") + " " + rows + "x" + cols + " b" + block + " dq " + dq
                            + " seed " + SEED;
                    float[] gauss = AffineTesting.gaussian(rnd, rows * cols);
                    Codebook4Matrix src = CodebookTesting.encode(nf4, gauss, rows, cols, block, dq);
                    Codebook4Tiles t = src.tiles();
                    float[] w = src.dequantize();
                    float[] a = src.absmax();
                    assertThat(t.dequantize()).as(what).containsExactly(w);
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            assertThat(t.code(r, c)).as("%s code[%d, %d]", what, r, c).isEqualTo(src.code(r, c));
                            assertThat(t.absmaxAt(r, c)).isEqualTo(a[(r * cols + c) / block]);
                        }
                    }
                    assertTileBytes(src, t);
                    assertThat(t.codebook()).containsExactly(src.codebook());
                    assertThat(t.describe()).startsWith(nf4 ? "nf4 b" + block : "fp4 b" + block).endsWith("tiles x16");

                    float[] x = gaussianX(rnd, cols);
                    float[] y = new float[rows];
                    t.gemv(x, null, y);
                    assertWithinBound(w, rows, cols, block, x, y, 1, what + " gemv");
                    float[] twin = twin(t, src, x);
                    assertThat(y).as(what + " gemv vs the scalar twin's order").containsExactly(twin);
                    for (int threads : new int[] {1, 2, 3}) {
                        Parallel.setParallelism(threads);
                        float[] yt = new float[rows];
                        t.gemv(x, null, yt);
                        assertThat(yt).as(what + " threads " + threads).containsExactly(y);
                    }
                    Parallel.setParallelism(Runtime.getRuntime().availableProcessors());

                    int n = 3;
                    float[] xs = gaussianX(rnd, n * cols);
                    float[] ys = new float[n * rows];
                    t.gemm(xs, n, null, ys);
                    for (int i = 0; i < n; i++) {
                        float[] yi = new float[rows];
                        t.gemv(Arrays.copyOfRange(xs, i * cols, (i + 1) * cols), null, yi);
                        assertThat(Arrays.copyOfRange(ys, i * rows, (i + 1) * rows)).as(what + " gemm row " + i)
                                .containsExactly(yi);
                    }
                    int big = 11;
                    float[] xb = gaussianX(rnd, big * cols);
                    float[] yb = new float[big * rows];
                    t.gemm(xb, big, null, yb);
                    IntegerPathTesting.assertFloatGemm(w, rows, cols, xb, big, new float[rows], yb,
                            what + " gemm n " + big);
                }
            }
        }
    }

    /** The kernel's documented order through the scalar twin on the layout's own parts. */
    private static float[] twin(Codebook4Tiles t, Codebook4Matrix src, float[] x) {
        int rows = t.rows();
        int cols = t.cols();
        int blocks = cols / t.blockSize();
        float[] absmax = new float[Codebook4Tiles.tiles(rows) * blocks * 16];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                absmax[((r / 16) * blocks + b) * 16 + r % 16] = t.absmaxAt(r, b * t.blockSize());
            }
        }
        float[] y = new float[rows];
        new ScalarCodebookKernels().gemvTiles(t.tiledCodes(), src.codebook(), cols, t.blockSize(), absmax, 0,
                Codebook4Tiles.tiles(rows), rows, x, 0, y, 0, ScalarGgmlKernels.FAST_FMA);
        return y;
    }

    /** Every byte of the tiles from the definition: W[r, c] at word 4·(r%16) of chunk c/8 of tile r/16, nibble c%8. */
    private static void assertTileBytes(Codebook4Matrix src, Codebook4Tiles t) {
        int rows = src.rows();
        int cols = src.cols();
        int tiles = Codebook4Tiles.tiles(rows);
        byte[] want = new byte[(int) (8L * cols * tiles)];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int at = (r / 16) * cols * 8 + 64 * (c / 8) + 4 * (r % 16) + (c % 8) / 2;
                want[at] |= (byte) (src.code(r, c) << (4 * (c % 2)));
            }
        }
        MemorySegment seg = t.tiledCodes();
        assertThat(seg.byteSize()).isGreaterThanOrEqualTo(want.length);
        byte[] got = seg.asSlice(0, want.length).toArray(ValueLayout.JAVA_BYTE);
        assertThat(got).as("tile bytes of " + src).containsExactly(want);
        assertThat(seg.isReadOnly()).isTrue();
    }

    @Test
    void outliersAndBiasAreHonoured() {
        Random rnd = new Random(SEED + 1);
        int rows = 21;
        int cols = 128;
        Nf4 src = Nf4.encode(AffineTesting.gaussian(rnd, rows * cols), rows, cols, 64, false);
        int[] or = {0, 3, 3, 20};
        int[] oc = {5, 0, 127, 64};
        float[] ov = {9.5f, -3.25f, 0.125f, 40f};
        Outliers out = Outliers.of(rows, cols, or, oc, ov, DType.F32);
        Codebook4Tiles t = src.tiles().withOutliers(out);
        float[] w = src.dequantize();
        for (int i = 0; i < or.length; i++) {
            w[or[i] * cols + oc[i]] = ov[i];
        }
        assertThat(t.dequantize()).containsExactly(w);
        float[] x = gaussianX(rnd, cols);
        float[] plain = new float[rows];
        src.tiles().gemv(x, null, plain);
        float[] y = new float[rows];
        t.gemv(x, null, y);
        IntegerPathTesting.assertOutliersAdded(src.dequantize(), rows, cols, or, oc, ov, x, plain, y);
        float[] bias = gaussianX(rnd, rows);
        float[] yb = new float[rows];
        t.gemv(x, bias, yb);
        for (int r = 0; r < rows; r++) {
            assertThat(yb[r]).as("bias added last, row %d", r).isEqualTo(y[r] + bias[r]);
        }
        assertThat(src.tiles().byteSize()).isEqualTo(8L * cols * 2 + 4L * 2 * (cols / 64) * 16);
    }

    @Test
    void nanInTheInputPropagates() {
        Random rnd = new Random(SEED + 2);
        Nf4 src = Nf4.encode(AffineTesting.gaussian(rnd, 20 * 64), 20, 64, 64, false);
        float[] x = gaussianX(rnd, 64);
        x[17] = Float.NaN;
        float[] y = new float[20];
        src.tiles().gemv(x, null, y);
        for (float v : y) {
            assertThat(v).isNaN();
        }
    }

    @Test
    void shapesThatCannotBeTiledAreRejectedByName() {
        Random rnd = new Random(SEED + 3);
        Nf4 across = Nf4.encode(AffineTesting.gaussian(rnd, 6 * 96), 6, 96, 64, false);
        assertThat(Codebook4Tiles.unsupportedReason(across)).contains("blocks within rows");
        assertThatThrownBy(across::tiles).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nf4 b64").hasMessageContaining("[6, 96]").hasMessageContaining("cols 96");
        Fp4 odd = Fp4.encode(AffineTesting.gaussian(rnd, 4 * 36), 4, 36, 12, false);
        assertThatThrownBy(() -> Codebook4Tiles.of(odd)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 8, got 12");
        Codebook4Tiles ok = Nf4.encode(AffineTesting.gaussian(rnd, 4 * 64), 4, 64, 64, false).tiles();
        assertThatThrownBy(() -> ok.gemv(new float[63], null, new float[4]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("x has 63 elements, expected 64");
        assertThatThrownBy(() -> ok.code(4, 0)).isInstanceOf(IndexOutOfBoundsException.class);
    }
}

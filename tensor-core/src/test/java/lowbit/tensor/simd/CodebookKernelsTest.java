package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The provider's {@link CodebookKernels} against {@link ScalarCodebookKernels}: block sizes below, at and above the
 * unit, blocks not a multiple of the unit (tails), blocks across rows and odd ones (scalar path), odd row counts,
 * sub-ranges of elements and rows, tight segments. Dequantize bit for bit; GEMV within 2·γ_m·Σ|Ŵ·x|,
 * m = cols + cols/blockSize + 3 (each is within γ_m of the exact value); a row's bits must not depend on the range.
 */
@Tag("simd")
class CodebookKernelsTest {
    private static final long SEED = 0xc0debeefL;
    private static final CodebookKernels REF = new ScalarCodebookKernels();
    private final CodebookKernels k = VectorizationProvider.get().codebooks();

    private static float[] table(Random r) {
        float[] t = new float[16];
        for (int i = 0; i < 16; i++) {
            t[i] = r.nextFloat() * 2 - 1;
        }
        return t;
    }

    @Test
    void matchesTheScalarTwin() {
        Random r = new Random(SEED);
        try (Arena arena = Arena.ofConfined()) {
            int[][] shapes = {{5, 64, 64}, {9, 128, 64}, {4, 96, 32}, {7, 48, 16}, {3, 40, 8}, {6, 200, 40}, {5, 66, 22},
                {11, 256, 128}, {2, 30, 7}, {3, 64, 96}, {1, 512, 256}, {8, 64, 2}};
            for (int[] s : shapes) {
                int rows = s[0];
                int cols = s[1];
                int block = s[2];
                long n = (long) rows * cols;
                long bytes = (n + 1) / 2;
                byte[] b = new byte[(int) bytes];
                r.nextBytes(b);
                MemorySegment codes = arena.allocate(bytes);
                codes.copyFrom(MemorySegment.ofArray(b));
                float[] t = table(r);
                int blocks = (int) ((n + block - 1) / block);
                float[] absmax = new float[blocks + 3];
                for (int i = 0; i < absmax.length; i++) {
                    absmax[i] = r.nextFloat() * 4;
                }
                int off = 3; // absmax[b − (−3)]: a block offset
                String what = rows + "x" + cols + " b" + block + " seed " + SEED + " on " + SimdTesting.providerName();
                float[] wRef = new float[(int) n];
                float[] w = new float[(int) n];
                REF.dequantize(codes, t, block, absmax, -off, 0, (int) n, wRef, 0);
                k.dequantize(codes, t, block, absmax, -off, 0, (int) n, w, 0);
                assertThat(w).as(what).containsExactly(wRef);
                for (int rep = 0; rep < 5; rep++) {
                    int first = r.nextInt((int) n);
                    int count = r.nextInt((int) n - first + 1);
                    float[] part = new float[count + 1];
                    k.dequantize(codes, t, block, absmax, -off, first, count, part, 1);
                    for (int i = 0; i < count; i++) {
                        assertThat(part[1 + i]).as(what + " first " + first).isEqualTo(wRef[first + i]);
                    }
                }
                float[] x = SimdTesting.randomFloats(r, cols + 2, 2f);
                float[] yRef = new float[rows];
                float[] y = new float[rows];
                REF.gemv(codes, t, cols, block, absmax, -off, x, 2, 0, rows, yRef, 0);
                k.gemv(codes, t, cols, block, absmax, -off, x, 2, 0, rows, y, 0);
                int m = cols + 1;
                double g = 2 * m * 0x1p-24 / (1 - m * 0x1p-24);
                for (int i = 0; i < rows; i++) {
                    double abs = 0;
                    for (int c = 0; c < cols; c++) {
                        abs += Math.abs((double) wRef[i * cols + c] * x[2 + c]);
                    }
                    assertThat((double) y[i]).as(what + " row " + i)
                            .isCloseTo(yRef[i], org.assertj.core.data.Offset.offset(g * abs * (1 + 0x1p-23) + Float.MIN_NORMAL));
                }
                int from = r.nextInt(rows);
                float[] y2 = new float[rows];
                k.gemv(codes, t, cols, block, absmax, -off, x, 2, from, rows, y2, 0);
                for (int i = from; i < rows; i++) {
                    assertThat(y2[i]).as(what + " from row " + from).isEqualTo(y[i]);
                }
            }
        }
    }

    /**
     * The GEMV on a prepared (even/odd) x against the exact product with the dequantized weights fl(table[q]·absmax):
     * each implementation within γ_(cols+1)·Σ|Ŵ·x|, the bound {@link CodebookKernels#gemvPrepared} documents (a dot
     * product of cols terms, split into lanes or not, rounds at most cols times along any term's path: Higham's γ_n),
     * row ranges giving the same bits. Shapes: blocks of 32..256 (two chunks per block, one load per chunk at 512 bits,
     * two at 256; at 128 the general kernel), the four- and single-row loops, a tight segment (scalar last rows).
     */
    @Test
    void preparedGemvMatchesTheExactProduct() {
        Random r = new Random(SEED + 1);
        AffineKernels nibbles = VectorizationProvider.get().affine();
        try (Arena arena = Arena.ofConfined()) {
            int[][] shapes = {{5, 64, 64}, {9, 128, 64}, {4, 96, 32}, {11, 256, 128}, {1, 512, 256}, {7, 320, 64},
                {2, 32, 32}};
            for (int[] s : shapes) {
                int rows = s[0];
                int cols = s[1];
                int block = s[2];
                assertThat(CodebookKernels.preparedShape(cols, block)).isTrue();
                long n = (long) rows * cols;
                byte[] b = new byte[(int) (n / 2)];
                r.nextBytes(b);
                MemorySegment codes = arena.allocate(n / 2);
                codes.copyFrom(MemorySegment.ofArray(b));
                float[] t = table(r);
                float[] absmax = new float[(int) (n / block) + 3];
                for (int i = 0; i < absmax.length; i++) {
                    absmax[i] = r.nextFloat() * 4;
                }
                String what = rows + "x" + cols + " b" + block + " seed " + (SEED + 1) + " on " + SimdTesting.providerName();
                float[] w = new float[(int) n];
                REF.dequantize(codes, t, block, absmax, -3, 0, (int) n, w, 0);
                float[] x = SimdTesting.randomFloats(r, cols + 2, 2f);
                int len = AffineKernels.nibbleInputLength(cols, cols);
                float[] xp = new float[len + 1];
                nibbles.prepareNibbleInput(x, 2, cols, cols, xp, 1);
                float[] yRef = new float[rows];
                float[] y = new float[rows];
                REF.gemvPrepared(codes, t, cols, block, absmax, -3, xp, 1, 0, rows, yRef, 0);
                k.gemvPrepared(codes, t, cols, block, absmax, -3, xp, 1, 0, rows, y, 0);
                int m = cols + 1;
                double g = m * 0x1p-24 / (1 - m * 0x1p-24);
                for (int i = 0; i < rows; i++) {
                    double exact = 0;
                    double abs = 0;
                    for (int c = 0; c < cols; c++) {
                        exact += (double) w[i * cols + c] * x[2 + c];
                        abs += Math.abs((double) w[i * cols + c] * x[2 + c]);
                    }
                    assertThat((double) yRef[i]).as(what + " scalar row " + i)
                            .isCloseTo(exact, org.assertj.core.data.Offset.offset(g * abs + Float.MIN_NORMAL));
                    assertThat((double) y[i]).as(what + " row " + i)
                            .isCloseTo(exact, org.assertj.core.data.Offset.offset(g * abs + Float.MIN_NORMAL));
                }
                int from = r.nextInt(rows);
                float[] y2 = new float[rows];
                k.gemvPrepared(codes, t, cols, block, absmax, -3, xp, 1, from, rows, y2, 0);
                for (int i = from; i < rows; i++) {
                    assertThat(y2[i]).as(what + " from row " + from).isEqualTo(y[i]);
                }
            }
        }
    }
}

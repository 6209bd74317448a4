package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link CodebookKernels#gemvTiles}: the active provider against the scalar twin bit for bit (the contract fixes the
 * float order per row), and the scalar twin against the contract written out here from its text — the tile byte and
 * nibble of W[r, c] computed from the definition (tile r/16 at (r/16)·cols·8, chunk c/8 at 64·(c/8), row word at
 * 4·(r%16), nibble c%8 at bits 4·(c%8) of the little-endian word) and the even/odd partial sums, block scaling and
 * final E + O, with and without fused multiply-adds. Block sizes 8 to 128 with 1 to 4 blocks per row, 1 to 5 tiles,
 * row counts that end inside a tile, tile sub-ranges (odd counts leave the 512-bit kernel a single last tile),
 * offsets into x and y, the NF4 table and a random one with a −0 entry. Runs at every vector width of the build.
 */
@Tag("simd")
class Codebook4TilesKernelTest {
    private static final long SEED = 0xc0deb4_7117L;
    private static final CodebookKernels REF = new ScalarCodebookKernels();
    private final CodebookKernels k = VectorizationProvider.get().codebooks();
    private static final float[] NF4 = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0f, 0.07958029955625534f,
        0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
        0.7229568362236023f, 1.0f};

    /** Random codes q[r][c] (padded rows 0) written into tiles by the definition in the class comment. */
    private static MemorySegment tilesOf(int[][] q, int tiles, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(1, 8L * cols * tiles), 64);
        for (int r = 0; r < q.length; r++) {
            for (int c = 0; c < cols; c++) {
                long word = (long) (r / 16) * cols * 8 + 64L * (c / 8) + 4L * (r % 16);
                int bit = 4 * (c % 8);
                long at = word + bit / 8;
                int old = seg.get(ValueLayout.JAVA_BYTE, at);
                seg.set(ValueLayout.JAVA_BYTE, at, (byte) (old | q[r][c] << (bit % 8)));
            }
        }
        return seg;
    }

    /** The contract's order for row r, from the codes q (not from the tiles). */
    private static float rowByContract(int[][] q, int r, float[] table, float[] absmax, int cols, int bs, float[] x,
            int xOff, boolean fma) {
        float even = 0f;
        float odd = 0f;
        for (int b = 0; b < cols / bs; b++) {
            float e = 0f;
            float o = 0f;
            for (int c = b * bs; c < (b + 1) * bs; c++) {
                float p = table[q[r][c]];
                if (c % 2 == 0) {
                    e = fma ? Math.fma(p, x[xOff + c], e) : e + p * x[xOff + c];
                } else {
                    o = fma ? Math.fma(p, x[xOff + c], o) : o + p * x[xOff + c];
                }
            }
            float a = absmax[((r / 16) * (cols / bs) + b) * 16 + r % 16];
            even = fma ? Math.fma(e, a, even) : even + e * a;
            odd = fma ? Math.fma(o, a, odd) : odd + o * a;
        }
        return even + odd;
    }

    @Test
    void kernelMatchesTheContractAndTheScalarTwinBitForBit() {
        Random rnd = new Random(SEED);
        float[] randomTable = new float[16];
        for (int i = 0; i < 16; i++) {
            randomTable[i] = (rnd.nextFloat() - 0.5f) * 3f;
        }
        randomTable[5] = -0f;
        int[] blockSizes = {8, 16, 24, 64, 128};
        int checked = 0;
        for (float[] table : new float[][] {NF4, randomTable}) {
            for (int bs : blockSizes) {
                for (int blocks = 1; blocks <= 4; blocks++) {
                    int cols = bs * blocks;
                    for (int tiles = 1; tiles <= 5; tiles++) {
                        for (int cut : new int[] {0, 1, 9, 15}) {
                            int rows = tiles * 16 - cut;
                            String what = "bs " + bs + " cols " + cols + " rows " + rows + " seed " + SEED;
                            int[][] q = new int[tiles * 16][cols];
                            for (int r = 0; r < rows; r++) {
                                for (int c = 0; c < cols; c++) {
                                    q[r][c] = rnd.nextInt(16);
                                }
                            }
                            MemorySegment seg = tilesOf(q, tiles, cols);
                            float[] absmax = new float[tiles * blocks * 16];
                            for (int r = 0; r < rows; r++) {
                                for (int b = 0; b < blocks; b++) {
                                    absmax[((r / 16) * blocks + b) * 16 + r % 16] = 0.001f + rnd.nextFloat() * 0.1f;
                                }
                            }
                            int xOff = rnd.nextInt(5);
                            float[] x = new float[xOff + cols];
                            for (int i = 0; i < x.length; i++) {
                                x[i] = (float) (rnd.nextGaussian() * Math.exp(3 * rnd.nextGaussian()));
                            }
                            int tileFrom = rnd.nextInt(tiles);
                            int tileTo = tileFrom + 1 + rnd.nextInt(tiles - tileFrom);
                            int yOff = rnd.nextInt(4);
                            int n = Math.min(rows, 16 * tileTo) - 16 * tileFrom;
                            boolean fast = ScalarGgmlKernels.FAST_FMA;
                            for (boolean fma : new boolean[] {fast, !fast}) {
                                float[] want = new float[yOff + n + 2];
                                float[] twin = want.clone();
                                float[] got = want.clone();
                                java.util.Arrays.fill(twin, 7f);
                                java.util.Arrays.fill(got, 7f);
                                java.util.Arrays.fill(want, 7f);
                                for (int i = 0; i < n; i++) {
                                    want[yOff + i] = rowByContract(q, 16 * tileFrom + i, table, absmax, cols, bs, x,
                                            xOff, fma);
                                }
                                REF.gemvTiles(seg, table, cols, bs, absmax, tileFrom, tileTo, rows, x, xOff, twin,
                                        yOff, fma);
                                k.gemvTiles(seg, table, cols, bs, absmax, tileFrom, tileTo, rows, x, xOff, got, yOff,
                                        fma);
                                assertThat(twin).as("twin vs contract, fma " + fma + ", " + what).containsExactly(want);
                                assertThat(got).as("provider vs twin, fma " + fma + ", " + what).containsExactly(twin);
                                checked++;
                            }
                        }
                    }
                }
            }
        }
        assertThat(checked).isEqualTo(2 * 5 * 4 * 5 * 4 * 2);
    }

    @Test
    void tileCodeReadsTheDefinedNibble() {
        Random rnd = new Random(SEED + 1);
        int cols = 24;
        int[][] q = new int[32][cols];
        for (int[] row : q) {
            for (int c = 0; c < cols; c++) {
                row[c] = rnd.nextInt(16);
            }
        }
        MemorySegment seg = tilesOf(q, 2, cols);
        for (int r = 0; r < 32; r++) {
            for (int c = 0; c < cols; c++) {
                assertThat(ScalarCodebookKernels.tileCode(seg, cols, r, c)).as("W[%d, %d]", r, c).isEqualTo(q[r][c]);
            }
        }
        // one byte spelled out: row 17 (tile 1, word 1), columns 10 and 11 (chunk 1, byte 1 of the word)
        long at = 1L * cols * 8 + 64 + 4 + 1;
        assertThat(CodebookKernels.tileByte(cols, 17, 10)).isEqualTo(at);
        assertThat(CodebookKernels.tileByte(cols, 17, 11)).isEqualTo(at);
        assertThat(seg.get(ValueLayout.JAVA_BYTE, at) & 0xFF).isEqualTo(q[17][10] | q[17][11] << 4);
    }
}

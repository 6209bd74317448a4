package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link AffineKernels#gemvInt4Tiles} of the active provider against the scalar twin, bit for bit (the contract fixes
 * the float order per row), on random tiles, scales, zero points and Q8_0 activations: tile counts 1..5, valid rows
 * that end inside a part (1, 7, 15, 17, 33 ...), block counts 1..9 with groups of 1, 2, 3 and 4 blocks, a tile range
 * that starts after tile 0, and extreme codes (all 15 against activations of ±127) where the 16-bit lane sums reach
 * their largest magnitude. Runs at every vector width of the build (128/256/512 bits) and in scalar mode.
 */
@Tag("simd")
class Int4TilesKernelTest {
    private static final long SEED = 0x17_4ee1L;
    private static final AffineKernels REF = new ScalarAffineKernels();
    private static final GgmlKernels G = VectorizationProvider.get().ggml();
    private final AffineKernels k = VectorizationProvider.get().affine();

    @Test
    void simdMatchesScalarTwinBitForBit() {
        Random rnd = new Random(SEED);
        int[][] blockGroups = {{1, 1}, {2, 1}, {2, 2}, {3, 3}, {4, 4}, {8, 4}, {9, 3}, {6, 2}};
        for (int[] bg : blockGroups) {
            int nb = bg[0], gb = bg[1], groups = nb / gb;
            for (int tiles = 1; tiles <= 5; tiles++) {
                for (int extreme = 0; extreme < 2; extreme++) {
                    int tileBytes = AffineKernels.INT4_TILE_BLOCK_BYTES * nb;
                    MemorySegment w = Arena.ofAuto().allocate((long) tiles * tileBytes, 64);
                    for (long i = 0; i < w.byteSize(); i++) {
                        w.set(ValueLayout.JAVA_BYTE, i, (byte) (extreme == 1 ? 0xFF : rnd.nextInt(256)));
                    }
                    float[] scales = new float[tiles * groups * 16 + 16];
                    float[] zeros = new float[scales.length];
                    for (int i = 0; i < scales.length; i++) {
                        scales[i] = (rnd.nextFloat() - 0.3f) * 0.02f;
                        zeros[i] = rnd.nextInt(16);
                    }
                    float[] x = new float[32 * nb];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = extreme == 1 ? (i % 2 == 0 ? 3f : -3f) * (1 + i % 5) : (float) rnd.nextGaussian();
                    }
                    int[] act = new int[GgmlKernels.PAIR_INTS * nb + 3];
                    int actOff = 3;
                    G.quantizeQ8_0Pairs(x, 0, act, actOff, nb);
                    G.pairsForQ4_0(act, actOff, nb);
                    float[] sums = new float[groups + 1];
                    for (int g = 0; g < groups; g++) {
                        sums[1 + g] = (float) (rnd.nextGaussian() * 10);
                    }
                    for (int rows : new int[] {1, 7, 15, 16, 17, 31, 33, 16 * tiles - 3, 16 * tiles}) {
                        if (rows > 16 * tiles) {
                            continue;
                        }
                        for (int t0 = 0; t0 < Math.min(2, tiles); t0++) {
                            int tl = tiles - t0;
                            int valid = Math.min(rows, 16 * tl);
                            float[] want = new float[valid + 2];
                            float[] got = new float[valid + 2];
                            java.util.Arrays.fill(want, 42f);
                            java.util.Arrays.fill(got, 42f);
                            long wOff = (long) t0 * tileBytes;
                            int sOff = t0 * groups * 16 + 5;
                            REF.gemvInt4Tiles(w, wOff, tl, nb, gb, scales, zeros, sOff, act, actOff, sums, 1, want, 1,
                                    valid);
                            k.gemvInt4Tiles(w, wOff, tl, nb, gb, scales, zeros, sOff, act, actOff, sums, 1, got, 1,
                                    valid);
                            assertThat(got).as("nb=%d gb=%d tiles=%d t0=%d rows=%d extreme=%d (%s)", nb, gb, tiles, t0,
                                    valid, extreme, VectorizationProvider.get()).isEqualTo(want);
                            assertThat(got[0]).as("before y").isEqualTo(42f);
                            assertThat(got[valid + 1]).as("after the valid rows").isEqualTo(42f);
                        }
                    }
                }
            }
        }
    }

    /**
     * The scalar twin against its definition, for one row: Σ_g s_g·(Σ_b d_b·S_b − z_g·X̂_g) in double, with S_b the
     * integer block product of the codes (read from the tile order by hand) and the activation codes a = round(x/d).
     */
    @Test
    void scalarTwinComputesTheDocumentedSum() {
        Random rnd = new Random(SEED + 1);
        int nb = 4, gb = 2, groups = 2;
        MemorySegment w = Arena.ofAuto().allocate(AffineKernels.INT4_TILE_BLOCK_BYTES * nb, 64);
        int[][] q = new int[16][32 * nb];
        for (int r = 0; r < 16; r++) {
            for (int c = 0; c < 32 * nb; c++) {
                q[r][c] = rnd.nextInt(16);
            }
        }
        for (int r = 0; r < 16; r++) {
            for (int b = 0; b < nb; b++) {
                for (int c = 0; c < 8; c++) {
                    for (int e = 0; e < 2; e++) {
                        int v = q[r][32 * b + 4 * c + e] | q[r][32 * b + 4 * c + 2 + e] << 4;
                        w.set(ValueLayout.JAVA_BYTE, 256L * b + 32 * c + 2 * r + e, (byte) v);
                    }
                }
            }
        }
        float[] x = new float[32 * nb];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        int[] act = new int[GgmlKernels.PAIR_INTS * nb];
        G.quantizeQ8_0Pairs(x, 0, act, 0, nb);
        int[] a = new int[32 * nb];
        double[] d = new double[nb];
        for (int b = 0; b < nb; b++) {
            for (int m = 0; m < 16; m++) {
                a[32 * b + 2 * m] = (short) act[GgmlKernels.PAIR_INTS * b + m];
                a[32 * b + 2 * m + 1] = act[GgmlKernels.PAIR_INTS * b + m] >> 16;
            }
            d[b] = Float.intBitsToFloat(act[GgmlKernels.PAIR_INTS * b + 17]);
        }
        G.pairsForQ4_0(act, 0, nb);
        float[] scales = new float[groups * 16];
        float[] zeros = new float[groups * 16];
        float[] sums = new float[groups];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = rnd.nextFloat() * 0.01f;
            zeros[i] = rnd.nextInt(16);
        }
        double[] xs = new double[groups];
        for (int g = 0; g < groups; g++) {
            for (int b = g * gb; b < (g + 1) * gb; b++) {
                for (int j = 0; j < 32; j++) {
                    xs[g] += d[b] * a[32 * b + j];
                }
            }
            sums[g] = (float) xs[g];
        }
        float[] y = new float[16];
        REF.gemvInt4Tiles(w, 0, 1, nb, gb, scales, zeros, 0, act, 0, sums, 0, y, 0, 16);
        for (int r = 0; r < 16; r++) {
            double want = 0;
            double mag = 0;
            for (int g = 0; g < groups; g++) {
                double u = 0;
                for (int b = g * gb; b < (g + 1) * gb; b++) {
                    long s = 0;
                    for (int j = 0; j < 32; j++) {
                        s += (long) q[r][32 * b + j] * a[32 * b + j];
                        mag += Math.abs(scales[g * 16 + r]) * (q[r][32 * b + j] + zeros[g * 16 + r])
                                * Math.abs(d[b] * a[32 * b + j]);
                    }
                    u += d[b] * s;
                }
                want += scales[g * 16 + r] * (u - zeros[g * 16 + r] * (double) sums[g]);
            }
            // float evaluation: at most gb + groups + 3 roundings on any term of the |s|(q + z)|x̂| sum
            int m = gb + groups + 3;
            double bound = m * 0x1p-24 / (1 - m * 0x1p-24) * mag;
            assertThat(Math.abs(y[r] - want)).as("row %d: %s vs %s", r, y[r], want).isLessThanOrEqualTo(bound);
        }
    }
}

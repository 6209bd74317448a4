package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link SparseKernels#gemvNm24Int4Tiles} of the active provider against the scalar twin, bit for bit (the contract
 * fixes the float order per row), on random tiles, index words, scales, zero points and activation codes: tile counts
 * 1..5, valid rows that end inside a tile (1, 7, 15, 17, 33 ...), block counts 1..9 with groups of 1..4 blocks,
 * offsets into every array, and extreme blocks (every code 15, zero point 0, every activation code +127 or −127)
 * where the 16-bit lane sums reach their largest magnitude (8·15·127). The scalar twin's block sum is also checked
 * against S = &Sigma; (q − z)·a written out from the format's definition. Runs at every vector width of the build and in
 * scalar mode.
 */
@Tag("simd")
class Nm24Int4TilesKernelTest {
    private static final long SEED = 0x24_4711L;
    private static final SparseKernels REF = new ScalarSparseKernels();
    private final SparseKernels k = VectorizationProvider.get().sparse();

    @Test
    void simdMatchesScalarTwinBitForBit() {
        Random rnd = new Random(SEED);
        int[][] blockGroups = {{1, 1}, {2, 1}, {2, 2}, {3, 3}, {4, 4}, {8, 4}, {9, 3}, {6, 2}};
        for (int[] bg : blockGroups) {
            int nb = bg[0], gb = bg[1], groups = nb / gb;
            for (int tiles = 1; tiles <= 5; tiles++) {
                for (int extreme = 0; extreme < 3; extreme++) {
                    long codeOff = 64;
                    MemorySegment codes = Arena.ofAuto().allocate(codeOff + (long) tiles * nb * 128, 64);
                    for (long i = 0; i < codes.byteSize(); i++) {
                        codes.set(ValueLayout.JAVA_BYTE, i, (byte) (extreme > 0 ? 0xFF : rnd.nextInt(256)));
                    }
                    int idxOff = 5;
                    long[] idx = new long[idxOff + tiles * nb * 8];
                    for (int i = 0; i < idx.length; i++) {
                        idx[i] = rnd.nextLong();
                    }
                    int sOff = 3, zOff = 7;
                    float[] scales = new float[sOff + tiles * groups * 16];
                    short[] zeros = new short[zOff + tiles * groups * 32];
                    for (int i = 0; i < scales.length; i++) {
                        scales[i] = (rnd.nextFloat() - 0.3f) * 0.02f;
                    }
                    for (int i = 0; i < tiles * groups; i++) { // a row's zero point at both of its lanes
                        for (int r = 0; r < 16; r++) {
                            short z = (short) (extreme > 0 ? 0 : rnd.nextInt(16));
                            zeros[zOff + 32 * i + r] = z;
                            zeros[zOff + 32 * i + 16 + r] = z;
                        }
                    }
                    int actOff = 2, dOff = 1;
                    long[] act = new long[actOff + 8 * nb];
                    for (int i = 0; i < act.length; i++) {
                        long w = 0;
                        for (int c = 0; c < 4; c++) {
                            int a = extreme == 1 ? 127 : extreme == 2 ? -127 : rnd.nextInt(255) - 127;
                            w |= (a & 0xFFFFL) << (16 * c);
                        }
                        act[i] = w;
                    }
                    float[] d = new float[dOff + nb];
                    for (int i = 0; i < d.length; i++) {
                        d[i] = rnd.nextFloat() * 0.05f;
                    }
                    for (int rows : new int[] {1, 7, 15, 16, 17, 31, 33, 16 * tiles - 3, 16 * tiles}) {
                        if (rows > 16 * tiles || rows <= 16 * (tiles - 1)) {
                            continue;
                        }
                        float[] want = new float[rows + 2];
                        float[] got = new float[rows + 2];
                        REF.gemvNm24Int4Tiles(codes, codeOff, idx, idxOff, tiles, nb, gb, scales, sOff, zeros, zOff, act,
                                actOff, d, dOff, want, 2, rows);
                        k.gemvNm24Int4Tiles(codes, codeOff, idx, idxOff, tiles, nb, gb, scales, sOff, zeros, zOff, act,
                                actOff, d, dOff, got, 2, rows);
                        assertThat(got).as("nb %d gb %d tiles %d rows %d extreme %d", nb, gb, tiles, rows, extreme)
                                .isEqualTo(want);
                    }
                }
            }
        }
    }

    @Test
    void blockSumFollowsTheFormatDefinition() {
        Random rnd = new Random(SEED + 1);
        MemorySegment codes = Arena.ofAuto().allocate(128);
        byte[] bytes = new byte[128];
        rnd.nextBytes(bytes);
        MemorySegment.copy(bytes, 0, codes, ValueLayout.JAVA_BYTE, 0, 128);
        long[] idx = new long[8];
        long[] act = new long[8];
        int[][] a = new int[8][4];
        for (int g = 0; g < 8; g++) {
            idx[g] = rnd.nextLong();
            for (int c = 0; c < 4; c++) {
                a[g][c] = rnd.nextInt(255) - 127;
                act[g] |= (a[g][c] & 0xFFFFL) << (16 * c);
            }
        }
        for (int r = 0; r < 16; r++) {
            int z = rnd.nextInt(16);
            int want = 0;
            for (int g = 0; g < 8; g++) {
                for (int p = 0; p < 2; p++) {
                    int lane = 16 * p + r;
                    // chunk g/2, byte lane: group g's code in the low nibble for even g, the high one for odd g
                    int b = bytes[32 * (g / 2) + lane] & 0xFF;
                    int q = g % 2 == 0 ? b & 15 : b >> 4;
                    // lane = 4c + s: bits 16s + 2c of the word
                    int i = (int) ((idx[g] >>> (16 * (lane % 4) + 2 * (lane / 4))) & 3);
                    want += (q - z) * a[g][i];
                }
            }
            assertThat(ScalarSparseKernels.nm24TileBlockDot(codes, 0, idx, 0, act, 0, r, z)).as("row %d", r)
                    .isEqualTo(want);
        }
    }
}

package lowbit.tensor.simd.panama;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import lowbit.tensor.PackedInts;
import lowbit.tensor.simd.SparseKernels;
import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The two forms of the 2:4 GEMV, {@link PanamaTwoFourKernels} (two-vector permute) and {@link PanamaTwoFourBlendKernels}
 * (in-lane blends over x prepared once), give the same bits at this JVM's vector width, whichever of them the
 * provider picks here: they put the same kept value in the same lane and sum in the same order. Random 2:4 rows
 * (every one of the six in-group index pairs occurs), column counts with and without a partial last block, row
 * counts that use the four-row and the single-row loops; the quantized form at every code width the blend decode
 * takes. (Both forms are checked against the scalar twin through the provider by {@code SparseKernelsTest}.)
 */
@Tag("simd")
class TwoFourSelectTest {
    private static final long SEED = 0x24_b1e4dL;
    /** Float lanes (read only after the Vector API check: this class also loads where the module is absent). */
    private int L;

    @BeforeEach
    void needsTheVectorApi() {
        Assumptions.assumeTrue(VectorizationProvider.get().name().equals("panama"), "needs the Vector API");
        L = Species.F.length();
        Assumptions.assumeTrue(PanamaTwoFourKernels.supported(), "no 2:4 kernels at " + L + " lanes");
    }

    /** Random 2:4 in-group index streams, {@code rb} bytes per row, in a segment with a word of slack. */
    private static MemorySegment indices(Random r, int rows, int cols, long rb, Arena arena) {
        int[][] pairs = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
        int kept = cols / 2;
        int[] in = new int[kept];
        MemorySegment s = arena.allocate(rows * rb + 8);
        for (int row = 0; row < rows; row++) {
            for (int g = 0; g < cols / 4; g++) {
                int[] p = pairs[r.nextInt(6)];
                in[2 * g] = p[0];
                in[2 * g + 1] = p[1];
            }
            PackedInts.pack(in, 0, kept, 2, false, s.asSlice(row * rb, rb), 0);
        }
        return s;
    }

    private static float[] randoms(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    @Test
    void floatRowsHaveTheSameBitsEitherWay() {
        Random r = new Random(SEED);
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {4, 2 * L - 4, 2 * L, 2 * L + 4, 6 * L + 8, 64 * L - 4, 1000}) {
                if (cols % 4 != 0) {
                    continue;
                }
                for (int rows : new int[] {1, 3, 4, 5, 9}) {
                    int kept = cols / 2;
                    long rb = PackedInts.byteSize(kept, 2);
                    MemorySegment idx = indices(r, rows, cols, rb, arena);
                    float[] vals = randoms(r, rows * kept + SparseKernels.VALUE_PADDING);
                    float[] x = randoms(r, cols + 5);
                    float[] permute = new float[rows + 2];
                    float[] blend = new float[rows + 2];
                    PanamaTwoFourKernels.gemv(cols, vals, 0, idx, 0, rb, x, 5, permute, 2, rows);
                    PanamaTwoFourBlendKernels.gemv(cols, vals, 0, idx, 0, rb, x, 5,
                            PanamaTwoFourBlendKernels.prepare(x, 5, cols), blend, 2, rows);
                    assertThat(blend).as("cols %d rows %d at %d lanes", cols, rows, L).isEqualTo(permute);
                }
            }
        }
    }

    @Test
    void quantizedRowsHaveTheSameBitsEitherWay() {
        Random r = new Random(SEED + 1);
        int unit = PanamaAffineKernels.U;
        int checked = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (int bits = 2; bits <= 8; bits++) { // the code widths of the affine layouts
                if (!PanamaTwoFourBlendKernels.affineBits(bits)) {
                    continue;
                }
                for (int group : new int[] {2 * unit, 4 * unit, 128}) {
                    for (int groups : new int[] {1, 3}) {
                        int cols = group * groups;
                        int rows = 1 + r.nextInt(9);
                        int kept = cols / 2;
                        long rb = PackedInts.byteSize(kept, 2);
                        MemorySegment idx = indices(r, rows, cols, rb, arena);
                        long crb = PackedInts.byteSize(kept, bits);
                        MemorySegment codes = arena.allocate(rows * crb + 64); // every row's vector loads inside
                        byte[] raw = new byte[(int) codes.byteSize()];
                        r.nextBytes(raw);
                        codes.copyFrom(MemorySegment.ofArray(raw));
                        float[] scales = randoms(r, rows * groups);
                        byte[] zeros = r.nextBoolean() ? null : new byte[rows * groups];
                        if (zeros != null) {
                            for (int i = 0; i < zeros.length; i++) {
                                zeros[i] = (byte) r.nextInt(1 << bits);
                            }
                        }
                        int zc = 1 << (bits - 1);
                        float[] x = randoms(r, cols);
                        int perGroup = group / 2; // kept values per group
                        int units = perGroup / unit;
                        long unitBytes = (long) unit * bits / 8;
                        float[] permute = new float[rows];
                        float[] blend = new float[rows];
                        PanamaTwoFourKernels.gemvAffine(codes, 0, crb, bits, groups, units, unitBytes, scales, 0,
                                groups, zeros, zc, idx, 0, rb, x, 0, permute, 0, rows);
                        PanamaTwoFourBlendKernels.gemvAffine(codes, 0, crb, bits, groups,
                                units * PanamaAffineKernels.P, scales, 0, groups, zeros, zc, idx, 0, rb,
                                PanamaTwoFourBlendKernels.prepare(x, 0, cols), blend, 0, rows);
                        assertThat(blend).as("bits %d group %d cols %d rows %d at %d lanes", bits, group, cols, rows,
                                L).isEqualTo(permute);
                        checked++;
                    }
                }
            }
        }
        assertThat(checked).as("code widths the blend decode takes at %d lanes", L).isPositive();
    }
}

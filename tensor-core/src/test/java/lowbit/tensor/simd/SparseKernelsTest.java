package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import lowbit.tensor.PackedInts;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The provider's {@link SparseKernels} against {@link ScalarSparseKernels} on random data: N:M patterns the vector
 * tables cover and ones they do not (M above the lane count at 128 bits, N·⌈log₂M⌉ &gt; 12), column counts with and
 * without a partial last chunk, row counts that use the four-row and the single-row loops, index streams in tight
 * segments (ending at the last byte), every code width for the quantized form, and column subsets with every row
 * tail. Run at 128/256/512 bits by the simd-* executions.
 *
 * <p>Both implementations are within γ_m·T of the exact sum, T = Σ|v·x| over the kept values and m = kept + groups + 3
 * (the number of roundings on any path: one per product, one per add, one per group scale, the lane fold), so they
 * may differ by 2·γ_m·T. A row's bits must not depend on the rows computed with it.
 */
@Tag("simd")
class SparseKernelsTest {
    private static final long SEED = 0x5ba5_2e_4a11L;
    private static final SparseKernels REF = new ScalarSparseKernels();
    private final SparseKernels k = VectorizationProvider.get().sparse();

    private static final int[][] PATTERNS = {{2, 4}, {1, 4}, {3, 4}, {4, 8}, {2, 8}, {1, 2}, {8, 16}, {3, 16}, {2, 3},
        {5, 8}, {1, 32}};

    private static double gamma(int m) {
        return m * 0x1p-24 / (1 - m * 0x1p-24);
    }

    private static int bitsFor(int m) {
        return 32 - Integer.numberOfLeadingZeros(m - 1);
    }

    /** Random increasing in-group indices (rows·kept) packed per row into a tight native segment. */
    private static MemorySegment indices(Random r, int rows, int cols, int n, int m, int[] out, Arena arena) {
        int kept = cols / m * n;
        int b = bitsFor(m);
        long rb = PackedInts.byteSize(kept, b);
        for (int row = 0; row < rows; row++) {
            for (int g = 0; g < cols / m; g++) {
                boolean[] take = new boolean[m];
                for (int c = 0; c < n;) {
                    int i = r.nextInt(m);
                    if (!take[i]) {
                        take[i] = true;
                        c++;
                    }
                }
                int o = row * kept + g * n;
                for (int i = 0; i < m; i++) {
                    if (take[i]) {
                        out[o++] = i;
                    }
                }
            }
        }
        MemorySegment s = arena.allocate(Math.max(1, rows * rb)).asSlice(0, rows * rb);
        for (int row = 0; row < rows; row++) {
            PackedInts.pack(out, row * kept, kept, b, false, s.asSlice(row * rb, rb), 0);
        }
        return s;
    }

    @Test
    void nmFloatRowsMatchTheScalarTwin() {
        Random r = new Random(SEED);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] p : PATTERNS) {
                int n = p[0], m = p[1];
                for (int groups : new int[] {1, 2, 3, 4, 5, 7, 8, 16, 33, 64}) {
                    int cols = groups * m;
                    int rows = 1 + r.nextInt(10);
                    int kept = groups * n;
                    int[] in = new int[rows * kept];
                    MemorySegment idx = indices(r, rows, cols, n, m, in, arena);
                    float[] vals = SimdTesting.randomFloats(r, rows * kept + SparseKernels.VALUE_PADDING, 1f);
                    float[] x = SimdTesting.randomFloats(r, cols + 3, 2f);
                    float[] want = new float[rows + 1];
                    float[] got = new float[rows + 1];
                    long rb = PackedInts.byteSize(kept, bitsFor(m));
                    REF.gemvNm(n, m, bitsFor(m), cols, vals, 0, idx, 0, rb, x, 3, want, 1, rows);
                    k.gemvNm(n, m, bitsFor(m), cols, vals, 0, idx, 0, rb, x, 3, got, 1, rows);
                    // x prepared once (as the layouts do) gives the same bits
                    float[] prepared = new float[rows + 1];
                    k.gemvNm(n, m, bitsFor(m), cols, vals, 0, idx, 0, rb, x, 3, k.prepareTwoFour(x, 3, cols),
                            prepared, 1, rows);
                    assertThat(prepared).as("prepared x, %d:%d cols %d", n, m, cols).isEqualTo(got);
                    String what = n + ":" + m + " cols " + cols + " rows " + rows + " seed " + SEED + " on "
                            + SimdTesting.providerName();
                    for (int row = 0; row < rows; row++) {
                        double t = 0;
                        for (int j = 0; j < kept; j++) {
                            t += Math.abs(vals[row * kept + j] * x[3 + (j / n) * m + in[row * kept + j]]);
                        }
                        assertThat((double) got[1 + row]).as(what + " row " + row)
                                .isCloseTo(want[1 + row], org.assertj.core.data.Offset.offset(2 * gamma(kept + groups + 3) * t + 1e-30));
                        // the same row alone gives the same bits
                        float[] one = new float[1];
                        k.gemvNm(n, m, bitsFor(m), cols, vals, row * kept, idx, row * rb, rb, x, 3, one, 0, 1);
                        assertThat(one[0]).as(what + " row " + row + " alone").isEqualTo(got[1 + row]);
                    }
                }
            }
        }
    }

    @Test
    void prunedInputsAreSkippedNotMultipliedByZero() {
        // 2:4, kept {0, 2} in every group; x is infinite at every pruned column
        int cols = 64;
        int kept = 32;
        int[] in = new int[kept];
        for (int g = 0; g < 16; g++) {
            in[2 * g] = 0;
            in[2 * g + 1] = 2;
        }
        MemorySegment idx = MemorySegment.ofArray(PackedInts.pack(in, 2, false));
        float[] vals = new float[kept + SparseKernels.VALUE_PADDING];
        java.util.Arrays.fill(vals, 0, kept, 0.5f);
        float[] x = new float[cols];
        for (int c = 0; c < cols; c++) {
            x[c] = c % 4 == 0 || c % 4 == 2 ? 1f : Float.POSITIVE_INFINITY;
        }
        float[] y = new float[1];
        k.gemvNm(2, 4, 2, cols, vals, 0, idx, 0, 8, x, 0, y, 0, 1);
        assertThat(y[0]).isEqualTo(16f);
    }

    @Test
    void nmAffineRowsMatchTheScalarTwin() {
        Random r = new Random(SEED + 1);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] p : new int[][] {{2, 4}, {4, 8}, {1, 4}, {8, 16}, {3, 8}}) {
                int n = p[0], m = p[1];
                for (int bits = 2; bits <= 8; bits++) {
                    for (int group : new int[] {m, 2 * m, 16, 32, 64, 128, 256}) {
                        if (group % m != 0) {
                            continue;
                        }
                        for (int groups : new int[] {1, 2, 3}) {
                            int cols = group * groups;
                            int rows = 1 + r.nextInt(10);
                            int kept = cols / m * n;
                            int[] in = new int[rows * kept];
                            MemorySegment idx = indices(r, rows, cols, n, m, in, arena);
                            long crb = PackedInts.byteSize(kept, bits);
                            byte[] raw = new byte[(int) (rows * crb)];
                            r.nextBytes(raw);
                            MemorySegment codes = arena.allocate(Math.max(1, raw.length)).asSlice(0, raw.length);
                            codes.copyFrom(MemorySegment.ofArray(raw));
                            float[] scales = SimdTesting.randomFloats(r, rows * groups, 0.1f);
                            boolean asym = r.nextBoolean();
                            byte[] zeros = null;
                            if (asym) {
                                zeros = new byte[rows * groups];
                                for (int i = 0; i < zeros.length; i++) {
                                    zeros[i] = (byte) r.nextInt(1 << bits);
                                }
                            }
                            int zc = 1 << (bits - 1);
                            float[] x = SimdTesting.randomFloats(r, cols, 2f);
                            float[] want = new float[rows];
                            float[] got = new float[rows];
                            long rb = PackedInts.byteSize(kept, bitsFor(m));
                            REF.gemvNmAffine(n, m, bitsFor(m), cols, codes, 0, crb, bits, group, scales, 0, groups,
                                    zeros, zc, idx, 0, rb, x, 0, want, 0, rows);
                            k.gemvNmAffine(n, m, bitsFor(m), cols, codes, 0, crb, bits, group, scales, 0, groups,
                                    zeros, zc, idx, 0, rb, x, 0, got, 0, rows);
                            float[] prepared = new float[rows];
                            k.gemvNmAffine(n, m, bitsFor(m), cols, codes, 0, crb, bits, group, scales, 0, groups,
                                    zeros, zc, idx, 0, rb, x, 0, k.prepareTwoFour(x, 0, cols), prepared, 0, rows);
                            assertThat(prepared).as("prepared x, %d:%d bits %d group %d cols %d", n, m, bits, group,
                                    cols).isEqualTo(got);
                            String what = n + ":" + m + " bits " + bits + " group " + group + " cols " + cols
                                    + " rows " + rows + " seed " + (SEED + 1) + " on " + SimdTesting.providerName();
                            for (int row = 0; row < rows; row++) {
                                double t = 0;
                                for (int j = 0; j < kept; j++) {
                                    int c = (j / n) * m + in[row * kept + j];
                                    int q = ScalarSparseKernels.code(codes, row * crb, j, bits);
                                    int z = zeros == null ? zc : zeros[row * groups + c / group] & 0xFF;
                                    t += Math.abs(scales[row * groups + c / group] * (q - z) * x[c]);
                                }
                                assertThat((double) got[row]).as(what + " row " + row).isCloseTo(want[row],
                                        org.assertj.core.data.Offset.offset(2 * gamma(kept + groups + 3) * t + 1e-30));
                            }
                            int last = rows - 1;
                            float[] one = new float[1];
                            k.gemvNmAffine(n, m, bitsFor(m), cols, codes, last * crb, crb, bits, group, scales,
                                    last * groups, groups, zeros, zc, idx, last * rb, rb, x, 0, one, 0, 1);
                            assertThat(one[0]).as(what + " last row alone").isEqualTo(got[last]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void columnSubsetMatchesTheScalarTwin() {
        Random r = new Random(SEED + 2);
        for (int rows : new int[] {1, 3, 7, 16, 17, 33, 64, 100, 257}) {
            for (int cols : new int[] {1, 5, 40, 129}) {
                float[] wt = SimdTesting.randomFloats(r, rows * cols, 1f);
                float[] x = SimdTesting.randomFloats(r, cols + 2, 1f);
                int count = r.nextInt(cols + 1);
                int[] sel = new int[count + 1];
                for (int j = 0; j < count; j++) {
                    sel[j] = r.nextInt(cols);
                }
                int from = rows > 4 ? r.nextInt(3) : 0;
                int to = rows - (rows > 4 ? r.nextInt(3) : 0);
                float[] want = new float[rows + 2];
                float[] got = new float[rows + 2];
                REF.gemvColumns(wt, rows, sel, count, x, 2, want, 2, from, to);
                k.gemvColumns(wt, rows, sel, count, x, 2, got, 2, from, to);
                String what = "rows " + rows + " cols " + cols + " count " + count + " [" + from + ", " + to + ") seed "
                        + (SEED + 2) + " on " + SimdTesting.providerName();
                for (int i = from; i < to; i++) {
                    double t = 0;
                    for (int j = 0; j < count; j++) {
                        t += Math.abs(x[2 + sel[j]] * wt[sel[j] * rows + i]);
                    }
                    assertThat((double) got[2 + i]).as(what + " row " + i)
                            .isCloseTo(want[2 + i], org.assertj.core.data.Offset.offset(2 * gamma(count + 1) * t + 1e-30));
                }
                // an element's bits do not depend on the row range it was computed in
                float[] all = new float[rows + 2];
                k.gemvColumns(wt, rows, sel, count, x, 2, all, 2, 0, rows);
                for (int i = from; i < to; i++) {
                    assertThat(got[2 + i]).as(what + " row " + i + " in the whole range").isEqualTo(all[2 + i]);
                }
            }
        }
    }
}

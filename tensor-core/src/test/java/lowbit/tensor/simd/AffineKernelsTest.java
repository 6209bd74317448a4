package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The provider's {@link AffineKernels} against {@link ScalarAffineKernels}, for every code width 2..8 and shapes that
 * hit every tail: columns not a multiple of the unit (tails inside every group), groups shorter than a unit, groups
 * of n·g bits that do not fill whole bytes (3/5/6/7-bit codes straddling bytes), odd row counts (the four-row loop
 * and the single-row loop), row ranges not starting at 0, and segments that end exactly at the last code (the
 * padded-copy path). Run at 128/256/512 bits by the simd-* executions.
 *
 * <p>Dequantize must match bit for bit (both compute fl(s·(q − z))). GEMV: each implementation is within
 * γ_m·T of the exact value, T = Σ_c |s·(q − z)·x_c|, m = cols + groups + 3 (AffineKernels' contract), so they differ
 * by at most 2·γ_m·T. A row's bits must not depend on the row range it was computed in.
 */
@Tag("simd")
class AffineKernelsTest {
    private static final long SEED = 0xa4f1_4e_c0deL;
    private static final AffineKernels REF = new ScalarAffineKernels();
    private final AffineKernels k = VectorizationProvider.get().affine();

    private static final int[] COLS = {1, 5, 8, 15, 16, 17, 24, 31, 32, 33, 40, 64, 96, 100, 128, 130, 257, 384};

    private static MemorySegment codes(Random r, int rows, long rowBytes, boolean tight, Arena arena) {
        long n = rows * rowBytes;
        byte[] b = new byte[(int) n];
        r.nextBytes(b);
        MemorySegment s = tight ? arena.allocate(Math.max(1, n)).asSlice(0, n) : MemorySegment.ofArray(new byte[(int) n + 200]);
        s.asSlice(0, n).copyFrom(MemorySegment.ofArray(b));
        return s;
    }

    private static float[] scales(Random r, int n) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = (r.nextFloat() + 0.1f) * (r.nextBoolean() ? 1 : -1) / 16;
        }
        return s;
    }

    private static double gamma(int m) {
        return m * 0x1p-24 / (1 - m * 0x1p-24);
    }

    @Test
    void groupsFamilyMatchesTheScalarTwin() {
        Random r = new Random(SEED);
        try (Arena arena = Arena.ofConfined()) {
            for (int bits = 2; bits <= 8; bits++) {
                for (int cols : COLS) {
                    long rowBytes = ((long) cols * bits + 7) / 8;
                    for (int group : new int[] {cols, 1, 3, 4, 8, 16, 20, 32, 40, 64, 128}) {
                        if (cols % group != 0) {
                            continue;
                        }
                        for (int variant = 0; variant < 3; variant++) { // asym, sym, per-tensor sym
                            int rows = 1 + r.nextInt(11);
                            boolean perTensor = variant == 2;
                            int stride = perTensor ? 0 : cols / group;
                            int gridRows = perTensor ? 1 : rows;
                            int gs = perTensor ? cols : group;
                            int ng = gridRows * (perTensor ? 1 : stride);
                            MemorySegment c = codes(r, rows, rowBytes, r.nextBoolean(), arena);
                            float[] s = scales(r, ng);
                            byte[] z = null;
                            if (variant == 0) {
                                z = new byte[ng];
                                for (int i = 0; i < ng; i++) {
                                    z[i] = (byte) r.nextInt(1 << bits);
                                }
                            }
                            int zero = 1 << (bits - 1);
                            String what = "bits " + bits + " cols " + cols + " group " + gs + " rows " + rows
                                    + " variant " + variant + " seed " + SEED + " on " + SimdTesting.providerName();
                            float[] wRef = new float[rows * cols];
                            float[] w = new float[rows * cols];
                            REF.dequantizeGroups(c, rowBytes, bits, cols, gs, s, z, zero, stride, 0, rows, wRef, 0);
                            k.dequantizeGroups(c, rowBytes, bits, cols, gs, s, z, zero, stride, 0, rows, w, 0);
                            assertThat(w).as(what).containsExactly(wRef);
                            int from = r.nextInt(rows);
                            float[] part = new float[(rows - from) * cols + 3];
                            k.dequantizeGroups(c, rowBytes, bits, cols, gs, s, z, zero, stride, from, rows, part, 3);
                            for (int i = 0; i < (rows - from) * cols; i++) {
                                assertThat(part[3 + i]).as(what).isEqualTo(wRef[from * cols + i]);
                            }
                            float[] x = SimdTesting.randomFloats(r, cols + 5, 2f);
                            float[] yRef = new float[rows + 2];
                            float[] y = new float[rows + 2];
                            REF.gemvGroups(c, rowBytes, bits, cols, gs, s, z, zero, stride, x, 5, 0, rows, yRef, 2);
                            k.gemvGroups(c, rowBytes, bits, cols, gs, s, z, zero, stride, x, 5, 0, rows, y, 2);
                            int m = cols + cols / gs + 3;
                            checkRows(wRef, x, 5, cols, rows, yRef, y, 2, m, what);
                            float[] y2 = new float[rows + 2];
                            k.gemvGroups(c, rowBytes, bits, cols, gs, s, z, zero, stride, x, 5, from, rows, y2, 2);
                            for (int i = from; i < rows; i++) {
                                assertThat(y2[2 + i]).as(what + " row range from " + from).isEqualTo(y[2 + i]);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void columnsFamilyMatchesTheScalarTwin() {
        Random r = new Random(SEED + 1);
        try (Arena arena = Arena.ofConfined()) {
            for (int bits = 2; bits <= 8; bits++) {
                for (int cols : COLS) {
                    long rowBytes = ((long) cols * bits + 7) / 8;
                    for (boolean asym : new boolean[] {true, false}) {
                        int rows = 1 + r.nextInt(11);
                        MemorySegment c = codes(r, rows, rowBytes, r.nextBoolean(), arena);
                        int off = r.nextInt(4);
                        float[] s = scales(r, cols + off);
                        int[] z = null;
                        if (asym) {
                            z = new int[cols + off];
                            for (int i = 0; i < z.length; i++) {
                                z[i] = r.nextInt(1 << bits);
                            }
                        }
                        int zero = 1 << (bits - 1);
                        String what = "bits " + bits + " cols " + cols + " rows " + rows + " asym " + asym + " seed "
                                + SEED + " on " + SimdTesting.providerName();
                        float[] wRef = new float[rows * cols];
                        float[] w = new float[rows * cols];
                        REF.dequantizeColumns(c, rowBytes, bits, cols, s, z, off, zero, 0, rows, wRef, 0);
                        k.dequantizeColumns(c, rowBytes, bits, cols, s, z, off, zero, 0, rows, w, 0);
                        assertThat(w).as(what).containsExactly(wRef);
                        float[] x = SimdTesting.randomFloats(r, cols, 2f);
                        float[] xs = new float[cols];
                        for (int i = 0; i < cols; i++) {
                            xs[i] = s[off + i] * x[i];
                        }
                        float[] yRef = new float[rows];
                        float[] y = new float[rows];
                        REF.gemvColumns(c, rowBytes, bits, cols, xs, z, off, zero, 0, rows, yRef, 0);
                        k.gemvColumns(c, rowBytes, bits, cols, xs, z, off, zero, 0, rows, y, 0);
                        // the products use xs = fl(s·x): one more rounding per term than Ŵ·x, inside m = cols + 3
                        checkRows(wRef, x, 0, cols, rows, yRef, y, 0, 2 * cols + 3, what);
                        int from = r.nextInt(rows);
                        float[] y2 = new float[rows];
                        k.gemvColumns(c, rowBytes, bits, cols, xs, z, off, zero, from, rows, y2, 0);
                        for (int i = from; i < rows; i++) {
                            assertThat(y2[i]).as(what + " row range from " + from).isEqualTo(y[i]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void nibbleInputIsEvenThenOddHalvesAndGroupSums() {
        int cols = 64;
        float[] x = new float[cols + 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = i - 3; // x[3 + c] = c
        }
        float[] xp = new float[AffineKernels.nibbleInputLength(cols, 32) + 1];
        k.prepareNibbleInput(x, 3, cols, 32, xp, 1);
        for (int chunk = 0; chunk < 2; chunk++) {
            for (int i = 0; i < 16; i++) {
                assertThat(xp[1 + 32 * chunk + i]).isEqualTo(32 * chunk + 2 * i);
                assertThat(xp[1 + 32 * chunk + 16 + i]).isEqualTo(32 * chunk + 2 * i + 1);
            }
        }
        assertThat(xp[1 + cols]).isEqualTo(31 * 32 / 2f); // 0 + 1 + ... + 31
        assertThat(xp[2 + cols]).isEqualTo((32 + 63) * 32 / 2f);
        assertThat(AffineKernels.nibbleGroups(4, 256, 128)).isTrue();
        assertThat(AffineKernels.nibbleGroups(4, 256, 48)).isFalse();
        assertThat(AffineKernels.nibbleGroups(3, 256, 128)).isFalse();
    }

    /**
     * The 4-bit groups kernel on the prepared input, against the exact product: each implementation is within
     * γ_m·T' (T' = Σ_c |s|·(q + z)·|x_c|, its contract), the two within 2·γ_m·T'. Shapes: groups of 32..256 (one
     * load per chunk at 512 bits, two at 256, four at 128), per-tensor and per-row scales (group = cols), row counts
     * for the four-row and single-row loops, segments that end at the last code (the scalar rows at 128 bits).
     */
    @Test
    void nibbleGroupsMatchTheExactProduct() {
        Random r = new Random(SEED + 2);
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[] {32, 64, 96, 128, 256, 384, 512}) {
                long rowBytes = cols / 2;
                for (int group : new int[] {32, 64, 128, 256, cols}) {
                    if (cols % group != 0) {
                        continue;
                    }
                    for (int variant = 0; variant < 3; variant++) { // asym, sym, per-tensor sym
                        int rows = 1 + r.nextInt(11);
                        boolean perTensor = variant == 2;
                        int gs = perTensor ? cols : group;
                        int stride = perTensor ? 0 : cols / gs;
                        int ng = (perTensor ? 1 : rows) * Math.max(1, stride);
                        MemorySegment c = codes(r, rows, rowBytes, r.nextBoolean(), arena);
                        float[] s = scales(r, ng);
                        byte[] z = null;
                        if (variant == 0) {
                            z = new byte[ng];
                            for (int i = 0; i < ng; i++) {
                                z[i] = (byte) r.nextInt(16);
                            }
                        }
                        int zero = 8;
                        String what = "cols " + cols + " group " + gs + " rows " + rows + " variant " + variant
                                + " seed " + SEED + " on " + SimdTesting.providerName();
                        float[] x = SimdTesting.randomFloats(r, cols + 5, 2f);
                        int len = AffineKernels.nibbleInputLength(cols, gs);
                        float[] xp = new float[len + 2];
                        k.prepareNibbleInput(x, 5, cols, gs, xp, 2);
                        float[] yRef = new float[rows + 2];
                        float[] y = new float[rows + 2];
                        REF.gemvNibbleGroups(c, rowBytes, cols, gs, s, z, zero, stride, xp, 2, 0, rows, yRef, 2);
                        k.gemvNibbleGroups(c, rowBytes, cols, gs, s, z, zero, stride, xp, 2, 0, rows, y, 2);
                        double g = gamma(cols + cols / gs + 3);
                        for (int i = 0; i < rows; i++) {
                            double exact = 0;
                            double t = 0;
                            for (int col = 0; col < cols; col++) {
                                int si = i * stride + col / gs;
                                int q = ScalarAffineKernels.code(c, i * rowBytes, col, 4);
                                int zz = z == null ? zero : z[si];
                                exact += (double) s[si] * (q - zz) * x[5 + col];
                                t += Math.abs(s[si]) * (q + zz) * Math.abs(x[5 + col]);
                            }
                            assertThat((double) yRef[2 + i]).as(what + " scalar row " + i)
                                    .isCloseTo(exact, org.assertj.core.data.Offset.offset(g * t + Float.MIN_NORMAL));
                            assertThat((double) y[2 + i]).as(what + " row " + i)
                                    .isCloseTo(exact, org.assertj.core.data.Offset.offset(g * t + Float.MIN_NORMAL));
                        }
                        int from = r.nextInt(rows);
                        float[] y2 = new float[rows + 2];
                        k.gemvNibbleGroups(c, rowBytes, cols, gs, s, z, zero, stride, xp, 2, from, rows, y2, 2);
                        for (int i = from; i < rows; i++) {
                            assertThat(y2[2 + i]).as(what + " row range from " + from).isEqualTo(y[2 + i]);
                        }
                    }
                }
            }
        }
    }

    /** yRef and y (at yOff) agree within 2·γ_m·Σ|w·x| per row (w the exact dequantized weights). */
    private static void checkRows(float[] w, float[] x, int xOff, int cols, int rows, float[] yRef, float[] y,
            int yOff, int m, String what) {
        double g = 2 * gamma(m);
        for (int i = 0; i < rows; i++) {
            double t = 0;
            for (int c = 0; c < cols; c++) {
                t += Math.abs((double) w[i * cols + c] * x[xOff + c]);
            }
            // w is fl(s·(q − z)) = s·(q − z)·(1 + δ): T computed from it is within a factor 1 + u of the exact T
            assertThat((double) y[yOff + i]).as(what + " row " + i)
                    .isCloseTo(yRef[yOff + i], org.assertj.core.data.Offset.offset(g * t * (1 + 0x1p-23) + Float.MIN_NORMAL));
        }
    }
}

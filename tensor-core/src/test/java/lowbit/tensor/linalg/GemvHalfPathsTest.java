package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.ScalarDenseKernels;
import lowbit.tensor.simd.SimdTesting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The two F16 GEMV paths of the vector kernels: the fast one (x pre-scaled by 2^112, weights not re-biased) and the
 * exact one it falls back to for rows with an Inf or NaN weight and for |x| above about 65536. Checks that they give
 * identical bits, that special weights come out as the scalar twin says (a NaN weight makes its row NaN), and that
 * array and segment weights agree bit for bit, at sizes with every kind of row and column tail (the shapes include
 * more columns than the other tests, and subnormal halves).
 */
@Tag("simd")
class GemvHalfPathsTest {
    private static final long SEED = 0x16f16L;
    private static final ScalarDenseKernels REF = new ScalarDenseKernels();
    private static final int[][] SHAPES = {{1, 1}, {3, 17}, {4, 64}, {5, 255}, {9, 1000}, {13, 4100}, {6, 5003}};

    @AfterEach
    void restoreParallelism() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    /** F16 weights including some subnormal and zero halves. */
    private static short[] halves(Random rnd, int n) {
        short[] h = new short[n];
        for (int i = 0; i < n; i++) {
            int k = rnd.nextInt(20);
            float f = k == 0 ? (rnd.nextFloat() - 0.5f) * 0x1p-14f : k == 1 ? 0f : (rnd.nextFloat() * 2f - 1f) * 4f;
            h[i] = Float.floatToFloat16(f);
        }
        return h;
    }

    private static float[] values(short[] h) {
        float[] v = new float[h.length];
        for (int i = 0; i < h.length; i++) {
            v[i] = Float.float16ToFloat(h[i]);
        }
        return v;
    }

    private static MemorySegment segment(Arena arena, short[] h) {
        MemorySegment s = arena.allocate((long) h.length * 2 + 1, 1).asSlice(1); // unaligned on purpose
        for (int i = 0; i < h.length; i++) {
            s.setAtIndex(ScalarDenseKernels.HALF_LE, i, h[i]);
        }
        return s;
    }

    @Test
    void fastAndExactPathsGiveIdenticalBits() {
        Random rnd = new Random(SEED);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : SHAPES) {
                int rows = shape[0], cols = shape[1];
                short[] h = halves(rnd, rows * cols);
                for (int r = 0; r < rows; r++) {
                    h[r * cols] = 0; // column 0 is all +0, so a huge x[0] changes no product
                }
                float[] x = DenseTesting.floats(rnd, cols, 3f);
                float[] fast = new float[rows];
                Gemv.multiply(h, DType.F16, rows, cols, x, null, fast);
                float[] big = x.clone();
                big[0] = 1e30f; // above the fast path's limit: every row takes the exact path
                float[] exact = new float[rows];
                Gemv.multiply(h, DType.F16, rows, cols, big, null, exact);
                String what = "[" + rows + ", " + cols + "] " + SimdTesting.providerName();
                assertThat(exact).as("exact vs fast path, %s", what).isEqualTo(fast);
                float[] seg = new float[rows];
                Gemv.multiply(segment(arena, h), DType.F16, rows, cols, big, null, seg);
                assertThat(seg).as("segment exact vs array fast, %s", what).isEqualTo(fast);
                Gemv.multiply(segment(arena, h), DType.F16, rows, cols, x, null, seg);
                assertThat(seg).as("segment fast vs array fast, %s", what).isEqualTo(fast);
            }
        }
    }

    /**
     * The four-row check ORs the rows' magnitude bits before taking the max, so finite weights of different rows can
     * raise a false alarm (2.5 = 0x4100 and 1.5 = 0x3E00 at one column OR to 0x7F00, an exponent of 31): the exact
     * re-check must then keep the fast result, which has the exact path's bits, and a real infinity in the same group
     * must still make its row infinite. With 32 vector registers the fast loop takes eight rows at once and ORs all
     * eight: rows 8..15 hold an alarm only that eight-row check raises (rows 9 and 13 are in different four-row
     * groups, each clean on its own), and rows 16..23 a real NaN in the second half of the group.
     */
    @Test
    void aFalseAlarmOfTheFourRowCheckKeepsTheFastResult() {
        int rows = 24, cols = 64;
        short[] h = new short[rows * cols];
        h[5] = Float.floatToFloat16(2.5f);
        h[cols + 5] = Float.floatToFloat16(1.5f);
        h[2 * cols + 9] = Float.floatToFloat16(-0.75f);
        h[4 * cols + 5] = Float.floatToFloat16(2.5f); // second group: the same alarm and a real infinity
        h[5 * cols + 5] = Float.floatToFloat16(1.5f);
        h[6 * cols + 7] = (short) 0x7C00;
        h[9 * cols + 3] = Float.floatToFloat16(2.5f); // third block: an eight-row-only false alarm
        h[13 * cols + 3] = Float.floatToFloat16(1.5f);
        h[10 * cols + 3] = Float.floatToFloat16(-3f);
        h[17 * cols + 11] = Float.floatToFloat16(1.25f); // fourth block: a NaN in row 21
        h[21 * cols + 30] = (short) 0x7E00;
        float[] x = new float[cols];
        for (int c = 0; c < cols; c++) {
            x[c] = 0.25f * (c + 1);
        }
        float[] ref = new float[rows];
        REF.gemvRows(values(h), 0, cols, x, 0, cols, ref, 0, 0, rows);
        float[] y = new float[rows];
        Gemv.multiply(h, DType.F16, rows, cols, x, null, y);
        assertThat(y).as(SimdTesting.providerName()).containsExactly(ref);
        assertThat(y[0]).isEqualTo(2.5f * 1.5f);
        assertThat(y[6]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(y[9]).isEqualTo(2.5f * 0.25f * 4);
        assertThat(y[13]).isEqualTo(1.5f * 0.25f * 4);
        assertThat(y[21]).isNaN();
        assertThat(y[17]).isEqualTo(1.25f * 0.25f * 12);
        try (Arena arena = Arena.ofConfined()) {
            float[] ys = new float[rows];
            Gemv.multiply(segment(arena, h), DType.F16, rows, cols, x, null, ys);
            assertThat(ys).as("segment").containsExactly(ref);
        }
    }

    @Test
    void nanAndInfinityWeightsGiveWhatTheScalarTwinGives() {
        Random rnd = new Random(SEED + 1);
        short[] specials = {(short) 0x7E00, (short) 0xFE00, (short) 0x7C01, (short) 0x7C00, (short) 0xFC00};
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : SHAPES) {
                int rows = shape[0], cols = shape[1];
                short[] h = halves(rnd, rows * cols);
                for (int r = 0; r < rows; r += 2) { // every other row gets one special weight
                    h[r * cols + rnd.nextInt(cols)] = specials[rnd.nextInt(specials.length)];
                }
                float[] x = DenseTesting.floats(rnd, cols, 3f);
                x[rnd.nextInt(cols)] = 0f; // 0·Inf = NaN somewhere, perhaps
                float[] ref = new float[rows];
                REF.gemvRows(values(h), 0, cols, x, 0, cols, ref, 0, 0, rows);
                float[] y = new float[rows];
                Gemv.multiply(h, DType.F16, rows, cols, x, null, y);
                float[] ys = new float[rows];
                Gemv.multiply(segment(arena, h), DType.F16, rows, cols, x, null, ys);
                assertThat(ys).as("segment vs array").isEqualTo(y);
                for (int r = 0; r < rows; r++) {
                    String what = "row " + r + " of [" + rows + ", " + cols + "] " + SimdTesting.providerName();
                    if (Float.isNaN(ref[r])) {
                        assertThat(y[r]).as(what).isNaN();
                    } else if (Float.isInfinite(ref[r])) {
                        assertThat(y[r]).as(what).isEqualTo(ref[r]);
                    } else {
                        assertThat(r % 2).as("only rows with a special weight are special: %s", what).isOne();
                        assertThat(Float.isFinite(y[r])).as(what).isTrue();
                    }
                }
            }
        }
    }

    @Test
    void largeActivationsTakeTheExactPathOnAnyThreadCount() {
        Random rnd = new Random(SEED + 2);
        int rows = 301, cols = 777;
        short[] h = halves(rnd, rows * cols);
        float[] x = DenseTesting.floats(rnd, cols, 1f);
        x[5] = 70000f; // x·2^112 would overflow: exact path
        x[700] = -1e30f;
        float[] ref = new float[rows];
        float[] v = values(h);
        REF.gemvRows(v, 0, cols, x, 0, cols, ref, 0, 0, rows);
        float[] first = null;
        for (int threads : new int[] {1, 2, 3}) {
            Parallel.setParallelism(threads);
            float[] y = new float[rows];
            Gemv.multiply(h, DType.F16, rows, cols, x, null, y);
            for (int r = 0; r < rows; r++) {
                double sumAbs = 0;
                for (int c = 0; c < cols; c++) {
                    sumAbs += Math.abs((double) v[r * cols + c] * x[c]);
                }
                assertThat(Math.abs((double) y[r] - ref[r])).as("row %d, %d threads", r, threads)
                        .isLessThanOrEqualTo(2 * DenseTesting.gamma(cols) * sumAbs);
            }
            if (first == null) {
                first = y;
            }
            assertThat(y).as("%d threads vs 1", threads).isEqualTo(first);
        }
    }
}

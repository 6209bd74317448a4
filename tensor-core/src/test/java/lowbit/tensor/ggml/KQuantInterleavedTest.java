package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.ScalarKQuantKernels;
import lowbit.tensor.simd.SimdTesting;
import lowbit.tensor.simd.VectorizationProvider;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The interleaved Q4_K layout: a lossless permutation (pack then unpack gives the standard bytes back, padding rows
 * decode to zero); its GEMV bit for bit equal to the scalar twin (the kernels do the same float operations lane by
 * lane) at every vector width; against {@link GgmlOps#gemv} on the standard layout within the summation bound of
 * {@link KQuantKernelsTest} (both are float evaluations of the same exact integer block sums); identical bits for 1
 * and 3 threads; bad input.
 */
@Tag("simd")
class KQuantInterleavedTest {
    private static final long SEED = 0x4b_49L;
    private static final GgmlType T = GgmlType.Q4_K;

    static MemorySegment standard(Random r, int rows, int cols) {
        int nb = cols / 256;
        MemorySegment s = KQuantKernelsTest.randomBlocks(r, T, rows * nb, 0);
        MemorySegment native_ = Arena.ofAuto().allocate(s.byteSize(), 64);
        native_.copyFrom(s);
        return native_;
    }

    static MemorySegment packed(MemorySegment std, int rows, int cols) {
        MemorySegment p = Arena.ofAuto().allocate(KQuantInterleaved.byteSize(T, rows, cols), 64);
        KQuantInterleaved.pack(T, std, 0, rows, cols, p, 0);
        return p;
    }

    @Test
    void packThenUnpackGivesTheStandardBytesBack() {
        Random r = new Random(SEED);
        for (int rows : new int[] {1, 15, 16, 17, 33}) {
            for (int cols : new int[] {256, 768}) {
                MemorySegment std = standard(r, rows, cols);
                MemorySegment p = packed(std, rows, cols);
                assertThat(p.byteSize()).isEqualTo((long) KQuantInterleaved.tiles(rows) * 16 * T.rowBytes(cols));
                MemorySegment back = MemorySegment.ofArray(new byte[(int) std.byteSize()]);
                KQuantInterleaved.unpack(T, p, 0, rows, cols, 0, rows, back, 0);
                assertThat(back.toArray(ValueLayout.JAVA_BYTE)).as("%dx%d", rows, cols)
                        .containsExactly(std.toArray(ValueLayout.JAVA_BYTE));
                // a row range alone
                int from = rows / 2;
                MemorySegment part = MemorySegment.ofArray(new byte[(int) ((rows - from) * T.rowBytes(cols))]);
                KQuantInterleaved.unpack(T, p, 0, rows, cols, from, rows, part, 0);
                assertThat(part.toArray(ValueLayout.JAVA_BYTE)).containsExactly(
                        std.asSlice(from * T.rowBytes(cols)).toArray(ValueLayout.JAVA_BYTE));
            }
        }
        // the byte map is a bijection onto the 2304 bytes of a tile block
        boolean[] seen = new boolean[KQuantInterleaved.TILE_BLOCK_BYTES];
        for (int row = 0; row < 16; row++) {
            for (int i = 0; i < 144; i++) {
                int pos = KQuantInterleaved.position(row, i);
                assertThat(seen[pos]).as("row %d byte %d", row, i).isFalse();
                seen[pos] = true;
            }
        }
    }

    @Test
    void gemvEqualsTheScalarTwinBitForBitAndTheStandardLayoutWithinTheBound() {
        Random r = new Random(SEED + 1);
        KQuantKernels k = VectorizationProvider.get().kquants();
        KQuantKernels ref = new ScalarKQuantKernels();
        for (int rows : new int[] {1, 16, 17, 40}) {
            for (int nb : new int[] {1, 3}) {
                int cols = 256 * nb;
                MemorySegment std = standard(r, rows, cols);
                MemorySegment p = packed(std, rows, cols);
                MemorySegment a = Arena.ofAuto().allocate(292L * nb, 64);
                Q8_K.quantizeRow(KQuantKernelsTest.row(r, nb, 10), 0, a, 0, cols);
                float[] got = new float[rows + 2], want = new float[rows + 2];
                k.gemvQ4_Kx16(p, 0, KQuantInterleaved.tiles(rows), a, 0, nb, got, 1, rows);
                ref.gemvQ4_Kx16(p, 0, KQuantInterleaved.tiles(rows), a, 0, nb, want, 1, rows);
                assertThat(got).as("%dx%d seed=%d provider=%s", rows, cols, SEED, SimdTesting.providerName())
                        .containsExactly(want);
                assertThat(got[0]).isZero();
                assertThat(got[rows + 1]).isZero(); // padding rows are not written
                for (int row = 0; row < rows; row++) {
                    float dot = k.dotQ4_KQ8_K(std, row * T.rowBytes(cols), a, 0, nb);
                    double tol = KQuantKernelsTest.tolerance(T, std, row * T.rowBytes(cols), a, 0, nb);
                    assertThat((double) got[1 + row]).as("row %d of %dx%d", row, rows, cols)
                            .isCloseTo(dot, Offset.offset(tol));
                }
            }
        }
    }

    /**
     * The SIMD kernel widens d and dmin without the infinity/NaN step unless a block holds such a half, and then takes
     * the full widening: both paths against the scalar twin, bit for bit (NaN results compare equal, −0 and +0 do
     * not). Specials: ±Inf, a quiet and a signalling-pattern NaN, in d or in dmin of single rows; the largest finite
     * half, the smallest subnormal and −0 (finite: the fast path) in others.
     */
    @Test
    void gemvWithInfiniteNaNAndExtremeScalesEqualsTheScalarTwin() {
        Random r = new Random(SEED + 5);
        KQuantKernels k = VectorizationProvider.get().kquants();
        KQuantKernels ref = new ScalarKQuantKernels();
        short[] specials = {(short) 0x7C00, (short) 0xFC00, (short) 0x7E00, (short) 0x7C01};
        short[] extremes = {(short) 0x7BFF, (short) 0xFBFF, (short) 0x0001, (short) 0x8000};
        int rows = 40, nb = 3, cols = 256 * nb;
        for (int c = 0; c <= specials.length; c++) {
            MemorySegment std = standard(r, rows, cols);
            int[] extremeRows = {2, 9, 24, 33};
            for (int i = 0; i < extremes.length; i++) { // d (even i) or dmin (odd i) of one block each
                int row = extremeRows[i];
                std.set(ScalarGgmlKernels.F16_LE, row * T.rowBytes(cols) + 144L * (i % nb) + 2 * (i % 2), extremes[i]);
            }
            if (c < specials.length) { // one special per case, in d (even c) or dmin (odd c), row 17 + c, block c % nb
                int row = 17 + c;
                std.set(ScalarGgmlKernels.F16_LE, row * T.rowBytes(cols) + 144L * (c % nb) + 2 * (c % 2), specials[c]);
            }
            MemorySegment p = packed(std, rows, cols);
            MemorySegment a = Arena.ofAuto().allocate(292L * nb, 64);
            Q8_K.quantizeRow(KQuantKernelsTest.row(r, nb, 10), 0, a, 0, cols);
            float[] got = new float[rows], want = new float[rows];
            k.gemvQ4_Kx16(p, 0, KQuantInterleaved.tiles(rows), a, 0, nb, got, 0, rows);
            ref.gemvQ4_Kx16(p, 0, KQuantInterleaved.tiles(rows), a, 0, nb, want, 0, rows);
            assertThat(got).as("case %d provider=%s", c, SimdTesting.providerName()).containsExactly(want);
            if (c < specials.length) {
                assertThat(Float.isFinite(want[17 + c])).as("case %d: the special reaches its row", c).isFalse();
            }
        }
    }

    @Test
    void parallelGemvIsThreadCountIndependentAndMatchesTheKernel() {
        Random r = new Random(SEED + 2);
        int rows = 75, cols = 1024;
        MemorySegment p = packed(standard(r, rows, cols), rows, cols);
        float[] x = SimdTesting.randomFloats(r, cols + 3, 1f);
        float[] y1 = new float[rows + 1], y3 = new float[rows + 1];
        int threads = Parallel.parallelism();
        try {
            Parallel.setParallelism(1);
            KQuantInterleaved.gemv(T, p, 0, rows, cols, x, 3, y1, 1);
            Parallel.setParallelism(3);
            KQuantInterleaved.gemv(T, p, 0, rows, cols, x, 3, y3, 1);
        } finally {
            Parallel.setParallelism(threads);
        }
        assertThat(y3).containsExactly(y1);
        MemorySegment a = Arena.ofAuto().allocate(292L * 4, 64);
        Q8_K.quantizeRow(x, 3, a, 0, cols);
        float[] want = new float[rows + 1];
        new ScalarKQuantKernels().gemvQ4_Kx16(p, 0, KQuantInterleaved.tiles(rows), a, 0, 4, want, 1, rows);
        assertThat(y1).containsExactly(want);
    }

    @Test
    void rejectsBadInput() {
        MemorySegment m = MemorySegment.ofArray(new byte[16 * 144]);
        assertThatThrownBy(() -> KQuantInterleaved.byteSize(GgmlType.Q6_K, 16, 256))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Q6_K");
        assertThatThrownBy(() -> KQuantInterleaved.byteSize(T, 16, 300))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("300");
        assertThatThrownBy(() -> KQuantInterleaved.pack(T, m, 0, 9, 512, MemorySegment.ofArray(new byte[4608]), 0))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("standard matrix of 9x512");
        assertThatThrownBy(() -> KQuantInterleaved.pack(T, m, 0, 1, 256, MemorySegment.ofArray(new byte[2303]), 0))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("interleaved");
        assertThatThrownBy(() -> KQuantInterleaved.gemv(T, MemorySegment.ofArray(new byte[2303]), 0, 1, 256,
                new float[256], 0, new float[1], 0)).isInstanceOf(IndexOutOfBoundsException.class);
        float[] x = new float[256];
        x[9] = Float.NaN;
        assertThatThrownBy(() -> KQuantInterleaved.gemv(T, MemorySegment.ofArray(new byte[2304]), 0, 1, 256, x, 0,
                new float[1], 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("9");
    }
}

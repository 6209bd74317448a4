package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.layout.GgmlMatrix;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The 16-row interleaved Q4_0/Q8_0 layout: the byte positions its definition gives, lossless round trips, and the
 * provider's kernels against {@link ScalarGgmlKernels} bit for bit (both evaluate, per row, the exact integer block
 * sums and then the same float operations in the same order; both use FMA exactly when HotSpot's UseFMA is on). Run
 * at 128/256/512 bits by the simd-* executions.
 */
@Tag("simd")
class InterleavedTest {
    private static final long SEED = 0x1_6_7e_aL;
    private static final GgmlKernels REF = new ScalarGgmlKernels();
    private final GgmlKernels k = VectorizationProvider.get().ggml();

    private static MemorySegment standard(GgmlType type, Random r, int rows, int cols) {
        MemorySegment w = Arena.ofAuto().allocate(type.rowBytes(cols) * Math.max(1, rows), 64);
        for (int i = 0; i < rows; i++) {
            float[] row = GgmlKernelsTest.row(r, cols / 32, 6);
            GgmlOps.quantizeRow(type, row, 0, w, i * type.rowBytes(cols), cols);
        }
        return w;
    }

    @Test
    void q4_0BytesSitWhereTheDefinitionPutsThem() {
        // rows 0..16 (two tiles, the second padded), one block each; row r has d = r+1 and code(element j) = (j + r) % 16
        int rows = 17;
        MemorySegment std = MemorySegment.ofArray(new byte[18 * rows]);
        for (int r = 0; r < rows; r++) {
            std.set(ScalarGgmlKernels.F16_LE, 18L * r, Float.floatToFloat16(r + 1));
            for (int j = 0; j < 16; j++) {
                int lo = (j + r) % 16;
                int hi = (j + 16 + r) % 16;
                std.set(ValueLayout.JAVA_BYTE, 18L * r + 2 + j, (byte) (lo | hi << 4));
            }
        }
        MemorySegment il = MemorySegment.ofArray(new byte[(int) Interleaved.byteSize(GgmlType.Q4_0, rows, 32)]);
        assertThat(il.byteSize()).isEqualTo(2 * 288);
        Interleaved.repack(GgmlType.Q4_0, std, 0, rows, 32, il, 0);
        for (int r = 0; r < 16; r++) {
            assertThat(Float.float16ToFloat(il.get(ScalarGgmlKernels.F16_LE, 2L * r))).isEqualTo(r + 1f);
            for (int c = 0; c < 8; c++) {
                for (int e = 0; e < 2; e++) {
                    int b = il.get(ValueLayout.JAVA_BYTE, 32 + 32 * c + 2 * r + e) & 0xFF;
                    assertThat(b & 0xF).as("row %d element %d", r, 4 * c + e).isEqualTo((4 * c + e + r) % 16);
                    assertThat(b >> 4).as("row %d element %d", r, 4 * c + 2 + e).isEqualTo((4 * c + 2 + e + r) % 16);
                }
            }
        }
        // second tile: row 16 then 15 zero rows (d = 0, codes 8)
        assertThat(Float.float16ToFloat(il.get(ScalarGgmlKernels.F16_LE, 288))).isEqualTo(17f);
        assertThat(il.get(ScalarGgmlKernels.F16_LE, 288 + 2)).isZero();
        assertThat(il.get(ValueLayout.JAVA_BYTE, 288 + 32 + 2)).isEqualTo((byte) 0x88);
    }

    @Test
    void q8_0BytesSitWhereTheDefinitionPutsThem() {
        int rows = 3;
        MemorySegment std = MemorySegment.ofArray(new byte[34 * rows]);
        for (int r = 0; r < rows; r++) {
            std.set(ScalarGgmlKernels.F16_LE, 34L * r, Float.floatToFloat16(0.5f * (r + 1)));
            for (int j = 0; j < 32; j++) {
                std.set(ValueLayout.JAVA_BYTE, 34L * r + 2 + j, (byte) (j - 100 * r));
            }
        }
        MemorySegment il = MemorySegment.ofArray(new byte[544]);
        Interleaved.repack(GgmlType.Q8_0, std, 0, rows, 32, il, 0);
        for (int r = 0; r < 16; r++) {
            for (int j = 0; j < 32; j++) {
                byte expect = r < rows ? (byte) (j - 100 * r) : 0;
                assertThat(il.get(ValueLayout.JAVA_BYTE, 32 + 32 * (j / 2) + 2 * r + j % 2)).isEqualTo(expect);
            }
        }
        assertThat(Float.float16ToFloat(il.get(ScalarGgmlKernels.F16_LE, 4))).isEqualTo(1.5f);
    }

    @Test
    void repackIsLosslessAndDequantizesLikeTheStandardBlocks() {
        Random r = new Random(SEED);
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0}) {
            for (int[] shape : new int[][] {{1, 32}, {16, 64}, {17, 96}, {40, 32}, {5, 160}}) {
                int rows = shape[0], cols = shape[1];
                MemorySegment std = standard(type, r, rows, cols);
                MemorySegment il = Arena.ofAuto().allocate(Interleaved.byteSize(type, rows, cols));
                Interleaved.repack(type, std, 0, rows, cols, il, 0);
                MemorySegment back = Arena.ofAuto().allocate(type.rowBytes(cols) * rows);
                Interleaved.unpack(type, il, 0, rows, cols, 0, rows, back, 0);
                assertThat(back.toArray(ValueLayout.JAVA_BYTE))
                        .isEqualTo(std.asSlice(0, type.rowBytes(cols) * rows).toArray(ValueLayout.JAVA_BYTE));
                float[] a = new float[rows * cols];
                float[] b = new float[rows * cols];
                for (int i = 0; i < rows; i++) {
                    GgmlOps.dequantizeRow(type, std, i * type.rowBytes(cols), a, i * cols, cols);
                }
                Interleaved.dequantizeRows(type, il, 0, rows, cols, 0, rows, b, 0);
                assertThat(b).as("%s %dx%d seed %d", type, rows, cols, SEED).isEqualTo(a);
            }
        }
    }

    @Test
    void pairActivationIsTheReferenceQ8_0Encoding() {
        Random r = new Random(SEED + 1);
        for (int nb : new int[] {1, 2, 3, 7, 16, 33}) {
            float[] x = GgmlKernelsTest.row(r, nb, 20);
            MemorySegment q8 = MemorySegment.ofArray(new byte[34 * nb]);
            REF.quantizeQ8_0(x, 0, q8, 0, nb);
            int[] expect = new int[18 * nb];
            for (int b = 0; b < nb; b++) {
                int sum = 0;
                for (int m = 0; m < 16; m++) {
                    int q0 = q8.get(ValueLayout.JAVA_BYTE, 34L * b + 2 + 2 * m);
                    int q1 = q8.get(ValueLayout.JAVA_BYTE, 34L * b + 3 + 2 * m);
                    expect[18 * b + m] = (q0 & 0xFFFF) | q1 << 16;
                    sum += q0 + q1;
                }
                expect[18 * b + 16] = sum;
                expect[18 * b + 17] = Float.floatToRawIntBits(ScalarGgmlKernels.f16(q8, 34L * b));
            }
            int[] got = new int[18 * nb + 5];
            int[] ref = new int[18 * nb + 5];
            k.quantizeQ8_0Pairs(x, 0, got, 5, nb);
            REF.quantizeQ8_0Pairs(x, 0, ref, 5, nb);
            assertThat(java.util.Arrays.copyOfRange(ref, 5, ref.length)).as("nb=%d", nb).isEqualTo(expect);
            assertThat(got).as("nb=%d", nb).isEqualTo(ref);
        }
    }

    @Test
    void kernelsMatchTheScalarTwinBitForBit() {
        Random r = new Random(SEED + 2);
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0}) {
            for (int[] shape : new int[][] {{1, 32}, {15, 64}, {16, 32}, {17, 96}, {33, 224}, {50, 512}, {8, 32 * 33}}) {
                int rows = shape[0], cols = shape[1], nb = cols / 32;
                MemorySegment std = standard(type, r, rows, cols);
                MemorySegment il = Arena.ofAuto().allocate(Interleaved.byteSize(type, rows, cols), 64);
                Interleaved.repack(type, std, 0, rows, cols, il, 0);
                int n = 21; // groups of 4 X rows, a remainder, and two X blocks of 16 in the fused GEMM
                int stride = 18 * nb + 2;
                int[] act = new int[n * stride + 1];
                for (int i = 0; i < n; i++) {
                    REF.quantizeQ8_0Pairs(GgmlKernelsTest.row(r, nb, 10), 0, act, 1 + i * stride, nb);
                    if (type == GgmlType.Q4_0) {
                        REF.pairsForQ4_0(act, 1 + i * stride, nb);
                    }
                }
                int tiles = Interleaved.tiles(rows);
                float[] got = new float[n * (rows + 3)];
                float[] ref = new float[n * (rows + 3)];
                float[] many = new float[n * (rows + 3)];
                for (int i = 0; i < n; i++) {
                    if (type == GgmlType.Q4_0) {
                        k.gemvQ4_0x16(il, 0, tiles, nb, act, 1 + i * stride, got, 1 + i * (rows + 3), rows);
                        REF.gemvQ4_0x16(il, 0, tiles, nb, act, 1 + i * stride, ref, 1 + i * (rows + 3), rows);
                    } else {
                        k.gemvQ8_0x16(il, 0, tiles, nb, act, 1 + i * stride, got, 1 + i * (rows + 3), rows);
                        REF.gemvQ8_0x16(il, 0, tiles, nb, act, 1 + i * stride, ref, 1 + i * (rows + 3), rows);
                    }
                }
                if (type == GgmlType.Q4_0) {
                    k.gemmQ4_0x16(il, 0, tiles, nb, act, 1, stride, n, many, 1, rows + 3, rows);
                } else {
                    k.gemmQ8_0x16(il, 0, tiles, nb, act, 1, stride, n, many, 1, rows + 3, rows);
                }
                String what = type + " " + rows + "x" + cols + " seed " + SEED + " " + VectorizationProvider.get();
                assertThat(got).as(what).isEqualTo(ref);
                assertThat(Interleaved.scalesFinite(type, il, 0, rows, cols)).as(what).isTrue();
                float[] fast = new float[n * (rows + 3)];
                for (int i = 0; i < n; i++) {
                    k.gemvFiniteScalesx16(type == GgmlType.Q4_0, il, 0, tiles, nb, act, 1 + i * stride, fast,
                            1 + i * (rows + 3), rows);
                }
                assertThat(fast).as(what + " finite-scales kernel").isEqualTo(ref);
                assertThat(many).as(what + " gemm").isEqualTo(ref);
                for (int i = 0; i < n; i++) { // nothing written past the valid rows
                    assertThat(got[i * (rows + 3)]).isZero();
                    assertThat(got[i * (rows + 3) + rows + 1]).isZero();
                }
            }
        }
    }

    /**
     * Scales that need the exact widening (an infinity, a NaN, −∞) and the extremes of the fast one (the smallest
     * subnormal, the largest finite half, −0), each in one row of a 40-row matrix: the GEMV gives the scalar twin's
     * bits, {@link Interleaved#scalesFinite} sees the specials (also through {@code GgmlMatrix}), and once they are
     * replaced the finite-scales kernel gives the twin's bits on the extremes.
     */
    @Test
    void kernelsMatchTheTwinForSpecialAndExtremeScales() {
        Random r = new Random(SEED + 5);
        int rows = 40, cols = 96, nb = 3;
        short[][] special = {{3, 1, 0x7C00}, {20, 0, 0x7E00}, {33, 2, (short) 0xFC00}, {5, 1, 0x0001}, {7, 0, 0x7BFF},
            {9, 2, (short) 0x8000}};
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0}) {
            MemorySegment std = standard(type, r, rows, cols);
            for (short[] s : special) {
                std.set(ScalarGgmlKernels.F16_LE, s[0] * type.rowBytes(cols) + (long) type.blockBytes() * s[1], s[2]);
            }
            MemorySegment il = Arena.ofAuto().allocate(Interleaved.byteSize(type, rows, cols), 64);
            Interleaved.repack(type, std, 0, rows, cols, il, 0);
            int[] act = new int[18 * nb];
            REF.quantizeQ8_0Pairs(GgmlKernelsTest.row(r, nb, 10), 0, act, 0, nb);
            if (type == GgmlType.Q4_0) {
                REF.pairsForQ4_0(act, 0, nb);
            }
            float[] got = new float[rows];
            float[] ref = new float[rows];
            if (type == GgmlType.Q4_0) {
                k.gemvQ4_0x16(il, 0, Interleaved.tiles(rows), nb, act, 0, got, 0, rows);
                REF.gemvQ4_0x16(il, 0, Interleaved.tiles(rows), nb, act, 0, ref, 0, rows);
            } else {
                k.gemvQ8_0x16(il, 0, Interleaved.tiles(rows), nb, act, 0, got, 0, rows);
                REF.gemvQ8_0x16(il, 0, Interleaved.tiles(rows), nb, act, 0, ref, 0, rows);
            }
            assertThat(got).as("%s %s", type, VectorizationProvider.get()).isEqualTo(ref);
            assertThat(Interleaved.scalesFinite(type, il, 0, rows, cols)).as("an Inf/NaN scale is seen").isFalse();
            // a GgmlMatrix over the same blocks finds them at repack time and keeps the exact widening
            float[] x = GgmlKernelsTest.row(r, nb, 10);
            float[] viaMatrix = new float[rows];
            GgmlMatrix.of(type, std, 0, rows, cols).interleaved().gemv(x, null, viaMatrix);
            int[] act2 = new int[18 * nb];
            Interleaved.quantizeActivation(type, x, 0, cols, act2, 0);
            float[] ref2 = new float[rows];
            if (type == GgmlType.Q4_0) {
                REF.gemvQ4_0x16(il, 0, Interleaved.tiles(rows), nb, act2, 0, ref2, 0, rows);
            } else {
                REF.gemvQ8_0x16(il, 0, Interleaved.tiles(rows), nb, act2, 0, ref2, 0, rows);
            }
            assertThat(viaMatrix).as("%s through GgmlMatrix", type).isEqualTo(ref2);
            // the specials, except the subnormal, the largest finite and -0, removed: finite again
            for (short[] sp : new short[][] {special[0], special[1], special[2]}) {
                std.set(ScalarGgmlKernels.F16_LE, sp[0] * type.rowBytes(cols) + (long) type.blockBytes() * sp[1],
                        (short) 0x3C00);
            }
            Interleaved.repack(type, std, 0, rows, cols, il, 0);
            assertThat(Interleaved.scalesFinite(type, il, 0, rows, cols)).as("finite scales").isTrue();
            float[] fast = new float[rows];
            float[] exact = new float[rows];
            k.gemvFiniteScalesx16(type == GgmlType.Q4_0, il, 0, Interleaved.tiles(rows), nb, act, 0, fast, 0, rows);
            if (type == GgmlType.Q4_0) {
                REF.gemvQ4_0x16(il, 0, Interleaved.tiles(rows), nb, act, 0, exact, 0, rows);
            } else {
                REF.gemvQ8_0x16(il, 0, Interleaved.tiles(rows), nb, act, 0, exact, 0, rows);
            }
            assertThat(fast).as("%s finite-scales kernel with subnormal, max and -0 scales", type).isEqualTo(exact);
            assertThat(Float.isNaN(ref[3]) || Float.isInfinite(ref[3])).as("row 3 (an infinite scale)").isTrue();
            assertThat(Float.isNaN(ref[20])).as("row 20 (a NaN scale)").isTrue();
            assertThat(Float.isFinite(ref[5]) && Float.isFinite(ref[7]) && Float.isFinite(ref[0])).isTrue();
        }
    }

    @Test
    void integerSumsAreExactAtTheExtremes() {
        // unit scales (d_w = d_a = 1): every float operation is exact, so the results are the integer dot products
        int cols = 64, rows = 16;
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0}) {
            for (int fill = 0; fill < 3; fill++) {
                MemorySegment std = MemorySegment.ofArray(new byte[(int) type.rowBytes(cols) * rows]);
                int[] a = new int[cols];
                long[] expect = new long[rows];
                int bb = type.blockBytes();
                for (int rr = 0; rr < rows; rr++) {
                    for (int b = 0; b < 2; b++) {
                        std.set(ScalarGgmlKernels.F16_LE, (long) rr * 2 * bb + b * bb, Float.floatToFloat16(1f));
                    }
                }
                for (int j = 0; j < cols; j++) {
                    a[j] = fill == 0 ? 127 : fill == 1 ? -127 : (j % 2 == 0 ? 127 : -127);
                }
                for (int rr = 0; rr < rows; rr++) {
                    for (int j = 0; j < cols; j++) {
                        int q = type == GgmlType.Q4_0 ? (fill == 2 ? (j % 2 == 0 ? 15 : 0) : (rr % 2 == 0 ? 15 : 0))
                                : (fill == 2 ? (j % 2 == 0 ? -128 : 127) : (rr % 2 == 0 ? 127 : -128));
                        long blk = (long) rr * 2 * bb + (j / 32) * bb;
                        if (type == GgmlType.Q4_0) {
                            int jj = j % 32;
                            long at = blk + 2 + (jj % 16);
                            int old = std.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
                            std.set(ValueLayout.JAVA_BYTE, at, (byte) (jj < 16 ? (old & 0xF0) | q : (old & 0x0F) | q << 4));
                            expect[rr] += (long) (q - 8) * a[j];
                        } else {
                            std.set(ValueLayout.JAVA_BYTE, blk + 2 + j % 32, (byte) q);
                            expect[rr] += (long) q * a[j];
                        }
                    }
                }
                int[] act = new int[36];
                for (int b = 0; b < 2; b++) {
                    int sum = 0;
                    for (int m = 0; m < 16; m++) {
                        act[18 * b + m] = (a[32 * b + 2 * m] & 0xFFFF) | a[32 * b + 2 * m + 1] << 16;
                        sum += a[32 * b + 2 * m] + a[32 * b + 2 * m + 1];
                    }
                    act[18 * b + 16] = sum;
                    act[18 * b + 17] = Float.floatToRawIntBits(1f);
                }
                if (type == GgmlType.Q4_0) {
                    REF.pairsForQ4_0(act, 0, 2);
                }
                MemorySegment il = Arena.ofAuto().allocate(Interleaved.byteSize(type, rows, cols));
                Interleaved.repack(type, std, 0, rows, cols, il, 0);
                float[] y = new float[rows];
                Interleaved.gemv(type, il, 0, rows, cols, act, 0, y, 0, 0, rows);
                for (int rr = 0; rr < rows; rr++) {
                    assertThat((double) y[rr]).as("%s fill %d row %d", type, fill, rr).isEqualTo((double) expect[rr]);
                }
            }
        }
    }

    @Test
    void badArgumentsAreNamed() {
        MemorySegment small = MemorySegment.ofArray(new byte[10]);
        assertThatThrownBy(() -> Interleaved.byteSize(GgmlType.Q4_1, 4, 32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Q4_1");
        assertThatThrownBy(() -> Interleaved.byteSize(GgmlType.Q4_0, 4, 48)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("48");
        assertThatThrownBy(() -> Interleaved.repack(GgmlType.Q4_0, small, 0, 1, 32, MemorySegment.ofArray(new byte[288]), 0))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("18");
        assertThatThrownBy(() -> Interleaved.repack(GgmlType.Q4_0, MemorySegment.ofArray(new byte[18]), 0, 1, 32,
                MemorySegment.ofArray(new byte[287]), 0)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("288");
        int[] act = new int[18];
        assertThatThrownBy(() -> Interleaved.gemv(GgmlType.Q4_0, MemorySegment.ofArray(new byte[576]), 0, 32, 32, act, 0,
                new float[32], 0, 8, 32)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("8");
        float[] x = new float[32];
        x[3] = Float.NaN;
        assertThatThrownBy(() -> Interleaved.quantizeActivation(GgmlType.Q8_0, x, 0, 32, act, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
    }
}

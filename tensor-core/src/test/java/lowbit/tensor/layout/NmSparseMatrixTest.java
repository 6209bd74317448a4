package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.Bf16;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link NmSparseMatrix}: the stored format worked out by hand from its definition, round trips, products against a
 * double-precision reference, and every kind of bad input.
 *
 * <p>Product tolerance: the layout computes Σ_k v_k·x_{c_k} over the kept values in float in some order; against the
 * exact sum the error is at most γ_(kept+groups+3)·Σ|v·x| (one rounding per product and addition, plus the lane
 * fold), γ_n = n·u/(1 − n·u), u = 2^-24; the reference is computed in double, whose own error is negligible.
 */
class NmSparseMatrixTest {
    private static final long SEED = 0x24_5ba_7e5L;

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static double gamma(int n) {
        return n * 0x1p-24 / (1 - n * 0x1p-24);
    }

    @Test
    void twoFourFormatByHand() {
        // row 0: group 0 keeps columns 1 and 3, group 1 keeps 4 and 7 (in-group 0 and 3)
        // row 1: group 0 has one non-zero (column 3) and is completed by its lowest zero, column 0
        float[] w = {0, 1.5f, 0, -2, 3, 0, 0, 4,
            0, 0, 0, 5, 0, 6, 7, 0};
        NmSparseMatrix s = NmSparseMatrix.compress(w, 2, 8, 2, 4, DType.F32);
        assertThat(s.keptPerRow()).isEqualTo(4);
        assertThat(s.indexBits()).isEqualTo(2);
        assertThat(s.indexRowBytes()).isEqualTo(1);
        assertThat(s.values()).containsExactly(1.5f, -2, 3, 4, 0, 5, 6, 7);
        assertThat(s.indices()).containsExactly(1, 3, 0, 3, 0, 3, 1, 2);
        // 2-bit indices LSB first: row 0 = 01 | 11<<2 | 00<<4 | 11<<6 = 0xCD; row 1 = 00 | 11<<2 | 01<<4 | 10<<6 = 0x9C
        MemorySegment p = s.packedIndices();
        assertThat(p.byteSize()).isEqualTo(2);
        assertThat(p.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0xCD);
        assertThat(p.get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 0x9C);
        assertThat(s.dequantize()).containsExactly(w);
        assertThat(s.isKept(1, 0)).isTrue();
        assertThat(s.isKept(1, 1)).isFalse();
        assertThat(s.byteSize()).isEqualTo(8 * 4 + 2);
        float[] y = new float[2];
        s.gemv(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, new float[] {10, 20}, y);
        assertThat(y).containsExactly(1.5f * 2 - 2 * 4 + 3 * 5 + 4 * 8 + 10, 5 * 4 + 6 * 6 + 7 * 7 + 20);
    }

    @Test
    void fourEightFormatByHandHasThreeBitIndicesAcrossBytes() {
        // keep {0, 2, 5, 7}: 3-bit codes 000, 010, 101, 111 at bits 0, 3, 6, 9
        float[] w = {1, 0, 2, 0, 0, 3, 0, 4};
        NmSparseMatrix s = NmSparseMatrix.compress(w, 1, 8, 4, 8, DType.F32);
        assertThat(s.indexBits()).isEqualTo(3);
        assertThat(s.indexRowBytes()).isEqualTo(2);
        // byte 0 = bit 4 (code 1 = 010) + bit 6 (low bit of code 2 = 101) = 0x50; byte 1 = bit 8 + bits 9..11 = 0x0F
        assertThat(s.packedIndices().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x50);
        assertThat(s.packedIndices().get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 0x0F);
        assertThat(s.dequantize()).containsExactly(w);
    }

    @Test
    void halfValuesAreRoundedToNearestEven() {
        float[] w = {0.1f, 0, 0, 1e-3f, 0, 70000f / 2, -3.14159f, 0};
        NmSparseMatrix f16 = NmSparseMatrix.compress(w, 1, 8, 2, 4, DType.F16);
        NmSparseMatrix bf16 = NmSparseMatrix.compress(w, 1, 8, 2, 4, DType.BF16);
        float[] kept = {0.1f, 1e-3f, 70000f / 2, -3.14159f};
        for (int i = 0; i < 4; i++) {
            assertThat(f16.values()[i]).isEqualTo(Fp16.toFloat(Fp16.fromFloat(kept[i])));
            assertThat(bf16.values()[i]).isEqualTo(Bf16.toFloat(Bf16.fromFloat(kept[i])));
        }
        assertThat(f16.byteSize()).isEqualTo(4 * 2 + 1);
        assertThatThrownBy(() -> NmSparseMatrix.compress(new float[] {70000f, 0, 0, 0}, 1, 4, 2, 4, DType.F16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overflows F16");
    }

    /** A random matrix pruned to N:M by keeping random positions. */
    private static float[] pruned(Random r, int rows, int cols, int n, int m, boolean[] keep) {
        float[] w = new float[rows * cols];
        for (int row = 0; row < rows; row++) {
            for (int g = 0; g < cols / m; g++) {
                for (int c = 0; c < n;) {
                    int i = g * m + r.nextInt(m);
                    if (!keep[row * cols + i]) {
                        keep[row * cols + i] = true;
                        w[row * cols + i] = (float) r.nextGaussian();
                        c++;
                    }
                }
            }
        }
        return w;
    }

    @Test
    void productsMatchTheDenseReferenceForEveryValueType() {
        Random r = new Random(SEED);
        for (int[] p : new int[][] {{2, 4}, {4, 8}, {1, 4}, {3, 5}, {8, 16}}) {
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                int n = p[0], m = p[1];
                int rows = 13, cols = m * 23;
                boolean[] keep = new boolean[rows * cols];
                float[] w = pruned(r, rows, cols, n, m, keep);
                NmSparseMatrix s = NmSparseMatrix.compress(w, keep, rows, cols, n, m, t);
                float[] wq = s.dequantize();
                for (int i = 0; i < w.length; i++) {
                    float want = !keep[i] ? 0 : t == DType.F16 ? Fp16.toFloat(Fp16.fromFloat(w[i]))
                            : t == DType.BF16 ? Bf16.toFloat(Bf16.fromFloat(w[i])) : w[i];
                    assertThat(wq[i]).as(n + ":" + m + " " + t + " element " + i).isEqualTo(want);
                }
                int batch = 11; // > 8: the tiled GEMM path
                float[] x = new float[batch * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
                float[] bias = new float[rows];
                for (int i = 0; i < rows; i++) {
                    bias[i] = i - 6;
                }
                float[] y1 = new float[rows];
                float[] yn = new float[batch * rows];
                s.gemv(java.util.Arrays.copyOf(x, cols), bias, y1);
                s.gemm(x, batch, bias, yn);
                int kept = cols / m * n;
                for (int b = 0; b < batch; b++) {
                    for (int row = 0; row < rows; row++) {
                        double exact = bias[row];
                        double mag = Math.abs(bias[row]);
                        for (int c = 0; c < cols; c++) {
                            exact += (double) wq[row * cols + c] * x[b * cols + c];
                            mag += Math.abs((double) wq[row * cols + c] * x[b * cols + c]);
                        }
                        double tol = gamma(kept + cols / m + cols + 4) * mag;
                        assertThat((double) yn[b * rows + row]).as(n + ":" + m + " " + t + " gemm").isCloseTo(exact,
                                org.assertj.core.data.Offset.offset(tol));
                        if (b == 0) {
                            assertThat((double) y1[row]).as(n + ":" + m + " " + t + " gemv").isCloseTo(exact,
                                    org.assertj.core.data.Offset.offset(tol));
                        }
                    }
                }
            }
        }
    }

    @Test
    void explicitArraysPackedBytesAndOutliersRoundTrip() {
        Random r = new Random(SEED + 1);
        int rows = 9, cols = 64;
        boolean[] keep = new boolean[rows * cols];
        float[] w = pruned(r, rows, cols, 2, 4, keep);
        NmSparseMatrix a = NmSparseMatrix.compress(w, keep, rows, cols, 2, 4, DType.BF16);
        NmSparseMatrix b = NmSparseMatrix.of(rows, cols, 2, 4, DType.BF16, a.values(), a.indices());
        assertThat(b.dequantize()).containsExactly(a.dequantize());
        MemorySegment bytes = MemorySegment.ofArray(new short[a.values().length]);
        Bf16.fromFloats(a.values(), 0, bytes, 0, a.values().length);
        NmSparseMatrix c = NmSparseMatrix.ofPacked(rows, cols, 2, 4, DType.BF16, bytes, a.packedIndices());
        assertThat(c.dequantize()).containsExactly(a.dequantize());
        MemorySegment f32 = MemorySegment.ofArray(a.values().clone());
        assertThat(NmSparseMatrix.ofPacked(rows, cols, 2, 4, DType.F32, f32, a.packedIndices()).dequantize())
                .containsExactly(a.dequantize());

        Outliers o = Outliers.of(rows, cols, new int[] {2, 5}, new int[] {7, 0}, new float[] {100f, -50f}, DType.F32);
        NmSparseMatrix d = a.withOutliers(o);
        float[] dw = d.dequantize();
        assertThat(dw[2 * cols + 7]).isEqualTo(100f);
        assertThat(dw[5 * cols]).isEqualTo(-50f);
        float[] x = new float[cols];
        x[7] = 1;
        x[0] = 2;
        float[] y = new float[rows];
        d.gemv(x, null, y);
        // three float operations on the base sum and the outlier correction: within a few ulps of 100
        assertThat((double) y[2]).isCloseTo(100.0 + 2.0 * dw[2 * cols], org.assertj.core.data.Offset.offset(1e-4));
        assertThat((double) y[5]).isCloseTo(-100.0 + dw[5 * cols + 7], org.assertj.core.data.Offset.offset(1e-4));
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        Random r = new Random(SEED + 2);
        int rows = 301, cols = 512;
        boolean[] keep = new boolean[rows * cols];
        NmSparseMatrix s = NmSparseMatrix.compress(pruned(r, rows, cols, 2, 4, keep), keep, rows, cols, 2, 4, DType.F32);
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = (float) r.nextGaussian();
        }
        float[] y1 = new float[rows];
        float[] y2 = new float[rows];
        Parallel.setParallelism(1);
        s.gemv(x, null, y1);
        Parallel.setParallelism(3);
        s.gemv(x, null, y2);
        assertThat(y2).containsExactly(y1);
    }

    @Test
    void badInputIsNamed() {
        float[] w8 = new float[8];
        assertThatThrownBy(() -> NmSparseMatrix.compress(w8, 1, 8, 4, 4, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4:4").hasMessageContaining("N < M");
        assertThatThrownBy(() -> NmSparseMatrix.compress(w8, 1, 8, 5, 4, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("5:4");
        assertThatThrownBy(() -> NmSparseMatrix.compress(new float[10], 1, 10, 2, 4, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of M = 4")
                .hasMessageContaining("cols = 10");
        assertThatThrownBy(() -> NmSparseMatrix.compress(new float[] {1, 2, 3, 0}, 1, 4, 2, 4, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row 0, group 0")
                .hasMessageContaining("3 non-zero");
        assertThatThrownBy(() -> NmSparseMatrix.compress(new float[] {Float.NaN, 0, 0, 0}, 1, 4, 2, 4, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
        assertThatThrownBy(() -> NmSparseMatrix.compress(new float[7], 1, 8, 2, 4, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("7 weights");
        assertThatThrownBy(() -> NmSparseMatrix.compress(w8, new boolean[7], 1, 8, 2, 4, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keep mask has 7 entries");
        assertThatThrownBy(() -> NmSparseMatrix.compress(w8, new boolean[] {true, true, true, false, true, true, false,
            false}, 1, 8, 2, 4, DType.F32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("group 0").hasMessageContaining("keeps 3");
        assertThatThrownBy(() -> NmSparseMatrix.compress(w8, 1, 8, 2, 4, DType.I8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32, F16 or BF16");
        assertThatThrownBy(() -> NmSparseMatrix.of(1, 4, 2, 4, DType.F32, new float[] {1, 2}, new int[] {2, 1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not above the previous 2");
        assertThatThrownBy(() -> NmSparseMatrix.of(1, 4, 2, 4, DType.F32, new float[] {1, 2}, new int[] {0, 4}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside [0, 4)");
        assertThatThrownBy(() -> NmSparseMatrix.of(1, 4, 2, 4, DType.F32, new float[] {1, Float.POSITIVE_INFINITY},
                new int[] {0, 1})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Infinity");
        assertThatThrownBy(() -> NmSparseMatrix.ofPacked(2, 8, 2, 4, DType.F32, MemorySegment.ofArray(new float[8]),
                MemorySegment.ofArray(new byte[1]))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("need 2 bytes");
        // a packed stream whose indices are not increasing (0b00_01 = indices 1, 0)
        assertThatThrownBy(() -> NmSparseMatrix.ofPacked(1, 4, 2, 4, DType.F32, MemorySegment.ofArray(new float[2]),
                MemorySegment.ofArray(new byte[] {0b0001}))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not above");
        NmSparseMatrix s = NmSparseMatrix.compress(w8, 1, 8, 2, 4, DType.F32);
        assertThatThrownBy(() -> s.gemv(new float[7], null, new float[1]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x has 7 elements");
    }
}

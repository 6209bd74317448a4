package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.PackedPanels;
import lowbit.tensor.simd.ScalarDenseKernels;
import lowbit.tensor.simd.SimdTesting;
import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link PackedWeight} and {@link Gemm#linear(float[], int, PackedWeight, float[], float[])} against the scalar
 * triple loop, at sizes that cross the register tile (8 rows, 2 vectors of columns), the k-slice (at most 256) and leave
 * partial panels, for F32 arrays and F32/F16/BF16 tensors; against the unpacked GEMM bit for bit (more than 8 rows,
 * where both run the same k-slices and micro-kernel); for 1, 2 and 3 threads; and the panel layout against its
 * definition {@code data[(j/w)·w·k + p·w + j%w] = W[j, p]}.
 *
 * <p>Tolerance as in {@link GemmTest}: both results are within γ_k·Σ|x·w| of the exact dot product, and adding the
 * bias (β = 1 on a C holding it) adds at most three roundings: |got − ref| ≤ 2·γ_(k+3)·(Σ_p|x_ip·w_jp| + |b_j|).
 */
@Tag("simd")
class PackedWeightTest {
    private static final long SEED = 0x9ac4L;
    private static final ScalarDenseKernels REF = new ScalarDenseKernels();
    private static final DenseKernels K = VectorizationProvider.get().dense();

    @AfterEach
    void restoreParallelism() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static void check(float[] x, int n, int in, float[] values, int out, float[] bias, float[] got, String at) {
        float[] ref = new float[n * out];
        if (bias != null) {
            for (int i = 0; i < n; i++) {
                System.arraycopy(bias, 0, ref, i * out, out);
            }
        }
        REF.gemm(false, true, n, out, in, 1f, x, 0, in, values, 0, in, bias == null ? 0f : 1f, ref, 0, out);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < out; j++) {
                double s = bias == null ? 0 : Math.abs(bias[j]);
                for (int p = 0; p < in; p++) {
                    s += Math.abs((double) x[i * in + p] * values[j * in + p]);
                }
                double tol = 2 * DenseTesting.gamma(in + 3) * s + Float.MIN_VALUE;
                assertThat(Math.abs((double) got[i * out + j] - ref[i * out + j])).as("Y[%d, %d] %s", i, j, at)
                        .isLessThanOrEqualTo(tol);
            }
        }
    }

    @Test
    void packedLinearMatchesTheTwinAndTheUnpackedGemm() {
        Random rnd = new Random(SEED);
        int[][] shapes = {{1, 1, 1}, {1, 33, 17}, {5, 64, 300}, {8, 31, 7}, {9, 65, 300}, {17, 100, 257}, {40, 33, 513},
                {3, 5, 0}, {0, 7, 9}, {21, 77, 1100}, {12, 64, 1100}};
        for (int[] s : shapes) {
            int n = s[0], out = s[1], in = s[2];
            float[] x = DenseTesting.floats(rnd, n * in, 2f);
            float[] w = DenseTesting.floats(rnd, out * in, 2f);
            float[] bias = s[1] % 2 == 1 ? DenseTesting.floats(rnd, out, 1f) : null;
            PackedWeight pw = PackedWeight.of(w, out, in);
            assertThat(pw.outFeatures()).isEqualTo(out);
            assertThat(pw.inFeatures()).isEqualTo(in);
            float[] got = new float[n * out];
            Gemm.linear(x, n, pw, bias, got);
            String at = String.format("n=%d out=%d in=%d seed=%d %s", n, out, in, SEED, SimdTesting.providerName());
            check(x, n, in, w, out, bias, got, at);
            if (n > 8) {
                float[] unpacked = new float[n * out];
                Gemm.linear(x, n, in, w, out, bias, unpacked);
                assertThat(got).as("packed vs unpacked bits, " + at).isEqualTo(unpacked);
            }
        }
    }

    @Test
    void tensorsOfEveryDtypePackTheirWidenedValues() {
        Random rnd = new Random(SEED + 1);
        int n = 11, out = 70, in = 260;
        float[] x = DenseTesting.floats(rnd, n * in, 1f);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                DenseTesting.Weight w = DenseTesting.weight(rnd, type, out * in, 2f);
                Tensor t = Tensor.wrap(w.segment(arena, 0), type, Shape.of(out, in));
                PackedWeight pw = PackedWeight.of(t);
                assertThat(pw.sourceType()).isEqualTo(type);
                float[] got = new float[n * out];
                Gemm.linear(x, n, pw, null, got);
                check(x, n, in, w.values(), out, null, got, type + " seed=" + SEED + " " + SimdTesting.providerName());
                float[] unpacked = new float[n * out];
                Gemm.linear(x, n, t, null, unpacked);
                assertThat(got).as("%s packed vs unpacked", type).isEqualTo(unpacked);
            }
            // a confined segment is packed by the calling thread alone
            try (Arena confined = Arena.ofConfined()) {
                DenseTesting.Weight w = DenseTesting.weight(rnd, DType.BF16, out * in, 2f);
                PackedWeight pw = PackedWeight.of(Tensor.wrap(w.segment(confined, 0), DType.BF16, Shape.of(out, in)));
                float[] got = new float[n * out];
                Gemm.linear(x, n, pw, null, got);
                check(x, n, in, w.values(), out, null, got, "confined BF16 seed=" + SEED);
            }
        }
    }

    @Test
    void panelsFollowTheirDefinition() {
        Random rnd = new Random(SEED + 2);
        int out = 45, in = 19;
        float[] w = DenseTesting.floats(rnd, out * in, 1f);
        PackedPanels p = K.packTransposed(w, 0, in, out, in);
        int width = p.panelWidth();
        assertThat(p.data()).hasSize((out + width - 1) / width * width * in);
        for (int j = 0; j < (out + width - 1) / width * width; j++) {
            for (int c = 0; c < in; c++) {
                float want = j < out ? w[j * in + c] : 0f;
                assertThat(p.data()[(j / width) * width * in + c * width + j % width]).as("W[%d, %d]", j, c)
                        .isEqualTo(want);
            }
        }
        // the scalar twin reads panels of any width through the same definition
        int n = 6;
        float[] x = DenseTesting.floats(rnd, n * in, 1f);
        float[] viaPanels = new float[n * out], direct = new float[n * out];
        REF.gemmPacked(n, 1f, x, 0, in, p, null, 0f, viaPanels, 0, out);
        REF.gemm(false, true, n, out, in, 1f, x, 0, in, w, 0, in, 0f, direct, 0, out);
        assertThat(viaPanels).isEqualTo(direct);
    }

    @Test
    void threadCountDoesNotChangeTheResult() {
        Random rnd = new Random(SEED + 3);
        for (int[] shape : new int[][] {{3, 70}, {40, 70}, {40, 1100}}) { // in = 1100: packed C (five k-slices)
            int n = shape[0], out = 1100, in = shape[1];
            float[] x = DenseTesting.floats(rnd, n * in, 1f);
            float[] w = DenseTesting.floats(rnd, out * in, 1f);
            float[] bias = in > 512 ? DenseTesting.floats(rnd, out, 1f) : null;
            float[] first = null;
            for (int threads : new int[] {1, 2, 3}) {
                Parallel.setParallelism(threads);
                float[] y = new float[n * out];
                Gemm.linear(x, n, PackedWeight.of(w, out, in), bias, y);
                if (first == null) {
                    first = y;
                }
                assertThat(y).as("n=%d, %d threads vs 1", n, threads).isEqualTo(first);
            }
        }
    }

    @Test
    void badInputIsNamed() {
        PackedWeight pw = PackedWeight.of(new float[12], 3, 4);
        assertThatThrownBy(() -> PackedWeight.of(new float[11], 3, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("W [3, 4]");
        assertThatThrownBy(() -> Gemm.linear(new float[7], 2, pw, null, new float[6]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("X has length 7");
        assertThatThrownBy(() -> Gemm.linear(new float[8], 2, pw, new float[2], new float[6]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias");
        assertThatThrownBy(() -> PackedWeight.of(Tensor.ofFloats(new float[8], 2, 2, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("matrix");
        assertThatThrownBy(() -> PackedWeight.of(new float[1], 1 << 16, 1 << 15))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("too large");
        assertThatThrownBy(() -> new PackedPanels(new float[5], 2, 3, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("need 8 floats");
        if (!(K instanceof ScalarDenseKernels)) {
            PackedPanels narrow = new PackedPanels(new float[12], 1, 3, 4);
            assertThatThrownBy(() -> K.gemmPacked(1, 1f, new float[4], 0, 4, narrow, null, 0f, new float[3], 0, 3))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("panels of 1");
        }
    }
}

package lowbit.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.io.SafetensorsWriter;
import lowbit.tensor.io.TensorFormatException;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CalibrationCollector} against the definitions computed in double from whole activation matrices: H = 2XᵀX/N,
 * the weighted H = 2Xᵀdiag(r)X/Σr, masked tokens, per-channel means; batching, merging and thread counts; the file
 * format round trip and its validation; bad batches.
 *
 * <p>Tolerance for H: each chunk of ≤ 256 tokens is a float dot product per entry, within γ_256·Σ_t|r_t·x_ti·x_tj|
 * of its exact value (u = 2⁻²⁴; the weighted input r_t·x_ti adds one more rounding, covered by γ_257), and chunks add
 * in double; so |H − H_exact| ≤ 2·γ_257·Σ_t|r_t·x_ti·x_tj|/Σr. Per-channel sums are double sums of float values:
 * within n·2⁻⁵³ relative, then rounded to float (2⁻²⁴ relative).
 */
class CalibrationCollectorTest {
    private static final long SEED = 0xca11bL;
    private static final int F = 200;

    @TempDir
    Path dir;

    @AfterEach
    void restore() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static double gamma(int n) {
        double u = 0x1p-24;
        return n * u / (1 - n * u);
    }

    /** Checks a collector's H and means against the weighted definition over x [n, F]. */
    private static void checkAgainstDefinition(CalibrationStats c, float[] x, int n, float[] r, String at) {
        double wsum = 0;
        for (int t = 0; t < n; t++) {
            wsum += r == null ? 1 : r[t];
        }
        double[] h = c.hessian();
        for (int i = 0; i < F; i++) {
            double abs = 0, sq = 0, mean = 0;
            for (int t = 0; t < n; t++) {
                double rt = r == null ? 1 : r[t];
                double v = x[t * F + i];
                abs += rt * Math.abs(v);
                sq += rt * v * v;
                mean += rt * v;
            }
            assertThat(Math.abs(c.meanAbs()[i] - abs / wsum)).as("mean|x| %d %s", i, at)
                    .isLessThanOrEqualTo(1e-6 * abs / wsum);
            assertThat(Math.abs(c.meanSquare()[i] - sq / wsum)).as("mean x² %d %s", i, at)
                    .isLessThanOrEqualTo(1e-6 * sq / wsum);
            assertThat(Math.abs(c.mean()[i] - mean / wsum)).as("mean x %d %s", i, at)
                    .isLessThanOrEqualTo(1e-6 * abs / wsum);
            for (int j = 0; j < F; j++) {
                double s = 0, sa = 0;
                for (int t = 0; t < n; t++) {
                    double rt = r == null ? 1 : r[t];
                    double p = rt * x[t * F + i] * x[t * F + j];
                    s += p;
                    sa += Math.abs(p);
                }
                double exact = 2 * s / wsum;
                assertThat(Math.abs(h[i * F + j] - exact)).as("H[%d, %d] %s", i, j, at)
                        .isLessThanOrEqualTo(2 * gamma(257) * 2 * sa / wsum + Double.MIN_NORMAL);
                assertThat(h[i * F + j]).as("symmetric").isEqualTo(h[j * F + i]);
            }
        }
    }

    @Test
    void accumulatesTheDefinitionOverBatchesWeightsAndMasks() {
        int n = 700; // three chunks of 256, the last one partial
        float[] x = CalibTesting.activations(n, F, 3, SEED);
        CalibrationCollector c = CalibrationCollector.withHessian(F);
        // uneven batches
        int[] cuts = {0, 1, 300, 555, 700};
        for (int b = 0; b + 1 < cuts.length; b++) {
            c.add(java.util.Arrays.copyOfRange(x, cuts[b] * F, cuts[b + 1] * F), cuts[b + 1] - cuts[b]);
        }
        assertThat(c.tokens()).isEqualTo(n);
        assertThat(c.weightSum()).isEqualTo(n);
        checkAgainstDefinition(c, x, n, null, "unit weights seed=" + SEED);
        // the array implementation agrees (it sums in double)
        ArrayCalibrationStats a = ArrayCalibrationStats.fromActivations(x, n, F, true);
        assertThat(c.snapshot().tokens()).isEqualTo(a.tokens());

        // importance weights, with zeros: RSQ's H = 2Xᵀdiag(r)X/Σr
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(SEED);
        float[] r = new float[n];
        for (int t = 0; t < n; t++) {
            r[t] = t % 7 == 0 ? 0 : (float) rnd.nextDouble(0.1, 3);
        }
        CalibrationCollector cw = CalibrationCollector.withHessian(F);
        cw.add(x, n, r);
        assertThat(cw.tokens()).isEqualTo(n - (n + 6) / 7);
        checkAgainstDefinition(cw, x, n, r, "weighted seed=" + SEED);

        // a padding mask: exactly the kept rows, added alone
        int[] mask = new int[n];
        int kept = 0;
        for (int t = 0; t < n; t++) {
            mask[t] = t % 3 == 1 ? 0 : 1;
            kept += mask[t];
        }
        float[] xk = new float[kept * F];
        for (int t = 0, k = 0; t < n; t++) {
            if (mask[t] == 1) {
                System.arraycopy(x, t * F, xk, k++ * F, F);
            }
        }
        x[F + 5] = Float.NaN; // token 1 is masked out: its values are never read
        CalibrationCollector cm = CalibrationCollector.withHessian(F);
        cm.addMasked(x, n, mask);
        CalibrationCollector ck = CalibrationCollector.withHessian(F);
        ck.add(xk, kept);
        assertThat(cm.hessian()).isEqualTo(ck.hessian());
        assertThat(cm.meanAbs()).isEqualTo(ck.meanAbs());
        assertThat(cm.tokens()).isEqualTo(kept);
    }

    @Test
    void mergeInOrderAndThreadCountsGiveTheSameBits() {
        int n = 600;
        float[] x = CalibTesting.activations(n, F, 2, SEED + 1);
        float[] x1 = java.util.Arrays.copyOfRange(x, 0, 256 * F);
        float[] x2 = java.util.Arrays.copyOfRange(x, 256 * F, n * F);
        double[][] hs = new double[3][];
        for (int t = 1; t <= 3; t++) {
            Parallel.setParallelism(t);
            CalibrationCollector one = CalibrationCollector.withHessian(F);
            one.add(x1, 256);
            one.add(x2, n - 256);
            hs[t - 1] = one.hessian();
        }
        assertThat(hs[1]).isEqualTo(hs[0]);
        assertThat(hs[2]).isEqualTo(hs[0]);
        CalibrationCollector p1 = CalibrationCollector.withHessian(F);
        p1.add(x1, 256);
        CalibrationCollector p2 = CalibrationCollector.withHessian(F);
        p2.add(x2, n - 256);
        CalibrationCollector m = CalibrationCollector.merged(List.of(p1, p2));
        // (0 + S1) + S2 is what one collector computes for the same batches: identical bits
        assertThat(m.hessian()).isEqualTo(hs[0]);
        assertThat(m.tokens()).isEqualTo(n);
        CalibrationCollector noH = CalibrationCollector.withoutHessian(F);
        assertThatThrownBy(() -> p1.merge(noH)).hasMessageContaining("without Hessian");
        assertThatThrownBy(() -> p1.merge(CalibrationCollector.withHessian(F + 1))).hasMessageContaining("201 features");
        assertThatThrownBy(() -> p1.merge(p1)).hasMessageContaining("into itself");
        assertThatThrownBy(() -> CalibrationCollector.merged(List.of())).hasMessageContaining("nothing to merge");
    }

    @Test
    void fileRoundTripIsExactAndHostileFilesAreRejected() throws Exception {
        int n = 300;
        float[] x = CalibTesting.activations(n, F, 2, SEED + 2);
        CalibrationCollector c = CalibrationCollector.withHessian(F);
        c.add(x, n);
        Path f = dir.resolve("layer.calib.safetensors");
        c.write(f);
        CalibrationCollector back = CalibrationCollector.read(f);
        assertThat(back.hessian()).isEqualTo(c.hessian());
        assertThat(back.meanAbs()).isEqualTo(c.meanAbs());
        assertThat(back.meanSquare()).isEqualTo(c.meanSquare());
        assertThat(back.mean()).isEqualTo(c.mean());
        assertThat(back.tokens()).isEqualTo(n);
        // merging after a round trip = merging the originals
        float[] more = java.util.Arrays.copyOf(x, 10 * F);
        back.add(more, 10);
        c.add(more, 10);
        assertThat(back.hessian()).isEqualTo(c.hessian());

        CalibrationCollector small = CalibrationCollector.withoutHessian(3);
        small.add(new float[] {1, -2, 3, 4, 5, -6}, 2);
        Path g = dir.resolve("small.safetensors");
        small.write(g);
        assertThat(CalibrationCollector.read(g).meanAbs()).containsExactly(2.5f, 3.5f, 4.5f);
        assertThat(CalibrationCollector.read(g).collectsHessian()).isFalse();

        Map<String, String> meta = new java.util.LinkedHashMap<>(Map.of("format", "lowbit.calibration", "version", "1",
                "features", "2", "tokens", "3", "weight_sum", "3.0"));
        Tensor v = doubles(new double[] {1, 2}, 2);
        Tensor asym = doubles(new double[] {1, 2, 3, 4}, 2, 2);
        Path h = dir.resolve("hostile.safetensors");
        SafetensorsWriter.write(h, Map.of("abs_sum", v, "square_sum", v, "sum", v, "xtx_sum", asym), meta);
        assertThatThrownBy(() -> CalibrationCollector.read(h)).isInstanceOf(TensorFormatException.class)
                .hasMessageContaining("symmetry");
        SafetensorsWriter.write(h, Map.of("abs_sum", doubles(new double[] {1, -2}, 2), "square_sum", v, "sum", v), meta);
        assertThatThrownBy(() -> CalibrationCollector.read(h)).hasMessageContaining("entry 1 is -2.0");
        SafetensorsWriter.write(h, Map.of("abs_sum", doubles(new double[] {1, 2, 3}, 3), "square_sum", v, "sum", v),
                meta);
        assertThatThrownBy(() -> CalibrationCollector.read(h)).hasMessageContaining("expected F64 [2]");
        SafetensorsWriter.write(h, Map.of("square_sum", v, "sum", v), meta);
        assertThatThrownBy(() -> CalibrationCollector.read(h)).hasMessageContaining("missing");
        meta.put("weight_sum", "0.0");
        SafetensorsWriter.write(h, Map.of("abs_sum", v, "square_sum", v, "sum", v), meta);
        assertThatThrownBy(() -> CalibrationCollector.read(h)).hasMessageContaining("does not fit 3 tokens");
        meta.put("format", "something.else");
        SafetensorsWriter.write(h, Map.of("abs_sum", v), meta);
        assertThatThrownBy(() -> CalibrationCollector.read(h)).hasMessageContaining("expected metadata format");
        Files.writeString(h, "not a safetensors file");
        assertThatThrownBy(() -> CalibrationCollector.read(h)).isInstanceOf(TensorFormatException.class);
    }

    private static Tensor doubles(double[] v, long... dims) {
        return Tensor.wrap(java.lang.foreign.MemorySegment.ofArray(v), DType.F64, Shape.of(dims));
    }

    @Test
    void badBatchesAreNamedAndLeaveTheCollectorUnchanged() {
        CalibrationCollector c = CalibrationCollector.withHessian(4);
        c.add(new float[] {1, 2, 3, 4}, 1);
        double[] before = c.hessian().clone();
        float[] bad = {1, 2, 3, 4, 5, Float.NaN, 7, 8};
        assertThatThrownBy(() -> c.add(bad, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("token 1, channel 1 is NaN");
        float[] inf = {1, 2, Float.NEGATIVE_INFINITY, 4};
        assertThatThrownBy(() -> c.addMasked(inf, 1, new int[] {1})).hasMessageContaining("token 0, channel 2 is -Infinity");
        assertThatThrownBy(() -> c.add(new float[7], 2)).hasMessageContaining("7 values is not 2 tokens x 4 features");
        assertThatThrownBy(() -> c.add(new float[8], 2, new float[] {1, -1})).hasMessageContaining("token weight 1 is -1.0");
        assertThatThrownBy(() -> c.add(new float[8], 2, new float[] {1})).hasMessageContaining("1 token weights for 2");
        assertThatThrownBy(() -> c.addMasked(new float[8], 2, new int[] {1})).hasMessageContaining("mask has 1 entries");
        assertThat(c.tokens()).isEqualTo(1);
        assertThat(c.hessian()).isEqualTo(before);
        assertThatThrownBy(() -> CalibrationCollector.withHessian(3).snapshot())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no tokens");
        assertThatThrownBy(() -> CalibrationCollector.withHessian(0)).hasMessageContaining("features must be >= 1");
        // dimension mismatch against a weight
        assertThatThrownBy(() -> Rtn.defaults().quantize(new float[10], 2, 5,
                lowbit.tensor.layout.AffineSpec.perOutputChannel(4, false), c)).hasMessageContaining("4 input features");
    }
}

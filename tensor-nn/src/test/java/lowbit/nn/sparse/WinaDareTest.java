package lowbit.nn.sparse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.nn.Linear;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** WINA's selection and sparse product against the definition; DARE's drop-and-rescale statistics and seeding. */
class WinaDareTest {
    private static final long SEED = 0x714a_da5eL;

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    @Test
    void winaKeepsTheLargestWeightedInputsAndSkipsTheRest() {
        Random r = new Random(SEED);
        int out = 37, in = 101;
        float[] w = SparseGptTest.gaussian(r, out * in);
        for (int j = 0; j < in; j++) {
            float f = 0.1f + 3 * r.nextFloat();
            for (int o = 0; o < out; o++) {
                w[o * in + j] *= f;
            }
        }
        Wina wina = Wina.of(w, out, in);
        float[] x = SparseGptTest.gaussian(r, in);
        int k = wina.kept(0.5);
        assertThat(k).isEqualTo(50);
        int[] sel = new int[in];
        assertThat(wina.select(x, 0, k, sel)).isEqualTo(k);
        // reference: scores by the definition, the k largest
        double[] score = new double[in];
        for (int j = 0; j < in; j++) {
            double n2 = 0;
            for (int o = 0; o < out; o++) {
                n2 += (double) w[o * in + j] * w[o * in + j];
            }
            score[j] = Math.abs(x[j]) * Math.sqrt(n2);
        }
        double minKept = Double.POSITIVE_INFINITY;
        boolean[] kept = new boolean[in];
        for (int i = 0; i < k; i++) {
            kept[sel[i]] = true;
            minKept = Math.min(minKept, score[sel[i]]);
            if (i > 0) {
                assertThat(sel[i]).isGreaterThan(sel[i - 1]);
            }
        }
        for (int j = 0; j < in; j++) {
            if (!kept[j]) {
                assertThat(score[j]).isLessThanOrEqualTo(minKept * (1 + 1e-6));
            }
        }
        float[] y = new float[out];
        float[] bias = SparseGptTest.gaussian(r, out);
        wina.forward(x, 0.5, bias, y);
        for (int o = 0; o < out; o++) {
            double want = bias[o], mag = Math.abs(bias[o]);
            for (int j = 0; j < in; j++) {
                if (kept[j]) {
                    want += (double) w[o * in + j] * x[j];
                    mag += Math.abs((double) w[o * in + j] * x[j]);
                }
            }
            // k + 2 roundings per element: γ_52·Σ|terms|
            assertThat((double) y[o]).isCloseTo(want, org.assertj.core.data.Offset.offset(52 * 0x1p-24 * mag * 1.01));
        }
        // ties go to the lower index
        Wina flat = Wina.of(new float[] {1, 1, 1, 1}, 1, 4);
        int[] s2 = new int[4];
        assertThat(flat.select(new float[] {2, 2, 2, 2}, 0, 2, s2)).isEqualTo(2);
        assertThat(s2[0]).isZero();
        assertThat(s2[1]).isEqualTo(1);
    }

    @Test
    void winaAsALinearWeight() {
        Random r = new Random(SEED + 1);
        int out = 16, in = 48, n = 5;
        float[] w = SparseGptTest.gaussian(r, out * in);
        Wina wina = Wina.of(w, out, in);
        float[] x = SparseGptTest.gaussian(r, n * in);
        Linear l = new Linear(wina.asWeight(0.25), null);
        Parallel.setParallelism(1);
        float[] y = l.forward(x, n);
        Parallel.setParallelism(3);
        assertThat(l.forward(x, n)).containsExactly(y);
        for (int t = 0; t < n; t++) {
            float[] yt = new float[out];
            wina.forward(java.util.Arrays.copyOfRange(x, t * in, (t + 1) * in), 0.25, null, yt);
            assertThat(java.util.Arrays.copyOfRange(y, t * out, (t + 1) * out)).containsExactly(yt);
        }
        assertThat(wina.asWeight(0).toFloats()).containsExactly(w);
        // sparsity 0 keeps everything: the dense product
        float[] y0 = new Linear(wina.asWeight(0), null).forward(java.util.Arrays.copyOf(x, in), 1);
        float[] yd = new Linear(lowbit.nn.DenseWeight.of(w, out, in), null).forward(java.util.Arrays.copyOf(x, in), 1);
        for (int o = 0; o < out; o++) {
            assertThat(y0[o]).isCloseTo(yd[o], org.assertj.core.data.Offset.offset(1e-4f));
        }
        assertThatThrownBy(() -> l.backwardInput(new float[n * out], n)).isInstanceOf(UnsupportedOperationException.class);
        float[] nan = new float[in];
        nan[3] = Float.NaN;
        assertThatThrownBy(() -> wina.forward(nan, 0.5, null, new float[out]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("input 3 is NaN");
        assertThatThrownBy(() -> wina.forward(new float[in], 1.0, null, new float[out]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void dareDropsAndRescales() {
        Random r = new Random(SEED + 2);
        int n = 200_000;
        float[] base = SparseGptTest.gaussian(r, n);
        float[] ft = base.clone();
        for (int i = 0; i < n; i++) {
            ft[i] += 0.01f * (1 + (i % 7));
        }
        double p = 0.9;
        float[] d = Dare.delta(base, ft, p, 42);
        assertThat(Dare.delta(base, ft, p, 42)).containsExactly(d);
        assertThat(Dare.delta(base, ft, p, 43)).isNotEqualTo(d);
        int kept = 0;
        double sum = 0, sumDelta = 0, worst = 0;
        for (int i = 0; i < n; i++) {
            double delta = (double) ft[i] - base[i];
            sumDelta += delta;
            if (d[i] != 0) {
                kept++;
                worst = Math.max(worst, Math.abs(d[i] - delta * 10) / Math.abs(delta * 10));
            }
            sum += d[i];
        }
        // kept deltas are rescaled by 1/(1 − p) = 10: one float rounding of the product (relative 2^-24)
        assertThat(worst).isLessThanOrEqualTo(0x1p-24);
        // binomial(n, 0.1): mean 20000, σ ≈ 134; 5σ bounds
        assertThat(kept).isBetween(20000 - 670, 20000 + 670);
        // E[δ'] = δ: the sums agree within the sampling error (≈ 5σ of the rescaled sum)
        assertThat(sum).isCloseTo(sumDelta, org.assertj.core.data.Offset.offset(0.05 * sumDelta));
        float[] merged = Dare.apply(base, ft, 0, 1);
        for (int i = 0; i < 100; i++) {
            assertThat(merged[i]).isCloseTo(ft[i], org.assertj.core.data.Offset.offset(1e-6f));
        }
        assertThat(Dare.delta(base, ft, 0.5, 2.0, 1)).hasSize(n);
        assertThatThrownBy(() -> Dare.delta(base, ft, 1.0, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[0, 1)");
        assertThatThrownBy(() -> Dare.delta(base, new float[3], 0.5, 1)).isInstanceOf(IllegalArgumentException.class);
        float[] bad = ft.clone();
        bad[5] = Float.POSITIVE_INFINITY;
        assertThatThrownBy(() -> Dare.delta(base, bad, 0.5, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("weight 5");
    }
}

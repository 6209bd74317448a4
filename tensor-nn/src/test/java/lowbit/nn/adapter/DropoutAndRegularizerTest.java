package lowbit.nn.adapter;

import static lowbit.nn.NnTesting.finiteDifferences;
import static lowbit.nn.NnTesting.gamma;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Random;
import lowbit.nn.NnTesting;
import org.junit.jupiter.api.Test;

/** Gradients through seeded dropout (LoRA, DoRA, SORSA) and of the SORSA regulariser, against finite differences. */
class DropoutAndRegularizerTest {
    private static final double P = 0.3;

    /** The mask of the last training pass, recovered from the dropped input the adapter saved (x has no zeros). */
    private static double[] mask(Object saved, float[] x) {
        float[] xd = saved instanceof LoraAdapter.Saved s ? s.xd() : saved instanceof DoraAdapter.DoraSaved d ? d.xd()
                : ((SorsaAdapter.Saved) saved).xd();
        double[] m = new double[x.length];
        for (int i = 0; i < m.length; i++) {
            m[i] = xd[i] / x[i];
        }
        return m;
    }

    private static double[] times(double[] x, double[] m) {
        double[] y = x.clone();
        for (int i = 0; i < y.length; i++) {
            y[i] *= m[i];
        }
        return y;
    }

    @Test
    void loraDropoutGradientsUseTheSameMaskAsTheForward() {
        Random r = new Random(3);
        int in = 13, out = 11, rank = 3, n = 6;
        AdaptedLinear layer = AdaptedLinear.of("m", Twins.base(r, out, in));
        LoraAdapter a = layer.addLora("default", LoraConfig.of(rank, 6).withDropout(P).withSeed(5));
        Twins.randomize(a.b(), r, 0.3);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        AdaptedLinear.Activations act = layer.train(x, n);
        double[] m = mask(act.saved.get(0), x);
        long dropped = java.util.Arrays.stream(m).filter(v -> v == 0).count();
        assertThat(dropped).as("about 30 %% of %d inputs dropped", m.length).isBetween(10L, 45L);
        for (double v : m) {
            assertThat(v == 0 || Math.abs(v - 1 / (1 - P)) < 1e-6).as("mask value " + v).isTrue();
        }
        float[] dx = layer.backward(act, dy, true);
        double s = a.scaling();
        Twins.Case c = new Twins.Case("lora-dropout", layer, a, (w, b, p, xv, nn) -> Twins.add(
                Twins.linear(w, b, xv, nn, in, out),
                Twins.scale(s, Twins.mmT(Twins.mmT(times(xv, m), nn, in, p[0], rank), nn, rank, p[1], out))));
        AdapterGradientTest.check(c, 3, x, dy, dx, n);
        // a second pass draws a new mask
        double[] m2 = mask(layer.train(x, n).saved.get(0), x);
        assertThat(m2).isNotEqualTo(m);
    }

    @Test
    void doraDropoutRunsTheExtraBaseProductAsPeft() {
        Random r = new Random(4);
        int in = 12, out = 9, rank = 3, n = 5;
        AdaptedLinear layer = AdaptedLinear.of("m", Twins.base(r, out, in));
        DoraAdapter a = (DoraAdapter) layer.addLora("default", LoraConfig.of(rank, 3).withDora(true).withDropout(P)
                .withSeed(9));
        Twins.randomize(a.b(), r, 0.3);
        Twins.randomize(a.a(), r, 0.3);
        float[] mg = a.magnitude().data().clone();
        for (int o = 0; o < out; o++) {
            mg[o] *= 1.2f;
        }
        a.magnitude().set(mg);
        double s = a.scaling();
        double[] norms = Twins.doraNorms(NnTesting.toDouble(layer.base().weight().toFloats()),
                NnTesting.toDouble(a.b().data()), NnTesting.toDouble(a.a().data()), s, out, in, rank);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        AdaptedLinear.Activations act = layer.train(x, n);
        double[] m = mask(act.saved.get(0), x);
        float[] dx = layer.backward(act, dy, true);
        // y = x·Wᵀ + b + (c − 1) ⊙ (x̃·Wᵀ) + c ⊙ s·x̃·Aᵀ·Bᵀ, x̃ = x ⊙ mask, c = m/‖W + sBA‖ (norm held constant)
        Twins.Case c = new Twins.Case("dora-dropout", layer, a, (w, b, p, xv, nn) -> {
            double[] xt = times(xv, m);
            double[] y = Twins.linear(w, b, xv, nn, in, out);
            double[] bt = Twins.mmT(xt, nn, in, w, out);
            double[] lo = Twins.scale(s, Twins.mmT(Twins.mmT(xt, nn, in, p[0], rank), nn, rank, p[1], out));
            for (int i = 0; i < nn; i++) {
                for (int o = 0; o < out; o++) {
                    double cc = p[2][o] / norms[o];
                    y[i * out + o] += (cc - 1) * bt[i * out + o] + cc * lo[i * out + o];
                }
            }
            return y;
        });
        AdapterGradientTest.check(c, 4, x, dy, dx, n);
    }

    @Test
    void sorsaDropoutGradients() {
        Random r = new Random(6);
        int in = 10, out = 12, rank = 4, n = 5;
        AdaptedLinear layer = AdaptedLinear.of("m", Twins.base(r, out, in));
        SorsaAdapter a = layer.addSorsa("default", SorsaConfig.of(rank).withDropout(P).withSeed(3));
        Twins.randomize(a.s(), r, 1);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        AdaptedLinear.Activations act = layer.train(x, n);
        double[] m = mask(act.saved.get(0), x);
        float[] dx = layer.backward(act, dy, true);
        Twins.Case c = new Twins.Case("sorsa-dropout", layer, a, (w, b, p, xv, nn) -> {
            double[] xa = Twins.mmT(times(xv, m), nn, in, p[0], rank);
            for (int i = 0; i < xa.length; i++) {
                xa[i] *= p[1][i % rank];
            }
            return Twins.add(Twins.linear(w, b, xv, nn, in, out), Twins.mmT(xa, nn, rank, p[2], out));
        });
        AdapterGradientTest.check(c, 6, x, dy, dx, n);
    }

    @Test
    void sorsaRegularizerValueAndGradientMatchTheDefinition() {
        Random r = new Random(8);
        int in = 9, out = 7, rank = 3;
        AdaptedLinear l1 = AdaptedLinear.of("a", Twins.base(r, out, in));
        AdaptedLinear l2 = AdaptedLinear.of("b", Twins.base(r, 8, 6));
        SorsaAdapter s1 = l1.addSorsa("default", SorsaConfig.of(rank));
        SorsaAdapter s2 = l2.addSorsa("default", SorsaConfig.of(2));
        List<SorsaAdapter> all = List.of(s1, s2);
        // at init the factors are orthonormal: R ≈ 0 (SVD in double, rounded to float)
        assertThat(SorsaRegularizer.value(all)).isLessThan(1e-5);
        Twins.randomize(s1.a(), r, 0.5);
        Twins.randomize(s2.b(), r, 0.5);
        double c = 0.7;
        double value = SorsaRegularizer.addGradient(all, c);
        // R = (1/4)(‖A1A1ᵀ − I‖ + ‖B1ᵀB1 − I‖ + ‖A2A2ᵀ − I‖ + ‖B2ᵀB2 − I‖), by hand in double
        double[] a1 = NnTesting.toDouble(s1.a().data()), b1 = NnTesting.toDouble(s1.b().data());
        double[] a2 = NnTesting.toDouble(s2.a().data()), b2 = NnTesting.toDouble(s2.b().data());
        double expected = (rowGram(a1, rank, in) + colGram(b1, out, rank) + rowGram(a2, 2, 6) + colGram(b2, 8, 2)) / 4;
        assertThat(value).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-9));
        double[] ga = finiteDifferences(v -> c * rowGram(v, rank, in) / 4, a1);
        double[] gb = finiteDifferences(v -> c * colGram(v, 8, 2) / 4, b2);
        // each element is (2c/(4‖M‖))·Σ_t M_it·A_tj with M formed in double and rounded to float, the sum of r terms
        // in float: error ≤ (2u + γ_r)·(2c/(4‖M‖))·Σ_t |M_it|·|A_tj| (+ FD slack), the bound computed here
        NnTesting.assertClose("dA (regulariser)", 8, s1.a().grad(), ga, gramBound(a1, rank, in, true, c / 4));
        NnTesting.assertClose("dB (regulariser)", 8, s2.b().grad(), gb, gramBound(b2, 8, 2, false, c / 4));
        assertThat(SorsaRegularizer.trainerCoefficient(4e-4, 2e-5)).isCloseTo(20, org.assertj.core.data.Offset.offset(1e-9));
    }

    /** 1e-9 + (2u + γ_r)·(2c/‖M‖)·(|M|·|A|) for rows (A [r, len]) or (|B|·|M|) for columns (B [len, r]). */
    private static double[] gramBound(double[] x, int d0, int d1, boolean rows, double c) {
        int r = rows ? d0 : d1, len = rows ? d1 : d0;
        double[] m = new double[r * r];
        double ss = 0;
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int t = 0; t < len; t++) {
                    s += rows ? x[i * len + t] * x[j * len + t] : x[t * r + i] * x[t * r + j];
                }
                m[i * r + j] = s - (i == j ? 1 : 0);
                ss += m[i * r + j] * m[i * r + j];
            }
        }
        double k = (2 * NnTesting.U + gamma(r)) * 2 * c / Math.sqrt(ss);
        double[] tol = new double[x.length];
        for (int i = 0; i < r; i++) {
            for (int t = 0; t < len; t++) {
                double s = 0;
                for (int j = 0; j < r; j++) {
                    s += Math.abs(m[i * r + j]) * Math.abs(rows ? x[j * len + t] : x[t * r + j]);
                }
                tol[rows ? i * len + t : t * r + i] = 1e-9 + k * s;
            }
        }
        return tol;
    }

    /** ‖A·Aᵀ − I‖_F for A [r, len]. */
    private static double rowGram(double[] a, int r, int len) {
        double ss = 0;
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int t = 0; t < len; t++) {
                    s += a[i * len + t] * a[j * len + t];
                }
                s -= i == j ? 1 : 0;
                ss += s * s;
            }
        }
        return Math.sqrt(ss);
    }

    /** ‖Bᵀ·B − I‖_F for B [len, r]. */
    private static double colGram(double[] b, int len, int r) {
        double ss = 0;
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int t = 0; t < len; t++) {
                    s += b[t * r + i] * b[t * r + j];
                }
                s -= i == j ? 1 : 0;
                ss += s * s;
            }
        }
        return Math.sqrt(ss);
    }

    @Test
    void zeroNormRegulariserHasZeroGradient() {
        Random r = new Random(9);
        AdaptedLinear l = AdaptedLinear.of("a", Twins.base(r, 6, 5));
        SorsaAdapter s = l.addSorsa("default", SorsaConfig.of(2));
        float[] eye = new float[2 * 5];
        eye[0] = 1;
        eye[5 + 1] = 1;
        s.a().set(eye);
        SorsaRegularizer.addGradient(List.of(s), 1);
        assertThat(s.a().grad()).containsOnly(0f);
    }
}

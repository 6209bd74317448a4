package lowbit.nn.adapter;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.gamma;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.stream.Stream;
import lowbit.nn.Linear;
import lowbit.nn.NnTesting;
import lowbit.nn.Parameter;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Merge, unmerge, function-preserving initialisations and multi-adapter weighting. Tolerances: the unmerged and the
 * merged forward are both float evaluations of the exact y of the twin; each is within γ_K (K ≥ every inner
 * dimension of its chain of products) of the chain over absolute values — the twin at |W|, |θ|, |x| — plus the base
 * product's own γ_in·|x|·|W|ᵀ; doubled for blocked summation and once more for the two sides.
 */
class MergeTest {
    static Stream<Twins.Case> cases() {
        return Twins.all(300).stream();
    }

    private static double[] tolerance(Twins.Case c, double[] x, int n) {
        double[] ax = AdapterGradientTest.abs(x);
        double[][] p = c.params();
        for (int i = 0; i < p.length; i++) {
            p[i] = AdapterGradientTest.abs(p[i]);
        }
        double[] aw = AdapterGradientTest.abs(c.w());
        double[] yAbs = c.twin.forward(aw, AdapterGradientTest.abs(c.bias()), p, ax, n);
        double[] base = Twins.mmT(ax, n, c.in, aw, c.out);
        double k = 4 * gamma(c.in + c.out + 4L * c.adapter.rank() + 8);
        double[] tol = new double[yAbs.length];
        for (int i = 0; i < tol.length; i++) {
            tol[i] = 1e-12 + k * (yAbs[i] + base[i]);
        }
        return tol;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void mergedForwardEqualsUnmergedForwardAndTheTwin(Twins.Case c) {
        long seed = 31 + c.name.hashCode();
        Random r = new Random(seed);
        int n = 4;
        float[] x = NnTesting.randn(r, n * c.in, 1);
        double[] xd = NnTesting.toDouble(x);
        double[] exact = c.twin.forward(c.w(), c.bias(), c.params(), xd, n);
        double[] tol = tolerance(c, xd, n);
        assertClose(c + " unmerged", seed, c.layer.forward(x, n), exact, tol);
        Linear merged = c.layer.merged(DType.F32);
        assertClose(c + " merged", seed, merged.forward(x, n), exact, tol);
        assertThat(merged.bias()).isEqualTo(c.layer.base().bias());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void unmergeOfMergeRecoversTheBase(Twins.Case c) {
        // W'' = unmerge(merge(W)): per element the merge's and the unmerge's roundings, each within γ_K of the
        // absolute chain |W| + |ΔW| (column j of the twin at |θ| applied to e_j); the bat and DoRA inversions add
        // the factor ‖(I + B)⁻¹‖ resp. 1/c, below 2 for the parameter scales of these cases — hence 8·γ_K.
        float[] w = c.layer.base().weight().toFloats();
        Linear back = c.layer.unmerge(c.layer.merged(DType.F32));
        double[] eye = new double[c.in * c.in];
        for (int j = 0; j < c.in; j++) {
            eye[j * c.in + j] = 1;
        }
        double[][] p = c.params();
        for (int i = 0; i < p.length; i++) {
            p[i] = AdapterGradientTest.abs(p[i]);
        }
        double[] cols = c.twin.forward(AdapterGradientTest.abs(c.w()), new double[c.out], p, eye, c.in); // [in, out]
        double k = 8 * gamma(c.in + c.out + 4L * c.adapter.rank() + 8);
        double[] tol = new double[w.length];
        for (int o = 0; o < c.out; o++) {
            for (int j = 0; j < c.in; j++) {
                tol[o * c.in + j] = 1e-12 + k * cols[j * c.out + o];
            }
        }
        assertClose(c + " unmerge(merge(W))", 0, back.weight().toFloats(), NnTesting.toDouble(w), tol);
    }

    @Test
    void factorisingInitsLeaveTheLayerUnchanged() {
        Random r = new Random(41);
        int in = 24, out = 20, n = 6;
        Linear base = Twins.base(r, out, in);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] y0 = base.forward(x, n);
        for (int variant = 0; variant < 7; variant++) {
            AdaptedLinear layer = AdaptedLinear.of("m", base);
            Adapter a = switch (variant) {
                case 0 -> layer.addLora("d", LoraConfig.of(4, 8).withInit(LoraInit.PISSA));
                case 1 -> layer.addLora("d", LoraConfig.of(4, 8).withInit(LoraInit.pissaRandomized(4)).withSeed(3));
                case 2 -> layer.addLora("d", LoraConfig.of(4, 8).withInit(LoraInit.OLORA).withRsLora(true));
                case 3 -> layer.addSorsa("d", SorsaConfig.of(4));
                case 4 -> layer.addSorsa("d", SorsaConfig.of(4).withAlpha(2).withRandomizedSvd(3));
                case 5 -> layer.addLora("d", LoraConfig.of(4, 8).withDora(true).withInit(LoraInit.PISSA));
                default -> layer.addLora("d", LoraConfig.of(4, 8).withDora(true));
            };
            assertThat(layer.original()).isSameAs(base);
            // y − y0 = x·(W_res + ΔW₀ − W)ᵀ: W_res is rounded once from double (u·|W_res|), each side's products add
            // γ_K of |x|·(|W| + |ΔW₀|_abs)ᵀ; |ΔW₀|_abs ≤ |W| + |W_res| for these factors' sizes — bound 4γ_K·3|x||W|ᵀ
            float[] y = layer.forward(x, n);
            double[] tol = new double[y.length];
            double[] aw = AdapterGradientTest.abs(NnTesting.toDouble(base.weight().toFloats()));
            double[] bnd = Twins.mmT(AdapterGradientTest.abs(NnTesting.toDouble(x)), n, in, aw, out);
            for (int i = 0; i < tol.length; i++) {
                tol[i] = 1e-12 + 12 * gamma(in + out + 24) * bnd[i];
            }
            assertClose(a.method() + " variant " + variant + " at init", 41, y, NnTesting.toDouble(y0), tol);
        }
    }

    @Test
    void pissaFactorsAreTheScaledSingularVectors() {
        // W = diag(5, 3, 2, 1) padded: the top-2 SVD is known exactly; with s = α/r = 2: A = √(σ/2)·V_rᵀ
        int out = 4, in = 5;
        float[] w = new float[out * in];
        float[] sig = {5, 3, 2, 1};
        for (int i = 0; i < out; i++) {
            w[i * in + i] = sig[i];
        }
        AdaptedLinear layer = AdaptedLinear.of(Linear.of(Tensor.ofFloats(w, out, in), null));
        LoraAdapter a = layer.addLora("d", LoraConfig.of(2, 4).withInit(LoraInit.PISSA));
        float[] av = a.a().data(), bv = a.b().data();
        for (int k = 0; k < 2; k++) {
            float f = (float) Math.sqrt(sig[k] / 2.0);
            assertThat(Math.abs(av[k * in + k])).isCloseTo(f, org.assertj.core.data.Offset.offset(1e-6f));
            assertThat(Math.abs(bv[k * 2 + k])).isCloseTo(f, org.assertj.core.data.Offset.offset(1e-6f));
        }
        float[] res = layer.base().weight().toFloats();
        assertThat(res[0]).isCloseTo(0f, org.assertj.core.data.Offset.offset(1e-6f));
        assertThat(res[in + 1]).isCloseTo(0f, org.assertj.core.data.Offset.offset(1e-6f));
        assertThat(res[2 * in + 2]).isEqualTo(2f);
    }

    @Test
    void olorFactorsAreTheLeadingQrFactors() {
        // W = [[3, 1], [4, 2], [0, 5]]: first Householder column → β = −5, Q[:,0] = (−0.6, −0.8, 0), R[0] = (−5, −2.2)
        float[] w = {3, 1, 4, 2, 0, 5};
        AdaptedLinear layer = AdaptedLinear.of(Linear.of(Tensor.ofFloats(w, 3, 2), null));
        LoraAdapter a = layer.addLora("d", LoraConfig.of(1, 1).withInit(LoraInit.OLORA));
        assertThat(a.b().data()).containsExactly(new float[] {-0.6f, -0.8f, 0f}, org.assertj.core.data.Offset.offset(1e-7f));
        assertThat(a.a().data()).containsExactly(new float[] {-5f, -2.2f}, org.assertj.core.data.Offset.offset(1e-6f));
        // residual W − B·A = [[0, −0.32], [0, 0.24], [0, 5]]
        assertThat(layer.base().weight().toFloats()).containsExactly(new float[] {0, -0.32f, 0, 0.24f, 0, 5},
                org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void severalAdaptersAddTheirWeightedDeltas() {
        Random r = new Random(51);
        int in = 16, out = 12, n = 5;
        Linear base = Twins.base(r, out, in);
        AdaptedLinear multi = AdaptedLinear.of("m", base);
        LoraAdapter lora = multi.addLora("lora", LoraConfig.of(3, 6).withSeed(1));
        BoneAdapter bone = multi.addBone("bone", BoneConfig.bone(4));
        DoraAdapter dora = (DoraAdapter) multi.addLora("dora", LoraConfig.of(2, 2).withDora(true).withSeed(2));
        Twins.randomize(lora.b(), r, 0.3);
        Twins.randomize(bone.block(), r, 0.3);
        Twins.randomize(dora.b(), r, 0.3);
        multi.setWeight("lora", 0.5f);
        multi.setWeight("bone", -2f);
        multi.setWeight("dora", 1.5f);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] y = multi.forward(x, n);
        float[] y0 = base.forward(x, n);
        double[] expect = NnTesting.toDouble(y0);
        String[] names = {"lora", "bone", "dora"};
        float[] ws = {0.5f, -2f, 1.5f};
        for (int k = 0; k < 3; k++) {
            for (String other : names) {
                multi.setActive(other, other.equals(names[k]));
            }
            multi.setWeight(names[k], 1f);
            float[] yk = multi.forward(x, n);
            for (int i = 0; i < expect.length; i++) {
                expect[i] += ws[k] * ((double) yk[i] - y0[i]);
            }
            multi.setWeight(names[k], ws[k]);
        }
        for (String name : names) {
            multi.setActive(name, true);
        }
        double[] tol = new double[y.length];
        double[] bnd = Twins.mmT(AdapterGradientTest.abs(NnTesting.toDouble(x)), n, in,
                AdapterGradientTest.abs(NnTesting.toDouble(base.weight().toFloats())), out);
        for (int i = 0; i < tol.length; i++) {
            tol[i] = 1e-6 + 16 * gamma(in + out + 16) * bnd[i]; // each single run and the combined one: base-sized errors
        }
        assertClose("weighted sum of deltas", 51, y, expect, tol);
        assertClose("merged weighted", 51, multi.merged().forward(x, n), NnTesting.toDouble(y), tol);
        assertThat(multi.trainableParameterCount()).isEqualTo(3L * (in + out) + 4L * out + 2L * (in + out) + out);
        multi.setActive("bone", false);
        assertThat(multi.parameters()).hasSize(5);
    }

    @Test
    void weightedMultiAdapterGradientsMatchFiniteDifferences() {
        Random r = new Random(61);
        int in = 10, out = 8, n = 4;
        Linear base = Twins.base(r, out, in);
        AdaptedLinear layer = AdaptedLinear.of("m", base);
        LoraAdapter lora = layer.addLora("a", LoraConfig.of(2, 4).withSeed(1));
        DoraAdapter dora = (DoraAdapter) layer.addLora("b", LoraConfig.of(2, 2).withDora(true).withSeed(2));
        Twins.randomize(lora.b(), r, 0.3);
        Twins.randomize(dora.b(), r, 0.3);
        layer.setWeight("a", 0.7f);
        layer.setWeight("b", -0.4f);
        double sa = lora.scaling(), sb = dora.scaling();
        double[] norms = Twins.doraNorms(NnTesting.toDouble(base.weight().toFloats()), NnTesting.toDouble(dora.b().data()),
                NnTesting.toDouble(dora.a().data()), sb, out, in, 2);
        Twins.Case c = new Twins.Case("lora+dora weighted", layer, lora, weighted(in, out, sa, sb, norms, false));
        c.absTwin = weighted(in, out, sa, sb, norms, true); // |w_k|, and |yd| + |yb|: all terms non-negative
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        float[] dx = layer.backward(layer.train(x, n), dy, true);
        AdapterGradientTest.check(c, 61, x, dy, dx, n);
    }

    /**
     * y = x·Wᵀ + b + 0.7·s₁·x·A₁ᵀ·B₁ᵀ − 0.4·(c ⊙ x·(W + s₂B₂A₂)ᵀ − x·Wᵀ); with {@code abs} every term counted with
     * a plus sign (the bound's chain).
     */
    private static Twins.Twin weighted(int in, int out, double sa, double sb, double[] norms, boolean abs) {
        double w1 = 0.7, w2 = abs ? 0.4 : -0.4, sign = abs ? 1 : -1;
        return (w, b, p, x, nn) -> {
            double[] y = Twins.linear(w, b, x, nn, in, out);
            double[] dl = Twins.scale(sa, Twins.mmT(Twins.mmT(x, nn, in, p[0], 2), nn, 2, p[1], out));
            double[] wp = Twins.add(w, Twins.scale(sb, Twins.mm(p[3], out, 2, p[2], in)));
            double[] yd = Twins.mmT(x, nn, in, wp, out);
            double[] yb = Twins.mmT(x, nn, in, w, out);
            for (int i = 0; i < nn; i++) {
                for (int o = 0; o < out; o++) {
                    int k = i * out + o;
                    y[k] += w1 * dl[k] + w2 * (p[4][o] / norms[o] * yd[k] + sign * yb[k]);
                }
            }
            return y;
        };
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        int saved = Parallel.parallelism();
        try {
            float[][] ref = null;
            for (int threads : new int[] {1, 3}) {
                Parallel.setParallelism(threads);
                Random r = new Random(71);
                int in = 96, out = 80, n = 40;
                AdaptedLinear layer = AdaptedLinear.of("m", Twins.base(r, out, in));
                LoraAdapter a = layer.addLora("d", LoraConfig.of(8, 16).withDropout(0.1).withSeed(4));
                Twins.randomize(a.b(), r, 0.2);
                float[] x = NnTesting.randn(r, n * in, 1);
                AdaptedLinear.Activations act = layer.train(x, n);
                float[] dx = layer.backward(act, NnTesting.randn(r, n * out, 1), true);
                float[][] got = {act.output(), dx, a.a().grad(), a.b().grad(), layer.mergedWeights()};
                if (ref == null) {
                    ref = got;
                } else {
                    for (int i = 0; i < got.length; i++) {
                        assertThat(got[i]).as("result %d at %d threads", i, threads).isEqualTo(ref[i]);
                    }
                }
            }
        } finally {
            Parallel.setParallelism(saved);
        }
    }

    @Test
    void dyloraInferenceAtAnyRankIsARankBLora() {
        Random r = new Random(81);
        int in = 14, out = 10, n = 3;
        AdaptedLinear layer = AdaptedLinear.of("m", Twins.base(r, out, in));
        DyLoraAdapter d = layer.addDyLora("d", DyLoraConfig.of(6, 12));
        Twins.randomize(d.b(), r, 0.3);
        float[] x = NnTesting.randn(r, n * in, 1);
        for (int b = 1; b <= 6; b++) {
            d.setInferenceRank(b);
            // the first b ranks as a plain LoRA with α = 12 at rank b (s = 12/b)
            AdaptedLinear plain = AdaptedLinear.of("m", layer.base());
            LoraAdapter l = plain.addLora("d", LoraConfig.of(b, 12));
            l.a().set(java.util.Arrays.copyOf(d.a().data(), b * in));
            float[] bb = new float[out * b];
            for (int o = 0; o < out; o++) {
                System.arraycopy(d.b().data(), o * 6, bb, o * b, b);
            }
            l.b().set(bb);
            assertThat(layer.forward(x, n)).as("rank " + b).isEqualTo(plain.forward(x, n));
            assertThat(layer.mergedWeights()).as("merged at rank " + b).isEqualTo(plain.mergedWeights());
        }
    }

    @Test
    void mergeIntoHalfPrecisionRoundsOnce() {
        Random r = new Random(91);
        int in = 8, out = 6;
        float[] w = NnTesting.randn(r, out * in, 1);
        AdaptedLinear layer = AdaptedLinear.of(Linear.of(Tensor.ofFloats(DType.BF16, w, Shape.of(out, in)), null));
        LoraAdapter a = layer.addLora("d", LoraConfig.of(2, 2));
        Twins.randomize(a.b(), r, 0.5);
        Linear m = layer.merged();
        assertThat(((lowbit.nn.DenseWeight) m.weight()).tensor().dtype()).isEqualTo(DType.BF16);
        float[] f32 = layer.mergedWeights();
        float[] expect = Tensor.ofFloats(DType.BF16, f32, Shape.of(out, in)).toFloatArray();
        assertThat(m.weight().toFloats()).isEqualTo(expect);
        for (Parameter p : layer.parameters()) {
            assertThat(p.name()).startsWith("linear.d.");
        }
    }
}

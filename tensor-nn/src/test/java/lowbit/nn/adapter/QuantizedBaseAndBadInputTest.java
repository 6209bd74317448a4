package lowbit.nn.adapter;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.gamma;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Random;
import lowbit.nn.Linear;
import lowbit.nn.NnTesting;
import lowbit.nn.Parameter;
import lowbit.nn.optim.AdamW;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import org.junit.jupiter.api.Test;

/** Adapters over a 4-bit group-wise affine base, and the errors for bad input. */
class QuantizedBaseAndBadInputTest {
    /** A 4-bit asymmetric groups-of-16 quantization of w with min/max scales (RTN). */
    static GroupwiseAffine fourBit(float[] w, int out, int in) {
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 16, false);
        int groups = in / 16;
        float[] scales = new float[out * groups];
        int[] zeros = new int[out * groups];
        for (int o = 0; o < out; o++) {
            for (int g = 0; g < groups; g++) {
                float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE;
                for (int j = g * 16; j < g * 16 + 16; j++) {
                    lo = Math.min(lo, w[o * in + j]);
                    hi = Math.max(hi, w[o * in + j]);
                }
                float s = (hi - lo) / 15;
                scales[o * groups + g] = s;
                zeros[o * groups + g] = Math.max(0, Math.min(15, Math.round(-lo / s)));
            }
        }
        return GroupwiseAffine.encode(w, out, in, spec, scales, zeros);
    }

    /** The same adapter (config, seed and current values) attached to another layer. */
    static Adapter copyOnto(AdaptedLinear target, Adapter a) {
        Adapter c = switch (a) {
            case DoraAdapter d -> target.addLora(a.name(), d.config());
            case LoraAdapter l -> target.addLora(a.name(), l.config());
            case BoneAdapter b -> target.addBone(a.name(), b.config());
            case DyLoraAdapter d -> target.addDyLora(a.name(), d.config());
            case PacaAdapter p -> target.addPaca(a.name(), p.config());
            default -> throw new AssertionError(a);
        };
        List<Parameter> from = a.parameters(), to = c.parameters();
        for (int i = 0; i < from.size(); i++) {
            to.get(i).set(from.get(i).data());
        }
        return c;
    }

    @Test
    void adapterOnFourBitBaseEqualsAdapterOnItsDequantizedBase() {
        Random r = new Random(17);
        int in = 64, out = 48, n = 7;
        float[] w = NnTesting.randn(r, out * in, 0.5);
        float[] bias = NnTesting.randn(r, out, 0.1);
        GroupwiseAffine q = fourBit(w, out, in);
        float[] wq = q.dequantize();
        Linear quant = Linear.of(q, bias);
        Linear dense = Linear.of(lowbit.tensor.Tensor.ofFloats(wq, out, in), bias);
        float[] x = NnTesting.randn(r, n * in, 1);
        float[] dy = NnTesting.randn(r, n * out, 1);
        double[] bx = Twins.mmT(AdapterGradientTest.abs(NnTesting.toDouble(x)), n, in,
                AdapterGradientTest.abs(NnTesting.toDouble(wq)), out);
        double[] bdx = Twins.mm(AdapterGradientTest.abs(NnTesting.toDouble(dy)), n, out,
                AdapterGradientTest.abs(NnTesting.toDouble(wq)), in);
        for (int m = 0; m < 6; m++) {
            AdaptedLinear lq = AdaptedLinear.of("q", quant);
            Adapter aq = switch (m) {
                case 0 -> lq.addLora("d", LoraConfig.of(4, 8).withSeed(2));
                case 1 -> lq.addLora("d", LoraConfig.of(4, 8).withDora(true).withSeed(3));
                case 2 -> lq.addBone("d", BoneConfig.bone(8));
                case 3 -> lq.addBone("d", BoneConfig.bat(8));
                case 4 -> lq.addDyLora("d", DyLoraConfig.of(4, 8).withSeed(4));
                default -> lq.addPaca("d", PacaConfig.of(5, 5));
            };
            for (Parameter p : aq.parameters()) {
                if (!p.name().endsWith("lora_magnitude_vector") && !p.name().endsWith("paca_w")) {
                    Twins.randomize(p, r, 0.1);
                }
            }
            AdaptedLinear ld = AdaptedLinear.of("q", dense);
            Adapter ad = copyOnto(ld, aq);
            assertThat(lq.quantizedBase()).isTrue();
            // the two layers differ only in the base kernel (fused 4-bit GEMM vs dense GEMM over the same Ŵ): each
            // within 2·γ_m·|x|·|Ŵ|ᵀ of the exact product (QuantizedMatrix/Gemm contracts, m = in + groups + 3);
            // DoRA and Bat reuse the base output or Ŵ, so their delta inherits the same base-sized error once more
            double[] tol = new double[n * out];
            for (int i = 0; i < tol.length; i++) {
                tol[i] = 1e-6 + 8 * gamma(in + in / 16 + 3) * bx[i] * 3;
            }
            assertClose(aq.method() + " forward", 17, lq.forward(x, n), NnTesting.toDouble(ld.forward(x, n)), tol);
            AdaptedLinear.Activations actQ = lq.train(x, n), actD = ld.train(x, n);
            float[] dxq = lq.backward(actQ, dy, true), dxd = ld.backward(actD, dy, true);
            double[] tdx = new double[n * in];
            for (int i = 0; i < tdx.length; i++) {
                tdx[i] = 1e-5 + 8 * gamma(in + out + 8) * bdx[i] * 3; // tiles of Ŵ vs the dense dY·W product
            }
            assertClose(aq.method() + " dX", 17, dxq, NnTesting.toDouble(dxd), tdx);
            for (int i = 0; i < aq.parameters().size(); i++) {
                float[] gq = aq.parameters().get(i).grad(), gd = ad.parameters().get(i).grad();
                double scale = 0;
                for (float v : gd) {
                    scale = Math.max(scale, Math.abs(v));
                }
                // gradients are products of the saved activations, which agree to the bound above: relative 1e-4
                assertClose(aq.method() + " d" + aq.parameters().get(i).name(), 17, gq, NnTesting.toDouble(gd),
                        1e-5 + 1e-4 * scale);
            }
            assertThat(lq.merged(lowbit.tensor.DType.F32).weight().toFloats())
                    .isEqualTo(ld.merged(lowbit.tensor.DType.F32).weight().toFloats());
        }
    }

    @Test
    void adapterOnHalfPrecisionBaseEqualsAdapterOnItsWidenedCopy() {
        Random r = new Random(19);
        int in = 40, out = 24, n = 5;
        for (lowbit.tensor.DType t : new lowbit.tensor.DType[] {lowbit.tensor.DType.F16, lowbit.tensor.DType.BF16}) {
            Tensor half = Tensor.ofFloats(t, NnTesting.randn(r, out * in, 0.5), lowbit.tensor.Shape.of(out, in));
            float[] wide = half.toFloatArray(); // the exact values the half bits stand for
            AdaptedLinear lh = AdaptedLinear.of(Linear.of(half, null));
            AdaptedLinear lf = AdaptedLinear.of(Linear.of(Tensor.ofFloats(wide, out, in), null));
            LoraAdapter ah = lh.addLora("d", LoraConfig.of(3, 6).withSeed(8));
            LoraAdapter af = lf.addLora("d", LoraConfig.of(3, 6).withSeed(8));
            Twins.randomize(ah.b(), new Random(1), 0.3);
            Twins.randomize(af.b(), new Random(1), 0.3);
            float[] x = NnTesting.randn(r, n * in, 1);
            double[] bx = Twins.mmT(AdapterGradientTest.abs(NnTesting.toDouble(x)), n, in,
                    AdapterGradientTest.abs(NnTesting.toDouble(wide)), out);
            double[] tol = new double[bx.length];
            for (int i = 0; i < tol.length; i++) {
                tol[i] = 1e-6 + 4 * gamma(in + 8) * bx[i]; // two float evaluations of the same base product
            }
            assertClose(t + " base forward", 19, lh.forward(x, n), NnTesting.toDouble(lf.forward(x, n)), tol);
            assertThat(((lowbit.nn.DenseWeight) lh.merged().weight()).tensor().dtype()).isEqualTo(t);
        }
    }

    @Test
    void badInputIsNamed() {
        Random r = new Random(5);
        Linear base = Twins.base(r, 12, 10);
        AdaptedLinear layer = AdaptedLinear.of("model.q_proj", base);
        assertThatThrownBy(() -> layer.addLora("d", LoraConfig.of(11, 8)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("LoRA rank r = 11").hasMessageContaining("min(10, 12)");
        assertThatThrownBy(() -> layer.addLora("d", LoraConfig.of(11, 8).withDora(true))).hasMessageContaining("DoRA rank");
        assertThatThrownBy(() -> layer.addSorsa("d", SorsaConfig.of(13))).hasMessageContaining("SORSA rank r = 13");
        assertThatThrownBy(() -> layer.addDyLora("d", DyLoraConfig.of(11, 1))).hasMessageContaining("DyLoRA rank");
        assertThatThrownBy(() -> LoraConfig.of(0, 8)).hasMessageContaining("positive");
        assertThatThrownBy(() -> layer.addBone("d", BoneConfig.bat(4)))
                .hasMessageContaining("r = 4 must divide in_features = 10 and out_features = 12");
        assertThatThrownBy(() -> layer.addBone("d", BoneConfig.bone(11))).hasMessageContaining("exceeds in_features = 10");
        assertThatThrownBy(() -> layer.addPaca("d", PacaConfig.of(11, 1))).hasMessageContaining("exceed in_features = 10");
        assertThatThrownBy(() -> LoraConfig.of(2, 2).withDropout(1)).hasMessageContaining("[0, 1)");
        layer.addLora("d", LoraConfig.of(2, 2));
        assertThatThrownBy(() -> layer.addBone("d", BoneConfig.bone(2))).hasMessageContaining("already has an adapter");
        assertThatThrownBy(() -> layer.forward(new float[7], 1)).hasMessageContaining("X has 7 elements");
        AdaptedLinear.Activations act = layer.train(new float[20], 2);
        assertThatThrownBy(() -> layer.backward(act, new float[5], false)).hasMessageContaining("dY has 5 elements");
        assertThatThrownBy(() -> layer.setWeight("nope", 1)).hasMessageContaining("no adapter named \"nope\"");
        DyLoraAdapter dy = AdaptedLinear.of(base).addDyLora("d", DyLoraConfig.of(4, 4));
        assertThatThrownBy(() -> dy.setInferenceRank(5)).hasMessageContaining("outside [1, r_max = 4]");

        Linear quant = Linear.of(fourBit(NnTesting.randn(r, 8 * 32, 1), 8, 32), null);
        AdaptedLinear ql = AdaptedLinear.of("model.v_proj", quant);
        ql.addLora("d", LoraConfig.of(2, 4));
        assertThatThrownBy(ql::merged).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("needs a target format").hasMessageContaining("model.v_proj");
        assertThat(ql.merged(lowbit.tensor.DType.F16).inFeatures()).isEqualTo(32);
        assertThatThrownBy(() -> ql.merged(lowbit.tensor.DType.U4)).hasMessageContaining("F32, F16 or BF16");
        assertThatThrownBy(() -> ql.addLora("p", LoraConfig.of(2, 4).withInit(LoraInit.PISSA)))
                .hasMessageContaining("PiSSA").hasMessageContaining("dense");
        assertThatThrownBy(() -> ql.addSorsa("s", SorsaConfig.of(2))).hasMessageContaining("SORSA");
    }

    @Test
    void nanGradientStopsTheOptimizerNamingTheParameter() {
        Random r = new Random(6);
        AdaptedLinear layer = AdaptedLinear.of("model.layers.3.o_proj", Twins.base(r, 6, 5));
        LoraAdapter a = layer.addLora("default", LoraConfig.of(2, 2));
        AdamW opt = new AdamW(layer.parameters(), 1e-2);
        float[] x = NnTesting.randn(r, 10, 1);
        x[3] = Float.NaN;
        AdaptedLinear.Activations act = layer.train(x, 2);
        layer.backward(act, NnTesting.randn(r, 12, 1), false);
        float[] before = a.a().data().clone();
        assertThatThrownBy(opt::step).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("model.layers.3.o_proj.lora_").hasMessageContaining("NaN");
        assertThat(a.a().data()).isEqualTo(before);
        assertThat(opt.steps()).isZero();
    }
}

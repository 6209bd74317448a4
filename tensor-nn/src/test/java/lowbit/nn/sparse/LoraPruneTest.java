package lowbit.nn.sparse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import lowbit.nn.DenseWeight;
import lowbit.nn.Gelu;
import lowbit.nn.Linear;
import lowbit.nn.Parameter;
import lowbit.nn.adapter.AdaptedLinear;
import lowbit.nn.adapter.LoraAdapter;
import lowbit.nn.adapter.LoraConfig;
import lowbit.nn.optim.AdamW;
import lowbit.nn.optim.Loss;
import lowbit.nn.optim.MseLoss;
import org.junit.jupiter.api.Test;

/**
 * LoRAPrune on a two-layer MLP whose teacher uses only half of the hidden channels: the LoRA-gradient importance finds
 * the dead channels and the iterative schedule prunes exactly them; the estimator and schedule against their formulas.
 */
class LoraPruneTest {
    private static final long SEED = 0x10_4a_9e_00L;

    @Test
    void sensitivityIsTheReferenceFormula() {
        Random r = new Random(SEED);
        int out = 6, in = 5;
        float[] w = SparseGptTest.gaussian(r, out * in);
        AdaptedLinear l = AdaptedLinear.of("fc", new Linear(DenseWeight.of(w, out, in).frozen(), null));
        LoraAdapter lora = l.addLora("default", LoraConfig.of(2, 4).withSeed(3));
        float[] a = lora.a().data(), b = lora.b().data(), ga = lora.a().grad(), gb = lora.b().grad();
        for (float[] t : new float[][] {b, ga, gb}) {
            for (int i = 0; i < t.length; i++) {
                t[i] = (float) r.nextGaussian();
            }
        }
        double s = lora.scaling();
        double[] want = new double[out / 2];
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < in; j++) {
                double g = 0, ba = 0;
                for (int k = 0; k < 2; k++) {
                    g += gb[o * 2 + k] * a[k * in + j] + b[o * 2 + k] * ga[k * in + j] - gb[o * 2 + k] * ga[k * in + j];
                    ba += b[o * 2 + k] * a[k * in + j];
                }
                want[o / 2] += Math.abs(g * (w[o * in + j] + s * ba));
            }
        }
        double[] got = LoraPrune.sensitivity(l, lora, LoraPrune.Side.ROWS, 2, false);
        for (int i = 0; i < want.length; i++) {
            assertThat(got[i]).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-4 * want[i]));
        }
        double[] normed = LoraPrune.sensitivity(l, lora, LoraPrune.Side.ROWS, 2, true);
        double norm = Math.sqrt(want[0] * want[0] + want[1] * want[1] + want[2] * want[2]);
        assertThat(normed[1]).isCloseTo(want[1] / (norm + 1e-8), org.assertj.core.data.Offset.offset(1e-5));
        assertThat(LoraPrune.schedule(5, 100, 0.1, 0.1, 0, 0.5)).isEqualTo(0);
        assertThat(LoraPrune.schedule(95, 100, 0.1, 0.1, 0, 0.5)).isEqualTo(0.5);
        assertThat(LoraPrune.schedule(50, 100, 0.1, 0.1, 0, 0.5)).isCloseTo(0.5 - 0.5 * Math.pow(0.5, 3),
                org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void iterativePruningRemovesTheChannelsTheTaskDoesNotUse() {
        Random r = new Random(SEED + 1);
        int in = 12, hidden = 16, out = 6, n = 64;
        float[] up = SparseGptTest.gaussian(r, hidden * in);
        float[] down = SparseGptTest.gaussian(r, out * hidden);
        // the teacher reads only even channels
        float[] teacherDown = down.clone();
        for (int o = 0; o < out; o++) {
            for (int c = 1; c < hidden; c += 2) {
                teacherDown[o * hidden + c] = 0;
            }
        }
        float[] studentDown = teacherDown.clone();
        for (int i = 0; i < studentDown.length; i++) {
            studentDown[i] += 0.05f * (float) r.nextGaussian(); // the base is a little off: fine-tuning has work to do
        }
        Linear upL = new Linear(DenseWeight.of(up, hidden, in).frozen(), null);
        Linear teacherDownL = new Linear(DenseWeight.of(teacherDown, out, hidden).frozen(), null);
        AdaptedLinear a1 = AdaptedLinear.of("up", upL);
        AdaptedLinear a2 = AdaptedLinear.of("down", new Linear(DenseWeight.of(studentDown, out, hidden).frozen(), null));
        LoraAdapter l1 = a1.addLora("default", LoraConfig.of(4, 8).withSeed(1));
        LoraAdapter l2 = a2.addLora("default", LoraConfig.of(4, 8).withSeed(2));
        LoraPrune lp = new LoraPrune();
        LoraPrune.Unit unit = lp.unit("ffn", hidden, 1).add(a1, l1, LoraPrune.Side.ROWS).add(a2, l2,
                LoraPrune.Side.COLUMNS);
        List<Parameter> params = new ArrayList<>(a1.parameters());
        params.addAll(a2.parameters());
        AdamW opt = new AdamW(params, 1e-2);
        int steps = 200;
        double firstLoss = 0, lastLoss = 0;
        for (int t = 0; t < steps; t++) {
            float[] x = SparseGptTest.gaussian(r, n * in);
            float[] target = teacherDownL.forward(Gelu.ERF.forward(upL.forward(x, n)), n);
            AdaptedLinear.Activations h = a1.train(x, n);
            float[] hm = h.output().clone();
            LoraPrune.applyMask(unit, hm, n);
            float[] g = Gelu.ERF.forward(hm);
            AdaptedLinear.Activations y = a2.train(g, n);
            Loss loss = MseLoss.of(y.output(), target);
            if (t == 0) {
                firstLoss = loss.value();
            }
            lastLoss = loss.value();
            float[] dg = a2.backward(y, loss.gradient(), true);
            float[] dh = Gelu.ERF.backward(hm, dg);
            LoraPrune.applyMask(unit, dh, n);
            a1.backward(h, dh, false);
            assertThat(lp.update()).isTrue();
            opt.step();
            opt.zeroGrad();
            double ratio = LoraPrune.schedule(t, steps, 0.1, 0.1, 0, 0.5);
            if (t % 10 == 0 && ratio > 0) {
                lp.prune(ratio);
            }
        }
        lp.prune(0.5);
        boolean[] kept = unit.kept();
        assertThat(unit.keptCount()).isEqualTo(hidden / 2);
        for (int c = 0; c < hidden; c++) {
            assertThat(kept[c]).as("channel " + c).isEqualTo(c % 2 == 0);
        }
        assertThat(lastLoss).isLessThan(firstLoss);
        assertThat(unit.mask(0).keptInRow(1)).isZero(); // up row of a pruned channel
        assertThat(unit.mask(1).keptCount()).isEqualTo(out * hidden / 2); // down's columns
        assertThatThrownBy(() -> lp.unit("bad", 3, 2).add(a1, l1, LoraPrune.Side.ROWS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16 outputs");
    }
}

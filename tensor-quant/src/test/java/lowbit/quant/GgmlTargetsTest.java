package lowbit.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.ggml.Q4_1;
import lowbit.tensor.ggml.Q8_0;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import org.junit.jupiter.api.Test;

/**
 * Group-wise layouts written as ggml blocks: groups of a multiple of 32 (GPTQ's g128) become blocks that repeat the
 * group's scale; asymmetric 4-bit grids become Q4_1 with m = −s·z. Expected values come from the block definitions
 * (Q4_0: d·(q − 8); Q4_1: d·q + m; Q8_0: d·(int8) q), built here from the codes, scales and zeros by hand.
 */
class GgmlTargetsTest {
    private static final long SEED = 20261201L;

    /** A random layout: codes in [0, 2^bits), scales k/1024 (exact in F16), zeros in [0, 2^bits). */
    private static GroupwiseAffine layout(int rows, int cols, AffineSpec spec, long seed) {
        Random rnd = new Random(seed);
        int[] codes = new int[rows * cols];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = rnd.nextInt(spec.maxCode() + 1);
        }
        int grid = spec.scaleRows(rows) * spec.scaleCols(cols);
        float[] scales = new float[grid];
        int[] zeros = spec.symmetric() ? null : new int[grid];
        for (int i = 0; i < grid; i++) {
            scales[i] = (1 + rnd.nextInt(200)) / 1024f;
            if (zeros != null) {
                zeros[i] = rnd.nextInt(spec.maxCode() + 1);
            }
        }
        return GroupwiseAffine.of(rows, cols, spec, codes, scales, zeros);
    }

    @Test
    void q4_0WithGroupsOf128RepeatsTheScaleOverFourBlocks() {
        int rows = 3;
        int cols = 256;
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 128, true).withScaleType(DType.F16);
        GroupwiseAffine m = layout(rows, cols, spec, SEED);
        byte[] b = GgmlTargets.toQ4_0(m);
        assertThat(b).hasSize((int) (rows * Q4_0.rowBytes(cols)));
        int[] q = m.codes();
        float[] s = m.scales();
        float[] got = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            Q4_0.dequantizeRow(b, (int) (r * Q4_0.rowBytes(cols)), got, r * cols, cols);
            for (int blk = 0; blk < cols / 32; blk++) {
                int o = (r * cols / 32 + blk) * Q4_0.BLOCK_BYTES;
                short d = (short) (b[o] & 0xFF | b[o + 1] << 8);
                // block blk of row r lies in group blk/4: its fp16 d is that group's scale
                assertThat(Fp16.toFloat(d)).as("d of row %d block %d", r, blk).isEqualTo(s[r * 2 + blk / 4]);
                // element j in the low nibble of byte j, element j + 16 in the high nibble
                int c = r * cols + blk * 32;
                assertThat(b[o + 2 + 5] & 0xF).isEqualTo(q[c + 5]);
                assertThat(b[o + 2 + 5] >> 4 & 0xF).isEqualTo(q[c + 21]);
            }
        }
        for (int i = 0; i < got.length; i++) {
            int r = i / cols;
            int g = (i % cols) / 128;
            assertThat(got[i]).as("weight %d (seed %d)", i, SEED).isEqualTo(s[r * 2 + g] * (q[i] - 8));
        }
        assertThat(got).isEqualTo(m.dequantize());
    }

    @Test
    void q4_1HoldsAnAsymmetricGridAsDTimesQPlusM() {
        int rows = 4;
        int cols = 192;
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 64, false).withScaleType(DType.F16);
        GroupwiseAffine m = layout(rows, cols, spec, SEED + 1);
        byte[] b = GgmlTargets.toQ4_1(m);
        assertThat(b).hasSize((int) (rows * Q4_1.rowBytes(cols)));
        float[] got = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            Q4_1.dequantizeRow(b, (int) (r * Q4_1.rowBytes(cols)), got, r * cols, cols);
        }
        int[] q = m.codes();
        float[] s = m.scales();
        int[] z = m.zeros();
        float[] exact = m.dequantize();
        for (int i = 0; i < got.length; i++) {
            int gi = (i / cols) * 3 + (i % cols) / 64;
            float mins = Fp16.toFloat(Fp16.fromFloat(-s[gi] * z[gi]));
            assertThat(got[i]).as("weight %d (seed %d)", i, SEED + 1).isEqualTo(q[i] * s[gi] + mins);
            // only m is rounded: |fp16(-s z) - (-s z)| <= 2^-11 |s z| (half an ulp of F16's 11-bit significand)
            assertThat(Math.abs(got[i] - exact[i])).isLessThanOrEqualTo(
                    (float) (Math.scalb(Math.abs(s[gi] * z[gi]), -11) * 1.0001 + Math.ulp(exact[i])));
        }
    }

    @Test
    void q8_0PerRowScales() {
        int rows = 2;
        int cols = 64;
        AffineSpec spec = AffineSpec.perOutputChannel(8, true).withScaleType(DType.F16);
        GroupwiseAffine m = layout(rows, cols, spec, SEED + 2);
        byte[] b = GgmlTargets.toQ8_0(m);
        float[] got = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            Q8_0.dequantizeRow(b, (int) (r * Q8_0.rowBytes(cols)), got, r * cols, cols);
        }
        int[] q = m.codes();
        float[] s = m.scales();
        for (int i = 0; i < got.length; i++) {
            assertThat(got[i]).isEqualTo(s[i / cols] * (q[i] - 128));
        }
    }

    @Test
    void layoutsThatNoBlockHoldsAreNamed() {
        AffineSpec g48 = AffineSpec.groupsAlongIn(4, 48, true).withScaleType(DType.F16);
        assertThatThrownBy(() -> GgmlTargets.toQ4_0(layout(2, 96, g48, 1))).isInstanceOf(
                IllegalArgumentException.class).hasMessageContaining("multiple of 32").hasMessageContaining("g48");
        AffineSpec f32 = AffineSpec.groupsAlongIn(4, 32, true);
        assertThatThrownBy(() -> GgmlTargets.toQ4_0(layout(2, 64, f32, 2))).hasMessageContaining("F16 scales");
        AffineSpec asym = AffineSpec.groupsAlongIn(4, 32, false).withScaleType(DType.F16);
        assertThatThrownBy(() -> GgmlTargets.toQ4_0(layout(2, 64, asym, 3))).hasMessageContaining(
                "Q4_0 needs 4-bit symmetric");
        assertThatThrownBy(() -> GgmlTargets.toQ4_1(layout(2, 96, g48, 4)))
                .hasMessageContaining("Q4_1 needs 4-bit asymmetric");
        assertThat(GgmlTargets.misfit(AffineSpec.groupsAlongIn(8, 128, true).withScaleType(DType.F16), 8, true,
                "Q8_0")).isNull();
    }
}

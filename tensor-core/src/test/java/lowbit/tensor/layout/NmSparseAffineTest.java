package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * {@link NmSparseAffine}: int4 + 2:4 worked out by hand (codes of the kept values, the dense grid), encode's rounding,
 * products against a double reference (tolerance γ_(kept+groups+3)·Σ|ŵ·x| as in {@link NmSparseMatrixTest}), and bad
 * input.
 */
class NmSparseAffineTest {
    private static final long SEED = 0x14_24_af_f1L;

    private static double gamma(int n) {
        return n * 0x1p-24 / (1 - n * 0x1p-24);
    }

    @Test
    void int4TwoFourByHand() {
        // one row of 8, groups of 8 along in (one group), symmetric int4 (z = 8), scale 0.5
        float[] w = {0, 1.0f, 0, -2.0f, 3.4f, 0, 0, 0.26f};
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 8, true);
        NmSparseAffine q = NmSparseAffine.encode(w, null, 1, 8, 2, 4, spec, new float[] {0.5f}, null);
        // kept values 1, -2, 3.4, 0.26 → rint(w/0.5) + 8 = 10, 4, 15 (6.8 → 7), 9 (0.52 → 1)
        assertThat(q.codes()).containsExactly(10, 4, 15, 9);
        assertThat(q.indices()).containsExactly(1, 3, 0, 3);
        // codes packed low nibble first: bytes 0x4A, 0x9F; indices as NmSparseMatrix: 0xCD
        assertThat(q.packedCodes().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x4A);
        assertThat(q.packedCodes().get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 0x9F);
        assertThat(q.packedIndices().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0xCD);
        assertThat(q.dequantize()).containsExactly(0, 1.0f, 0, -2.0f, 3.5f, 0, 0, 0.5f);
        assertThat(q.byteSize()).isEqualTo(2 + 1 + 4);
        float[] y = new float[1];
        q.gemv(new float[] {9, 1, 9, 1, 1, 9, 9, 2}, null, y);
        assertThat(y[0]).isEqualTo(1.0f - 2.0f + 3.5f + 1.0f);
    }

    @Test
    void productsMatchTheDenseReference() {
        Random r = new Random(SEED);
        for (int[] p : new int[][] {{2, 4}, {4, 8}, {1, 4}}) {
            for (int bits : new int[] {2, 3, 4, 8}) {
                for (AffineSpec base : new AffineSpec[] {AffineSpec.groupsAlongIn(bits, 128, false),
                    AffineSpec.groupsAlongIn(bits, 32, true), AffineSpec.perOutputChannel(bits, false),
                    AffineSpec.perTensor(bits, true)}) {
                    AffineSpec spec = r.nextBoolean() ? base : base.withScaleType(DType.F16);
                    int n = p[0], m = p[1];
                    int rows = 11, cols = 256;
                    int gs = spec.scaleRows(rows) * spec.scaleCols(cols);
                    float[] scales = new float[gs];
                    int[] zeros = spec.symmetric() ? null : new int[gs];
                    for (int i = 0; i < gs; i++) {
                        scales[i] = (0.05f + r.nextFloat()) / 16;
                        if (zeros != null) {
                            zeros[i] = r.nextInt(spec.maxCode() + 1);
                        }
                    }
                    int kept = cols / m * n;
                    int[] codes = new int[rows * kept];
                    int[] idx = new int[rows * kept];
                    for (int row = 0; row < rows; row++) {
                        for (int g = 0; g < cols / m; g++) {
                            int[] pick = r.ints(0, m).distinct().limit(n).sorted().toArray();
                            System.arraycopy(pick, 0, idx, row * kept + g * n, n);
                        }
                    }
                    for (int i = 0; i < codes.length; i++) {
                        codes[i] = r.nextInt(spec.maxCode() + 1);
                    }
                    NmSparseAffine q = NmSparseAffine.of(rows, cols, n, m, spec, codes, idx, scales, zeros);
                    // the reference Ŵ from the definition
                    int g = spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN ? spec.groupSize() : cols;
                    int stride = spec.granularity() == AffineSpec.Granularity.PER_TENSOR ? 0 : cols / g;
                    float[] wq = new float[rows * cols];
                    for (int row = 0; row < rows; row++) {
                        for (int k = 0; k < kept; k++) {
                            int c = (k / n) * m + idx[row * kept + k];
                            int gi = row * stride + c / g;
                            float s = GroupwiseAffine.storedScale(scales[gi], spec.scaleType());
                            int z = zeros == null ? 1 << (bits - 1) : zeros[gi];
                            wq[row * cols + c] = s * (codes[row * kept + k] - z);
                        }
                    }
                    String what = n + ":" + m + " " + spec.describe();
                    assertThat(q.dequantize()).as(what).containsExactly(wq);
                    float[] x = new float[cols];
                    for (int i = 0; i < cols; i++) {
                        x[i] = (float) r.nextGaussian();
                    }
                    float[] y = new float[rows];
                    q.gemv(x, null, y);
                    for (int row = 0; row < rows; row++) {
                        double exact = 0, mag = 0;
                        for (int c = 0; c < cols; c++) {
                            exact += (double) wq[row * cols + c] * x[c];
                            mag += Math.abs((double) wq[row * cols + c] * x[c]);
                        }
                        assertThat((double) y[row]).as(what + " row " + row).isCloseTo(exact,
                                org.assertj.core.data.Offset.offset(gamma(kept + cols / g + 3) * mag + 1e-30));
                    }
                }
            }
        }
    }

    @Test
    void badInputIsNamed() {
        float[] w = new float[8];
        assertThatThrownBy(() -> NmSparseAffine.encode(w, null, 1, 8, 2, 4, AffineSpec.groupsAlongIn(4, 6, true),
                new float[] {1}, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of M = 4");
        assertThatThrownBy(() -> NmSparseAffine.encode(w, null, 1, 8, 2, 4, AffineSpec.perInputChannel(4, true),
                new float[8], null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("PER_INPUT_CHANNEL");
        assertThatThrownBy(() -> NmSparseAffine.encode(w, null, 1, 8, 2, 4, AffineSpec.perOutputChannel(4, true),
                new float[] {0}, null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scale 0.0");
        assertThatThrownBy(() -> NmSparseAffine.of(1, 8, 2, 4, AffineSpec.perOutputChannel(4, true),
                new int[] {1, 2, 3, 16}, new int[] {0, 1, 0, 1}, new float[] {1}, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("code 16");
        assertThatThrownBy(() -> NmSparseAffine.of(1, 8, 4, 4, AffineSpec.perOutputChannel(4, true), new int[8],
                new int[8], new float[] {1}, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4:4");
    }
}

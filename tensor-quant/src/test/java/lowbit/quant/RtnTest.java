package lowbit.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineSpec.Granularity;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class RtnTest {
    private static final int ROWS = 24;
    private static final int COLS = 40;

    private static AffineSpec spec(Granularity g, int bits, boolean sym) {
        return switch (g) {
            case PER_TENSOR -> AffineSpec.perTensor(bits, sym);
            case PER_OUTPUT_CHANNEL -> AffineSpec.perOutputChannel(bits, sym);
            case PER_INPUT_CHANNEL -> AffineSpec.perInputChannel(bits, sym);
            case GROUP_ALONG_IN -> AffineSpec.groupsAlongIn(bits, 8, sym);
            case GROUP_ALONG_OUT -> AffineSpec.groupsAlongOut(bits, 6, sym);
        };
    }

    /** The reference from the definition: per block, range by a plain loop in double, then GroupwiseAffine.encode. */
    private static GroupwiseAffine reference(float[] w, AffineSpec spec, boolean zeroInRange, boolean gptqSym) {
        return reference(w, ROWS, COLS, spec, gptqSym);
    }

    private static GroupwiseAffine reference(float[] w, int rows, int cols, AffineSpec spec, boolean gptqSym) {
        int sr = spec.scaleRows(rows);
        int sc = spec.scaleCols(cols);
        int rb = rows / sr;
        int cb = cols / sc;
        int maxq = spec.maxCode();
        float[] scales = new float[sr * sc];
        int[] zeros = spec.symmetric() ? null : new int[sr * sc];
        for (int gr = 0; gr < sr; gr++) {
            for (int gc = 0; gc < sc; gc++) {
                float lo = Float.POSITIVE_INFINITY;
                float hi = Float.NEGATIVE_INFINITY;
                float amax = 0;
                for (int r = gr * rb; r < (gr + 1) * rb; r++) {
                    for (int c = gc * cb; c < (gc + 1) * cb; c++) {
                        float v = w[r * cols + c];
                        lo = Math.min(lo, v);
                        hi = Math.max(hi, v);
                        amax = Math.max(amax, Math.abs(v));
                    }
                }
                int g = gr * sc + gc;
                if (spec.symmetric()) {
                    float s = gptqSym ? 2 * amax / maxq : amax / ((1 << (spec.bits() - 1)) - 1);
                    scales[g] = amax == 0 ? 1 : GroupwiseAffine.storedScale(s, spec.scaleType());
                } else {
                    // the layout's grid always contains 0 (z in [0, maxq]): both rules widen the range to reach it
                    lo = Math.min(lo, 0);
                    hi = Math.max(hi, 0);
                    float s = GroupwiseAffine.storedScale((hi - lo) / maxq, spec.scaleType());
                    scales[g] = s;
                    zeros[g] = (int) Math.min(Math.max(Math.rint(-lo / s), 0), maxq);
                }
            }
        }
        return GroupwiseAffine.encode(w, rows, cols, spec, scales, zeros);
    }

    /**
     * The fused row path (per tensor, per row, groups along in) against the definition on random shapes whose rows
     * and groups are not multiples of any vector length, for code widths 2, 3, 4, 7, 8, both symmetries and F16 scales:
     * codes, scales and zero points bit for bit, the report's errors within the float-sum bound.
     */
    @Test
    void fastPathMatchesTheDefinitionOnRandomShapes() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(0xfa57L);
        int[][] shapes = {{1, 1}, {3, 7}, {5, 16}, {2, 17}, {7, 64}, {4, 130}, {9, 256}, {3, 384}, {2, 1000}};
        for (int[] shape : shapes) {
            int rows = shape[0];
            int cols = shape[1];
            float[] w = QuantTesting.weights(rows, cols, rnd.nextLong(), 0.03f, 1 + rows * cols / 100, 25);
            for (int bits : new int[] {2, 3, 4, 7, 8}) {
                java.util.List<AffineSpec> specs = new java.util.ArrayList<>();
                for (boolean sym : new boolean[] {false, true}) {
                    specs.add(AffineSpec.perTensor(bits, sym));
                    specs.add(AffineSpec.perOutputChannel(bits, sym));
                    for (int g : new int[] {1, 5, 8, 13, 16, 17, 32, 65, 125, 128}) {
                        if (cols % g == 0) {
                            specs.add(AffineSpec.groupsAlongIn(bits, g, sym));
                        }
                    }
                }
                for (AffineSpec spec : specs) {
                    AffineSpec s = rnd.nextBoolean() ? spec : spec.withScaleType(DType.F16);
                    String what = "[" + rows + ", " + cols + "] " + s.describe() + " seed 0xfa57";
                    QuantResult r = Rtn.defaults().quantize(w, rows, cols, s);
                    GroupwiseAffine ref = reference(w, rows, cols, s, false);
                    assertThat(r.affine().codes()).as(what).containsExactly(ref.codes());
                    assertThat(r.affine().scales()).as(what).containsExactly(ref.scales());
                    assertThat(r.affine().zeros()).as(what).isEqualTo(ref.zeros());
                    float[] d = ref.dequantize();
                    double e = QuantTesting.squaredError(w, d);
                    // float sums of at most cols terms per group / row: within 2·γ_n·Σe², γ_n ≈ n·2^-24
                    double tol = 2 * cols * 0x1p-24 * e + 1e-15;
                    assertThat(r.report().squaredError()).as(what).isCloseTo(e, org.assertj.core.data.Offset.offset(tol));
                    for (int row = 0; row < rows; row++) {
                        double er = QuantTesting.squaredError(java.util.Arrays.copyOfRange(w, row * cols, (row + 1) * cols),
                                java.util.Arrays.copyOfRange(d, row * cols, (row + 1) * cols));
                        assertThat(r.report().rowSquaredError()[row]).as(what + " row " + row)
                                .isCloseTo(er, org.assertj.core.data.Offset.offset(2 * cols * 0x1p-24 * er + 1e-15));
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Granularity.class)
    void matchesTheDefinitionAtEveryGranularity(Granularity g) {
        float[] w = QuantTesting.weights(ROWS, COLS, 11, 0.02f, 5, 20);
        for (int bits : new int[] {2, 3, 8}) {
            for (DType st : new DType[] {DType.F32, DType.F16}) {
                AffineSpec asym = spec(g, bits, false).withScaleType(st);
                AffineSpec sym = spec(g, bits, true).withScaleType(st);
                check(Rtn.asymmetric().quantize(w, ROWS, COLS, asym), reference(w, asym, false, false), w);
                check(Rtn.asymmetricZeroInRange().quantize(w, ROWS, COLS, asym), reference(w, asym, true, false), w);
                check(Rtn.symmetric().quantize(w, ROWS, COLS, sym), reference(w, sym, false, false), w);
                check(Rtn.symmetricGptq().quantize(w, ROWS, COLS, sym), reference(w, sym, false, true), w);
                check(Rtn.defaults().quantize(w, ROWS, COLS, asym), reference(w, asym, false, false), w);
            }
        }
    }

    private static void check(QuantResult r, GroupwiseAffine ref, float[] w) {
        GroupwiseAffine a = r.affine();
        assertThat(a.spec()).isEqualTo(ref.spec());
        assertThat(a.scales()).containsExactly(ref.scales());
        assertThat(a.zeros()).isEqualTo(ref.zeros());
        assertThat(a.codes()).containsExactly(ref.codes());
        assertThat(r.transform().isIdentity()).isTrue();
        // the report's error is the error of the layout's Ŵ, summed in double
        double e = QuantTesting.squaredError(w, ref.dequantize());
        // each group's Σe² is a float sum of n = group length terms: within 2·γ_n·Σe², γ_n ≈ n·2^-24
        int n = ROWS * COLS / a.scales().length;
        double tol = 2 * n * 0x1p-24 * e + 1e-15;
        assertThat(r.report().squaredError()).isCloseTo(e, org.assertj.core.data.Offset.offset(tol));
        double groups = 0;
        for (double v : r.report().groupSquaredError()) {
            groups += v;
        }
        assertThat(groups).isCloseTo(e, org.assertj.core.data.Offset.offset(tol));
        assertThat(r.report().groupSquaredError()).hasSize(a.scales().length);
    }

    @Test
    void roundsHalfToEven() {
        // s = (3 − 0)/15 = 0.2 on [0, 3]; 0.1/0.2 = 0.5 → 0, 0.3/0.2 = 1.5 → 2, 0.5/0.2 = 2.5 → 2 (all exact halves in
        // float? 0.1f/0.2f rounds to exactly 0.5f); use values whose quotient is exactly k + ½ in float instead:
        float[] w = {0f, 3f, 0.25f * 0.2f * 2, 0.75f};
        // group of 4 on [0, 3]: s = 0.2f, z = 0. 0.1f/0.2f and 0.75f/0.2f are checked against Math.rint directly.
        QuantResult r = Rtn.asymmetric().quantize(w, 1, 4, AffineSpec.perOutputChannel(4, false));
        float s = r.affine().scales()[0];
        for (int c = 0; c < 4; c++) {
            assertThat(r.affine().code(0, c)).isEqualTo((int) Math.rint(w[c] / s));
        }
        // an exact tie: s = 1 (range [0, 15]), w = 2.5 → 2, 3.5 → 4
        float[] t = {0, 15, 2.5f, 3.5f};
        QuantResult q = Rtn.asymmetric().quantize(t, 1, 4, AffineSpec.perOutputChannel(4, false));
        assertThat(q.affine().scales()[0]).isEqualTo(1f);
        assertThat(q.affine().codes()).containsExactly(0, 15, 2, 4);
    }

    @Test
    void aGroupOnOneSideOfZeroIsWidenedToReachZero() {
        float[] w = {0.76f, 0.80f, 0.84f, 0.78f};
        QuantResult r = Rtn.asymmetric().quantize(w, 1, 4, AffineSpec.perOutputChannel(3, false));
        // range [0, 0.84]: s = 0.12, z = 0; every weight within half a step
        assertThat(r.affine().zeros()).containsExactly(0);
        assertThat(r.affine().scales()[0]).isEqualTo(0.84f / 7);
        float[] d = r.effectiveWeight();
        for (int i = 0; i < 4; i++) {
            assertThat(Math.abs(d[i] - w[i])).isLessThanOrEqualTo(0.84f / 14 * 1.0001f);
        }
    }

    @Test
    void zeroAndConstantGroupsAreExactWithoutDividingByZero() {
        float[] w = new float[4 * 8];
        for (int c = 4; c < 8; c++) {
            w[8 + c] = 0.375f;  // row 1, group 1 constant positive
            w[16 + c] = -2.5f;  // row 2, group 1 constant negative
        }
        for (boolean sym : new boolean[] {false, true}) {
            QuantResult r = Rtn.defaults().quantize(w, 4, 8, AffineSpec.groupsAlongIn(3, 4, sym));
            assertThat(r.effectiveWeight()).containsExactly(w);
            assertThat(r.affine().scales()[0]).isEqualTo(1f); // row 0, group 0 all zero
            assertThat(r.report().squaredError()).isZero();
        }
    }

    @Test
    void f16ScalesAreRoundedBeforeTheCodesAreChosen() {
        float[] w = QuantTesting.weights(8, 64, 3, 0.01f, 0, 0);
        QuantResult r = Rtn.asymmetric().quantize(w, 8, 64, AffineSpec.groupsAlongIn(4, 32, false)
                .withScaleType(DType.F16));
        for (float s : r.affine().scales()) {
            assertThat(Fp16.toFloat(Fp16.fromFloat(s))).isEqualTo(s);
        }
        GroupwiseAffine again = GroupwiseAffine.encode(w, 8, 64, r.affine().spec(), r.affine().scales(),
                r.affine().zeros());
        assertThat(r.affine().codes()).containsExactly(again.codes());
    }

    @Test
    void sameBitsForAnyThreadCountAndFromATensor() {
        float[] w = QuantTesting.weights(300, 256, 5, 0.05f, 30, 30);
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 32, false);
        int saved = Parallel.parallelism();
        try {
            Parallel.setParallelism(1);
            QuantResult one = Rtn.asymmetric().quantize(w, 300, 256, spec);
            Parallel.setParallelism(3);
            QuantResult three = Rtn.asymmetric().quantize(w, 300, 256, spec);
            assertThat(three.affine().codes()).containsExactly(one.affine().codes());
            assertThat(three.report().rowSquaredError()).containsExactly(one.report().rowSquaredError());
            QuantResult fromTensor = Rtn.asymmetric().quantize(Tensor.ofFloats(w, 300, 256), spec, null);
            assertThat(fromTensor.affine().codes()).containsExactly(one.affine().codes());
        } finally {
            Parallel.setParallelism(saved);
        }
    }

    @Test
    void badInputIsNamed() {
        float[] w = new float[12];
        assertThatThrownBy(() -> Rtn.asymmetric().quantize(w, 3, 4, AffineSpec.groupsAlongIn(4, 3, false)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("group size 3")
                .hasMessageContaining("4 columns");
        assertThatThrownBy(() -> Rtn.asymmetric().quantize(w, 3, 4, AffineSpec.groupsAlongOut(4, 2, false)))
                .hasMessageContaining("group size 2").hasMessageContaining("3 rows");
        assertThatThrownBy(() -> AffineSpec.groupsAlongIn(9, 4, false)).hasMessageContaining("got 9");
        assertThatThrownBy(() -> AffineSpec.groupsAlongIn(1, 4, false)).hasMessageContaining("got 1");
        assertThatThrownBy(() -> Rtn.asymmetric().quantize(new float[0], 0, 4, AffineSpec.perTensor(4, false)))
                .hasMessageContaining("empty [0, 4]");
        assertThatThrownBy(() -> Rtn.asymmetric().quantize(w, 4, 4, AffineSpec.perTensor(4, false)))
                .hasMessageContaining("12 weights").hasMessageContaining("expected 16");
        float[] nan = new float[12];
        nan[7] = Float.NaN;
        assertThatThrownBy(() -> Rtn.asymmetric().quantize(nan, 3, 4, AffineSpec.perTensor(4, false)))
                .hasMessageContaining("row 1, col 3 is NaN");
        nan[7] = Float.NEGATIVE_INFINITY;
        assertThatThrownBy(() -> Rtn.defaults().quantize(nan, 3, 4, AffineSpec.perTensor(4, true)))
                .hasMessageContaining("row 1, col 3 is -Infinity");
        assertThatThrownBy(() -> Rtn.asymmetric().quantize(w, 3, 4, AffineSpec.perTensor(4, true)))
                .hasMessageContaining("asymmetric rule needs an asymmetric spec");
        assertThatThrownBy(() -> Rtn.symmetric().quantize(w, 3, 4, AffineSpec.perTensor(4, false)))
                .hasMessageContaining("symmetric rule needs a symmetric spec");
        assertThatThrownBy(() -> Rtn.asymmetric().quantize(w, 3, 4, AffineSpec.perTensor(4, false),
                ArrayCalibrationStats.of(10, new float[5], new float[5])))
                .hasMessageContaining("5 input features").hasMessageContaining("4 columns");
        float[] huge = {1e9f, -1e9f, 0, 1};
        assertThatThrownBy(() -> Rtn.asymmetric().quantize(huge, 1, 4, AffineSpec.perTensor(4, false)
                .withScaleType(DType.F16))).hasMessageContaining("overflows F16");
    }
}

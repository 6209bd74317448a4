package lowbit.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.ggml.Q8_0;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Gptq} against a hand-computed case, the plain float64 {@link GptqReference} (output error within 1 %), RTN,
 * and its own guarantees: thread-count bit identity, act-order / static groups / g_idx, exact outliers, damping of
 * singular and indefinite Hessians (reported, never NaN), ggml Q4_0/Q8_0 targets, named errors.
 */
class GptqTest {
    private static final long SEED = 0x6e7071L;
    private static final int ROWS = 48;
    private static final int COLS = 256;
    private static final int TOKENS = 512;

    @AfterEach
    void restore() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static float[] x() {
        return CalibTesting.activations(TOKENS, COLS, 4, SEED);
    }

    private static float[] w() {
        return QuantTesting.weights(ROWS, COLS, SEED + 1, 0.02f, 10, 10f);
    }

    @Test
    void twoColumnsByHand() {
        // W = [0.30, -0.07], H = [[2, 1], [1, 2]], no damping, 2-bit asymmetric per row with 0 in range:
        // s = 0.37/3, z = round(0.07/s) = 1; q0 = round(0.30/s) + 1 = 3 (2.43 rounds to 2), Δ0 = 0.30 − 2s.
        // GPTQ's update of the remaining weight (OBS: δw1 = −Δ0·(H⁻¹)01/(H⁻¹)00 = Δ0·H01/H11): w1' = w1 + Δ0/2,
        // which rounds to code 1 (0.0), where RTN would round −0.07 to code 0 (−s).
        float[] w = {0.30f, -0.07f};
        double[] h = {2, 1, 1, 2};
        var stats = new ArrayCalibrationStats(2, 1, new float[] {1, 1}, new float[] {1, 1}, null, h);
        AffineSpec spec = AffineSpec.perOutputChannel(2, false);
        QuantResult r = Gptq.of(Gptq.Options.defaults().withDamp(0)).quantize(w, 1, 2, spec, stats);
        float s = 0.37f / 3;
        double delta0 = 0.30f - 2 * s;
        double w1 = -0.07f + delta0 * 1 / 2;
        assertThat(Math.rint(w1 / s) + 1).as("the updated weight's code, by hand").isEqualTo(1);
        assertThat(r.affine().codes()).containsExactly(3, 1);
        assertThat(r.affine().scales()[0]).isEqualTo(s);
        assertThat(r.affine().zeros()).containsExactly(1);
        assertThat(Rtn.asymmetricZeroInRange().quantize(w, 1, 2, spec).affine().codes()).containsExactly(3, 0);
        assertThat(r.report().option("damp retries")).isEqualTo("0");
    }

    @Test
    void withADiagonalHessianGptqIsItsRangeRuleAlone() {
        // H diagonal ⇒ U diagonal ⇒ no error feedback: GPTQ must reproduce the data-free quantizer of its range rule
        // bit for bit (same fitter on the same weights, same rounding)
        float[] w = w();
        double[] h = new double[COLS * COLS];
        for (int j = 0; j < COLS; j++) {
            h[j * COLS + j] = 0.5 + (j % 5);
        }
        float[] ones = new float[COLS];
        Arrays.fill(ones, 1);
        var diag = new ArrayCalibrationStats(COLS, 10, ones, ones, null, h);
        for (int g : new int[] {32, 128}) {
            AffineSpec asym = AffineSpec.groupsAlongIn(3, g, false);
            assertThat(Gptq.defaults().quantize(w, ROWS, COLS, asym, diag).affine().codes())
                    .isEqualTo(Rtn.asymmetricZeroInRange().quantize(w, ROWS, COLS, asym).affine().codes());
            GroupwiseAffine mse = Gptq.of(Gptq.Options.defaults().withRange(Gptq.Range.MSE))
                    .quantize(w, ROWS, COLS, asym, diag).affine();
            GroupwiseAffine clip = ClipSearch.defaults().quantize(w, ROWS, COLS, asym).affine();
            assertThat(mse.scales()).isEqualTo(clip.scales());
            assertThat(mse.zeros()).isEqualTo(clip.zeros());
            assertThat(mse.codes()).isEqualTo(clip.codes());
            AffineSpec sym = AffineSpec.groupsAlongIn(4, g, true);
            assertThat(Gptq.of(Gptq.Options.defaults().withRange(Gptq.Range.MAX_ABS)).quantize(w, ROWS, COLS, sym, diag)
                    .affine().codes()).isEqualTo(Rtn.symmetric().quantize(w, ROWS, COLS, sym).affine().codes());
        }
    }

    @Test
    void matchesTheFloat64ReferenceAndBeatsRtn() {
        float[] x = x();
        float[] w = w();
        double[] h = CalibTesting.hessian(x, TOKENS, COLS);
        CalibrationCollector c = CalibrationCollector.withHessian(COLS);
        c.add(x, TOKENS);
        // {group (-1 = per row), act-order}; asymmetric 4-bit and symmetric 3-bit
        int[][] cases = {{128, 0}, {128, 1}, {32, 0}, {32, 1}, {-1, 0}, {-1, 1}};
        for (boolean sym : new boolean[] {false, true}) {
            int bits = sym ? 3 : 4;
            for (int[] k : cases) {
                int g = k[0];
                boolean ao = k[1] == 1;
                AffineSpec spec = g == -1 ? AffineSpec.perOutputChannel(bits, sym)
                        : AffineSpec.groupsAlongIn(bits, g, sym);
                float[] ref = GptqReference.quantize(w, ROWS, COLS, h, bits, g, sym, ao, 0.01, 128);
                QuantResult r = Gptq.of(Gptq.Options.defaults().withActOrder(ao)).quantize(w, ROWS, COLS, spec, c);
                float[] rtn = (sym ? Rtn.symmetricGptq() : Rtn.asymmetricZeroInRange()).quantize(w, ROWS, COLS, spec)
                        .matrix().dequantize();
                double eRef = CalibTesting.relativeOutputError(w, ref, ROWS, COLS, h);
                double eLow = CalibTesting.relativeOutputError(w, r.matrix().dequantize(), ROWS, COLS, h);
                double eRtn = CalibTesting.relativeOutputError(w, rtn, ROWS, COLS, h);
                String at = String.format("g=%d act-order=%b sym=%b: lowbit %.5f reference %.5f rtn %.5f seed=%d", g, ao,
                        sym, eLow, eRef, eRtn, SEED);
                if (g == 32) {
                    // groups inside a block: lowbit fits them to the updated weights, the reference to the block's
                    // stale ones (see Gptq's class comment) — lowbit must not be worse
                    assertThat(eLow).as(at).isLessThanOrEqualTo(eRef * 1.01);
                } else {
                    // same algorithm; lowbit keeps W and U in float (the reference: double), H from the float
                    // collector: the output errors agree to well within 1 %
                    assertThat(Math.abs(eLow / eRef - 1)).as(at).isLessThanOrEqualTo(0.01);
                }
                assertThat(eLow).as(at).isLessThanOrEqualTo(0.6 * eRtn);
                assertThat(r.affine().gIdx() != null).as(at).isEqualTo(ao && g != -1);
            }
        }
    }

    @Test
    void sameBitsForAnyThreadCountAndBlockCutsAreInvisibleToStaticGroups() {
        float[] x = x();
        float[] w = w();
        CalibrationStats st = ArrayCalibrationStats.fromActivations(x, TOKENS, COLS, true);
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 64, false);
        Gptq gptq = Gptq.of(Gptq.Options.defaults().withActOrder(true));
        GroupwiseAffine[] out = new GroupwiseAffine[3];
        for (int t = 1; t <= 3; t++) {
            Parallel.setParallelism(t);
            out[t - 1] = gptq.quantize(w, ROWS, COLS, spec, st).affine();
        }
        for (int t = 1; t < 3; t++) {
            assertThat(out[t].codes()).isEqualTo(out[0].codes());
            assertThat(out[t].scales()).isEqualTo(out[0].scales());
            assertThat(out[t].zeros()).isEqualTo(out[0].zeros());
            assertThat(out[t].gIdx()).isEqualTo(out[0].gIdx());
        }
        // act-order g_idx: column c's group is its rank in the order of descending H_jj, over g
        double[] h = st.hessian();
        int[] gIdx = out[0].gIdx();
        Integer[] order = new Integer[COLS];
        for (int i = 0; i < COLS; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(h[b * COLS + b], h[a * COLS + a]));
        for (int i = 0; i < COLS; i++) {
            assertThat(gIdx[order[i]]).isEqualTo(i / 64);
        }
        // static groups: natural groups, no g_idx, and the same scales as RTN's on the original W
        GroupwiseAffine st1 = Gptq.of(Gptq.Options.defaults().withActOrder(true).withStaticGroups(true))
                .quantize(w, ROWS, COLS, spec, st).affine();
        assertThat(st1.gIdx()).isNull();
        assertThat(st1.scales()).isEqualTo(Rtn.asymmetricZeroInRange().quantize(w, ROWS, COLS, spec).affine().scales());
        // static groups with any block size give identical results (blocks are only a batching of the updates)
        GroupwiseAffine st2 = Gptq.of(Gptq.Options.defaults().withActOrder(true).withStaticGroups(true)
                .withBlockSize(37)).quantize(w, ROWS, COLS, spec, st).affine();
        assertThat(st2.codes()).isEqualTo(st1.codes());
    }

    @Test
    void outliersStayExactAndLowerTheError() {
        float[] x = x();
        float[] w = w();
        double[] h = CalibTesting.hessian(x, TOKENS, COLS);
        CalibrationStats st = ArrayCalibrationStats.fromActivations(x, TOKENS, COLS, true);
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 128, false);
        // the 1 % largest |w|
        Integer[] idx = new Integer[w.length];
        for (int i = 0; i < w.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Float.compare(Math.abs(w[b]), Math.abs(w[a])));
        int[] exact = new int[w.length / 100];
        for (int i = 0; i < exact.length; i++) {
            exact[i] = idx[i];
        }
        QuantResult plain = Gptq.defaults().quantize(w, ROWS, COLS, spec, st);
        QuantResult withOut = Gptq.defaults().quantize(w, ROWS, COLS, spec, st, exact);
        GroupwiseAffine m = withOut.affine();
        assertThat(m.outliers().count()).isEqualTo(exact.length);
        assertThat(withOut.report().outliers()).isEqualTo(exact.length);
        float[] deq = m.dequantize();
        float[] codesOnly = m.withOutliers(lowbit.tensor.layout.Outliers.none(ROWS, COLS)).dequantize();
        int differ = 0;
        for (int i : exact) {
            // the stored value is the weight as GPTQ's feedback left it when its column came up (error 0 there)
            assertThat(Float.isFinite(deq[i])).isTrue();
            differ += deq[i] != codesOnly[i] ? 1 : 0;
        }
        assertThat(differ).isGreaterThan(exact.length / 2);
        double e0 = CalibTesting.relativeOutputError(w, plain.matrix().dequantize(), ROWS, COLS, h);
        double e1 = CalibTesting.relativeOutputError(w, deq, ROWS, COLS, h);
        assertThat(e1).as("outliers help: %s vs %s", e1, e0).isLessThan(e0);
        // outliers are left out of the group range: a row whose largest weights are outliers gets a finer scale
        assertThat(m.scales()[0] <= plain.affine().scales()[0] || m.scales()[1] <= plain.affine().scales()[1])
                .isTrue();
    }

    @Test
    void singularHessiansAreDampedNeverNaN() {
        // 40 tokens for 256 features: H has rank 40; with no damping Cholesky fails and λ must grow
        float[] x = CalibTesting.activations(40, COLS, 2, SEED + 5);
        float[] w = w();
        for (int j = 0; j < 40; j++) {
            x[j * COLS + 7] = 0; // a dead input channel
        }
        CalibrationStats st = ArrayCalibrationStats.fromActivations(x, 40, COLS, true);
        QuantResult r = Gptq.of(Gptq.Options.defaults().withDamp(0)).quantize(w, ROWS, COLS,
                AffineSpec.groupsAlongIn(4, 128, false), st);
        assertThat(Integer.parseInt(r.report().option("damp retries"))).isPositive();
        assertThat(Double.parseDouble(r.report().option("damp"))).isPositive();
        assertThat(r.report().option("dead columns")).isEqualTo("1");
        float[] d = r.matrix().dequantize();
        for (int i = 0; i < d.length; i++) {
            assertThat(Float.isFinite(d[i])).isTrue();
        }
        for (int row = 0; row < ROWS; row++) {
            assertThat(d[row * COLS + 7]).as("dead column zeroed").isZero();
        }
        // indefinite: H = I − 3·vvᵀ (eigenvalue −2 along v) — λ grows 10x until H + λI is positive definite
        int n = 64;
        double[] h = new double[n * n];
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = 1 / Math.sqrt(n);
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                h[i * n + j] = (i == j ? 1 : 0) - 3 * v[i] * v[j];
            }
        }
        float[] ones = new float[n];
        Arrays.fill(ones, 1);
        var indefinite = new ArrayCalibrationStats(n, 10, ones, ones, null, h);
        float[] w2 = QuantTesting.weights(8, n, SEED, 1f, 0, 0);
        QuantResult r2 = Gptq.defaults().quantize(w2, 8, n, AffineSpec.groupsAlongIn(4, 32, false), indefinite);
        // mean diag = 1 − 3/n; λ = 0.01·mean → 0.1 → 1 → 10 (the first λ > 2)
        assertThat(r2.report().option("damp retries")).isEqualTo("3");
        for (float f : r2.matrix().dequantize()) {
            assertThat(Float.isFinite(f)).isTrue();
        }
    }

    @Test
    void ggmlQ4_0AndQ8_0Blocks() {
        int rows = 6, cols = 96;
        float[] w = QuantTesting.weights(rows, cols, SEED + 9, 0.05f, 4, 8f);
        // a diagonal H: U is diagonal, so there is no error feedback and GPTQ must round like its range rule alone
        double[] h = new double[cols * cols];
        for (int j = 0; j < cols; j++) {
            h[j * cols + j] = 1 + j % 3;
        }
        float[] ones = new float[cols];
        Arrays.fill(ones, 1);
        var diag = new ArrayCalibrationStats(cols, 10, ones, ones, null, h);
        GroupwiseAffine m = Gptq.of(GgmlTargets.q4_0(Gptq.Options.defaults())).quantize(w, rows, cols,
                GgmlTargets.Q4_0_SPEC, diag).affine();
        byte[] q4 = GgmlTargets.toQ4_0(m);
        byte[] ggml = new byte[q4.length];
        float[] fromBytes = new float[rows * cols];
        float[] ggmlDeq = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            Q4_0.dequantizeRow(q4, (int) (r * Q4_0.rowBytes(cols)), fromBytes, r * cols, cols);
            Q4_0.quantizeRow(w, r * cols, ggml, (int) (r * Q4_0.rowBytes(cols)), cols);
            Q4_0.dequantizeRow(ggml, (int) (r * Q4_0.rowBytes(cols)), ggmlDeq, r * cols, cols);
        }
        assertThat(fromBytes).as("ggml's decoder reads the GPTQ blocks as the layout does").isEqualTo(m.dequantize());
        for (int i = 0; i < rows * cols / 32; i++) {
            // d = fp16(max/−8) of the block, from the definition: ggml's encoder stores the same d
            assertThat(Arrays.copyOfRange(q4, i * 18, i * 18 + 2)).isEqualTo(Arrays.copyOfRange(ggml, i * 18, i * 18 + 2));
        }
        for (int i = 0; i < w.length; i++) {
            // same d, nearest code: never a larger error than ggml's truncating encoder
            assertThat(Math.abs(w[i] - fromBytes[i])).isLessThanOrEqualTo(Math.abs(w[i] - ggmlDeq[i]));
        }
        // Q8_0 with real feedback: the bytes decode to the layout, and codes are int8 − 128 of the u8 ones
        CalibrationStats st = ArrayCalibrationStats.fromActivations(CalibTesting.activations(200, cols, 1, SEED), 200,
                cols, true);
        GroupwiseAffine m8 = Gptq.of(GgmlTargets.q8_0(Gptq.Options.defaults())).quantize(w, rows, cols,
                GgmlTargets.Q8_0_SPEC, st).affine();
        byte[] q8 = GgmlTargets.toQ8_0(m8);
        float[] d8 = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            Q8_0.dequantizeRow(q8, (int) (r * Q8_0.rowBytes(cols)), d8, r * cols, cols);
        }
        assertThat(d8).isEqualTo(m8.dequantize());
        assertThatThrownBy(() -> GgmlTargets.toQ4_0(m8)).hasMessageContaining("Q4_0 needs");
    }

    @Test
    void badInputIsNamed() {
        float[] w = w();
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 128, false);
        CalibrationStats st = ArrayCalibrationStats.fromActivations(x(), TOKENS, COLS, true);
        assertThatThrownBy(() -> Gptq.defaults().quantize(w, ROWS, COLS, spec)).isInstanceOf(
                IllegalArgumentException.class).hasMessageContaining("needs calibration statistics with a Hessian");
        CalibrationStats noH = ArrayCalibrationStats.of(10, new float[COLS], new float[COLS]);
        assertThatThrownBy(() -> Gptq.defaults().quantize(w, ROWS, COLS, spec, noH))
                .hasMessageContaining("statistics without one");
        CalibrationStats other = ArrayCalibrationStats.fromActivations(CalibTesting.activations(20, 128, 0, 1), 20, 128,
                true);
        assertThatThrownBy(() -> Gptq.defaults().quantize(w, ROWS, COLS, spec, other))
                .hasMessageContaining("128 input features, the weight has 256 columns");
        assertThatThrownBy(() -> Gptq.defaults().quantize(w, ROWS, COLS, AffineSpec.perInputChannel(4, false), st))
                .hasMessageContaining("cannot target");
        assertThatThrownBy(() -> Gptq.of(GgmlTargets.q4_0(Gptq.Options.defaults())).quantize(w, ROWS, COLS,
                GgmlTargets.Q8_0_SPEC, st)).hasMessageContaining("Q4_0 range rule needs a 4-bit symmetric spec");
        assertThatThrownBy(() -> Gptq.defaults().quantize(w, ROWS, COLS, spec, st, new int[] {5, ROWS * COLS}))
                .hasMessageContaining("outside the [48, 256] matrix");
        assertThatThrownBy(() -> Gptq.defaults().quantize(w, ROWS, COLS, spec, st, new int[] {5, 5}))
                .hasMessageContaining("listed twice");
        float[] nan = w.clone();
        nan[300] = Float.NaN;
        assertThatThrownBy(() -> Gptq.defaults().quantize(nan, ROWS, COLS, spec, st))
                .hasMessageContaining("row 1, col 44 is NaN");
        double[] negative = st.hessian().clone();
        negative[3 * COLS + 3] = -1;
        var bad = new ArrayCalibrationStats(COLS, 10, st.meanAbs(), st.meanSquare(), null, negative);
        assertThatThrownBy(() -> Gptq.defaults().quantize(w, ROWS, COLS, spec, bad))
                .hasMessageContaining("H[3, 3] = -1.0");
        assertThatThrownBy(() -> Gptq.Options.defaults().withDamp(2)).hasMessageContaining("damp must be in [0, 1]");
    }
}

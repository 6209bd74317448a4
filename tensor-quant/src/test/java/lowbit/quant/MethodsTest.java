package lowbit.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.Outliers;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.Test;

/** Every data-free method on seeded synthetic weights with outliers (seeds in the data calls). */
class MethodsTest {
    private static final int ROWS = 64;
    private static final int COLS = 256;
    private static final float[] W = QuantTesting.weights(ROWS, COLS, 42, 0.02f, 40, 60);
    private static final AffineSpec G32 = AffineSpec.groupsAlongIn(4, 32, false);
    private static final AffineSpec ROW4 = AffineSpec.perOutputChannel(4, false);

    private static void groupwiseNotWorse(QuantResult method, QuantResult rtn) {
        double[] a = method.report().groupSquaredError();
        double[] b = rtn.report().groupSquaredError();
        assertThat(a).hasSize(b.length);
        for (int g = 0; g < a.length; g++) {
            // the methods compare candidate errors in float (relative rounding ≤ n·2^-24 per sum): allow that much
            assertThat(a[g]).as("group %d", g).isLessThanOrEqualTo(b[g] * (1 + 1e-4) + 1e-12);
        }
    }

    @Test
    void clipSearchNeverLosesToRtnPerGroupAndWinsOverall() {
        for (AffineSpec spec : new AffineSpec[] {G32, ROW4, AffineSpec.groupsAlongIn(3, 64, true),
                AffineSpec.groupsAlongOut(4, 16, false)}) {
            QuantResult rtn = Rtn.defaults().quantize(W, ROWS, COLS, spec);
            QuantResult clip = ClipSearch.defaults().quantize(W, ROWS, COLS, spec);
            groupwiseNotWorse(clip, rtn);
            assertThat(clip.mse()).isLessThan(rtn.mse());
        }
    }

    @Test
    void clipSearchWeightsTheErrorByActivationEnergy() {
        float[] ms = new float[COLS];
        for (int c = 0; c < COLS; c++) {
            ms[c] = c < 8 ? 1000f : 1e-3f; // the first 8 inputs dominate the output error
        }
        CalibrationStats stats = ArrayCalibrationStats.of(100, ms.clone(), ms);
        QuantResult plain = ClipSearch.defaults().quantize(W, ROWS, COLS, ROW4);
        QuantResult weighted = ClipSearch.defaults().quantize(W, ROWS, COLS, ROW4, stats);
        assertThat(weighted.report().option("weighting")).isEqualTo("mean x^2");
        double ep = weightedError(plain.effectiveWeight(), ms);
        double ew = weightedError(weighted.effectiveWeight(), ms);
        assertThat(ew).isLessThan(ep);
    }

    private static double weightedError(float[] q, float[] ms) {
        double s = 0;
        for (int i = 0; i < q.length; i++) {
            double e = q[i] - W[i];
            s += ms[i % COLS] * e * e;
        }
        return s;
    }

    @Test
    void easyQuantKeepsOutliersExactAndCutsPerChannelError() {
        QuantResult rtn = Rtn.defaults().quantize(W, ROWS, COLS, ROW4);
        QuantResult eq = EasyQuant.defaults().quantize(W, ROWS, COLS, ROW4);
        Outliers o = eq.matrix().outliers();
        assertThat(o.count()).isPositive().isLessThanOrEqualTo((int) (0.01 * COLS) * ROWS);
        float[] d = eq.effectiveWeight();
        for (int r = 0; r < ROWS; r++) {
            for (int i = o.rowStart(r); i < o.rowEnd(r); i++) {
                assertThat(d[r * COLS + o.col(i)]).isEqualTo(W[r * COLS + o.col(i)]);
            }
        }
        assertThat(eq.report().outliers()).isEqualTo(o.count());
        assertThat(eq.mse()).isLessThan(0.7 * rtn.mse());
        // the range optimization alone (no outliers) never loses to its max-abs/min-max start
        QuantResult rangeOnly = EasyQuant.of(EasyQuant.Options.defaults().withSigmas(Float.POSITIVE_INFINITY))
                .quantize(W, ROWS, COLS, G32);
        assertThat(rangeOnly.matrix().outliers().count()).isZero();
        groupwiseNotWorse(rangeOnly, Rtn.defaults().quantize(W, ROWS, COLS, G32));
        QuantResult sym = EasyQuant.defaults().quantize(W, ROWS, COLS, AffineSpec.perOutputChannel(4, true));
        assertThat(sym.mse()).isLessThan(Rtn.defaults().quantize(W, ROWS, COLS, AffineSpec.perOutputChannel(4, true))
                .mse());
    }

    @Test
    void easyQuantIsDeterministicAcrossThreadCounts() {
        int saved = Parallel.parallelism();
        try {
            Parallel.setParallelism(1);
            QuantResult a = EasyQuant.defaults().quantize(W, ROWS, COLS, G32);
            Parallel.setParallelism(2);
            QuantResult b = EasyQuant.defaults().quantize(W, ROWS, COLS, G32);
            assertThat(b.affine().codes()).containsExactly(a.affine().codes());
            assertThat(b.affine().scales()).containsExactly(a.affine().scales());
        } finally {
            Parallel.setParallelism(saved);
        }
    }

    @Test
    void hqqImprovesItsLpObjectiveAndIsGuardedInL2() {
        QuantResult rtn = Rtn.defaults().quantize(W, ROWS, COLS, G32);
        QuantResult pure = Hqq.of(Hqq.Options.defaults().withoutL2Guard()).quantize(W, ROWS, COLS, G32);
        assertThat(lp(pure.effectiveWeight(), 1)).isLessThan(lp(rtn.effectiveWeight(), 1));
        QuantResult guarded = Hqq.defaults().quantize(W, ROWS, COLS, G32);
        groupwiseNotWorse(guarded, rtn);
        assertThat(guarded.report().option("l2GuardedGroups")).isNotNull();
        assertThat(guarded.report().option("p")).isEqualTo("0.7");
        assertThatThrownBy(() -> Hqq.defaults().quantize(W, ROWS, COLS, AffineSpec.groupsAlongIn(4, 32, true)))
                .hasMessageContaining("asymmetric spec");
        assertThatThrownBy(() -> new Hqq.Options(0.7f, 10f, 1f, 20, true, true)).hasMessageContaining("kappa");
    }

    private static double lp(float[] q, double p) {
        double s = 0;
        for (int i = 0; i < q.length; i++) {
            s += Math.pow(Math.abs(q[i] - W[i]), p);
        }
        return s;
    }

    @Test
    void adaDimPicksTheInputChannelDimensionForAnOutlierColumn() {
        float[] w = QuantTesting.weights(64, 128, 7, 0.02f, 0, 0);
        for (int r = 0; r < 64; r++) {
            w[r * 128 + 5] += 0.8f; // one input channel far from the others in every row (a structured outlier)
        }
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 32, false);
        QuantResult a = AdaDim.defaults().quantize(w, 64, 128, spec);
        assertThat(a.report().option("dimension")).as(a.report().toString()).isEqualTo("in-channel");
        assertThat(a.affine().spec().granularity()).isEqualTo(AffineSpec.Granularity.GROUP_ALONG_OUT);
        assertThat(a.mse()).isLessThan(Rtn.defaults().quantize(w, 64, 128, spec).mse());
        // Gaussian weights without structure: per-OC groups are at least as good here, and AdaDim never loses to them
        QuantResult b = AdaDim.defaults().quantize(W, ROWS, COLS, G32);
        assertThat(b.mse()).isLessThanOrEqualTo(Rtn.defaults().quantize(W, ROWS, COLS, G32).mse());
        // with statistics the output error decides; the Hessian form and the diagonal form agree on diagonal H
        float[] x = QuantTesting.weights(50, 128, 9, 1f, 0, 0);
        CalibrationStats full = ArrayCalibrationStats.fromActivations(x, 50, 128, true);
        QuantResult c = AdaDim.defaults().quantize(w, 64, 128, spec, full);
        assertThat(c.report().option("criterion")).isEqualTo("output error (H)");
        double eo = Double.parseDouble(c.report().option("errorOutChannel"));
        double ei = Double.parseDouble(c.report().option("errorInChannel"));
        assertThat(c.report().option("dimension")).isEqualTo(ei < eo ? "in-channel" : "out-channel");
    }

    @Test
    void fineQuantRefinesOnlyWhenOutliersDominate() {
        float[] plain = QuantTesting.weights(64, 512, 3, 0.02f, 0, 0);
        QuantResult a = FineQuant.defaults().quantize(plain, 64, 512, ROW4);
        assertThat(a.report().option("groupSize")).isEqualTo("512");
        float[] spiky = QuantTesting.weights(64, 512, 3, 0.02f, 400, 50);
        QuantResult b = FineQuant.defaults().quantize(spiky, 64, 512, ROW4);
        int g = Integer.parseInt(b.report().option("groupSize"));
        assertThat(g).isLessThan(512).isGreaterThanOrEqualTo(32);
        assertThat(b.affine().spec().groupSize()).isEqualTo(g);
        assertThat(b.mse()).isLessThan(Rtn.defaults().quantize(spiky, 64, 512, ROW4).mse());
        assertThatThrownBy(() -> FineQuant.defaults().quantize(plain, 64, 512, AffineSpec.perInputChannel(4, false)))
                .hasMessageContaining("groups along in");
    }

    @Test
    void dualScaleReturnsAnAbsorbableScaleAndTheMeanShift() {
        QuantResult rtn = Rtn.defaults().quantize(W, ROWS, COLS, G32);
        float[] x = QuantTesting.weights(40, COLS, 5, 1f, 0, 0);
        for (int i = 0; i < x.length; i++) {
            x[i] += 0.5f; // a non-zero mean input
        }
        CalibrationStats stats = ArrayCalibrationStats.fromActivations(x, 40, COLS, false);
        QuantResult d = DualScale.defaults().quantize(W, ROWS, COLS, G32, stats);
        assertThat(d.mse()).isLessThan(rtn.mse());
        float[] m = d.transform().channelMultiplier();
        assertThat(m).hasSize(COLS);
        // the layer with the transform applied equals Ŵ_eff·x (+ c)
        float[] eff = d.effectiveWeight();
        float[] xp = d.transform().apply(java.util.Arrays.copyOf(x, COLS), 1, COLS);
        float[] y = new float[ROWS];
        d.matrix().gemv(xp, null, y);
        for (int r = 0; r < ROWS; r++) {
            double ref = 0;
            double mag = 0;
            for (int c = 0; c < COLS; c++) {
                ref += (double) eff[r * COLS + c] * x[c];
                mag += Math.abs((double) eff[r * COLS + c] * x[c]);
            }
            // two float products of COLS terms each: 4·γ_COLS·Σ|terms| covers both
            assertThat((double) y[r]).isCloseTo(ref, org.assertj.core.data.Offset.offset(4 * COLS * 0x1p-24 * mag + 1e-9));
        }
        float[] c = d.transform().outputBias();
        float[] mean = stats.mean();
        for (int r = 0; r < ROWS; r++) {
            double s = 0;
            for (int j = 0; j < COLS; j++) {
                s += ((double) W[r * COLS + j] - eff[r * COLS + j]) * mean[j];
            }
            assertThat((double) c[r]).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-5 * (1 + Math.abs(s))));
        }
        // without the mean, no correction
        assertThat(DualScale.defaults().quantize(W, ROWS, COLS, G32).transform().outputBias()).isNull();
    }

    @Test
    void hadamardQuantizerRotatesAndReportsInTheOriginalBasis() {
        QuantResult rtn = Rtn.defaults().quantize(W, ROWS, COLS, G32);
        QuantResult h = HadamardQuantizer.of(Rtn.defaults(), 1234).quantize(W, ROWS, COLS, G32);
        assertThat(h.transform().rotation().block()).isEqualTo(256);
        double e = QuantTesting.squaredError(W, h.effectiveWeight());
        assertThat(h.report().squaredError()).isCloseTo(e, org.assertj.core.data.Offset.offset(1e-4 * e));
        assertThat(h.mse()).isLessThan(rtn.mse()); // outliers spread over the block
        assertThat(h.report().option("seed")).isEqualTo("1234");
    }

    @Test
    void pseudoQuantNoiseStaysWithinHalfAStepAndIsSeeded() {
        AffineSpec spec = G32;
        float[] steps = PseudoQuantNoise.steps(W, ROWS, COLS, spec);
        float[] a = PseudoQuantNoise.apply(W, ROWS, COLS, spec, 99, 4f);
        double sum = 0;
        double sq = 0;
        for (int i = 0; i < W.length; i++) {
            double r = (a[i] - W[i]) / steps[i];
            assertThat(Math.abs(r)).isLessThanOrEqualTo(0.5 + 1e-3);
            sum += r;
            sq += r * r;
        }
        int n = W.length;
        // σ = 4: R is uniform on [−½, ½] to within e^{-2π²σ²}: mean 0 and variance 1/12; 6 standard errors
        assertThat(sum / n).isCloseTo(0, org.assertj.core.data.Offset.offset(6 * Math.sqrt(1 / 12.0 / n)));
        assertThat(sq / n).isCloseTo(1 / 12.0, org.assertj.core.data.Offset.offset(6 * Math.sqrt(1 / 180.0 / n)));
        int saved = Parallel.parallelism();
        try {
            Parallel.setParallelism(1);
            float[] b = PseudoQuantNoise.apply(W, ROWS, COLS, spec, 99, 4f);
            assertThat(b).containsExactly(a);
        } finally {
            Parallel.setParallelism(saved);
        }
        assertThat(PseudoQuantNoise.apply(W, ROWS, COLS, spec, 100, 4f)).isNotEqualTo(a);
        // small σ: a narrow Gaussian, variance ≈ σ²
        float[] c = PseudoQuantNoise.apply(W, ROWS, COLS, spec, 7, 0.1f);
        double v = 0;
        for (int i = 0; i < n; i++) {
            double r = (c[i] - W[i]) / steps[i];
            v += r * r;
        }
        assertThat(v / n).isCloseTo(0.01, org.assertj.core.data.Offset.offset(0.001));
        assertThatThrownBy(() -> PseudoQuantNoise.apply(W, ROWS, COLS, spec, 1, 0f)).hasMessageContaining("sigma");
    }

    @Test
    void optionsAreValidated() {
        assertThatThrownBy(() -> new ClipSearch.Options(0, 0.5f)).hasMessageContaining("steps");
        assertThatThrownBy(() -> new ClipSearch.Options(10, 1.5f)).hasMessageContaining("minRatio");
        assertThatThrownBy(() -> new EasyQuant.Options(0f, 0.01f, 10, 0.01f, 5)).hasMessageContaining("sigmas");
        assertThatThrownBy(() -> new EasyQuant.Options(3f, 0.9f, 10, 0.01f, 5))
                .hasMessageContaining("maxOutlierFraction");
        assertThatThrownBy(() -> new FineQuant.Options(0.5f, 0.01f, 32)).hasMessageContaining("alpha");
        assertThatThrownBy(() -> DualScale.of(0)).hasMessageContaining("iterations");
        assertThatThrownBy(() -> EasyQuant.defaults().quantize(new float[4], 2, 2, AffineSpec.perTensor(4, false),
                ArrayCalibrationStats.of(1, new float[3], new float[3]))).hasMessageContaining("3 input features");
    }
}

package lowbit.quant;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineSpec.Granularity;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Outliers;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;

/**
 * GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training Quantization for Generative
 * Pre-trained Transformers"): quantizes W [out, in] column by column and spreads each column's rounding error over
 * the columns not yet quantized so as to minimise the layer's output error ‖XWᵀ − XŴᵀ‖², using the proxy Hessian
 * H = 2XᵀX/N of the calibration inputs ({@link CalibrationStats#hessian()}, e.g. from a {@link CalibrationCollector}).
 *
 * <p><b>Algorithm</b> (as the reference implementation IST-DASLab/gptq, {@code fasterquant}):
 * <ol>
 *   <li>Dead inputs (H_jj = 0): H_jj ← 1, W_:,j ← 0.</li>
 *   <li>Act-order (optional): columns are processed in order of descending H_jj (ties by index).</li>
 *   <li>Damping: H ← H + λ·I with λ = {@code damp}·mean(diag H) (1 % by default). If H + λI is not positive
 *       definite in floating point (a singular or indefinite H: Cholesky meets a pivot ≤ 0), λ is multiplied by
 *       10 and the factorization retried, up to {@value #MAX_DAMP_RETRIES} times; the λ used and the number of
 *       retries are in the report ({@code damp}, {@code damp retries}). Weights never become NaN.</li>
 *   <li>U = the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), in double. lowbit computes it without forming H⁻¹:
 *       with J the reversal permutation, JHJ = L̃L̃ᵀ gives H = VVᵀ with V = JL̃J upper, so U = V⁻¹ = J·L̃⁻¹·J
 *       (one Cholesky factorization and one triangular inverse, {@link lowbit.tensor.linalg.Cholesky} via {@link InverseHessian}, n³/3 multiply-adds, instead of
 *       the reference's factor–invert–factor).</li>
 *   <li>For blocks of B = {@code blockSize} (128) columns, for each column i of the block and each row:
 *       if i starts a group, the group's (s, z) is fitted by the range rule to the row's current — already updated
 *       — weights of the group's g columns (static groups: fitted once, before any update, to the original W in
 *       natural column order); q = Q(w_i); e = (w_i − q)/U_ii; w_j −= e·U_ij for the block's later columns j.
 *       After the block: W_:,rest −= E·U_block,rest (one float GEMM). Blocks are cut short where a group
 *       would straddle a block boundary, so that "already updated" holds for every group.</li>
 *   <li>Codes are written in natural column order; with act-order (and without static groups) the layout gets
 *       GPTQ's {@code g_idx} (column c's group is its rank in the processing order divided by g).</li>
 * </ol>
 * The reference reads a group's range from W, whose block columns still hold their values from the start of the
 * block, so for groups that do not start a block (g &lt; B) its ranges differ slightly from lowbit's; with
 * g = B = 128 (the usual setting) the two coincide.
 *
 * <p><b>Outliers</b> ({@link #quantize(float[], int, int, AffineSpec, CalibrationStats, int[])}): positions given by
 * the caller (GWQ's top gradients, EasyQuant's σ-outliers) are kept exact — the current (updated) weight is stored in
 * the layout's {@link Outliers} when its column is reached, so its error, and hence its feedback, is zero — and are
 * left out of their group's range (as SpQR does).
 *
 * <p><b>Layouts.</b> Groups along in, per output channel (one group of all columns, fitted to the original row as
 * the reference's per-channel mode) and per tensor; asymmetric or symmetric; F32 or F16 scales (scales are rounded to
 * the spec's type before codes are chosen). The range rules ({@link Range}) include ggml's Q4_0 scale rule, so that
 * GPTQ can emit Q4_0 and Q8_0 blocks (see {@link GgmlTargets}). Column-family granularities (per input channel,
 * groups along out) need a whole column's weights at once and are not supported.
 *
 * <p><b>Numerics and threads.</b> H, its factor and U are double; W, the error feedback and the trailing updates are
 * float (as in the reference, which keeps W and H⁻¹ in float32), on the {@link Gemm} kernel. Rows are independent
 * within a block and run in parallel; every step has a fixed operation order, so the result is bit-identical for any
 * thread count.
 */
public final class Gptq implements Quantizer {
    /** How many times λ is multiplied by 10 when H + λI is not positive definite. */
    public static final int MAX_DAMP_RETRIES = InverseHessian.MAX_RETRIES;

    /** How a group's (s, z) is chosen from its weights when the group starts. */
    public enum Range {
        /** The reference's rules: {@link #ZERO_IN_RANGE} for asymmetric specs, {@link #GPTQ_SYMMETRIC} for symmetric. */
        BY_SPEC,
        /** Asymmetric min/max of the group. */
        MIN_MAX,
        /** Asymmetric min/max widened to contain 0 (the reference's asymmetric quantizer). */
        ZERO_IN_RANGE,
        /** Symmetric s = max|w|/(2^(b−1) − 1) (no clipping; ggml Q8_0's d = amax/127 at 8 bits). */
        MAX_ABS,
        /** Symmetric s = 2·max|w|/maxq (the reference's {@code sym=True}). */
        GPTQ_SYMMETRIC,
        /**
         * The MSE clip search ({@link ClipSearch#defaults()}: the range shrunk by r = 1, 0.975, …, 0.5, keeping the
         * least Σ(w − ŵ)² over the group's current weights) — the reference's {@code mse=True} option, with AWQ's
         * grid; asymmetric ranges include 0 as the layout requires.
         */
        MSE,
        /**
         * ggml Q4_0's rule (4-bit symmetric specs only): m = the group's signed value of largest |w| (the first on
         * ties), s = fp16(m/−8), so m is exactly code 0; an all-zero group gets s = 1.
         */
        Q4_0
    }

    /**
     * @param blockSize B, columns per lazy batch (&ge; 1; 128 in the paper)
     * @param damp λ as a fraction of mean(diag H), in [0, 1] (0.01 in the paper)
     * @param actOrder process columns by descending H_jj
     * @param staticGroups fit every group's (s, z) up front from the original W in natural order (only matters
     *     with groups; with act-order it avoids g_idx)
     * @param range the range rule
     */
    public record Options(int blockSize, double damp, boolean actOrder, boolean staticGroups, Range range) {
        /** Validates. */
        public Options {
            if (blockSize < 1 || blockSize > 65_536) {
                throw new IllegalArgumentException("gptq: block size must be 1..65536, got " + blockSize);
            }
            if (!(damp >= 0 && damp <= 1)) {
                throw new IllegalArgumentException("gptq: damp must be in [0, 1] (a fraction of mean diag H), got "
                        + damp);
            }
            Objects.requireNonNull(range, "gptq: range is null");
        }

        /** B = 128, λ = 1 %, no act-order, dynamic groups, the reference's range rule. */
        public static Options defaults() {
            return new Options(128, 0.01, false, false, Range.BY_SPEC);
        }

        public Options withBlockSize(int b) {
            return new Options(b, damp, actOrder, staticGroups, range);
        }

        public Options withDamp(double d) {
            return new Options(blockSize, d, actOrder, staticGroups, range);
        }

        public Options withActOrder(boolean a) {
            return new Options(blockSize, damp, a, staticGroups, range);
        }

        public Options withStaticGroups(boolean s) {
            return new Options(blockSize, damp, actOrder, s, range);
        }

        public Options withRange(Range r) {
            return new Options(blockSize, damp, actOrder, staticGroups, r);
        }
    }

    private final Options options;

    private Gptq(Options options) {
        this.options = options;
    }

    /** GPTQ with {@link Options#defaults()}. */
    public static Gptq defaults() {
        return new Gptq(Options.defaults());
    }

    /** GPTQ with the given options. */
    public static Gptq of(Options options) {
        return new Gptq(Objects.requireNonNull(options, "gptq: options are null"));
    }

    /** The options. */
    public Options options() {
        return options;
    }

    @Override
    public String name() {
        return "gptq";
    }

    /**
     * Quantizes W with GPTQ.
     *
     * @param stats must carry the Hessian ({@link CalibrationStats#hessian()})
     * @throws IllegalArgumentException besides the common checks of {@link Quantizer}: statistics that are null or
     *     have no Hessian, a granularity GPTQ cannot target, a range rule that does not fit the spec, or an H that
     *     stays not positive definite after {@value #MAX_DAMP_RETRIES} damping increases
     */
    @Override
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
        return quantize(w, rows, cols, spec, stats, null);
    }

    /**
     * GPTQ keeping the weights at {@code exact} (flat indices r·cols + c, any order, no duplicates; null or empty for
     * none) exact, as outliers that also drop out of their group's range.
     *
     * @throws IllegalArgumentException as {@link #quantize(float[], int, int, AffineSpec, CalibrationStats)}, and
     *     for an index out of range or listed twice
     */
    public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats, int[] exact) {
        long t0 = System.nanoTime();
        Groupwise.checkInput(name(), w, rows, cols, spec, stats);
        if (stats == null || stats.hessian() == null) {
            throw new IllegalArgumentException("gptq: needs calibration statistics with a Hessian (e.g. "
                    + "CalibrationCollector.withHessian), got " + (stats == null ? "none" : "statistics without one"));
        }
        if (stats.hessian().length != (long) cols * cols) {
            throw new IllegalArgumentException("gptq: the Hessian has " + stats.hessian().length + " entries, expected "
                    + cols + "x" + cols);
        }
        double[] hd = stats.hessian();
        for (int j = 0; j < cols; j++) {
            if (!(hd[j * cols + j] >= 0)) {
                throw new IllegalArgumentException("gptq: H[" + j + ", " + j + "] = " + hd[j * cols + j]
                        + " is negative: H = 2XᵀX/N has a non-negative diagonal");
            }
        }
        Granularity gran = spec.granularity();
        if (gran != Granularity.GROUP_ALONG_IN && gran != Granularity.PER_OUTPUT_CHANNEL
                && gran != Granularity.PER_TENSOR) {
            throw new IllegalArgumentException("gptq: cannot target " + spec.describe() + " (groups along in, per "
                    + "output channel or per tensor only: GPTQ quantizes column by column)");
        }
        Groupwise.Fitter fitter = fitter(options.range(), spec);
        boolean[] outlier = outlierMask(exact, rows, cols);
        Plan plan = new Plan(w, rows, cols, spec, stats.hessian(), outlier, options, fitter);
        GroupwiseAffine m = plan.run();
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("range", rangeName(options.range(), spec));
        opts.put("block", Integer.toString(options.blockSize()));
        opts.put("act-order", Boolean.toString(options.actOrder()));
        opts.put("static groups", Boolean.toString(options.staticGroups()));
        opts.put("damp", String.format("%.4g", plan.lambda));
        opts.put("damp retries", Integer.toString(plan.retries));
        opts.put("dead columns", Integer.toString(plan.dead));
        opts.put("proxy loss", String.format("%.6g", plan.loss));
        return Groupwise.result(name(), w, rows, cols, m, null, t0, opts);
    }

    /**
     * GPTQ that keeps the weights chosen by {@code selector} (on the matrix it quantizes, with the same statistics)
     * exact: "outliers with GPTQ" (GWQ's gradients, EasyQuant's σ rule, saliency).
     */
    public Quantizer withOutliers(OutlierSelector selector) {
        Objects.requireNonNull(selector, "gptq: outlier selector is null");
        Gptq self = this;
        return new Quantizer() {
            @Override
            public String name() {
                return "gptq+" + selector.name();
            }

            @Override
            public QuantResult quantize(float[] w, int rows, int cols, AffineSpec spec, CalibrationStats stats) {
                Groupwise.checkInput(name(), w, rows, cols, spec, stats);
                QuantResult q = self.quantize(w, rows, cols, spec, stats, selector.select(w, rows, cols, stats));
                Map<String, String> opts = new LinkedHashMap<>(q.report().options());
                opts.put("outliers", selector.name());
                QuantReport r = q.report();
                return new QuantResult(q.matrix(), q.transform(), new QuantReport(name(), r.spec(), r.rows(), r.cols(),
                        r.squaredError(), r.rowSquaredError(), r.groupSquaredError(), r.outliers(), r.nanos(), opts));
            }

            @Override
            public String toString() {
                return name();
            }
        };
    }

    static boolean[] outlierMask(int[] exact, int rows, int cols) {
        if (exact == null || exact.length == 0) {
            return null;
        }
        boolean[] mask = new boolean[rows * cols];
        for (int k = 0; k < exact.length; k++) {
            int i = exact[k];
            if (i < 0 || i >= mask.length) {
                throw new IllegalArgumentException("outlier index " + i + " (entry " + k + ") is outside the [" + rows
                        + ", " + cols + "] matrix");
            }
            if (mask[i]) {
                throw new IllegalArgumentException("outlier (" + i / cols + ", " + i % cols + ") is listed twice");
            }
            mask[i] = true;
        }
        return mask;
    }

    static String rangeName(Range r, AffineSpec spec) {
        return switch (r) {
            case BY_SPEC -> spec.symmetric() ? "2*max-abs/maxq" : "min-max, 0 in range";
            case MIN_MAX -> "min-max";
            case ZERO_IN_RANGE -> "min-max, 0 in range";
            case MAX_ABS -> "max-abs";
            case GPTQ_SYMMETRIC -> "2*max-abs/maxq";
            case MSE -> "mse clip search";
            case Q4_0 -> "ggml Q4_0 (max/-8)";
        };
    }

    /** The group fitter of a range rule, checked against the spec. */
    static Groupwise.Fitter fitter(Range r, AffineSpec spec) {
        return switch (r) {
            case BY_SPEC -> spec.symmetric() ? Rtn.symmetricGptq().fitter(spec) : Rtn.asymmetricZeroInRange().fitter(spec);
            case MIN_MAX -> Rtn.asymmetric().fitter(spec);
            case ZERO_IN_RANGE -> Rtn.asymmetricZeroInRange().fitter(spec);
            case MAX_ABS -> Rtn.symmetric().fitter(spec);
            case GPTQ_SYMMETRIC -> Rtn.symmetricGptq().fitter(spec);
            case MSE -> ClipSearch.defaults().fitter(spec);
            case Q4_0 -> {
                if (spec.bits() != 4 || !spec.symmetric()) {
                    throw new IllegalArgumentException("gptq: the Q4_0 range rule needs a 4-bit symmetric spec, got "
                            + spec.describe());
                }
                yield (v, off, len, h, hOff) -> q4_0Scale(v, off, len, spec.scaleType());
            }
        };
    }

    /** ggml's Q4_0 scale: d = max/−8 for the signed value of largest magnitude (first on ties), stored as fp16. */
    static long q4_0Scale(float[] v, int off, int len, DType scaleType) {
        float amax = 0;
        float max = 0;
        for (int i = 0; i < len; i++) {
            float a = Math.abs(v[off + i]);
            if (amax < a) {
                amax = a;
                max = v[off + i];
            }
        }
        if (max == 0) {
            return AffineGrid.pack(1f, 8);
        }
        float d = GroupwiseAffine.storedScale(max / -8f, scaleType);
        if (d == 0) {
            d = Math.copySign(0x1p-24f, -max); // below the least F16 subnormal: keep the sign, never zero
        }
        return AffineGrid.pack(d, 8);
    }

    @Override
    public String toString() {
        return "Gptq" + options;
    }

    /** One run: the prepared matrices and the column loop. */
    private static final class Plan {
        final float[] w;
        final int rows;
        final int cols;
        final AffineSpec spec;
        final double[] hessian;
        final boolean[] outlier;
        final Options options;
        final Groupwise.Fitter fitter;
        final int g;
        final int bits;
        int[] perm;
        double lambda;
        int retries;
        int dead;
        double loss;

        Plan(float[] w, int rows, int cols, AffineSpec spec, double[] hessian, boolean[] outlier, Options options,
                Groupwise.Fitter fitter) {
            this.w = w;
            this.rows = rows;
            this.cols = cols;
            this.spec = spec;
            this.hessian = hessian;
            this.outlier = outlier;
            this.options = options;
            this.fitter = fitter;
            this.g = spec.granularity() == Granularity.GROUP_ALONG_IN ? spec.groupSize() : cols;
            this.bits = spec.bits();
        }

        GroupwiseAffine run() {
            int n = cols;
            float[] wd = w.clone();
            boolean[] isDead = new boolean[n];
            double[] diag = new double[n];
            for (int j = 0; j < n; j++) {
                diag[j] = hessian[j * n + j];
                if (diag[j] == 0) {
                    isDead[j] = true;
                    diag[j] = 1;
                    dead++;
                    for (int r = 0; r < rows; r++) {
                        wd[r * n + j] = 0;
                    }
                }
            }
            perm = order(diag);
            float[] u = upperFactorOfInverse(diag, isDead);

            boolean grouped = spec.granularity() == Granularity.GROUP_ALONG_IN;
            boolean perTensor = spec.granularity() == Granularity.PER_TENSOR;
            int groups = n / g;
            float[] scales = new float[perTensor ? 1 : rows * groups];
            int[] zeros = spec.symmetric() ? null : new int[scales.length];
            // fixed parameters: per tensor, per row, or static groups (natural order, original W)
            boolean fixed = !grouped || options.staticGroups() || groups == 1;
            if (fixed) {
                fitFixed(wd, scales, zeros, perTensor);
            }
            boolean gIdxNeeded = grouped && !fixed && options.actOrder();

            // permuted working copy
            float[] wp = new float[rows * n];
            boolean[] op = outlier == null ? null : new boolean[rows * n];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < n; i++) {
                    wp[r * n + i] = wd[r * n + perm[i]];
                    if (op != null) {
                        op[r * n + i] = outlier[r * n + perm[i]];
                    }
                }
            }
            int[] codes = new int[rows * n];
            float[] outVal = op == null ? null : new float[rows * n];
            double[] rowLoss = new double[rows];
            int[] starts = blockStarts(n);
            int maxBlock = 0;
            for (int b = 0; b + 1 < starts.length; b++) {
                maxBlock = Math.max(maxBlock, starts[b + 1] - starts[b]);
            }
            float[] err = new float[rows * maxBlock];
            int grain = Math.max(1, 8192 / Math.max(1, Math.min(n, 512)));
            for (int b = 0; b + 1 < starts.length; b++) {
                int b0 = starts[b];
                int b1 = starts[b + 1];
                int nb = b1 - b0;
                Parallel.forRange(0, rows, grain, (from, to) -> {
                    float[] scratch = new float[g];
                    for (int r = (int) from; r < to; r++) {
                        rowLoss[r] += block(r, b0, b1, wp, op, u, codes, outVal, err, nb, scales, zeros, fixed,
                                perTensor, groups, scratch);
                    }
                });
                if (b1 < n) {
                    // W[:, b1:] −= E · U[b0:b1, b1:]
                    Gemm.gemm(false, false, rows, n - b1, nb, -1f, err, 0, nb, u, b0 * n + b1, n, 1f, wp, b1, n);
                }
            }
            double total = 0;
            for (double v : rowLoss) {
                total += v;
            }
            loss = total / 2;

            // natural order codes, outliers, g_idx
            int[] natural = new int[rows * n];
            int count = 0;
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < n; i++) {
                    natural[r * n + perm[i]] = codes[r * n + i];
                    if (op != null && op[r * n + i]) {
                        count++;
                    }
                }
            }
            Outliers outliers = null;
            if (op != null) {
                int[] or = new int[count];
                int[] oc = new int[count];
                float[] ov = new float[count];
                int k = 0;
                for (int r = 0; r < rows; r++) {
                    for (int i = 0; i < n; i++) {
                        if (op[r * n + i]) {
                            or[k] = r;
                            oc[k] = perm[i];
                            ov[k++] = outVal[r * n + i];
                        }
                    }
                }
                outliers = Outliers.of(rows, n, or, oc, ov, DType.F32);
            }
            int[] gIdx = null;
            if (gIdxNeeded) {
                gIdx = new int[n];
                for (int i = 0; i < n; i++) {
                    gIdx[perm[i]] = i / g;
                }
            }
            return GroupwiseAffine.of(rows, n, spec, natural, scales, zeros, gIdx, outliers);
        }

        /** Processing order: natural, or by descending diag H (stable). */
        int[] order(double[] diag) {
            int n = diag.length;
            Integer[] idx = new Integer[n];
            for (int i = 0; i < n; i++) {
                idx[i] = i;
            }
            if (options.actOrder()) {
                java.util.Arrays.sort(idx, (a, b) -> {
                    int c = Double.compare(diag[b], diag[a]);
                    return c != 0 ? c : Integer.compare(a, b);
                });
            }
            int[] p = new int[n];
            for (int i = 0; i < n; i++) {
                p[i] = idx[i];
            }
            return p;
        }

        /** Block boundaries: every B columns, cut earlier where a group starting inside would cross the end. */
        int[] blockStarts(int n) {
            int bs = options.blockSize();
            int[] tmp = new int[n + 1];
            int count = 0;
            int b0 = 0;
            tmp[count++] = 0;
            while (b0 < n) {
                int b1 = Math.min(n, b0 + bs);
                if (spec.granularity() == Granularity.GROUP_ALONG_IN && !options.staticGroups()) {
                    int firstStart = ((b0 + g - 1) / g) * g; // first group start at or after b0
                    for (int s = firstStart; s < b1; s += g) {
                        if (s > b0 && s + g > b1) {
                            b1 = s;
                            break;
                        }
                    }
                }
                tmp[count++] = b1;
                b0 = b1;
            }
            return java.util.Arrays.copyOf(tmp, count);
        }

        /**
         * U (upper, H⁻¹ = UᵀU) of the permuted, damped H, as floats (row-major n×n; lower part zero), from
         * {@link InverseHessian} (shared with SparseGPT), which retries with 10× the damping while Cholesky fails.
         */
        float[] upperFactorOfInverse(double[] diag, boolean[] isDead) {
            try {
                InverseHessian.Factor f = InverseHessian.upper(hessian, cols, options.damp(), perm);
                lambda = f.lambda();
                retries = f.retries();
                return f.u();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("gptq: " + e.getMessage(), e);
            }
        }

        /** Per tensor / per row / static groups: (s, z) from W (after dead zeroing) in natural order. */
        void fitFixed(float[] wd, float[] scales, int[] zeros, boolean perTensor) {
            if (perTensor) {
                float[] vals = compact(wd, 0, rows * cols, outlier, 0);
                store(fitCompact(vals, vals.length), scales, zeros, 0);
                return;
            }
            int groups = cols / g;
            Parallel.forRange(0, rows, Math.max(1, 4096 / cols), (from, to) -> {
                for (int r = (int) from; r < to; r++) {
                    for (int k = 0; k < groups; k++) {
                        int off = r * cols + k * g;
                        float[] vals = compact(wd, off, g, outlier, off);
                        store(fitCompact(vals, vals.length), scales, zeros, r * groups + k);
                    }
                }
            });
        }

        static float[] compact(float[] v, int off, int len, boolean[] mask, int maskOff) {
            if (mask == null) {
                return java.util.Arrays.copyOfRange(v, off, off + len);
            }
            float[] out = new float[len];
            int k = 0;
            for (int i = 0; i < len; i++) {
                if (!mask[maskOff + i]) {
                    out[k++] = v[off + i];
                }
            }
            return java.util.Arrays.copyOf(out, k);
        }

        long fitCompact(float[] v, int len) {
            if (len == 0) {
                return AffineGrid.pack(1f, spec.symmetric() ? spec.symmetricZero() : 0);
            }
            return fitter.fit(v, 0, len, null, 0);
        }

        static void store(long p, float[] scales, int[] zeros, int at) {
            scales[at] = AffineGrid.scale(p);
            if (zeros != null) {
                zeros[at] = AffineGrid.zero(p);
            }
        }

        /**
         * Row r through block [b0, b1): group fits at group starts, codes, error feedback inside the block; the
         * row's scaled errors go to err[r·nb + i − b0]. Returns the row's Σ (w − q)²/U_ii².
         */
        double block(int r, int b0, int b1, float[] wp, boolean[] op, float[] u, int[] codes, float[] outVal,
                float[] err, int nb, float[] scales, int[] zeros, boolean fixed, boolean perTensor, int groups,
                float[] scratch) {
            int n = cols;
            int row = r * n;
            int maxq = (1 << bits) - 1;
            int zc = spec.symmetricZero();
            double lossSum = 0;
            float s = 0;
            int z = 0;
            int at = -1;
            for (int i = b0; i < b1; i++) {
                int grid;
                if (perTensor) {
                    grid = 0;
                } else if (fixed) {
                    grid = r * groups + perm[i] / g;
                } else {
                    grid = r * groups + i / g;
                    if (i % g == 0) {
                        int k = 0;
                        for (int c = i; c < i + g; c++) {
                            if (op == null || !op[row + c]) {
                                scratch[k++] = wp[row + c];
                            }
                        }
                        store(fitCompact(scratch, k), scales, zeros, grid);
                    }
                }
                if (grid != at) {
                    at = grid;
                    s = scales[grid];
                    z = zeros == null ? zc : zeros[grid];
                }
                float v = wp[row + i];
                float t = Math.min(Math.max(v / s, (float) -z), (float) (maxq - z));
                int q = (int) ((t + AffineGrid.ROUND_MAGIC) - AffineGrid.ROUND_MAGIC) + z;
                codes[row + i] = q;
                float deq;
                if (op != null && op[row + i]) {
                    outVal[row + i] = v;
                    deq = v;
                } else {
                    deq = s * (q - z);
                }
                float d = u[i * n + i];
                float e = (v - deq) / d;
                lossSum += (double) e * e;
                err[r * nb + i - b0] = e;
                int rest = b1 - i - 1;
                if (rest > 0 && e != 0) {
                    FloatOps.axpy(-e, u, i * n + i + 1, wp, row + i + 1, rest);
                }
            }
            return lossSum;
        }
    }
}

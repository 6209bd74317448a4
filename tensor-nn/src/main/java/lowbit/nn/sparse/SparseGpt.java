package lowbit.nn.sparse;

import java.util.Objects;
import lowbit.nn.DenseWeight;
import lowbit.nn.LinearWeight;
import lowbit.quant.AffineGrid;
import lowbit.quant.CalibrationStats;
import lowbit.quant.InverseHessian;
import lowbit.tensor.DType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.NmSparseAffine;
import lowbit.tensor.layout.NmSparseMatrix;
import lowbit.tensor.layout.QuantizedMatrix;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;

/**
 * SparseGPT (Frantar &amp; Alistarh 2023, "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot"):
 * GPTQ's column sweep with pruning instead of (or before) rounding. With U the upper factor of (H + λI)⁻¹
 * ({@link InverseHessian}, H = 2XᵀX/N from {@link CalibrationStats#hessian()}), for blocks of B columns and each
 * column i of a block, every row:
 * <ul>
 *   <li>chooses its mask by the OBS saliency w²/U_ii² (smallest pruned): unstructured — once per block, over all
 *       rows × the block's columns, at the weights the block starts with; N:M — at the first column of each group of
 *       M, over the group's current (already updated) weights;</li>
 *   <li>sets q = 0 for a pruned weight, else q = w (or, with a quantization spec, q = s·(round(w/s) + z − z), the
 *       group's (s, z) fitted when the group starts to its current weights: GPTQ's asymmetric min/max with 0 in range,
 *       or its symmetric 2·max|w|/maxq);</li>
 *   <li>propagates e = (w − q)/U_ii: w_j −= e·U_ij for the block's later columns, and after the block
 *       W[:, rest] −= E·U[block, rest] (one float GEMM).</li>
 * </ul>
 * Checked against IST-DASLab/sparsegpt ({@code sparsegpt.py, fasterprune}): damping 1 % of mean diag H, B = 128,
 * dead inputs zeroed, the mask rules and the error propagation above. Differences: the reference prunes the scores
 * ≤ the ⌊numel·s⌋-th smallest (one more than ⌊numel·s⌋, and all ties), lowbit exactly ⌊numel·s⌋ per block (ties:
 * the higher index is pruned); the reference fits its quantizer once to the whole dense W (per output channel),
 * lowbit fits per output channel the same way and, for groups along in, each group when its first column is reached
 * (as GPTQ does); blocks are rounded up to a multiple of M and of the quantization group so neither straddles a block.
 * Note the reference's {@code prunen} counts pruned weights; {@link NmPattern}'s N counts kept ones.
 *
 * <p>H, its factor and U are double; W, the feedback and the trailing updates float (as the reference). Rows are
 * independent within a block and run in parallel; every step has a fixed operation order, so the result is
 * bit-identical for any thread count. {@link #reconstruct} runs the same sweep with a given mask (the "prune with a
 * Wanda or RIA mask, then update the kept weights" of the RIA and Wanda ablations).
 */
public final class SparseGpt {
    /**
     * @param blockSize B, columns per lazy batch (≥ 1; 128 in the paper)
     * @param damp λ as a fraction of mean(diag H), in [0, 1] (0.01)
     */
    public record Options(int blockSize, double damp) {
        /** Validates. */
        public Options {
            if (blockSize < 1 || blockSize > 65_536) {
                throw new IllegalArgumentException("sparsegpt: block size must be 1..65536, got " + blockSize);
            }
            if (!(damp >= 0 && damp <= 1)) {
                throw new IllegalArgumentException("sparsegpt: damp must be in [0, 1], got " + damp);
            }
        }

        /** B = 128, λ = 1 %. */
        public static Options defaults() {
            return new Options(128, 0.01);
        }
    }

    /**
     * What a sweep produced.
     *
     * @param weights the final W [rows, cols]: pruned weights 0, kept ones updated (and quantized, when asked)
     * @param mask which weights are kept
     * @param matrix the compressed layout — {@link NmSparseMatrix} (N:M), {@link NmSparseAffine} (N:M + quantized),
     *     {@link GroupwiseAffine} (unstructured + quantized; pruned weights hold the code of 0) — or null
     *     (unstructured float: use {@link #weight()})
     * @param loss the proxy loss Σ (w − q)²/U_ii² / 2 (the reference's reported error)
     * @param lambda the damping used
     * @param deadInputs inputs with H_jj = 0 (their weights are zeroed)
     */
    public record Result(float[] weights, PruningMask mask, QuantizedMatrix matrix, double loss, double lambda,
            int deadInputs) {
        /** The result as a Linear weight: the compressed layout when there is one, else a frozen dense F32 weight. */
        public LinearWeight weight() {
            return matrix != null ? LinearWeight.of(matrix) : DenseWeight.of(weights, mask.rows(), mask.cols()).frozen();
        }
    }

    private final Options options;

    private SparseGpt(Options options) {
        this.options = options;
    }

    /** SparseGPT with {@link Options#defaults()}. */
    public static SparseGpt defaults() {
        return new SparseGpt(Options.defaults());
    }

    /** SparseGPT with the given options. */
    public static SparseGpt of(Options options) {
        return new SparseGpt(Objects.requireNonNull(options, "sparsegpt: options are null"));
    }

    public Options options() {
        return options;
    }

    /**
     * Prunes W to N:M.
     *
     * @throws IllegalArgumentException for a wrong length, a NaN or infinite weight, statistics without a Hessian or
     *     of another width, cols not a multiple of M, or an H that cannot be made positive definite
     */
    public Result nm(float[] w, int rows, int cols, CalibrationStats stats, NmPattern pattern) {
        Objects.requireNonNull(pattern, "pattern");
        return run(w, rows, cols, stats, pattern, 0, null, null);
    }

    /**
     * Prunes W to N:M and quantizes the kept weights in the same sweep.
     *
     * @param spec groups along in (g a multiple of M), per output channel or per tensor
     * @throws IllegalArgumentException as {@link #nm(float[], int, int, CalibrationStats, NmPattern)}, or for a spec
     *     of another granularity
     */
    public Result nm(float[] w, int rows, int cols, CalibrationStats stats, NmPattern pattern, AffineSpec spec) {
        Objects.requireNonNull(pattern, "pattern");
        Objects.requireNonNull(spec, "spec");
        return run(w, rows, cols, stats, pattern, 0, spec, null);
    }

    /** Prunes a fraction {@code sparsity} in [0, 1) of W, unstructured. */
    public Result unstructured(float[] w, int rows, int cols, CalibrationStats stats, double sparsity) {
        Masks.checkSparsity(sparsity);
        return run(w, rows, cols, stats, null, sparsity, null, null);
    }

    /** Unstructured pruning with joint quantization (the result's matrix is a {@link GroupwiseAffine}). */
    public Result unstructured(float[] w, int rows, int cols, CalibrationStats stats, double sparsity,
            AffineSpec spec) {
        Masks.checkSparsity(sparsity);
        Objects.requireNonNull(spec, "spec");
        return run(w, rows, cols, stats, null, sparsity, spec, null);
    }

    /**
     * The sweep with a fixed mask: pruned weights go to 0 and their error is spread over the kept ones (OBS
     * reconstruction). The result's matrix is null (use {@link Result#weights()} or compress the N:M mask).
     *
     * @throws IllegalArgumentException as above, or for a mask of another shape
     */
    public Result reconstruct(float[] w, int rows, int cols, CalibrationStats stats, PruningMask mask) {
        Objects.requireNonNull(mask, "mask");
        mask.checkShape(rows, cols);
        return run(w, rows, cols, stats, null, 0, null, mask);
    }

    private Result run(float[] w, int rows, int cols, CalibrationStats stats, NmPattern p, double sparsity,
            AffineSpec spec, PruningMask given) {
        PruningCriterion.checkWeights("sparsegpt", w, rows, cols);
        if (stats == null || stats.hessian() == null) {
            throw new IllegalArgumentException("sparsegpt needs calibration statistics with the Hessian H = 2XᵀX/N, got "
                    + (stats == null ? "none" : "statistics without one"));
        }
        stats.checkFeatures(cols);
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("sparsegpt: empty weight [" + rows + ", " + cols + "]");
        }
        if (p != null) {
            p.checkShape(rows, cols);
        }
        int g = cols;
        boolean dynamicGroups = false;
        if (spec != null) {
            spec.checkShape(rows, cols);
            switch (spec.granularity()) {
                case GROUP_ALONG_IN -> {
                    g = spec.groupSize();
                    dynamicGroups = g < cols;
                }
                case PER_OUTPUT_CHANNEL, PER_TENSOR -> {
                }
                default -> throw new IllegalArgumentException("sparsegpt quantizes column by column: groups along in, "
                        + "per output channel or per tensor, not " + spec.granularity());
            }
            if (p != null && g % p.m() != 0) {
                throw new IllegalArgumentException("sparsegpt " + p + " with " + spec.describe() + ": the quantization "
                        + "group " + g + " must be a multiple of M = " + p.m());
            }
        }
        InverseHessian.Factor f = InverseHessian.upper(stats.hessian(), cols, options.damp(), null);
        Sweep s = new Sweep(w.clone(), rows, cols, f.u(), p, sparsity, spec, g, dynamicGroups,
                given == null ? null : given.raw());
        for (int j = 0; j < cols; j++) {
            if (f.dead()[j]) {
                for (int r = 0; r < rows; r++) {
                    s.wp[r * cols + j] = 0;
                }
            }
        }
        int align = dynamicGroups ? g : p != null ? p.m() : 1;
        int step = (options.blockSize() + align - 1) / align * align;
        double loss = s.run(step);
        PruningMask mask = PruningMask.wrap(s.keep, rows, cols);
        return new Result(s.wp, mask, s.layout(), loss, f.lambda(), f.deadCount());
    }

    /** One sweep's state. */
    private static final class Sweep {
        final float[] wp;
        final int rows;
        final int n;
        final float[] u;
        final NmPattern p;
        final double sparsity;
        final AffineSpec spec;
        final int g;
        final boolean dynamic;
        final boolean[] given;
        final boolean[] keep;
        final int[] codes;
        final float[] scales;
        final int[] zeros;
        final double[] rowLoss;

        Sweep(float[] wp, int rows, int n, float[] u, NmPattern p, double sparsity, AffineSpec spec, int g,
                boolean dynamic, boolean[] given) {
            this.wp = wp;
            this.rows = rows;
            this.n = n;
            this.u = u;
            this.p = p;
            this.sparsity = sparsity;
            this.spec = spec;
            this.g = g;
            this.dynamic = dynamic;
            this.given = given;
            this.keep = given != null ? given.clone() : new boolean[rows * n];
            this.codes = spec == null ? null : new int[rows * n];
            int gs = spec == null ? 0 : spec.scaleRows(rows) * spec.scaleCols(n);
            this.scales = spec == null ? null : new float[gs];
            this.zeros = spec == null || spec.symmetric() ? null : new int[gs];
            this.rowLoss = new double[rows];
        }

        double run(int step) {
            if (spec != null && !dynamic) {
                fitFixed();
            }
            int maxBlock = Math.min(step, n);
            float[] err = new float[rows * maxBlock];
            int grain = Math.max(1, 8192 / Math.max(1, Math.min(n, 512)));
            for (int start = 0; start < n; start += step) {
                int b0 = start;
                int b1 = Math.min(n, b0 + step);
                int nb = b1 - b0;
                if (p == null && given == null) {
                    blockMask(b0, b1);
                }
                Parallel.forRange(0, rows, grain, (from, to) -> {
                    float[] sc = new float[Math.max(p == null ? 1 : p.m(), g)];
                    for (int r = (int) from; r < to; r++) {
                        rowLoss[r] += row(r, b0, b1, err, nb, sc);
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
            return total / 2;
        }

        /** Unstructured: keep all but ⌊rows·nb·s⌋ of the block's weights by w²/U_ii² (ties keep the lower index). */
        void blockMask(int b0, int b1) {
            int nb = b1 - b0;
            float[] sc = new float[rows * nb];
            for (int r = 0; r < rows; r++) {
                for (int i = b0; i < b1; i++) {
                    float d = u[i * n + i];
                    float v = wp[r * n + i];
                    sc[r * nb + i - b0] = v * v / (d * d);
                }
            }
            int total = rows * nb;
            boolean[] k = new boolean[total];
            TopK.mark(sc, 0, total, total - (int) ((long) total * sparsity), k, 0, null);
            for (int r = 0; r < rows; r++) {
                System.arraycopy(k, r * nb, keep, r * n + b0, nb);
            }
        }

        /** Per output channel / per tensor: (s, z) once from the original (dead-zeroed) weights. */
        void fitFixed() {
            if (spec.granularity() == AffineSpec.Granularity.PER_TENSOR) {
                store(0, fit(wp, 0, wp.length));
            } else {
                for (int r = 0; r < rows; r++) {
                    store(r, fit(wp, r * n, n));
                }
            }
        }

        long fit(float[] v, int off, int len) {
            if (spec.symmetric()) {
                float a = 0;
                for (int i = 0; i < len; i++) {
                    a = Math.max(a, Math.abs(v[off + i]));
                }
                return AffineGrid.symmetric(a, spec.bits(), true, spec.scaleType());
            }
            float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < len; i++) {
                lo = Math.min(lo, v[off + i]);
                hi = Math.max(hi, v[off + i]);
            }
            return AffineGrid.asymmetric(lo, hi, spec.bits(), true, spec.scaleType());
        }

        void store(int at, long packed) {
            scales[at] = AffineGrid.scale(packed);
            if (zeros != null) {
                zeros[at] = AffineGrid.zero(packed);
            }
        }

        int grid(int r, int c) {
            return switch (spec.granularity()) {
                case PER_TENSOR -> 0;
                case PER_OUTPUT_CHANNEL -> r;
                default -> r * (n / g) + c / g;
            };
        }

        /** Row r through block [b0, b1): masks, quantization, in-block feedback; returns Σ e². */
        double row(int r, int b0, int b1, float[] err, int nb, float[] sc) {
            int row = r * n;
            double loss = 0;
            int m = p == null ? 0 : p.m();
            for (int i = b0; i < b1; i++) {
                if (p != null && i % m == 0) {
                    for (int j = 0; j < m; j++) {
                        float d = u[(i + j) * n + i + j];
                        float v = wp[row + i + j];
                        sc[j] = v * v / (d * d);
                    }
                    TopK.mark(sc, 0, m, p.n(), keep, row + i, null);
                }
                if (spec != null && dynamic && i % g == 0) {
                    store(grid(r, i), fit(wp, row + i, g));
                }
                float v = wp[row + i];
                float q;
                if (!keep[row + i]) {
                    q = 0;
                    if (codes != null) {
                        codes[row + i] = zeros == null ? spec.symmetricZero() : zeros[grid(r, i)];
                    }
                } else if (spec != null) {
                    int gi = grid(r, i);
                    int z = zeros == null ? spec.symmetricZero() : zeros[gi];
                    int code = GroupwiseAffine.quantize(v, scales[gi], z, spec.bits());
                    codes[row + i] = code;
                    q = GroupwiseAffine.dequantize(code, scales[gi], z);
                } else {
                    q = v;
                }
                float d = u[i * n + i];
                float e = (v - q) / d;
                loss += (double) e * e;
                err[r * nb + i - b0] = e;
                int rest = b1 - i - 1;
                if (rest > 0 && e != 0) {
                    FloatOps.axpy(-e, u, i * n + i + 1, wp, row + i + 1, rest);
                }
                wp[row + i] = q;
            }
            return loss;
        }

        QuantizedMatrix layout() {
            if (given != null) {
                return null;
            }
            if (p != null && spec == null) {
                return NmSparseMatrix.compress(wp, keep, rows, n, p.n(), p.m(), DType.F32);
            }
            if (p != null) {
                int kept = n / p.m() * p.n();
                int[] kc = new int[rows * kept];
                int[] ki = new int[rows * kept];
                for (int r = 0; r < rows; r++) {
                    int o = r * kept;
                    for (int c = 0; c < n; c++) {
                        if (keep[r * n + c]) {
                            kc[o] = codes[r * n + c];
                            ki[o++] = c % p.m();
                        }
                    }
                }
                return NmSparseAffine.of(rows, n, p.n(), p.m(), spec, kc, ki, scales, zeros);
            }
            if (spec != null) {
                return GroupwiseAffine.of(rows, n, spec, codes, scales, zeros);
            }
            return null;
        }
    }
}

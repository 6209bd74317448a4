package lowbit.quant;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.io.SafetensorsEntry;
import lowbit.tensor.io.SafetensorsFile;
import lowbit.tensor.io.SafetensorsWriter;
import lowbit.tensor.io.TensorFormatException;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.simd.FloatOps;

/**
 * Streaming calibration statistics of one linear layer's inputs: batches X_b [n_b, in] are added one at a time and
 * only sums are kept (never the activations), so any number of tokens costs in² + 3·in doubles. With per-token
 * weights r_t ≥ 0 (RSQ's token importance; 0/1 for a padding mask; 1 when none are given) it accumulates, in double,
 * <pre>
 *   W = Σ_t r_t,   S = Σ_t r_t·x_t·x_tᵀ,   a_j = Σ_t r_t·|x_tj|,   q_j = Σ_t r_t·x_tj²,   m_j = Σ_t r_t·x_tj
 * </pre>
 * and exposes them as {@link CalibrationStats}: H = 2·S/W (GPTQ's proxy Hessian 2XᵀX/N with unit weights, RSQ's
 * 2·Xᵀdiag(r)X/Σr with importance weights), mean|x| = a/W, mean x² = q/W, mean x = m/W. {@link #tokens()} counts
 * tokens of positive weight.
 *
 * <p><b>Speed and accuracy.</b> S is updated SYRK-style: per chunk of {@value #CHUNK} tokens, the lower block
 * triangle of X_cᵀ·diag(r)·X_c (row blocks of {@value #BLOCK} features) is computed by the float GEMM kernel
 * ({@link Gemm}, parallel, bit-identical for any thread count) and added into the double sums. Each chunk product
 * entry is within γ_256·Σ_t |r_t·x_ti·x_tj| ≈ 1.5·10⁻⁵·Σ_t |r_t·x_ti·x_tj| of its exact value (u = 2⁻²⁴) and the
 * chunks add in double, so H's relative error stays near 10⁻⁵ however many tokens are added — far below GPTQ's
 * 1 % damping (the reference implementation accumulates H in float32 throughout). The per-channel sums are exact
 * double sums of float values.
 *
 * <p><b>Threads.</b> A collector is not thread-safe. To collect in parallel, give each thread its own collector for
 * a fixed set of batches and combine them with {@link #merged} in a fixed order: then the result does not depend on
 * the thread count (double addition is not associative, so the order is part of the result).
 *
 * <p><b>As {@link CalibrationStats}</b> the collector reports the batches added so far: the accessors delegate to a
 * {@link #snapshot()} that is computed once and reused until the next {@code add} or {@code merge}.
 *
 * <p><b>File format</b> ({@link #write}/{@link #read}): a safetensors file with metadata {@code format =
 * "lowbit.calibration"}, {@code version = "1"}, {@code features}, {@code tokens} (decimal) and {@code weight_sum}
 * ({@link Double#toString}, which round-trips exactly), and F64 tensors {@code abs_sum}, {@code square_sum}, {@code
 * sum} [in] and, when collected, {@code xtx_sum} [in, in] (S, both triangles). Raw sums, so collectors read back
 * from files merge exactly as the originals would.
 *
 * <p>Bad input — NaN or infinite activations, negative or non-finite weights, a batch of the wrong width — throws
 * {@link IllegalArgumentException} naming the token and channel; nothing is added from a rejected batch.
 */
public final class CalibrationCollector implements CalibrationStats {
    /** Tokens per float GEMM chunk of the S update. */
    static final int CHUNK = 256;
    /** Features per row block of the S update. */
    static final int BLOCK = 256;
    static final String FORMAT = "lowbit.calibration";
    private static final ValueLayout.OfDouble F64_LE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int features;
    private final boolean hessian;
    private final double[] absSum;
    private final double[] squareSum;
    private final double[] sum;
    /** S, lower triangle (row-major [features, features]), or null. */
    private final double[] xtx;
    private long tokens;
    private double weightSum;
    private ArrayCalibrationStats cached;

    private CalibrationCollector(int features, boolean hessian) {
        if (features < 1) {
            throw new IllegalArgumentException("calibration collector: features must be >= 1, got " + features);
        }
        if (hessian && (long) features * features > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("calibration collector: a " + features + "x" + features
                    + " Hessian does not fit in one array");
        }
        this.features = features;
        this.hessian = hessian;
        this.absSum = new double[features];
        this.squareSum = new double[features];
        this.sum = new double[features];
        this.xtx = hessian ? new double[features * features] : null;
    }

    /** A collector of all statistics, the Hessian included (in² doubles). */
    public static CalibrationCollector withHessian(int features) {
        return new CalibrationCollector(features, true);
    }

    /** A collector of the per-channel statistics only (AWQ's mean |x|, activation-weighted clip search). */
    public static CalibrationCollector withoutHessian(int features) {
        return new CalibrationCollector(features, false);
    }

    @Override
    public int features() {
        return features;
    }

    /** Whether the Hessian is collected. */
    public boolean collectsHessian() {
        return hessian;
    }

    /** Tokens added with a positive weight. */
    @Override
    public long tokens() {
        return tokens;
    }

    /** Σ_t r_t over the tokens added (the token count with unit weights). */
    public double weightSum() {
        return weightSum;
    }

    /**
     * Adds X [n, features] (row-major), every token with weight 1.
     *
     * @throws IllegalArgumentException for a wrong length or a non-finite value (named)
     */
    public void add(float[] x, int n) {
        add(x, n, (float[]) null);
    }

    /**
     * Adds the tokens of X [n, features] whose {@code mask} entry is non-zero, with weight 1 (a padding mask as
     * {@code lowbit.examples.minilm.LinearInputObserver} gives it). Masked-out rows are not read.
     *
     * @throws IllegalArgumentException for wrong lengths or a non-finite value in a kept row (named)
     */
    public void addMasked(float[] x, int n, int[] mask) {
        Objects.requireNonNull(mask, "calibration collector: mask is null");
        checkBatch(x, n);
        if (mask.length != n) {
            throw new IllegalArgumentException("calibration collector: mask has " + mask.length + " entries for " + n
                    + " tokens");
        }
        int kept = 0;
        for (int m : mask) {
            kept += m != 0 ? 1 : 0;
        }
        float[] rows = new float[kept * features];
        int[] origin = new int[kept];
        for (int t = 0, k = 0; t < n; t++) {
            if (mask[t] != 0) {
                System.arraycopy(x, t * features, rows, k * features, features);
                origin[k++] = t;
            }
        }
        checkFinite(rows, kept, origin);
        accumulate(rows, kept, null);
    }

    /**
     * Adds X [n, features] with per-token weights {@code weights[t] ≥ 0} (null = all 1). Tokens of weight 0 count
     * nowhere.
     *
     * @throws IllegalArgumentException for wrong lengths, a non-finite activation, or a weight that is negative or
     *     not finite (all named)
     */
    public void add(float[] x, int n, float[] weights) {
        checkBatch(x, n);
        if (weights != null) {
            if (weights.length != n) {
                throw new IllegalArgumentException("calibration collector: " + weights.length + " token weights for "
                        + n + " tokens");
            }
            for (int t = 0; t < n; t++) {
                if (!(weights[t] >= 0) || weights[t] == Float.POSITIVE_INFINITY) {
                    throw new IllegalArgumentException("calibration collector: token weight " + t + " is " + weights[t]
                            + ", expected finite and >= 0");
                }
            }
        }
        checkFinite(x, n, null);
        accumulate(x, n, weights);
    }

    private void checkBatch(float[] x, int n) {
        Objects.requireNonNull(x, "calibration collector: activations are null");
        if (n < 0) {
            throw new IllegalArgumentException("calibration collector: negative token count " + n);
        }
        if (x.length != (long) n * features) {
            throw new IllegalArgumentException("calibration collector: a batch of " + x.length + " values is not "
                    + n + " tokens x " + features + " features");
        }
    }

    private void checkFinite(float[] x, int n, int[] origin) {
        if (n == 0 || Float.isFinite(FloatOps.maxAbs(x, 0, n * features))) {
            return;
        }
        for (int i = 0; i < n * features; i++) {
            if (!Float.isFinite(x[i])) {
                int t = origin == null ? i / features : origin[i / features];
                throw new IllegalArgumentException("calibration collector: activation at token " + t + ", channel "
                        + i % features + " is " + x[i]);
            }
        }
    }

    private void accumulate(float[] x, int n, float[] weights) {
        if (n == 0) {
            return;
        }
        cached = null;
        for (int t = 0; t < n; t++) {
            double r = weights == null ? 1 : weights[t];
            if (r == 0) {
                continue;
            }
            tokens++;
            weightSum += r;
            int row = t * features;
            for (int j = 0; j < features; j++) {
                double v = x[row + j];
                absSum[j] += r * Math.abs(v);
                squareSum[j] += r * v * v;
                sum[j] += r * v;
            }
        }
        if (!hessian) {
            return;
        }
        float[] weighted = null;
        float[] tile = new float[Math.min(BLOCK, features) * features];
        for (int c0 = 0; c0 < n; c0 += CHUNK) {
            int k = Math.min(CHUNK, n - c0);
            int off = c0 * features;
            float[] a = x;
            int aOff = off;
            if (weights != null) {
                if (weighted == null) {
                    weighted = new float[Math.min(CHUNK, n) * features];
                }
                for (int t = 0; t < k; t++) {
                    float r = weights[c0 + t];
                    for (int j = 0; j < features; j++) {
                        weighted[t * features + j] = r * x[off + t * features + j];
                    }
                }
                a = weighted;
                aOff = 0;
            }
            for (int i0 = 0; i0 < features; i0 += BLOCK) {
                int mb = Math.min(BLOCK, features - i0);
                int cols = i0 + mb; // lower block row: columns 0 .. i0 + mb
                // tile[i, j] = Σ_t a[t, i0 + i]·x[t, j]  (op(A) = Aᵀ with A the chunk stored k × features)
                Gemm.gemm(true, false, mb, cols, k, 1f, a, aOff + i0, features, x, off, features, 0f, tile, 0, cols);
                for (int i = 0; i < mb; i++) {
                    int dst = (i0 + i) * features;
                    int src = i * cols;
                    for (int j = 0; j <= i0 + i; j++) {
                        xtx[dst + j] += tile[src + j];
                    }
                }
            }
        }
    }

    /**
     * Adds another collector's sums to this one's (same features; both with or both without the Hessian).
     *
     * @throws IllegalArgumentException when they differ in features or in collecting the Hessian
     */
    public void merge(CalibrationCollector other) {
        Objects.requireNonNull(other, "calibration collector: other is null");
        if (other == this) {
            throw new IllegalArgumentException("calibration collector: cannot merge a collector into itself");
        }
        if (other.features != features || other.hessian != hessian) {
            throw new IllegalArgumentException("calibration collector: cannot merge " + other.describe() + " into "
                    + describe());
        }
        cached = null;
        tokens += other.tokens;
        weightSum += other.weightSum;
        for (int j = 0; j < features; j++) {
            absSum[j] += other.absSum[j];
            squareSum[j] += other.squareSum[j];
            sum[j] += other.sum[j];
        }
        if (hessian) {
            for (int i = 0; i < features; i++) {
                for (int j = 0; j <= i; j++) {
                    xtx[i * features + j] += other.xtx[i * features + j];
                }
            }
        }
    }

    /**
     * A new collector holding the sums of {@code parts} added in list order (a fixed order makes the bits
     * reproducible whatever thread filled which part).
     *
     * @throws IllegalArgumentException for an empty list or parts that do not match
     */
    public static CalibrationCollector merged(List<CalibrationCollector> parts) {
        Objects.requireNonNull(parts, "calibration collector: parts are null");
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("calibration collector: nothing to merge");
        }
        CalibrationCollector first = parts.get(0);
        CalibrationCollector out = new CalibrationCollector(first.features, first.hessian);
        for (CalibrationCollector p : parts) {
            out.merge(p);
        }
        return out;
    }

    private String describe() {
        return "a collector of " + features + " features " + (hessian ? "with" : "without") + " Hessian";
    }

    /**
     * The statistics of everything added so far, as immutable arrays: mean |x|, mean x², mean x and, when
     * collected, H = 2·S/W (both triangles).
     *
     * @throws IllegalStateException when no token of positive weight has been added
     */
    public ArrayCalibrationStats snapshot() {
        ArrayCalibrationStats c = cached;
        if (c != null) {
            return c;
        }
        if (tokens == 0 || !(weightSum > 0)) {
            throw new IllegalStateException("calibration collector: no tokens of positive weight were added");
        }
        float[] meanAbs = new float[features];
        float[] meanSq = new float[features];
        float[] mean = new float[features];
        for (int j = 0; j < features; j++) {
            meanAbs[j] = (float) (absSum[j] / weightSum);
            meanSq[j] = (float) (squareSum[j] / weightSum);
            mean[j] = (float) (sum[j] / weightSum);
        }
        double[] h = null;
        if (hessian) {
            h = new double[features * features];
            double f = 2 / weightSum;
            for (int i = 0; i < features; i++) {
                for (int j = 0; j <= i; j++) {
                    double v = f * xtx[i * features + j];
                    h[i * features + j] = v;
                    h[j * features + i] = v;
                }
            }
        }
        c = new ArrayCalibrationStats(features, tokens, meanAbs, meanSq, mean, h);
        cached = c;
        return c;
    }

    @Override
    public float[] meanAbs() {
        return snapshot().meanAbs();
    }

    @Override
    public float[] meanSquare() {
        return snapshot().meanSquare();
    }

    @Override
    public float[] mean() {
        return snapshot().mean();
    }

    @Override
    public double[] hessian() {
        return snapshot().hessian();
    }

    // ---- file format ----

    /**
     * Writes the raw sums to a safetensors file (see the class comment for the layout).
     *
     * @throws IOException if writing fails (no file is left under the target name)
     */
    public void write(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("version", "1");
        meta.put("features", Integer.toString(features));
        meta.put("tokens", Long.toString(tokens));
        meta.put("weight_sum", Double.toString(weightSum));
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("abs_sum", vector(absSum));
        tensors.put("square_sum", vector(squareSum));
        tensors.put("sum", vector(sum));
        if (hessian) {
            double[] full = xtx.clone();
            for (int i = 0; i < features; i++) {
                for (int j = 0; j < i; j++) {
                    full[j * features + i] = full[i * features + j];
                }
            }
            tensors.put("xtx_sum", Tensor.wrap(MemorySegment.ofArray(full), DType.F64, Shape.of(features, features)));
        }
        SafetensorsWriter.write(file, tensors, meta);
    }

    private static Tensor vector(double[] v) {
        return Tensor.wrap(MemorySegment.ofArray(v), DType.F64, Shape.of(v.length));
    }

    /**
     * Reads a collector written by {@link #write}; it can be merged and added to like the original.
     *
     * @throws TensorFormatException when the file is not a lowbit calibration file of version 1, a field is missing
     *     or malformed, a tensor has the wrong dtype or shape, a sum is not finite (or an absolute/squared sum is
     *     negative), S is not symmetric, or the token count and weight sum contradict each other
     * @throws IOException if reading fails
     */
    public static CalibrationCollector read(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        try (SafetensorsFile in = SafetensorsFile.open(file)) {
            String src = in.source();
            Map<String, String> meta = in.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new TensorFormatException(src, null, "format", "expected metadata format = " + FORMAT
                        + ", got " + meta.get("format"));
            }
            if (!"1".equals(meta.get("version"))) {
                throw new TensorFormatException(src, null, "version", "unsupported version " + meta.get("version"));
            }
            int features = (int) parseLong(src, meta, "features", 1, Integer.MAX_VALUE);
            long tokens = parseLong(src, meta, "tokens", 0, Long.MAX_VALUE);
            double weightSum;
            try {
                weightSum = Double.parseDouble(String.valueOf(meta.get("weight_sum")));
            } catch (NumberFormatException e) {
                throw new TensorFormatException(src, null, "weight_sum", "not a number: " + meta.get("weight_sum"), e);
            }
            if (!(weightSum >= 0) || Double.isInfinite(weightSum) || (tokens == 0) != (weightSum == 0)) {
                throw new TensorFormatException(src, null, "weight_sum", weightSum + " does not fit " + tokens
                        + " tokens");
            }
            boolean hessian = in.contains("xtx_sum");
            CalibrationCollector c = new CalibrationCollector(features, hessian);
            c.tokens = tokens;
            c.weightSum = weightSum;
            long[] vec = {features};
            load(in, "abs_sum", vec, c.absSum, true);
            load(in, "square_sum", vec, c.squareSum, true);
            load(in, "sum", vec, c.sum, false);
            if (hessian) {
                double[] full = new double[features * features];
                load(in, "xtx_sum", new long[] {features, features}, full, false);
                for (int i = 0; i < features; i++) {
                    for (int j = 0; j < i; j++) {
                        if (full[i * features + j] != full[j * features + i]) {
                            throw new TensorFormatException(src, "xtx_sum", "symmetry", "entry (" + i + ", " + j
                                    + ") = " + full[i * features + j] + " but (" + j + ", " + i + ") = "
                                    + full[j * features + i]);
                        }
                    }
                    System.arraycopy(full, i * features, c.xtx, i * features, i + 1);
                }
            }
            return c;
        }
    }

    private static long parseLong(String src, Map<String, String> meta, String key, long min, long max)
            throws TensorFormatException {
        String v = meta.get(key);
        long x;
        try {
            x = Long.parseLong(String.valueOf(v));
        } catch (NumberFormatException e) {
            throw new TensorFormatException(src, null, key, "not an integer: " + v, e);
        }
        if (x < min || x > max) {
            throw new TensorFormatException(src, null, key, x + " is out of range [" + min + ", " + max + "]");
        }
        return x;
    }

    private static void load(SafetensorsFile in, String name, long[] dims, double[] dst, boolean nonNegative)
            throws TensorFormatException {
        String src = in.source();
        if (!in.contains(name)) {
            throw new TensorFormatException(src, name, "tensor", "missing");
        }
        SafetensorsEntry e = in.entry(name);
        if (e.dtype().lowbit().orElse(null) != DType.F64 || !java.util.Arrays.equals(e.spec().dims(), dims)) {
            throw new TensorFormatException(src, name, "shape", "expected F64 " + java.util.Arrays.toString(dims)
                    + ", got " + e.dtype() + " " + java.util.Arrays.toString(e.spec().dims()));
        }
        MemorySegment.copy(in.bytes(name), F64_LE, 0, dst, 0, dst.length);
        for (int i = 0; i < dst.length; i++) {
            if (!Double.isFinite(dst[i]) || (nonNegative && dst[i] < 0)) {
                throw new TensorFormatException(src, name, "value", "entry " + i + " is " + dst[i]);
            }
        }
    }

    @Override
    public String toString() {
        return "CalibrationCollector[features=" + features + ", tokens=" + tokens + ", hessian=" + hessian + "]";
    }
}

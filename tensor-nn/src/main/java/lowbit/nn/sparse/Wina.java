package lowbit.nn.sparse;

import java.util.Objects;
import lowbit.nn.LinearWeight;
import lowbit.tensor.linalg.ColumnSubsetGemv;
import lowbit.tensor.parallel.Parallel;

/**
 * WINA, Weight Informed Neuron Activation (Chen et al. 2025, "WINA: Weight Informed Neuron Activation for Accelerating
 * Large Language Model Inference"): training-free activation sparsity. For an input x of a layer W [out, in], score
 * each input by
 * <pre>
 *   score_i = |x_i| · ‖W_:,i‖₂            (column norms precomputed once)
 * </pre>
 * keep the k = ⌊in·(1 − sparsity)⌋ inputs of largest score (ties: lower index) and compute y = W_:,K·x_K + b, a GEMV
 * that skips the dropped columns ({@link ColumnSubsetGemv} over Wᵀ, so only |K|·out weights are read). Confirmed
 * against microsoft/wina ({@code utils/utils.py} top-k mode: {@code k = int(d·(1 − sparsity))} on
 * |x ⊙ column norms|, {@code wina/mlp.py}: {@code weight.norm(dim=0)}); its calibrated-threshold mode and its
 * per-matrix sparsity search are not implemented (the sparsity is given per call).
 *
 * <p>Holds Wᵀ (a copy, [in, out] row-major) and the norms; immutable and thread-safe. Every token of a batch is
 * sparsified independently; results do not depend on the thread count.
 */
public final class Wina {
    private final int rows;
    private final int cols;
    private final float[] wt;
    private final float[] norms;

    private Wina(int rows, int cols, float[] wt, float[] norms) {
        this.rows = rows;
        this.cols = cols;
        this.wt = wt;
        this.norms = norms;
    }

    /**
     * WINA for the row-major weight {@code w} [rows = out, cols = in] (copied, transposed).
     *
     * @throws IllegalArgumentException for a wrong length or a NaN or infinite weight
     */
    public static Wina of(float[] w, int rows, int cols) {
        PruningCriterion.checkWeights("wina", w, rows, cols);
        float[] wt = new float[w.length];
        double[] sq = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float v = w[r * cols + c];
                wt[c * rows + r] = v;
                sq[c] += (double) v * v;
            }
        }
        float[] n = new float[cols];
        for (int c = 0; c < cols; c++) {
            n[c] = (float) Math.sqrt(sq[c]);
        }
        return new Wina(rows, cols, wt, n);
    }

    /** WINA for a Linear weight (read as floats). */
    public static Wina of(LinearWeight w) {
        return of(w.toFloats(), w.outFeatures(), w.inFeatures());
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** ‖W_:,i‖₂ for every input i (a copy). */
    public float[] columnNorms() {
        return norms.clone();
    }

    /** Inputs kept at a sparsity: ⌊cols·(1 − sparsity)⌋. */
    public int kept(double sparsity) {
        Masks.checkSparsity(sparsity);
        return (int) (cols * (1 - sparsity));
    }

    /**
     * The kept inputs of {@code x[xOff .. xOff + cols)}, ascending, into {@code out}; returns their count.
     *
     * @throws IllegalArgumentException for a NaN input (named)
     */
    public int select(float[] x, int xOff, int k, int[] out) {
        float[] s = new float[cols];
        for (int i = 0; i < cols; i++) {
            float v = x[xOff + i];
            if (Float.isNaN(v)) {
                throw new IllegalArgumentException("wina: input " + i + " is NaN");
            }
            s[i] = Math.abs(v) * norms[i];
        }
        return TopK.select(s, 0, cols, k, out, new float[cols]);
    }

    /**
     * y = W_:,K·x_K + bias for one input x [cols] at the given activation sparsity; bias may be null.
     *
     * @throws IllegalArgumentException for lengths that do not match, a sparsity outside [0, 1), a NaN input
     */
    public void forward(float[] x, double sparsity, float[] bias, float[] y) {
        Objects.requireNonNull(x, "wina: x is null");
        if (x.length != cols) {
            throw new IllegalArgumentException("wina: x has " + x.length + " elements, expected " + cols);
        }
        int[] sel = new int[cols];
        int k = select(x, 0, kept(sparsity), sel);
        ColumnSubsetGemv.multiply(wt, rows, cols, sel, k, x, bias, y);
    }

    /**
     * Y = each row of X [n, cols] sparsified and multiplied: Y [n, rows]. Tokens run in parallel (each one's GEMV on
     * the calling task), so the result does not depend on the thread count.
     */
    public void forward(float[] x, int n, double sparsity, float[] bias, float[] y) {
        Objects.requireNonNull(x, "wina: X is null");
        Objects.requireNonNull(y, "wina: Y is null");
        if (n < 0 || x.length != (long) n * cols || y.length != (long) n * rows) {
            throw new IllegalArgumentException("wina: X has " + x.length + " and Y " + y.length + " elements, expected ["
                    + n + ", " + cols + "] and [" + n + ", " + rows + "]");
        }
        int k = kept(sparsity);
        Parallel.forRange(0, n, 1, (from, to) -> {
            float[] xi = new float[cols];
            float[] yi = new float[rows];
            int[] sel = new int[cols];
            for (int i = (int) from; i < to; i++) {
                System.arraycopy(x, i * cols, xi, 0, cols);
                int c = select(xi, 0, k, sel);
                ColumnSubsetGemv.multiply(wt, rows, cols, sel, c, xi, bias, yi); // nested: same chunks, same bits
                System.arraycopy(yi, 0, y, i * rows, rows);
            }
        });
    }

    /**
     * This WINA as the weight of a {@link lowbit.nn.Linear} at a fixed activation sparsity, for inference (the
     * forward pass sparsifies every token; there is no backward).
     */
    public LinearWeight asWeight(double sparsity) {
        Masks.checkSparsity(sparsity);
        Wina self = this;
        return new LinearWeight() {
            @Override
            public int outFeatures() {
                return rows;
            }

            @Override
            public int inFeatures() {
                return cols;
            }

            @Override
            public String describe() {
                return "WINA " + Math.round(sparsity * 100) + "% activation sparsity F32 [" + rows + ", " + cols + "]";
            }

            @Override
            public void forward(float[] x, int n, float[] bias, float[] y) {
                self.forward(x, n, sparsity, bias, y);
            }

            @Override
            public void backwardInput(float[] dy, int n, float[] dx) {
                throw new UnsupportedOperationException("WINA is an inference-time sparsification: it has no backward "
                        + "(train the dense weight)");
            }

            @Override
            public float[] toFloats() {
                float[] w = new float[rows * cols];
                for (int c = 0; c < cols; c++) {
                    for (int r = 0; r < rows; r++) {
                        w[r * cols + c] = wt[c * rows + r];
                    }
                }
                return w;
            }

            @Override
            public boolean trainable() {
                return false;
            }
        };
    }
}

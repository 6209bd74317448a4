package lowbit.nn.sparse;

import java.util.Objects;
import lowbit.nn.DenseWeight;
import lowbit.nn.Linear;
import lowbit.tensor.DType;
import lowbit.tensor.layout.NmSparseMatrix;

/**
 * A {@link Linear} layer with a frozen weight W and a {@link LearnableNmMask}: MaskLLM's sparse linear layer,
 * {@code Y = X·(W ⊙ m̃)ᵀ + b}. In training the mask is a Gumbel-softmax sample m̃; the backward runs the layer's own
 * {@link Linear#backward} on the effective weight W ⊙ m̃ — giving dX for the layers below and
 * dL/d(W ⊙ m̃) = dYᵀ·X — and passes dL/dm̃ = dL/d(W ⊙ m̃) ⊙ W to the mask's logits. The bias is frozen too. For
 * inference the mask is the hard argmax mask, and {@link #compressed()} stores the result in the N:M layout.
 *
 * <p>MaskLLM's optional regulariser, which maximises the kept weights' norm (loss − λ_t·Σ(W ⊙ m̃)², λ_t decayed
 * linearly to 0 over training; {@code --weight-reg 1e-5} in its scripts), enters through {@link #backward}'s
 * {@code regularization} argument λ_t: dL/dm̃ −= 2·λ_t·W²·m̃.
 */
public final class MaskedLinear {
    private final float[] w;
    private final float[] bias;
    private final int out;
    private final int in;
    private final LearnableNmMask mask;

    /**
     * @param base the layer whose weight (read as floats) and bias are frozen
     * @param mask a mask of the weight's shape
     * @throws IllegalArgumentException when the shapes differ
     */
    public MaskedLinear(Linear base, LearnableNmMask mask) {
        Objects.requireNonNull(base, "base layer");
        this.mask = Objects.requireNonNull(mask, "mask");
        this.out = base.outFeatures();
        this.in = base.inFeatures();
        if (mask.rows() != out || mask.cols() != in) {
            throw new IllegalArgumentException("mask [" + mask.rows() + ", " + mask.cols() + "] does not fit the layer's "
                    + "weight [" + out + ", " + in + "]");
        }
        this.w = base.weight().toFloats();
        this.bias = base.bias();
    }

    public LearnableNmMask mask() {
        return mask;
    }

    public int inFeatures() {
        return in;
    }

    public int outFeatures() {
        return out;
    }

    /**
     * Training forward with a fresh mask sample: Y [n, out].
     *
     * @throws IllegalArgumentException for an X of the wrong length or bad τ, κ
     */
    public Activations train(float[] x, int n, double tau, double kappa, long step) {
        Objects.requireNonNull(x, "X is null");
        LearnableNmMask.Sample s = mask.sample(tau, kappa, step);
        float[] m = s.mask();
        float[] weff = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            weff[i] = w[i] * m[i];
        }
        Linear l = new Linear(DenseWeight.of(weff, out, in), bias);
        return new Activations(x, n, l.forward(x, n), s, l, weff);
    }

    /**
     * Backward of a training pass for upstream dY [n, out]: accumulates dL/dπ into the mask logits' gradient and
     * returns dX [n, in].
     *
     * @param regularization λ_t of the kept-weight-norm regulariser (0 for none)
     */
    public float[] backward(Activations a, float[] dy, double regularization) {
        Objects.requireNonNull(a, "activations");
        Linear.Gradients g = a.layer.backward(a.x, dy, a.n);
        float[] dw = g.dw();
        float[] m = a.sample.mask();
        float[] dm = new float[w.length];
        float reg = (float) (2 * regularization);
        for (int i = 0; i < w.length; i++) {
            dm[i] = dw[i] * w[i] - reg * w[i] * w[i] * m[i];
        }
        a.sample.backward(dm);
        return g.dx();
    }

    /** The current hard mask (argmax of the logits). */
    public PruningMask hardMask() {
        return mask.hardMask();
    }

    /** W ⊙ hard mask as a plain layer (frozen dense F32 weight, same bias). */
    public Linear hardLayer() {
        return new Linear(DenseWeight.of(hardMask().apply(w), out, in).frozen(), bias);
    }

    /** W ⊙ hard mask in the compressed N:M layout (F32 values). */
    public NmSparseMatrix compressed() {
        return hardMask().compress(w, mask.pattern(), DType.F32);
    }

    /** Inference forward with the hard mask. */
    public float[] forward(float[] x, int n) {
        return hardLayer().forward(x, n);
    }

    /** What a training forward keeps for its backward. */
    public static final class Activations {
        final float[] x;
        final int n;
        final float[] y;
        final LearnableNmMask.Sample sample;
        final Linear layer;
        final float[] weff;

        Activations(float[] x, int n, float[] y, LearnableNmMask.Sample sample, Linear layer, float[] weff) {
            this.x = x;
            this.n = n;
            this.y = y;
            this.sample = sample;
            this.layer = layer;
            this.weff = weff;
        }

        /** Y [n, out] (live). */
        public float[] output() {
            return y;
        }

        /** The mask sample of this pass. */
        public LearnableNmMask.Sample sample() {
            return sample;
        }

        /** Σ (W ⊙ m̃)², the regulariser's value. */
        public double keptNorm() {
            double s = 0;
            for (float v : weff) {
                s += (double) v * v;
            }
            return s;
        }
    }
}

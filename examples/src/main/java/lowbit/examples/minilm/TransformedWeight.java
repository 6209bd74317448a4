package lowbit.examples.minilm;

import java.util.Objects;
import lowbit.nn.LinearWeight;
import lowbit.nn.QuantizedWeight;
import lowbit.quant.InputTransform;
import lowbit.quant.QuantResult;
import lowbit.tensor.layout.QuantizedMatrix;

/**
 * A quantized weight with its {@link InputTransform} applied at inference: Y = (T(X))·Ŵ'ᵀ + b + c, where T is the
 * channel multiplier and/or rotation a quantizer returned (AWQ's 1/s, a Hadamard rotation) and c its output
 * correction. Equal to folding T into the previous op, but without touching it — which matters when several layers
 * share one input with different transforms (a layer's query, key and value). The product is the layout's fused
 * GEMM on the transformed X; T costs O(in) per token (O(in·log in) for a rotation).
 */
public final class TransformedWeight implements LinearWeight {
    private final QuantizedWeight base;
    private final InputTransform transform;

    /** The weight of a quantization result (just the layout when its transform is the identity). */
    public static LinearWeight of(QuantResult r) {
        Objects.requireNonNull(r, "result is null");
        return r.transform().isIdentity() ? LinearWeight.of(r.matrix()) : new TransformedWeight(r.matrix(),
                r.transform());
    }

    private TransformedWeight(QuantizedMatrix m, InputTransform t) {
        this.base = new QuantizedWeight(m);
        this.transform = t;
    }

    /** The transform applied to x. */
    public InputTransform transform() {
        return transform;
    }

    @Override
    public int outFeatures() {
        return base.outFeatures();
    }

    @Override
    public int inFeatures() {
        return base.inFeatures();
    }

    @Override
    public String describe() {
        return base.describe() + " after " + transform;
    }

    @Override
    public void forward(float[] x, int n, float[] bias, float[] y) {
        base.forward(transform.apply(x, n, inFeatures()), n, bias, y);
        transform.correctOutput(y, n, outFeatures());
    }

    @Override
    public void backwardInput(float[] dy, int n, float[] dx) {
        // dX = dY·Ŵ_eff, Ŵ_eff = Ŵ'·R·diag(m)
        lowbit.tensor.linalg.Gemm.gemm(false, false, n, inFeatures(), outFeatures(), 1f, dy, 0, outFeatures(),
                toFloats(), 0, inFeatures(), 0f, dx, 0, inFeatures());
    }

    @Override
    public float[] toFloats() {
        float[] w = base.toFloats();
        transform.effectiveWeight(w, outFeatures(), inFeatures());
        return w;
    }

    @Override
    public boolean trainable() {
        return false;
    }
}

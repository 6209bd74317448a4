package lowbit.quant;

import java.util.Arrays;
import java.util.Objects;

/**
 * What the caller must do around a quantized matrix Ŵ' [out, in] when a method changed the input side, so that
 * {@code y = W·x + b} becomes
 * <pre>
 *   x' = R·(m ⊙ x)            (input transform: per-channel multiplier m, then rotation R; each optional)
 *   y  ≈ Ŵ'·x' + b + c        (c: an optional output bias correction, length out)
 * </pre>
 * so the weight the layer effectively uses is Ŵ_eff = Ŵ'·R·diag(m) (see {@link #effectiveWeight}). Producers:
 * <ul>
 *   <li>D²Quant's dual scale quantizes W·diag(t)⁻¹ and returns m = t; AWQ quantizes W·diag(s) and returns m = 1/s;</li>
 *   <li>a Hadamard rotation quantizes W·Rᵀ and returns R ({@link HadamardRotation});</li>
 *   <li>a mean-shift (bias) correction returns c = (W − Ŵ_eff)·E[x].</li>
 * </ul>
 * Apply it at inference with {@link #apply}/{@link #correctOutput}, or fold it upstream once: m and R into the
 * previous linear layer whose outputs are x ({@link #foldIntoPreviousLinear}), m into a preceding LayerNorm's γ and
 * β ({@link #foldIntoLayerNorm}; a rotation does not commute with LayerNorm and cannot be folded there), c into the
 * layer's own bias ({@link #foldOutputBias}). Immutable; the arrays given are copied.
 */
public final class InputTransform {
    private static final InputTransform IDENTITY = new InputTransform(0, null, null, null);

    private final int features;
    private final float[] channelMultiplier;
    private final HadamardRotation rotation;
    private final float[] outputBias;

    private InputTransform(int features, float[] channelMultiplier, HadamardRotation rotation, float[] outputBias) {
        this.features = features;
        this.channelMultiplier = channelMultiplier;
        this.rotation = rotation;
        this.outputBias = outputBias;
    }

    /** Nothing to do: x' = x, c = 0. */
    public static InputTransform identity() {
        return IDENTITY;
    }

    /**
     * x' = m ⊙ x.
     *
     * @throws IllegalArgumentException for an empty m or an entry that is zero or not finite
     */
    public static InputTransform channelMultiplier(float[] m) {
        Objects.requireNonNull(m, "channel multiplier");
        if (m.length == 0) {
            throw new IllegalArgumentException("channel multiplier is empty");
        }
        for (int j = 0; j < m.length; j++) {
            if (!Float.isFinite(m[j]) || m[j] == 0) {
                throw new IllegalArgumentException("channel multiplier[" + j + "] = " + m[j]
                        + " must be finite and non-zero");
            }
        }
        return new InputTransform(m.length, m.clone(), null, null);
    }

    /** x' = R·x. */
    public static InputTransform rotation(HadamardRotation r) {
        Objects.requireNonNull(r, "rotation");
        return new InputTransform(r.size(), null, r, null);
    }

    /**
     * This transform plus an output bias correction c (length out; replaces any c it had).
     *
     * @throws IllegalArgumentException for a non-finite entry
     */
    public InputTransform withOutputBias(float[] c) {
        Objects.requireNonNull(c, "output bias");
        for (int i = 0; i < c.length; i++) {
            if (!Float.isFinite(c[i])) {
                throw new IllegalArgumentException("output bias correction[" + i + "] = " + c[i]);
            }
        }
        return new InputTransform(features, channelMultiplier, rotation, c.clone());
    }

    /**
     * This transform applied after an extra per-channel scaling: x' = R·(m₀ ⊙ m ⊙ x) where m₀ is this transform's
     * multiplier (1 when it has none); the rotation and output bias are kept. (AWQ uses it to put its 1/s in front of
     * whatever its inner quantizer returned.)
     *
     * @throws IllegalArgumentException for an entry of m that is zero or not finite, a length that does not match
     *     this transform's features, or a combined multiplier that overflows
     */
    public InputTransform withInputScaling(float[] m) {
        Objects.requireNonNull(m, "input scaling");
        InputTransform scaling = channelMultiplier(m);
        if (changesInput() && m.length != features) {
            throw new IllegalArgumentException("input scaling has " + m.length + " entries, the transform is for "
                    + features + " input features");
        }
        float[] combined = m.clone();
        if (channelMultiplier != null) {
            for (int j = 0; j < combined.length; j++) {
                combined[j] *= channelMultiplier[j];
                if (!Float.isFinite(combined[j]) || combined[j] == 0) {
                    throw new IllegalArgumentException("combined channel multiplier[" + j + "] = " + combined[j]);
                }
            }
        }
        return new InputTransform(scaling.features, combined, rotation, outputBias);
    }

    /** True when x' = x and there is no output correction. */
    public boolean isIdentity() {
        return channelMultiplier == null && rotation == null && outputBias == null;
    }

    /** True when x must be transformed (a multiplier or a rotation). */
    public boolean changesInput() {
        return channelMultiplier != null || rotation != null;
    }

    /** m (a copy), or null. */
    public float[] channelMultiplier() {
        return channelMultiplier == null ? null : channelMultiplier.clone();
    }

    /** R, or null. */
    public HadamardRotation rotation() {
        return rotation;
    }

    /** c (a copy), or null. */
    public float[] outputBias() {
        return outputBias == null ? null : outputBias.clone();
    }

    private void checkCols(int cols) {
        if (changesInput() && cols != features) {
            throw new IllegalArgumentException("input transform is for " + features + " input features, got " + cols);
        }
    }

    /** X' for X [n, cols] row-major (a new array; X itself when {@link #changesInput()} is false). */
    public float[] apply(float[] x, int n, int cols) {
        Objects.requireNonNull(x, "x");
        checkCols(cols);
        if (x.length != (long) n * cols) {
            throw new IllegalArgumentException("input has " + x.length + " values, expected " + n + "x" + cols);
        }
        if (!changesInput()) {
            return x;
        }
        float[] out = x.clone();
        for (int t = 0; t < n; t++) {
            if (channelMultiplier != null) {
                for (int j = 0; j < cols; j++) {
                    out[t * cols + j] *= channelMultiplier[j];
                }
            }
            if (rotation != null) {
                rotation.apply(out, t * cols);
            }
        }
        return out;
    }

    /** Y [n, rows] += c per row (nothing without a correction). */
    public void correctOutput(float[] y, int n, int rows) {
        if (outputBias == null) {
            return;
        }
        if (outputBias.length != rows || y.length != (long) n * rows) {
            throw new IllegalArgumentException("output correction has " + outputBias.length + " entries for Y of "
                    + y.length + " values as " + n + "x" + rows);
        }
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < rows; i++) {
                y[t * rows + i] += outputBias[i];
            }
        }
    }

    /** Ŵ_eff = Ŵ'·R·diag(m) in place on Ŵ' [rows, cols] row-major: the weight the transformed layer applies to x. */
    public void effectiveWeight(float[] wq, int rows, int cols) {
        checkCols(cols);
        if (!changesInput()) {
            return;
        }
        for (int r = 0; r < rows; r++) {
            if (rotation != null) {
                rotation.applyInverse(wq, r * cols); // row·R = (Rᵀ·rowᵀ)ᵀ
            }
            if (channelMultiplier != null) {
                for (int j = 0; j < cols; j++) {
                    wq[r * cols + j] *= channelMultiplier[j];
                }
            }
        }
    }

    /**
     * Folds x' = R·(m ⊙ x) into the previous linear layer x = P·u + p (P [cols, k] row-major, p [cols] or null):
     * P ← R·diag(m)·P, p ← R·(m ⊙ p), in place.
     */
    public void foldIntoPreviousLinear(float[] p, int cols, int k, float[] bias) {
        checkCols(cols);
        if (p.length != (long) cols * k) {
            throw new IllegalArgumentException("previous weight has " + p.length + " values, expected " + cols + "x" + k);
        }
        if (bias != null && bias.length != cols) {
            throw new IllegalArgumentException("previous bias has " + bias.length + " entries, expected " + cols);
        }
        if (!changesInput()) {
            return;
        }
        if (channelMultiplier != null) {
            for (int j = 0; j < cols; j++) {
                for (int c = 0; c < k; c++) {
                    p[j * k + c] *= channelMultiplier[j];
                }
                if (bias != null) {
                    bias[j] *= channelMultiplier[j];
                }
            }
        }
        if (rotation != null) {
            float[] col = new float[cols];
            for (int c = 0; c < k; c++) {
                for (int j = 0; j < cols; j++) {
                    col[j] = p[j * k + c];
                }
                rotation.apply(col, 0);
                for (int j = 0; j < cols; j++) {
                    p[j * k + c] = col[j];
                }
            }
            if (bias != null) {
                rotation.apply(bias, 0);
            }
        }
    }

    /**
     * Folds x' = m ⊙ x into a LayerNorm (or RMSNorm) that produced x = γ ⊙ x̂ + β: γ ← m ⊙ γ, β ← m ⊙ β in place
     * (β may be null).
     *
     * @throws IllegalStateException when the transform has a rotation (it does not commute with the normalization)
     */
    public void foldIntoLayerNorm(float[] gamma, float[] beta) {
        if (rotation != null) {
            throw new IllegalStateException("a rotation cannot be folded into a LayerNorm; fold it into the previous "
                    + "linear layer or apply it to x");
        }
        if (channelMultiplier == null) {
            return;
        }
        checkCols(gamma.length);
        if (beta != null && beta.length != features) {
            throw new IllegalArgumentException("beta has " + beta.length + " entries, expected " + features);
        }
        for (int j = 0; j < features; j++) {
            gamma[j] *= channelMultiplier[j];
            if (beta != null) {
                beta[j] *= channelMultiplier[j];
            }
        }
    }

    /** The layer's bias with c added (a new array; {@code bias} may be null = zeros). */
    public float[] foldOutputBias(float[] bias, int rows) {
        if (bias != null && bias.length != rows) {
            throw new IllegalArgumentException("bias has " + bias.length + " entries, expected " + rows);
        }
        float[] out = bias == null ? new float[rows] : bias.clone();
        if (outputBias != null) {
            if (outputBias.length != rows) {
                throw new IllegalArgumentException("output correction has " + outputBias.length + " entries, expected "
                        + rows);
            }
            for (int i = 0; i < rows; i++) {
                out[i] += outputBias[i];
            }
        }
        return out;
    }

    @Override
    public String toString() {
        if (isIdentity()) {
            return "InputTransform[identity]";
        }
        return "InputTransform[" + (channelMultiplier != null ? "channel multiplier(" + features + ") " : "")
                + (rotation != null ? rotation + " " : "")
                + (outputBias != null ? "output bias(" + outputBias.length + ")" : "") + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InputTransform t && features == t.features
                && Arrays.equals(channelMultiplier, t.channelMultiplier) && Objects.equals(rotation, t.rotation)
                && Arrays.equals(outputBias, t.outputBias);
    }

    @Override
    public int hashCode() {
        return Objects.hash(features, Arrays.hashCode(channelMultiplier), rotation, Arrays.hashCode(outputBias));
    }
}

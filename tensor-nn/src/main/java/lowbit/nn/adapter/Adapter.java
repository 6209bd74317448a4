package lowbit.nn.adapter;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lowbit.nn.Parameter;

/**
 * A parameter-efficient adapter attached to a frozen base {@link lowbit.nn.Linear} through an {@link AdaptedLinear}:
 * it contributes a change {@code Δy = Δ(x)} of the layer's output (LoRA and relatives: a low-rank product; Bone: a
 * block-structured weight; PaCA: trained columns of W), has trainable {@link Parameter}s named as in HF PEFT (so that
 * checkpoints load), gradients for them and for the input, and can be merged into a dense copy of the base weight.
 *
 * <p>Adapters are created by {@link AdaptedLinear}'s {@code add…} methods, which attach them to a base; the base is
 * never modified (initialisations that need a residual base, PiSSA/OLoRA/SORSA, replace the layer's base by a new
 * residual weight, keeping the original available). One adapter belongs to one layer.
 */
public abstract class Adapter {
    private final String name;
    private final String module;
    private final int in;
    private final int out;
    private final Map<String, Parameter> tensors = new LinkedHashMap<>();

    Adapter(String name, String module, int in, int out) {
        this.name = name;
        this.module = module;
        this.in = in;
        this.out = out;
    }

    /** The adapter's name within its layer (PEFT's adapter name, {@code "default"} unless chosen). */
    public final String name() {
        return name;
    }

    /** The module path of the layer it adapts, e.g. {@code "model.layers.0.self_attn.q_proj"}. */
    public final String module() {
        return module;
    }

    /** The method, e.g. {@code "lora"}, {@code "dora"}, {@code "bone"}, {@code "bat"}, {@code "sorsa"}. */
    public abstract String method();

    /** The adapter's rank (LoRA r; Bone block size; PaCA column count; DyLoRA r_max). */
    public abstract int rank();

    public final int inFeatures() {
        return in;
    }

    public final int outFeatures() {
        return out;
    }

    /** The trainable parameters, in a fixed order; names are {@code module.suffix} (see {@link #peftTensors()}). */
    public final List<Parameter> parameters() {
        return Collections.unmodifiableList(new ArrayList<>(tensors.values()));
    }

    /**
     * The trainable tensors by their PEFT name suffix ({@code "lora_A.weight"}, {@code "lora_B.weight"},
     * {@code "lora_magnitude_vector"}, {@code "bone_block"}, ...): the key of a PEFT checkpoint is
     * {@code "base_model.model." + module() + "." + suffix}.
     */
    public final Map<String, Parameter> peftTensors() {
        return Collections.unmodifiableMap(tensors);
    }

    /** Number of trainable scalars. */
    public final long trainableParameterCount() {
        long s = 0;
        for (Parameter p : tensors.values()) {
            s += p.size();
        }
        return s;
    }

    /** Clears the gradients of all parameters. */
    public final void zeroGrad() {
        for (Parameter p : tensors.values()) {
            p.zeroGrad();
        }
    }

    final Parameter register(String suffix, float[] data, int... shape) {
        String full = module + "." + ("default".equals(name) ? "" : name + ".") + suffix;
        Parameter p = new Parameter(full, data, shape);
        tensors.put(suffix, p);
        return p;
    }

    // ---- hooks for AdaptedLinear ----

    /** Whether {@link Pass#baseOutput()} (X·Wᵀ without bias) is needed by this forward. */
    boolean needsBaseOutput(boolean training) {
        return false;
    }

    /**
     * Adds {@code weight·Δ(x)} to y [n, out]. Returns what backward needs when {@code pass.training()}, else null.
     */
    abstract Object forward(Pass pass, float weight, float[] y);

    /**
     * Adds this adapter's share to the gradient that flows back through the base product (dX_base = dY_base·W):
     * called before {@link #backward}, only when the input gradient is wanted and {@link #changesBaseGradient} is true.
     */
    void addBaseGradient(Object saved, float[] dy, float weight, float[] dyBase) {
    }

    boolean changesBaseGradient(Object saved) {
        return false;
    }

    /**
     * Accumulates the parameter gradients for upstream dy [n, out] and, when dx is not null, adds the adapter's
     * input gradient to dx [n, in].
     */
    abstract void backward(Base base, Object saved, float[] dy, float weight, float[] dx);

    /**
     * Adds {@code weight·ΔW} to the dense row-major w [out, in]; {@code w0} is the original base weight (for methods
     * whose delta depends on it: DoRA, Bone-bat).
     */
    abstract void mergeInto(Base base, float[] w0, float[] w, float weight);

    /**
     * Adds {@code weight·ΔW[r0:r1, :]} to the rows held in {@code w} at {@code off} (row-major, in per row) when ΔW is
     * independent of W and cheap per row block (the low-rank methods); when unsupported
     * {@link #mergeInto} is used ({@link #mergesByRows}). Lets the layer merge tile by tile while the tile is in cache.
     */
    void mergeRows(int r0, int r1, float[] w, int off, float weight) {
        throw new UnsupportedOperationException(method() + " merges whole matrices");
    }

    /** Whether {@link #mergeRows} is supported. */
    boolean mergesByRows() {
        return false;
    }

    /** Whether ΔW depends on the base weight (then unmerge must invert, not subtract). */
    boolean deltaDependsOnBase() {
        return false;
    }

    /** Removes {@code weight·ΔW} from the merged dense w (the inverse of {@link #mergeInto}). */
    abstract void unmergeFrom(Base base, float[] w, float weight);

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + module + "/" + name + ", r=" + rank() + ", " + out + "x" + in + "]";
    }
}

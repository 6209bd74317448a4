package lowbit.nn.adapter;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import lowbit.nn.DenseWeight;
import lowbit.nn.Linear;
import lowbit.nn.Parameter;
import lowbit.nn.QuantizedWeight;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.parallel.Parallel;

/**
 * A frozen base {@link Linear} (dense F32/F16/BF16 or any quantized layout) with adapters attached — PEFT's
 * {@code LoraLayer}/{@code BoneLayer} wrapper of one module:
 * <pre>
 *   y = base(x) + Σ_k w_k · Δ_k(x)        (active adapters k, weights w_k, default 1)
 * </pre>
 * The base runs its own kernel once (fused dequantization for a quantized base, as in QLoRA); each adapter adds its
 * change (for LoRA two thin products, never the matrix ΔW). Several adapters may be active at once with weights — a
 * weighted sum of their deltas, each taken relative to the same base.
 *
 * <pre>{@code
 * AdaptedLinear layer = AdaptedLinear.of("model.layers.0.q_proj", Linear.of(w, bias));
 * LoraAdapter lora = layer.addLora("default", LoraConfig.of(16, 32).withDropout(0.05).withSeed(1));
 * AdamW opt = new AdamW(layer.parameters(), 1e-3);
 * AdaptedLinear.Activations act = layer.train(x, n);          // training forward (dropout on)
 * Loss loss = MseLoss.of(act.output(), target);
 * layer.backward(act, loss.gradient(), false);                 // adapter gradients (dX too when asked)
 * opt.step(); opt.zeroGrad();
 * Linear merged = layer.merged();                              // W + s·B·A in the base's dtype
 * }</pre>
 *
 * <p>Initialisations that factor W (PiSSA, OLoRA, SORSA) replace the base by the residual W − ΔW₀ in the base's
 * dtype, so the layer's function is unchanged; {@link #original()} keeps the base as given. Nothing ever writes into
 * a base's storage: {@link #merged} builds a new dense copy, and the original is always at hand, so {@link #unmerge}
 * (which cannot be exact in low precision) is only needed for a merged weight that came from elsewhere.
 *
 * <p>Instances are not thread-safe (training mutates the adapters); products give the same bits for any thread count.
 */
public final class AdaptedLinear {
    private final String module;
    private final Linear original;
    private Base base;
    private final List<Slot> slots = new ArrayList<>();

    private static final class Slot {
        final Adapter adapter;
        float weight = 1f;
        boolean active = true;

        Slot(Adapter adapter) {
            this.adapter = adapter;
        }
    }

    private AdaptedLinear(String module, Linear base) {
        this.module = Objects.requireNonNull(module, "module name");
        this.original = Objects.requireNonNull(base, "base layer");
        this.base = new Base(base);
    }

    /** A layer named {@code "linear"} over {@code base}. */
    public static AdaptedLinear of(Linear base) {
        return new AdaptedLinear("linear", base);
    }

    /** A layer over {@code base} with the module path {@code module} (used in parameter names and PEFT keys). */
    public static AdaptedLinear of(String module, Linear base) {
        if (module == null || module.isEmpty()) {
            throw new IllegalArgumentException("module name is empty");
        }
        return new AdaptedLinear(module, base);
    }

    public String module() {
        return module;
    }

    /** The base the adapters add to (the residual after a PiSSA/OLoRA/SORSA init). */
    public Linear base() {
        return base.linear;
    }

    /** The base as given to {@link #of}. */
    public Linear original() {
        return original;
    }

    public int inFeatures() {
        return base.in;
    }

    public int outFeatures() {
        return base.out;
    }

    // ---- adapters ----

    /**
     * Attaches a LoRA adapter (a {@link DoraAdapter} when {@code config.dora()}).
     *
     * @throws IllegalArgumentException for a rank outside [1, min(in, out)], a duplicate name, or PiSSA/OLoRA on a
     *     quantized base
     */
    public LoraAdapter addLora(String name, LoraConfig config) {
        checkName(name);
        Objects.requireNonNull(config, "config");
        LoraAdapter.Start s = LoraAdapter.start(base, config);
        if (s.residual() != null) {
            replaceBase(s.residual());
        }
        float[] a0 = s.a().clone(), b0 = s.b().clone();
        LoraAdapter a = config.dora() ? new DoraAdapter(name, module, base, config, s.a(), s.b())
                : new LoraAdapter(name, module, base.in, base.out, config, s.a(), s.b());
        if (s.residual() != null) {
            a.initialA = a0;
            a.initialB = b0;
        }
        slots.add(new Slot(a));
        return a;
    }

    /** Attaches a Bone adapter (default or "bat"). */
    public BoneAdapter addBone(String name, BoneConfig config) {
        checkName(name);
        BoneAdapter a = BoneAdapter.create(name, module, base, Objects.requireNonNull(config, "config"));
        slots.add(new Slot(a));
        return a;
    }

    /** Attaches a SORSA adapter; the base becomes W − s·B·diag(S)·A. */
    public SorsaAdapter addSorsa(String name, SorsaConfig config) {
        checkName(name);
        Objects.requireNonNull(config, "config");
        SorsaAdapter.Start s = SorsaAdapter.start(base, config);
        replaceBase(s.residual());
        SorsaAdapter a = new SorsaAdapter(name, module, base.in, base.out, config, s);
        slots.add(new Slot(a));
        return a;
    }

    /** Attaches a DyLoRA adapter. */
    public DyLoraAdapter addDyLora(String name, DyLoraConfig config) {
        checkName(name);
        DyLoraAdapter a = DyLoraAdapter.create(name, module, base, Objects.requireNonNull(config, "config"));
        slots.add(new Slot(a));
        return a;
    }

    /** Attaches a PaCA adapter (trains a seeded subset of W's input columns). */
    public PacaAdapter addPaca(String name, PacaConfig config) {
        checkName(name);
        PacaAdapter a = PacaAdapter.create(name, module, base, Objects.requireNonNull(config, "config"));
        slots.add(new Slot(a));
        return a;
    }

    /** Attaches an adapter built elsewhere in this package (PEFT files). */
    void attach(Adapter a) {
        checkName(a.name());
        if (a.inFeatures() != base.in || a.outFeatures() != base.out) {
            throw new IllegalArgumentException("adapter " + a + " does not fit the base " + base + " of " + module);
        }
        slots.add(new Slot(a));
    }

    Base baseView() {
        return base;
    }

    private void replaceBase(double[] residual) {
        Linear cur = base.linear;
        DType t = cur.weight() instanceof DenseWeight d ? d.tensor().dtype() : DType.F32;
        float[] f = new float[residual.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) residual[i];
        }
        Tensor w = Tensor.ofFloats(t, f, Shape.of(base.out, base.in));
        base = new Base(new Linear(DenseWeight.of(w).frozen(), cur.bias()));
    }

    private void checkName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("adapter name is empty");
        }
        for (Slot s : slots) {
            if (s.adapter.name().equals(name)) {
                throw new IllegalArgumentException(module + " already has an adapter named \"" + name + "\"");
            }
        }
    }

    private Slot slot(String name) {
        for (Slot s : slots) {
            if (s.adapter.name().equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException(module + " has no adapter named \"" + name + "\"; it has " + names());
    }

    private List<String> names() {
        List<String> n = new ArrayList<>();
        for (Slot s : slots) {
            n.add(s.adapter.name());
        }
        return n;
    }

    /** All attached adapters in attach order. */
    public List<Adapter> adapters() {
        List<Adapter> l = new ArrayList<>();
        for (Slot s : slots) {
            l.add(s.adapter);
        }
        return Collections.unmodifiableList(l);
    }

    /** The adapter named {@code name}. */
    public Adapter adapter(String name) {
        return slot(name).adapter;
    }

    /** Sets the weight w of an adapter's delta (default 1). */
    public void setWeight(String name, float weight) {
        if (!Float.isFinite(weight)) {
            throw new IllegalArgumentException("adapter weight must be finite, got " + weight);
        }
        slot(name).weight = weight;
    }

    public float weight(String name) {
        return slot(name).weight;
    }

    /** Activates or deactivates an adapter (inactive ones add nothing and get no gradient). */
    public void setActive(String name, boolean active) {
        slot(name).active = active;
    }

    public boolean isActive(String name) {
        return slot(name).active;
    }

    /** The trainable parameters of the active adapters. */
    public List<Parameter> parameters() {
        List<Parameter> l = new ArrayList<>();
        for (Slot s : slots) {
            if (s.active) {
                l.addAll(s.adapter.parameters());
            }
        }
        return l;
    }

    /** Trainable scalars of the active adapters. */
    public long trainableParameterCount() {
        long n = 0;
        for (Slot s : slots) {
            if (s.active) {
                n += s.adapter.trainableParameterCount();
            }
        }
        return n;
    }

    // ---- forward / backward ----

    /** Inference forward (no dropout; DyLoRA at its inference rank): a new Y [n, out]. */
    public float[] forward(float[] x, int n) {
        return run(x, n, false, null).output;
    }

    /** Inference forward into Y [n, out] (overwritten). */
    public void forward(float[] x, int n, float[] y) {
        Objects.requireNonNull(y, "Y is null");
        if ((long) n * base.out != y.length) {
            throw new IllegalArgumentException(module + ": Y has " + y.length + " elements, expected [" + n + ", "
                    + base.out + "]");
        }
        run(x, n, false, y);
    }

    /**
     * Training forward (dropout active, DyLoRA samples its rank): the output and what {@link #backward} needs. X is
     * kept by reference (not copied; PaCA keeps only its columns): do not change it before backward.
     */
    public Activations train(float[] x, int n) {
        return run(x, n, true, null);
    }

    private Activations run(float[] x, int n, boolean training, float[] into) {
        Objects.requireNonNull(x, "X is null");
        if (n < 0) {
            throw new IllegalArgumentException("negative row count n = " + n);
        }
        if ((long) n * base.in != x.length) {
            throw new IllegalArgumentException(module + ": X has " + x.length + " elements, expected [" + n + ", "
                    + base.in + "] = " + (long) n * base.in);
        }
        float[] y = into != null ? into : new float[Math.multiplyExact(n, base.out)];
        base.linear.forward(x, n, y);
        Pass p = new Pass(base, x, n, training);
        boolean needBase = false;
        for (Slot s : slots) {
            needBase |= s.active && s.adapter.needsBaseOutput(training);
        }
        if (needBase) {
            float[] b0 = y.clone();
            float[] bias = base.linear.bias();
            if (bias != null) {
                for (int i = 0; i < n; i++) {
                    for (int o = 0; o < base.out; o++) {
                        b0[i * base.out + o] -= bias[o];
                    }
                }
            }
            p.baseOutput = b0;
        }
        List<Slot> used = new ArrayList<>();
        List<Object> saved = new ArrayList<>();
        for (Slot s : slots) {
            if (s.active) {
                Object st = s.adapter.forward(p, s.weight, y);
                used.add(s);
                saved.add(st);
            }
        }
        return new Activations(this, base, n, y, training ? used : List.of(), training ? saved : List.of());
    }

    /**
     * Backward of a {@link #train} pass for upstream dY [n, out]: accumulates every active adapter's parameter
     * gradients and returns dX [n, in] when {@code inputGradient}, else null (skipping the base's dY·W product).
     *
     * @throws IllegalArgumentException for a dY of the wrong length, or activations of another layer
     */
    public float[] backward(Activations act, float[] dy, boolean inputGradient) {
        Objects.requireNonNull(act, "activations");
        Objects.requireNonNull(dy, "dY is null");
        if (act.layer != this) {
            throw new IllegalArgumentException("activations come from another layer than " + module);
        }
        if (act.slots.isEmpty() && !inputGradient) {
            return null;
        }
        int n = act.n;
        if ((long) n * act.base.out != dy.length) {
            throw new IllegalArgumentException(module + ": dY has " + dy.length + " elements, expected [" + n + ", "
                    + act.base.out + "]");
        }
        float[] dx = null;
        if (inputGradient) {
            float[] dyBase = dy;
            for (int k = 0; k < act.slots.size(); k++) {
                Slot s = act.slots.get(k);
                if (s.adapter.changesBaseGradient(act.saved.get(k))) {
                    if (dyBase == dy) {
                        dyBase = dy.clone();
                    }
                    s.adapter.addBaseGradient(act.saved.get(k), dy, act.weights[k], dyBase);
                }
            }
            dx = new float[Math.multiplyExact(n, act.base.in)];
            act.base.weight().backwardInput(dyBase, n, dx);
        }
        for (int k = 0; k < act.slots.size(); k++) {
            act.slots.get(k).adapter.backward(act.base, act.saved.get(k), dy, act.weights[k], dx);
        }
        return dx;
    }

    /** The result of a forward pass in training mode. */
    public static final class Activations {
        final AdaptedLinear layer;
        final Base base;
        final int n;
        final float[] output;
        final List<Slot> slots;
        final List<Object> saved;
        final float[] weights;

        Activations(AdaptedLinear layer, Base base, int n, float[] output, List<Slot> slots, List<Object> saved) {
            this.layer = layer;
            this.base = base;
            this.n = n;
            this.output = output;
            this.slots = slots;
            this.saved = saved;
            this.weights = new float[slots.size()];
            for (int k = 0; k < weights.length; k++) {
                weights[k] = slots.get(k).weight;
            }
        }

        /** Y [n, out] (live). */
        public float[] output() {
            return output;
        }

        public int rows() {
            return n;
        }
    }

    // ---- merge ----

    /**
     * A new dense layer with W' = W + Σ w_k·ΔW_k of the active adapters, in the base's dtype.
     *
     * @throws IllegalStateException when the base is quantized: merging there needs a target format
     *     ({@link #merged(DType)}; re-quantize the result with a quantizer if a quantized merged layer is wanted)
     */
    public Linear merged() {
        if (!(base.weight() instanceof DenseWeight d)) {
            throw new IllegalStateException("merge on the quantized base " + base + " of " + module + " needs a target "
                    + "format: call merged(DType.F32 | F16 | BF16) and re-quantize the result if wanted");
        }
        return merged(d.tensor().dtype());
    }

    /**
     * A new dense layer with W' = W + Σ w_k·ΔW_k in {@code type} (F32, F16 or BF16; rounded to nearest even), same
     * bias. The low-rank deltas are added tile by tile while each tile of W is in cache.
     */
    public Linear merged(DType type) {
        float[] w = mergedWeights();
        checkDenseType(type);
        Tensor t = Tensor.ofFloats(type, w, Shape.of(base.out, base.in));
        return new Linear(DenseWeight.of(t).frozen(), base.linear.bias());
    }

    /** W' = W + Σ w_k·ΔW_k as a new row-major float array [out, in]. */
    public float[] mergedWeights() {
        float[] w = new float[Math.multiplyExact(base.out, base.in)];
        mergedWeights(w);
        return w;
    }

    /** W' = W + Σ w_k·ΔW_k into {@code w} (row-major [out, in], overwritten). */
    public void mergedWeights(float[] w) {
        int in = base.in, out = base.out;
        Objects.requireNonNull(w, "destination");
        if ((long) out * in != w.length) {
            throw new IllegalArgumentException(module + ": merge destination has " + w.length + " elements, expected ["
                    + out + ", " + in + "]");
        }
        List<Slot> rest = new ArrayList<>();
        List<Slot> tiled = new ArrayList<>();
        for (Slot s : slots) {
            if (s.active) {
                (s.adapter.mergesByRows() ? tiled : rest).add(s);
            }
        }
        int grain = Math.max(8, Math.min(256, (1 << 16) / Math.max(1, in)));
        Parallel.forRange(0, out, grain, (r0, r1) -> {
            int a = (int) r0, b = (int) r1;
            base.rows(a, b, w, a * in);
            for (Slot s : tiled) {
                s.adapter.mergeRows(a, b, w, a * in, s.weight);
            }
        });
        if (!rest.isEmpty()) {
            float[] w0 = base.weight().toFloats();
            for (Slot s : rest) {
                s.adapter.mergeInto(base, w0, w, s.weight);
            }
        }
    }

    /**
     * The inverse of {@link #merged}: from a merged layer W' (e.g. loaded from a file), W = W' − Σ w_k·ΔW_k of the
     * active adapters, as a dense layer of W's dtype. Additive deltas (LoRA, SORSA, DyLoRA, Bone, PaCA) are subtracted;
     * one base-dependent adapter (DoRA, Bone-bat) is inverted exactly (DoRA: W = (W' − w·c·s·B·A)/(1 − w + w·c) per
     * row with the norms of the merge; bat: W_ij = (W'_ij − w·B_i)(I + w·B_i)⁻¹).
     *
     * <p><b>Low precision.</b> The result is not W bit for bit: in F32 each element carries the rounding of the
     * merge and of this subtraction (about 2u·(|W| + |ΔW|), u = 2⁻²⁴), in F16/BF16 the merged weight already lost
     * W's low bits (u = 2⁻¹¹ / 2⁻⁸), and an inversion amplifies by the condition of (I + B_i) or 1/c. This layer
     * always keeps the exact original in {@link #base()}.
     *
     * @throws IllegalStateException with two or more base-dependent adapters active (their composition has no
     *     closed-form inverse here)
     */
    public Linear unmerge(Linear merged) {
        Objects.requireNonNull(merged, "merged layer");
        if (merged.inFeatures() != base.in || merged.outFeatures() != base.out) {
            throw new IllegalArgumentException("merged layer " + merged + " does not have the shape [" + base.out + ", "
                    + base.in + "] of " + module);
        }
        float[] w = merged.weight().toFloats();
        Slot dependent = null;
        for (Slot s : slots) {
            if (s.active && s.adapter.deltaDependsOnBase()) {
                if (dependent != null) {
                    throw new IllegalStateException("cannot unmerge " + module + ": two base-dependent adapters ("
                            + dependent.adapter + ", " + s.adapter + ") are active");
                }
                dependent = s;
            }
        }
        for (int k = slots.size() - 1; k >= 0; k--) {
            Slot s = slots.get(k);
            if (s.active && s != dependent) {
                s.adapter.unmergeFrom(base, w, s.weight);
            }
        }
        if (dependent != null) {
            dependent.adapter.unmergeFrom(base, w, dependent.weight);
        }
        DType t = merged.weight() instanceof DenseWeight d ? d.tensor().dtype() : DType.F32;
        Tensor tw = Tensor.ofFloats(t, w, Shape.of(base.out, base.in));
        return new Linear(DenseWeight.of(tw).frozen(), base.linear.bias());
    }

    private static void checkDenseType(DType type) {
        if (type != DType.F32 && type != DType.F16 && type != DType.BF16) {
            throw new IllegalArgumentException("merge target must be F32, F16 or BF16, got " + type);
        }
    }

    /** Whether the base is a quantized layout. */
    public boolean quantizedBase() {
        return base.weight() instanceof QuantizedWeight;
    }

    @Override
    public String toString() {
        return "AdaptedLinear[" + module + ", " + base + ", adapters " + names() + "]";
    }
}

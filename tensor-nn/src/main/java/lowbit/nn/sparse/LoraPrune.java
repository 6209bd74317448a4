package lowbit.nn.sparse;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import lowbit.nn.adapter.AdaptedLinear;
import lowbit.nn.adapter.LoraAdapter;
import lowbit.tensor.linalg.Gemm;

/**
 * LoRAPrune (Zhang et al. 2024, "LoRAPrune: Structured Pruning Meets Low-Rank Parameter-Efficient Fine-Tuning"):
 * structured pruning during LoRA fine-tuning, with the importance of a channel or head estimated from the LoRA
 * weights and their gradients only — no gradient of the frozen W is formed.
 *
 * <p>For a layer y = x·(W + s·B·A)ᵀ with LoRA gradients G_A = dL/dA, G_B = dL/dB, the weight gradient is estimated
 * as G ≈ G_B·A + B·G_A − G_B·G_A, and the element importance is |G ⊙ (W + s·B·A)|. A {@link Unit} (the heads of an
 * attention block, the channels of an FFN) sums it over its groups: rows for the layers that produce the channels
 * (query/key/value, up/gate), columns for the one that consumes them (output, down), each layer's group vector
 * normalised to unit L2 norm (+1e-8) before the sum. Across steps the importance is a moving average
 * I ← 0.9·I + 0.1·I_step (from 0; a step whose importance has a NaN is skipped), and {@link #prune} removes, in every
 * unit, the ⌊groups·ratio⌋ lowest groups (already pruned ones first), with the ratio following
 * {@link #schedule} (cubic, after a warm-up, until a cool-down). Pruned groups are masked by the caller on the
 * producing layers' outputs ({@link #applyMask}), as the reference multiplies them by {@code lora_mask}.
 *
 * <p>Confirmed against aim-uofa/LoRAPrune ({@code loraprune/utils.py}: {@code compute_sensitivity} with the −G_B·G_A
 * term and the norm, {@code update_sensitivity_dict} 0.9/0.1, {@code local_prune}, {@code schedule_sparsity_ratio};
 * {@code pruning_groups}: q/k/v/o per head, o and down transposed). Not thread-safe (it follows one training loop).
 */
public final class LoraPrune {
    /** Whether a layer produces a unit's channels (its rows) or consumes them (its columns). */
    public enum Side { ROWS, COLUMNS }

    /** The moving-average weight of the past (the reference's 0.9). */
    public static final double BETA = 0.9;

    /** Channels or heads shared by several adapted layers, pruned together. */
    public static final class Unit {
        private final String name;
        private final int groups;
        private final int groupSize;
        private final List<AdaptedLinear> layers = new ArrayList<>();
        private final List<LoraAdapter> adapters = new ArrayList<>();
        private final List<Side> sides = new ArrayList<>();
        private final double[] importance;
        private final boolean[] kept;

        Unit(String name, int groups, int groupSize) {
            this.name = name;
            this.groups = groups;
            this.groupSize = groupSize;
            this.importance = new double[groups];
            this.kept = new boolean[groups];
            java.util.Arrays.fill(kept, true);
        }

        /**
         * Adds a layer whose rows ({@link Side#ROWS}) or columns carry this unit's channels.
         *
         * @throws IllegalArgumentException when that dimension is not groups·groupSize
         */
        public Unit add(AdaptedLinear layer, LoraAdapter lora, Side side) {
            Objects.requireNonNull(layer, "layer");
            Objects.requireNonNull(lora, "lora adapter");
            Objects.requireNonNull(side, "side");
            int dim = side == Side.ROWS ? layer.outFeatures() : layer.inFeatures();
            if (dim != groups * groupSize) {
                throw new IllegalArgumentException("unit " + name + " has " + groups + " groups of " + groupSize
                        + " channels, but " + layer.module() + " has " + dim + " " + (side == Side.ROWS ? "outputs"
                        : "inputs"));
            }
            if (!layer.adapters().contains(lora)) {
                throw new IllegalArgumentException(lora + " is not attached to " + layer.module());
            }
            layers.add(layer);
            adapters.add(lora);
            sides.add(side);
            return this;
        }

        public String name() {
            return name;
        }

        public int groups() {
            return groups;
        }

        public int groupSize() {
            return groupSize;
        }

        /** The moving-average importance per group (a copy). */
        public double[] importance() {
            return importance.clone();
        }

        /** Which groups are kept (a copy). */
        public boolean[] kept() {
            return kept.clone();
        }

        /** Kept groups. */
        public int keptCount() {
            int c = 0;
            for (boolean k : kept) {
                if (k) {
                    c++;
                }
            }
            return c;
        }

        /** 1 for a kept channel, 0 for a pruned one (groups·groupSize entries). */
        public float[] channelMask() {
            float[] m = new float[groups * groupSize];
            for (int g = 0; g < groups; g++) {
                java.util.Arrays.fill(m, g * groupSize, (g + 1) * groupSize, kept[g] ? 1f : 0f);
            }
            return m;
        }

        /** The weight mask of member layer {@code i} (whole rows or columns). */
        public PruningMask mask(int i) {
            AdaptedLinear l = layers.get(i);
            boolean[] ch = StructuredScores.expand(kept, groupSize);
            return sides.get(i) == Side.ROWS ? Masks.rows(ch, l.outFeatures(), l.inFeatures())
                    : Masks.columns(ch, l.outFeatures(), l.inFeatures());
        }

        /** Member layers in the order added. */
        public List<AdaptedLinear> layers() {
            return List.copyOf(layers);
        }
    }

    private final List<Unit> units = new ArrayList<>();

    /** A new unit of {@code groups} groups of {@code groupSize} channels (heads: groups = heads, size = head_dim). */
    public Unit unit(String name, int groups, int groupSize) {
        if (groups < 1 || groupSize < 1) {
            throw new IllegalArgumentException("unit " + name + " needs >= 1 group of >= 1 channel, got " + groups + "x"
                    + groupSize);
        }
        Unit u = new Unit(name, groups, groupSize);
        units.add(u);
        return u;
    }

    public List<Unit> units() {
        return List.copyOf(units);
    }

    /**
     * The group importance of one layer from its LoRA weights and current gradients: Σ over each group's rows (or
     * columns) of |(G_B·A + B·G_A − G_B·G_A) ⊙ (W + s·B·A)|, divided by its L2 norm + 1e-8 when {@code normalize}.
     */
    public static double[] sensitivity(AdaptedLinear layer, LoraAdapter lora, Side side, int groupSize,
            boolean normalize) {
        int out = layer.outFeatures(), in = layer.inFeatures(), r = lora.rank();
        float[] a = lora.a().data(), b = lora.b().data(), ga = lora.a().grad(), gb = lora.b().grad();
        float[] g = new float[out * in];
        Gemm.gemm(false, false, out, in, r, 1f, gb, 0, r, a, 0, in, 0f, g, 0, in);
        Gemm.gemm(false, false, out, in, r, 1f, b, 0, r, ga, 0, in, 1f, g, 0, in);
        Gemm.gemm(false, false, out, in, r, -1f, gb, 0, r, ga, 0, in, 1f, g, 0, in);
        float[] w = layer.base().weight().toFloats();
        Gemm.gemm(false, false, out, in, r, lora.scaling(), b, 0, r, a, 0, in, 1f, w, 0, in);
        int dim = side == Side.ROWS ? out : in;
        if (dim % groupSize != 0) {
            throw new IllegalArgumentException("group size " + groupSize + " does not divide " + dim);
        }
        double[] s = new double[dim / groupSize];
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < in; j++) {
                double v = Math.abs((double) g[o * in + j] * w[o * in + j]);
                s[(side == Side.ROWS ? o : j) / groupSize] += v;
            }
        }
        if (normalize) {
            double norm = 0;
            for (double v : s) {
                norm += v * v;
            }
            norm = Math.sqrt(norm) + 1e-8;
            for (int i = 0; i < s.length; i++) {
                s[i] /= norm;
            }
        }
        return s;
    }

    /**
     * Folds the current LoRA gradients into every unit's moving average (call after backward, before the optimizer
     * step). Returns false when a unit's step importance had a NaN (that unit is left unchanged).
     */
    public boolean update() {
        boolean ok = true;
        for (Unit u : units) {
            double[] step = new double[u.groups];
            for (int i = 0; i < u.layers.size(); i++) {
                double[] s = sensitivity(u.layers.get(i), u.adapters.get(i), u.sides.get(i), u.groupSize, true);
                for (int g = 0; g < u.groups; g++) {
                    step[g] += s[g];
                }
            }
            boolean finite = true;
            for (double v : step) {
                finite &= !Double.isNaN(v);
            }
            if (!finite) {
                ok = false;
                continue;
            }
            for (int g = 0; g < u.groups; g++) {
                u.importance[g] = BETA * u.importance[g] + (1 - BETA) * step[g];
            }
        }
        return ok;
    }

    /**
     * In every unit keep all but ⌊groups·ratio⌋ groups: the highest moving-average importance among the groups still
     * kept (pruned groups stay pruned; ties keep the lower index).
     *
     * @throws IllegalArgumentException for a ratio outside [0, 1)
     */
    public void prune(double ratio) {
        Masks.checkSparsity(ratio);
        for (Unit u : units) {
            int need = (int) (u.groups * ratio);
            float[] score = new float[u.groups];
            for (int g = 0; g < u.groups; g++) {
                score[g] = u.kept[g] ? (float) u.importance[g] : Float.NEGATIVE_INFINITY;
            }
            boolean[] keep = StructuredScores.keepTop(score, u.groups - Math.max(need, u.groups - u.keptCount()));
            System.arraycopy(keep, 0, u.kept, 0, u.groups);
        }
    }

    /**
     * Multiplies Y [n, groups·groupSize] (the output of a unit's producing layer) by the unit's channel mask.
     *
     * @throws IllegalArgumentException when Y's length is not a multiple of the channel count
     */
    public static void applyMask(Unit u, float[] y, int n) {
        int c = u.groups * u.groupSize;
        if (y.length != (long) n * c) {
            throw new IllegalArgumentException("Y has " + y.length + " values, expected [" + n + ", " + c + "]");
        }
        for (int i = 0; i < n; i++) {
            for (int g = 0; g < u.groups; g++) {
                if (!u.kept[g]) {
                    java.util.Arrays.fill(y, i * c + g * u.groupSize, i * c + (g + 1) * u.groupSize, 0f);
                }
            }
        }
    }

    /**
     * The reference's sparsity schedule: {@code initial} during the first {@code warmup}·T steps, {@code target}
     * during the last {@code cooldown}·T, and in between final + (initial − final)·(1 − (t − w)/(T − w − c))³ with
     * w = warmup·T, c = cooldown·T.
     */
    public static double schedule(long step, long total, double warmup, double cooldown, double initial,
            double target) {
        double w = warmup * total;
        if (step <= w) {
            return initial;
        }
        if (step > total - cooldown * total) {
            return target;
        }
        double mul = 1 - (step - w) / (total - (cooldown + warmup) * total);
        return target + (initial - target) * mul * mul * mul;
    }
}

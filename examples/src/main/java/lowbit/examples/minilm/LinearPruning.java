package lowbit.examples.minilm;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.nn.sparse.Magnitude;
import lowbit.nn.sparse.Masks;
import lowbit.nn.sparse.NmPattern;
import lowbit.nn.sparse.PruningCriterion;
import lowbit.nn.sparse.PruningMask;
import lowbit.nn.sparse.Ria;
import lowbit.nn.sparse.SparseGpt;
import lowbit.nn.sparse.Wanda;
import lowbit.quant.CalibrationCollector;
import lowbit.quant.CalibrationStats;
import lowbit.tensor.DType;

/**
 * Pruning a model's Linear layers with {@code lowbit.nn.sparse}, as replacement maps for
 * {@link EmbeddingEvaluation#score(Map)} and {@link MiniLm#withWeights}: any criterion (magnitude, Wanda, RIA) or
 * SparseGPT, to an N:M pattern (stored compressed, {@link lowbit.tensor.layout.NmSparseMatrix}) or to unstructured
 * sparsity (a dense weight with zeros).
 * <pre>{@code
 * Map<String, LinearWeight> w = LinearPruning.sequential(model, Method.SPARSEGPT, Target.nm(NmPattern.TWO_FOUR),
 *         Corpus.calibration());
 * double cos = eval.score(w).mean();
 * }</pre>
 * {@link #sequential} is how the Wanda and SparseGPT scripts calibrate: transformer layer by transformer layer, each
 * layer's inputs captured on the model whose earlier layers are already pruned. {@link #oneShot} uses the dense
 * model's inputs for every layer (cheaper: one capture).
 */
public final class LinearPruning {
    private LinearPruning() {
    }

    /** The pruning methods of the quality table. */
    public enum Method {
        MAGNITUDE, WANDA, RIA, SPARSEGPT;

        /** The lower-case name used in tables. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * What to prune to: an N:M pattern, or a fraction of every row (criteria; Wanda's per-output comparison) and of
     * every block of SparseGPT's sweep.
     *
     * @param pattern the pattern, or null for unstructured
     * @param sparsity the unstructured fraction (ignored for a pattern)
     */
    public record Target(NmPattern pattern, double sparsity) {
        public static Target nm(NmPattern p) {
            return new Target(Objects.requireNonNull(p, "pattern"), p.sparsity());
        }

        public static Target unstructured(double s) {
            return new Target(null, s);
        }

        @Override
        public String toString() {
            return pattern != null ? pattern.toString() : Math.round(sparsity * 100) + "% unstructured";
        }
    }

    /** The mask a criterion chooses for one layer (null stats for magnitude). */
    public static PruningMask mask(Linear l, Method m, Target t, CalibrationStats stats) {
        PruningCriterion c = switch (m) {
            case MAGNITUDE -> Magnitude.get();
            case WANDA -> Wanda.get();
            case RIA -> Ria.get();
            case SPARSEGPT -> throw new IllegalArgumentException("SparseGPT chooses its mask in its sweep");
        };
        float[] w = l.weight().toFloats();
        float[] s = c.scores(w, l.outFeatures(), l.inFeatures(), stats);
        return t.pattern() != null ? Masks.nm(s, l.outFeatures(), l.inFeatures(), t.pattern())
                : Masks.perRow(s, l.outFeatures(), l.inFeatures(), t.sparsity());
    }

    /** One layer pruned: the compressed N:M layout or a dense weight with zeros. */
    public static LinearWeight prune(Linear l, Method m, Target t, CalibrationStats stats) {
        float[] w = l.weight().toFloats();
        int out = l.outFeatures(), in = l.inFeatures();
        if (m == Method.SPARSEGPT) {
            SparseGpt.Result r = t.pattern() != null ? SparseGpt.defaults().nm(w, out, in, stats, t.pattern())
                    : SparseGpt.defaults().unstructured(w, out, in, stats, t.sparsity());
            return r.weight();
        }
        PruningMask mask = mask(l, m, t, stats);
        return t.pattern() != null ? LinearWeight.of(mask.compress(w, t.pattern(), DType.F32))
                : LinearWeight.of(mask.apply(w), out, in);
    }

    /** Every layer in {@code names} pruned with the dense model's input statistics. */
    public static Map<String, LinearWeight> oneShot(MiniLm model, List<String> names, Method m, Target t,
            LinearInputs calib) {
        Map<String, LinearWeight> out = new LinkedHashMap<>();
        for (String name : names) {
            Linear l = model.encoder().linear(name);
            out.put(name, prune(l, m, t, stats(calib, name, m == Method.SPARSEGPT)));
        }
        return out;
    }

    /**
     * All 36 Linear layers pruned transformer layer by transformer layer, each layer's statistics from the model
     * whose earlier layers are already pruned (the reference scripts' sequential calibration).
     */
    public static Map<String, LinearWeight> sequential(MiniLm model, Method m, Target t, List<String> sentences) {
        Map<String, LinearWeight> done = new LinkedHashMap<>();
        int layers = model.encoder().config().layers();
        for (int layer = 0; layer < layers; layer++) {
            List<String> names = new ArrayList<>();
            for (String role : BertEncoder.ROLES) {
                names.add("layer." + layer + "." + role);
            }
            LinearInputs calib = m == Method.MAGNITUDE ? null : LinearInputs.capture(model.withWeights(done), sentences);
            for (String name : names) {
                Linear l = model.encoder().linear(name);
                done.put(name, prune(l, m, t, calib == null ? null : stats(calib, name, m == Method.SPARSEGPT)));
            }
        }
        return done;
    }

    /**
     * The statistics of a layer's captured inputs: mean |x|, mean x², mean x per channel and, with {@code hessian},
     * H = 2XᵀX/N, from tensor-quant's {@link CalibrationCollector} (the Hessian on the float GEMM, summed in double).
     */
    public static CalibrationStats stats(LinearInputs calib, String name, boolean hessian) {
        if (calib == null) {
            return null;
        }
        int in = calib.in(name);
        CalibrationCollector c = hessian ? CalibrationCollector.withHessian(in) : CalibrationCollector.withoutHessian(in);
        c.add(calib.rows(name), calib.tokens());
        return c.snapshot();
    }
}

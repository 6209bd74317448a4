package lowbit.examples.minilm;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.quant.AdaDim;
import lowbit.quant.ClipSearch;
import lowbit.quant.DualScale;
import lowbit.quant.EasyQuant;
import lowbit.quant.FineQuant;
import lowbit.quant.HadamardQuantizer;
import lowbit.quant.Hqq;
import lowbit.quant.QuantResult;
import lowbit.quant.Quantizer;
import lowbit.quant.Rtn;
import lowbit.tensor.layout.AffineSpec;

/**
 * The data-free quantizers' embedding-quality table on all-MiniLM-L6-v2: for each method and each spec (asymmetric,
 * groups along in), all 36 Linear layers are quantized and the model embeds the {@link Corpus#evaluation()} sentences;
 * the cell is the mean cosine to the fp32 embeddings ({@link EmbeddingEvaluation}). Results with an
 * {@link lowbit.quant.InputTransform} (rotations, channel scales) run as their effective weight Ŵ'·R·diag(m) in
 * F32, which is numerically what applying the transform to x gives; the others run their quantized layout directly.
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp ... lowbit.examples.minilm.QuantizerTable
 * </pre>
 * prints the markdown table (and the seconds each configuration took).
 */
public final class QuantizerTable {
    private QuantizerTable() {
    }

    /** The specs of the table's columns: w4 g128, w4 g32, w3 g128, w2 g32 (asymmetric u-codes, F32 scales). */
    public static List<AffineSpec> specs() {
        return List.of(AffineSpec.groupsAlongIn(4, 128, false), AffineSpec.groupsAlongIn(4, 32, false),
                AffineSpec.groupsAlongIn(3, 128, false), AffineSpec.groupsAlongIn(2, 32, false));
    }

    /**
     * The table's rows: every data-free method; AdaDim choosing per matrix between EasyQuant on per-output-channel
     * groups and EasyQuant on per-input-channel groups (by weight MSE); rotation combined with the range methods.
     */
    public static Map<String, Quantizer> methods() {
        Map<String, Quantizer> m = new LinkedHashMap<>();
        m.put("rtn", Rtn.asymmetric());
        m.put("clip", ClipSearch.defaults());
        m.put("easyquant", EasyQuant.defaults());
        m.put("hqq", Hqq.defaults());
        m.put("adadim", AdaDim.defaults());
        m.put("finequant", FineQuant.defaults());
        m.put("d2quant", DualScale.defaults());
        m.put("adadim+easyquant", AdaDim.of(EasyQuant.defaults(), AdaDim.Mode.ADAPTIVE));
        m.put("hadamard+rtn", HadamardQuantizer.of(Rtn.asymmetric(), 1));
        m.put("hadamard+clip", HadamardQuantizer.of(ClipSearch.defaults(), 1));
        m.put("hadamard+hqq", HadamardQuantizer.of(Hqq.defaults(), 1));
        m.put("hadamard+easyquant", HadamardQuantizer.of(EasyQuant.defaults(), 1));
        return m;
    }

    /** Every Linear of {@code model} quantized with {@code q}; transformed results as their effective weight. */
    public static Map<String, LinearWeight> quantizeAll(MiniLm model, Quantizer q, AffineSpec spec) {
        Map<String, LinearWeight> out = new LinkedHashMap<>();
        for (Map.Entry<String, Linear> e : model.encoder().linears().entrySet()) {
            Linear l = e.getValue();
            int rows = l.outFeatures();
            int cols = l.inFeatures();
            QuantResult r = q.quantize(l.weight().toFloats(), rows, cols, spec);
            if (r.transform().outputBias() != null) {
                throw new IllegalArgumentException(q.name() + " returned an output bias for " + e.getKey()
                        + "; the table runs data-free methods only");
            }
            out.put(e.getKey(), r.transform().changesInput() ? LinearWeight.of(r.effectiveWeight(), rows, cols)
                    : LinearWeight.of(r.matrix()));
        }
        return out;
    }

    /** One cell: mean cosine (and the worst sentence) of {@code q} at {@code spec}, and the seconds it took. */
    public record Cell(String method, AffineSpec spec, EmbeddingEvaluation.Score score, double quantizeSeconds,
            double embedSeconds) {
    }

    /** Every method × spec, in order. */
    public static List<Cell> run(EmbeddingEvaluation eval, Map<String, Quantizer> methods, List<AffineSpec> specs,
            boolean log) {
        Objects.requireNonNull(eval, "eval");
        List<Cell> cells = new ArrayList<>();
        for (Map.Entry<String, Quantizer> m : methods.entrySet()) {
            for (AffineSpec spec : specs) {
                long t0 = System.nanoTime();
                Map<String, LinearWeight> q = quantizeAll(eval.reference(), m.getValue(), spec);
                long t1 = System.nanoTime();
                EmbeddingEvaluation.Score s = eval.score(q);
                long t2 = System.nanoTime();
                Cell c = new Cell(m.getKey(), spec, s, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
                cells.add(c);
                if (log) {
                    System.out.printf(Locale.ROOT, "%-20s %-22s %s  (quantize %.1f s, embed %.1f s)%n", c.method(),
                            spec.describe(), s, c.quantizeSeconds(), c.embedSeconds());
                }
            }
        }
        return cells;
    }

    /** The markdown table of {@code cells} (methods as rows, specs as columns, mean cosine). */
    public static String markdown(List<Cell> cells, List<AffineSpec> specs) {
        StringBuilder b = new StringBuilder("| method |");
        for (AffineSpec s : specs) {
            b.append(' ').append(label(s)).append(" |");
        }
        b.append("\n| --- |");
        b.append(" --- |".repeat(specs.size()));
        b.append('\n');
        Map<String, Map<AffineSpec, Cell>> byMethod = new LinkedHashMap<>();
        for (Cell c : cells) {
            byMethod.computeIfAbsent(c.method(), k -> new LinkedHashMap<>()).put(c.spec(), c);
        }
        for (Map.Entry<String, Map<AffineSpec, Cell>> e : byMethod.entrySet()) {
            b.append("| ").append(e.getKey()).append(" |");
            for (AffineSpec s : specs) {
                Cell c = e.getValue().get(s);
                b.append(c == null ? " |" : String.format(Locale.ROOT, " %.4f |", c.score().mean()));
            }
            b.append('\n');
        }
        return b.toString();
    }

    /** "w4 g128" for an asymmetric 4-bit spec with groups of 128 along in. */
    static String label(AffineSpec s) {
        return "w" + s.bits() + (s.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN ? " g" + s.groupSize() : " "
                + s.granularity().name().toLowerCase(Locale.ROOT));
    }

    /** Prints the table for every method (or the methods named in args) on the evaluation sentences. */
    public static void main(String[] args) {
        long t0 = System.nanoTime();
        MiniLm model = MiniLm.load();
        EmbeddingEvaluation eval = new EmbeddingEvaluation(model, Corpus.evaluation());
        System.out.printf(Locale.ROOT, "model loaded and %d reference embeddings in %.1f s%n", eval.sentences().size(),
                (System.nanoTime() - t0) / 1e9);
        Map<String, Quantizer> methods = methods();
        if (args.length > 0) {
            Map<String, Quantizer> chosen = new LinkedHashMap<>();
            for (String a : args) {
                Quantizer q = methods.get(a);
                if (q == null) {
                    throw new IllegalArgumentException("unknown method '" + a + "', expected one of " + methods.keySet());
                }
                chosen.put(a, q);
            }
            methods = chosen;
        }
        List<Cell> cells = run(eval, methods, specs(), true);
        System.out.println();
        System.out.print(markdown(cells, specs()));
        System.out.printf(Locale.ROOT, "total %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }
}

package lowbit.examples.minilm;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.quant.CalibrationCollector;
import lowbit.quant.QuantResult;
import lowbit.quant.Quantizer;
import lowbit.tensor.layout.AffineSpec;

/**
 * Quantizes every Linear layer of a {@link MiniLm} with a calibration-aware {@link Quantizer}, collecting each layer's
 * input statistics with {@link CalibrationCollector} (Hessian included) over a calibration corpus.
 * <ul>
 *   <li>{@link Order#PARALLEL}: one pass of the fp32 model; every layer is calibrated on fp32 inputs.</li>
 *   <li>{@link Order#SEQUENTIAL}: in forward order, each layer is calibrated on the inputs it receives when all the
 *       layers before it are already quantized (GPTQ's sequential mode, made per Linear: for each transformer layer
 *       four stages — query/key/value (one shared input), attention output, FFN up, FFN down — 24 passes over the
 *       corpus), so later layers learn to compensate the errors of earlier ones.</li>
 * </ul>
 * Results with an input transform (AWQ scales, rotations) become {@link TransformedWeight}s, applied at inference.
 */
public final class SequentialQuantization {
    /** When each layer's statistics are collected. */
    public enum Order {
        /** All layers from the fp32 model's inputs. */
        PARALLEL,
        /** Each layer from the inputs of the partly quantized model. */
        SEQUENTIAL
    }

    /** The quantized weights (by layer name, forward order) and each layer's result. */
    public record Result(Map<String, LinearWeight> weights, Map<String, QuantResult> results) {
    }

    private SequentialQuantization() {
    }

    /**
     * Quantizes all 36 Linears of {@code model}.
     *
     * @param quantizerFor the quantizer of each layer (by name)
     * @param spec the layout of every layer
     */
    public static Result run(MiniLm model, List<String> calibration, Function<String, Quantizer> quantizerFor,
            AffineSpec spec, Order order) {
        Objects.requireNonNull(model, "model is null");
        Objects.requireNonNull(calibration, "calibration is null");
        List<String> names = model.encoder().linearNames();
        Map<String, LinearWeight> weights = new LinkedHashMap<>();
        Map<String, QuantResult> results = new LinkedHashMap<>();
        List<List<String>> stages = new ArrayList<>();
        if (order == Order.PARALLEL) {
            stages.add(names);
        } else {
            for (int l = 0; l < model.encoder().config().layers(); l++) {
                String p = "layer." + l + ".";
                stages.add(List.of(p + "attention.query", p + "attention.key", p + "attention.value"));
                stages.add(List.of(p + "attention.output"));
                stages.add(List.of(p + "ffn.up"));
                stages.add(List.of(p + "ffn.down"));
            }
        }
        for (List<String> stage : stages) {
            Map<String, CalibrationCollector> stats = collect(model.withWeights(weights), calibration, stage);
            for (String name : stage) {
                Linear l = model.encoder().linear(name);
                QuantResult r = quantizerFor.apply(name).quantize(l.weight().toFloats(), l.outFeatures(),
                        l.inFeatures(), spec, stats.get(name));
                results.put(name, r);
                weights.put(name, TransformedWeight.of(r));
            }
        }
        return new Result(weights, results);
    }

    /**
     * Streams the inputs of {@code names} (real tokens only) into one collector each; layers that read the very same
     * input array in a forward pass (query, key and value) share a collector. A batch's forward pass is abandoned
     * once every layer of {@code names} has seen its input (the encoder has no partial forward, so the observer
     * ends it with a private exception): the later layers' outputs are not needed.
     */
    static Map<String, CalibrationCollector> collect(MiniLm model, List<String> sentences, List<String> names) {
        Map<String, CalibrationCollector> out = new LinkedHashMap<>();
        Object[] last = new Object[2];
        java.util.Set<String> seen = new java.util.HashSet<>();
        LinearInputObserver obs = (name, x, in, mask) -> {
            if (!names.contains(name)) {
                return;
            }
            seen.add(name);
            CalibrationCollector c = out.get(name);
            if (last[0] == x && last[1] != null) {
                out.putIfAbsent(name, (CalibrationCollector) last[1]);
            } else {
                if (c == null) {
                    c = CalibrationCollector.withHessian(in);
                    out.put(name, c);
                }
                c.addMasked(x, mask.length, mask);
                last[0] = x;
                last[1] = c;
            }
            if (seen.size() == names.size()) {
                throw StopForward.INSTANCE;
            }
        };
        for (int s = 0; s < sentences.size(); s += MiniLm.BATCH) {
            List<int[]> ids = new ArrayList<>();
            for (String t : sentences.subList(s, Math.min(sentences.size(), s + MiniLm.BATCH))) {
                ids.add(model.tokenizer().encode(t));
            }
            last[0] = null;
            last[1] = null;
            seen.clear();
            try {
                model.embedIds(ids, obs);
            } catch (StopForward stop) {
                // every layer of the stage has its inputs for this batch
            }
        }
        return out;
    }

    /** Ends a calibration forward pass early (no stack trace: it is control flow, not an error). */
    private static final class StopForward extends RuntimeException {
        private static final long serialVersionUID = 1L;
        static final StopForward INSTANCE = new StopForward();

        private StopForward() {
            super("calibration pass complete", null, false, false);
        }
    }
}

package lowbit.examples.minilm;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import lowbit.quant.ArrayCalibrationStats;
import lowbit.quant.CalibrationStats;

/**
 * The inputs of every Linear layer of a model over a list of calibration sentences: for each layer name a matrix
 * X [tokens, in] of the activations that entered it, padding positions excluded, tokens in sentence order. This is
 * what data-aware quantizers and pruners need: GPTQ's H = 2·XᵀX, AWQ's per-channel mean |x|, Wanda's ‖X[:, j]‖₂.
 *
 * <p>The query, key and value projections of a layer read the same input, so they share one array (capture costs
 * about tokens·(4·hidden + intermediate)·4 bytes per transformer layer: 2 MB per 1000 tokens for MiniLM-L6).
 * <pre>{@code
 * LinearInputs calib = LinearInputs.capture(MiniLm.load(), Corpus.calibration());
 * float[] x = calib.rows("layer.3.ffn.down");     // [calib.tokens(), 1536]
 * CalibrationStats s = calib.stats("layer.3.ffn.down", true);   // mean |x|, mean x², H = 2XᵀX/N
 * }</pre>
 */
public final class LinearInputs {
    private final int tokens;
    private final Map<String, float[]> rows;
    private final Map<String, Integer> widths;

    private LinearInputs(int tokens, Map<String, float[]> rows, Map<String, Integer> widths) {
        this.tokens = tokens;
        this.rows = Collections.unmodifiableMap(rows);
        this.widths = Collections.unmodifiableMap(widths);
    }

    /**
     * Runs {@code model} over {@code sentences} (in batches, as {@link MiniLm#embed(List)} does) and keeps the input
     * of every Linear layer at every real token.
     */
    public static LinearInputs capture(MiniLm model, List<String> sentences) {
        Objects.requireNonNull(model, "model is null");
        Objects.requireNonNull(sentences, "sentences is null");
        Map<String, List<float[]>> parts = new LinkedHashMap<>();
        Map<String, Integer> widths = new LinkedHashMap<>();
        // The encoder reuses its work arrays across layers, so an input is recognised as "the same as the previous
        // call" only when it is the very array of the call just before (query, key and value are observed one after
        // another on one array; every other call in between passes a different array).
        Object[] last = new Object[2];
        LinearInputObserver obs = (name, x, in, mask) -> {
            float[] copy = last[0] == x ? (float[]) last[1] : null;
            if (copy == null) {
                int real = 0;
                for (int m : mask) {
                    real += m;
                }
                copy = new float[real * in];
                int at = 0;
                for (int t = 0; t < mask.length; t++) {
                    if (mask[t] == 1) {
                        System.arraycopy(x, t * in, copy, at, in);
                        at += in;
                    }
                }
                last[0] = x;
                last[1] = copy;
            }
            parts.computeIfAbsent(name, k -> new ArrayList<>()).add(copy);
            widths.put(name, in);
        };
        int tokens = 0;
        for (int s = 0; s < sentences.size(); s += MiniLm.BATCH) {
            List<int[]> ids = new ArrayList<>();
            for (String t : sentences.subList(s, Math.min(sentences.size(), s + MiniLm.BATCH))) {
                int[] e = model.tokenizer().encode(Objects.requireNonNull(t, "a sentence is null"));
                ids.add(e);
                tokens += e.length;
            }
            last[0] = null;
            model.embedIds(ids, obs);
        }
        // concatenate each layer's parts; lists that start with the same part array (q/k/v) share the result
        Map<float[], float[]> byFirst = new IdentityHashMap<>();
        Map<String, float[]> rows = new LinkedHashMap<>();
        for (var e : parts.entrySet()) {
            List<float[]> list = e.getValue();
            float[] whole = byFirst.get(list.get(0));
            if (whole == null) {
                whole = new float[tokens * widths.get(e.getKey())];
                int at = 0;
                for (float[] p : list) {
                    System.arraycopy(p, 0, whole, at, p.length);
                    at += p.length;
                }
                byFirst.put(list.get(0), whole);
            }
            rows.put(e.getKey(), whole);
        }
        return new LinearInputs(tokens, rows, widths);
    }

    /** Real tokens captured ([CLS] and [SEP] included). */
    public int tokens() {
        return tokens;
    }

    /** Layer names, in forward order. */
    public List<String> names() {
        return List.copyOf(rows.keySet());
    }

    /**
     * X [tokens, in] of layer {@code name} (shared, do not modify; query, key and value of a layer return the same
     * array).
     *
     * @throws IllegalArgumentException for an unknown name
     */
    public float[] rows(String name) {
        float[] r = rows.get(name);
        if (r == null) {
            throw new IllegalArgumentException("no captured inputs for '" + name + "'; captured: " + rows.keySet());
        }
        return r;
    }

    /**
     * The calibration statistics of layer {@code name}'s inputs for {@code tensor-quant}'s quantizers: per-channel
     * mean |x|, mean x², mean x and, when {@code withHessian}, H = 2XᵀX/N
     * ({@link ArrayCalibrationStats#fromActivations}).
     */
    public CalibrationStats stats(String name, boolean withHessian) {
        return ArrayCalibrationStats.fromActivations(rows(name), tokens, in(name), withHessian);
    }

    /** Input features of layer {@code name}. */
    public int in(String name) {
        rows(name);
        return widths.get(name);
    }
}

package lowbit.examples.minilm;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.quant.CalibrationStats;
import lowbit.quant.QuantResult;
import lowbit.quant.Quantizer;
import lowbit.tensor.layout.AffineSpec;

/**
 * Builds the replacement maps that {@link EmbeddingEvaluation#score(Map)} and {@link MiniLm#withWeights} take: any
 * {@link Quantizer} of {@code tensor-quant} applied to a chosen set of a model's Linear layers, data-free or with
 * each layer's calibration statistics from {@link LinearInputs#stats}.
 * <pre>{@code
 * Map<String, LinearWeight> q = LinearReplacements.quantize(model, model.encoder().linearNames(), Rtn.asymmetric(),
 *         AffineSpec.groupsAlongIn(4, 32, false), null, false);
 * }</pre>
 * Quantizers that also return an input transform (AWQ-style channel scales, rotations) cannot be expressed as a
 * weight alone; they are rejected here with a message naming the layer (fold the transform upstream first).
 */
public final class LinearReplacements {
    private LinearReplacements() {
    }

    /**
     * {@code names} of {@code model} quantized with {@code quantizer} and {@code spec}; with {@code calibration}
     * non-null each layer gets its own {@link LinearInputs#stats statistics} (with the Hessian when
     * {@code withHessian}, for GPTQ-like methods).
     *
     * @throws IllegalArgumentException for an unknown name, or a result with a non-identity input transform
     */
    public static Map<String, LinearWeight> quantize(MiniLm model, Collection<String> names, Quantizer quantizer,
            AffineSpec spec, LinearInputs calibration, boolean withHessian) {
        Objects.requireNonNull(model, "model is null");
        Objects.requireNonNull(quantizer, "quantizer is null");
        Map<String, LinearWeight> out = new LinkedHashMap<>();
        for (String name : names) {
            Linear l = model.encoder().linear(name);
            CalibrationStats stats = calibration == null ? null : calibration.stats(name, withHessian);
            QuantResult r = quantizer.quantize(l.weight().toFloats(), l.outFeatures(), l.inFeatures(), spec, stats);
            if (!r.transform().isIdentity()) {
                throw new IllegalArgumentException(quantizer.name() + " returned an input transform for " + name
                        + "; a replacement weight alone cannot express it");
            }
            out.put(name, LinearWeight.of(r.matrix()));
        }
        return out;
    }

    /** Every Linear layer of {@code model} quantized data-free. */
    public static Map<String, LinearWeight> quantizeAll(MiniLm model, Quantizer quantizer, AffineSpec spec) {
        return quantize(model, model.encoder().linearNames(), quantizer, spec, null, false);
    }
}

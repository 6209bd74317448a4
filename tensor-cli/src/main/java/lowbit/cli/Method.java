package lowbit.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import lowbit.quant.AdaDim;
import lowbit.quant.Awq;
import lowbit.quant.ClipSearch;
import lowbit.quant.DualScale;
import lowbit.quant.EasyQuant;
import lowbit.quant.FineQuant;
import lowbit.quant.GgmlTargets;
import lowbit.quant.Gptq;
import lowbit.quant.Gwq;
import lowbit.quant.HadamardQuantizer;
import lowbit.quant.Hqq;
import lowbit.quant.Quantizer;
import lowbit.quant.Rsq;
import lowbit.quant.Rtn;

/**
 * The quantization methods of the command line, each a tensor-quant {@link Quantizer} with its defaults: whether it
 * needs calibration statistics (and the Hessian H = 2XᵀX/N) and whether its result carries an input transform.
 */
enum Method {
    RTN("rtn", false, false, "round to nearest (min/max, or max-abs with --sym)"),
    CLIP("clip", false, false, "MSE clip search, AWQ's auto-clip (20 steps down to 50 %)"),
    EASYQUANT("easyquant", false, false, "EasyQuant: 3-sigma outliers kept exact, scales trained"),
    ADADIM("adadim", false, false, "AdaDim: per-input or per-output-channel groups, whichever fits better"),
    FINEQ("fineq", false, false, "FineQuant: halves the group where ranges are uneven"),
    HQQ("hqq", false, false, "HQQ: half-quadratic proximal solver for scale and zero"),
    D2QUANT("d2quant", false, false, "D2Quant dual scale: per-input-channel scale t beside the group scales"),
    HADAMARD("hadamard", false, false, "seeded randomized Hadamard rotation, then RTN"),
    GPTQ("gptq", true, true, "GPTQ: column-by-column rounding with Hessian error feedback"),
    AWQ("awq", true, false, "AWQ: activation-aware channel scales, then the weighted clip search"),
    GWQ("gwq", false, false, "GWQ: top 1 % of |gradient| kept exact (needs --gradient), the rest GPTQ with "
            + "calibration, else RTN"),
    RSQ("rsq", true, true, "RSQ: Hadamard rotation, then GPTQ (uniform token importance)");

    final String id;
    final boolean needsCalibration;
    final boolean needsHessian;
    final String description;

    Method(String id, boolean needsCalibration, boolean needsHessian, String description) {
        this.id = id;
        this.needsCalibration = needsCalibration;
        this.needsHessian = needsHessian;
        this.description = description;
    }

    /** The seed of the rotations (hadamard, rsq). */
    static final long SEED = 0;

    /** The method called {@code id} (case-insensitive). */
    static Method parse(String id) {
        for (Method m : values()) {
            if (m.id.equals(id.toLowerCase(Locale.ROOT).strip())) {
                return m;
            }
        }
        throw CliException.usage("unknown method '" + id + "'; methods: " + ids());
    }

    /** A comma-separated list of methods. */
    static List<Method> parseList(String csv) {
        List<Method> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            if (!s.isBlank()) {
                out.add(parse(s));
            }
        }
        if (out.isEmpty()) {
            throw CliException.usage("no method in '" + csv + "'; methods: " + ids());
        }
        return out;
    }

    static String ids() {
        List<String> s = new ArrayList<>();
        for (Method m : values()) {
            s.add(m.id);
        }
        return String.join(", ", s);
    }

    /**
     * The quantizer of this method.
     *
     * @param ggml a ggml block type the result must fit ("q4_0" or "q8_0": GPTQ takes ggml's scale rule), or null
     * @param gradient GWQ's gradient for this weight (null otherwise)
     * @param calibrated whether calibration statistics will be given (GWQ: GPTQ inside, else RTN)
     */
    Quantizer quantizer(String ggml, float[] gradient, boolean calibrated) {
        Gptq.Options gptq = Gptq.Options.defaults();
        if ("q4_0".equals(ggml)) {
            gptq = GgmlTargets.q4_0(gptq);
        } else if ("q8_0".equals(ggml)) {
            gptq = GgmlTargets.q8_0(gptq);
        }
        return switch (this) {
            case RTN -> Rtn.defaults();
            case CLIP -> ClipSearch.defaults();
            case EASYQUANT -> EasyQuant.defaults();
            case ADADIM -> AdaDim.defaults();
            case FINEQ -> FineQuant.defaults();
            case HQQ -> Hqq.defaults();
            case D2QUANT -> DualScale.defaults();
            case HADAMARD -> HadamardQuantizer.of(Rtn.defaults(), SEED);
            case GPTQ -> Gptq.of(gptq);
            case AWQ -> Awq.defaults();
            case GWQ -> {
                if (gradient == null) {
                    throw CliException.usage("gwq keeps the weights of largest |gradient| exact: give the gradients "
                            + "with --gradient FILE (a safetensors file with a tensor of the weight's name and shape)");
                }
                yield (calibrated ? Gwq.gptq(0.01, Gptq.of(gptq)) : Gwq.rtn(0.01)).forGradient(gradient);
            }
            case RSQ -> Rsq.of(gptq, SEED);
        };
    }

    /** Whether the method needs statistics when it runs (GWQ: only when calibrated). */
    boolean usesCalibration(boolean calibrated) {
        return needsCalibration || this == GWQ && calibrated;
    }
}

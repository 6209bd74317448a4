package lowbit.examples.minilm;

import java.util.LinkedHashMap;
import java.util.Map;
import lowbit.nn.LinearWeight;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;

/**
 * The simplest data-free baseline: round-to-nearest asymmetric quantization with min/max scales per group of g
 * consecutive input columns, as GPTQ's reference quantizer sets its grid before any error correction (Frantar et
 * al., 2022): for each group w,
 * <pre>
 *   lo = min(min w, 0),  hi = max(max w, 0),  s = (hi − lo)/(2^b − 1),  z = round(−lo/s),
 *   q = clamp(round(w/s) + z, 0, 2^b − 1),  ŵ = s·(q − z)
 * </pre>
 * (an all-zero group uses lo = −1, hi = 1). The real RTN and clip-searching quantizers live in {@code tensor-quant};
 * this one exists so that the examples module can print the baseline table without depending on them.
 */
public final class RtnBaseline {
    private RtnBaseline() {
    }

    /** W [rows, cols] quantized with {@code bits}-bit asymmetric codes in groups of {@code group} columns. */
    public static GroupwiseAffine quantize(float[] w, int rows, int cols, int bits, int group) {
        AffineSpec spec = AffineSpec.groupsAlongIn(bits, group, false);
        spec.checkShape(rows, cols);
        int groups = cols / group, maxq = spec.maxCode();
        float[] scales = new float[rows * groups];
        int[] zeros = new int[rows * groups];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < groups; g++) {
                float lo = 0, hi = 0;
                for (int c = g * group; c < (g + 1) * group; c++) {
                    lo = Math.min(lo, w[r * cols + c]);
                    hi = Math.max(hi, w[r * cols + c]);
                }
                if (lo == 0 && hi == 0) {
                    lo = -1;
                    hi = 1;
                }
                float s = (hi - lo) / maxq;
                scales[r * groups + g] = s;
                zeros[r * groups + g] = Math.min(maxq, Math.max(0, (int) Math.rint(-lo / s)));
            }
        }
        return GroupwiseAffine.encode(w, rows, cols, spec, scales, zeros);
    }

    /** Every Linear weight of {@code model} quantized by {@link #quantize}, by name. */
    public static Map<String, LinearWeight> all(MiniLm model, int bits, int group) {
        Map<String, LinearWeight> out = new LinkedHashMap<>();
        model.encoder().linears().forEach((name, l) -> out.put(name, LinearWeight.of(
                quantize(l.weight().toFloats(), l.outFeatures(), l.inFeatures(), bits, group))));
        return out;
    }
}

package lowbit.tensor.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import lowbit.tensor.DType;
import lowbit.tensor.PackedInts;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;

/**
 * AWQ checkpoints in AutoAWQ's GEMM layout (Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for LLM
 * Compression and Acceleration"; llm-awq / AutoAWQ {@code WQLinear_GEMM}), converted to and from lowbit's
 * {@link GroupwiseAffine} without loss. 4-bit, asymmetric, groups of g along {@code in}:
 * <ul>
 *   <li>{@code <prefix>.qweight}: I32 {@code [in, out/8]}: word (i, c) holds the codes of outputs 8c..8c+7 for input
 *   i in AWQ's interleaved order: its nibble k (bits 4k..4k+3) is output {@code 8c + ORDER[k]}, ORDER =
 *   [0, 2, 4, 6, 1, 3, 5, 7] ({@code WQLinear_GEMM.from_linear}'s {@code order_map}).</li>
 *   <li>{@code <prefix>.qzeros}: I32 {@code [in/g, out/8]}, the zero points packed the same way (stored as z, no
 *   offset).</li>
 *   <li>{@code <prefix>.scales}: F16 {@code [in/g, out]}.</li>
 * </ul>
 * Dequantization ({@code dequantize_gemm}): W[o, i] = scales[i/g, o] · (q − z[i/g, o]).
 */
public final class AwqCheckpoint {
    /** Nibble k of a packed word holds output {@code 8c + ORDER[k]}. */
    private static final int[] ORDER = {0, 2, 4, 6, 1, 3, 5, 7};
    private static final int BITS = 4;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Tensor name suffixes. */
    public static final String QWEIGHT = "qweight";
    public static final String QZEROS = "qzeros";
    public static final String SCALES = "scales";

    /**
     * The AWQ quantization config.
     *
     * @param groupSize g &ge; 1, or &minus;1 for one group per output channel
     */
    public record Config(int groupSize) {
        /** @throws IllegalArgumentException for a group size that is neither &minus;1 nor &ge; 1 */
        public Config {
            if (groupSize != -1 && groupSize < 1) {
                throw new IllegalArgumentException("AWQ group size must be -1 or >= 1, got " + groupSize);
            }
        }

        /**
         * Reads AutoAWQ's {@code quant_config.json} ({@code w_bit}, {@code q_group_size}, {@code zero_point},
         * {@code version}) or a transformers {@code quantization_config} ({@code bits}, {@code group_size},
         * {@code zero_point}, {@code version}, {@code quant_method = "awq"}), at the root or under
         * {@code quantization_config}. lowbit reads 4-bit GEMM checkpoints with zero points.
         *
         * @throws TensorFormatException for invalid JSON or another bit width, version or zero-point setting
         */
        public static Config parse(String source, byte[] json) throws TensorFormatException {
            Map<String, Object> root = Json.readObject(source, json);
            Map<String, Object> q = ConfigFields.object(source, root, "quantization_config");
            ConfigFields f = new ConfigFields(source, q != null ? q : root);
            String method = f.string("quant_method", "awq");
            if (!method.equals("awq")) {
                throw f.fail("quant_method", "is \"" + method + "\", not \"awq\"");
            }
            int bits = f.has("w_bit") ? f.integer("w_bit", null) : f.integer("bits", null);
            int group = f.has("q_group_size") ? f.integer("q_group_size", null) : f.integer("group_size", null);
            boolean zeroPoint = f.bool("zero_point", true);
            String version = f.string("version", "gemm").toLowerCase(Locale.ROOT);
            if (bits != BITS) {
                throw f.fail("bits", bits + " bits: lowbit reads AWQ's 4-bit GEMM layout only");
            }
            if (!zeroPoint) {
                throw f.fail("zero_point", "is false: AutoAWQ's GEMM layout always stores zero points");
            }
            if (!version.equals("gemm")) {
                throw f.fail("version", "\"" + version + "\": lowbit reads the GEMM packing only");
            }
            try {
                return new Config(group);
            } catch (IllegalArgumentException e) {
                throw f.fail("group_size", e.getMessage());
            }
        }

        /** This config as AutoAWQ's {@code quant_config.json}. */
        public byte[] toJson() {
            return Json.write(true, g -> {
                g.writeStartObject();
                g.writeBooleanField("zero_point", true);
                g.writeNumberField("q_group_size", groupSize);
                g.writeNumberField("w_bit", BITS);
                g.writeStringField("version", "GEMM");
                g.writeEndObject();
            });
        }
    }

    private AwqCheckpoint() {
    }

    /**
     * Reads {@code <prefix>.qweight}, {@code .qzeros} and {@code .scales} as an asymmetric 4-bit
     * {@link GroupwiseAffine} of [out, in] (F16 scales for F16 files, F32 otherwise).
     *
     * @throws TensorFormatException if a tensor is missing or has the wrong dtype or shape, or a scale is zero or not
     *     finite
     */
    public static GroupwiseAffine read(SafetensorsFile file, String prefix, Config cfg) throws TensorFormatException {
        String src = file.source();
        SafetensorsEntry qw = CheckpointTensors.require(file, prefix, QWEIGHT, SafetensorsDType.I32, 2);
        long[] qd = qw.spec().dims();
        if (qd[0] > Integer.MAX_VALUE || qd[1] * 8 > Integer.MAX_VALUE) {
            throw new TensorFormatException(src, qw.name(), "shape", "too large");
        }
        int cols = (int) qd[0];
        int rows = (int) qd[1] * 8;
        int g = cfg.groupSize() == -1 ? cols : cfg.groupSize();
        if (cols % g != 0) {
            throw new TensorFormatException(src, qw.name(), "shape", "in = " + cols + " is not a multiple of group size " + g);
        }
        int groups = cols / g;
        SafetensorsEntry qz = CheckpointTensors.require(file, prefix, QZEROS, SafetensorsDType.I32, 2);
        CheckpointTensors.requireDims(src, qz, groups, rows / 8);
        SafetensorsEntry sc = CheckpointTensors.require(file, prefix, SCALES, null, 2);
        CheckpointTensors.requireDims(src, sc, groups, rows);

        MemorySegment zs = file.bytes(qz.name());
        int[] zeros = new int[rows * groups];
        for (int k = 0; k < groups; k++) {
            for (int c = 0; c < rows / 8; c++) {
                int word = zs.get(I32, ((long) k * (rows / 8) + c) * 4);
                for (int n = 0; n < 8; n++) {
                    zeros[(8 * c + ORDER[n]) * groups + k] = word >>> (4 * n) & 0xF;
                }
            }
        }
        MemorySegment qs = file.bytes(qw.name());
        long rowBytes = GroupwiseAffine.rowBytes(cols, BITS);
        MemorySegment packed = Arena.ofAuto().allocate(Math.max(1, rows * rowBytes)).asSlice(0, rows * rowBytes);
        MemorySegment[] row = CheckpointTensors.rowSlices(packed, rows, rowBytes);
        for (int i = 0; i < cols; i++) {
            for (int c = 0; c < rows / 8; c++) {
                int word = qs.get(I32, ((long) i * (rows / 8) + c) * 4);
                for (int n = 0; n < 8; n++) {
                    PackedInts.set(row[8 * c + ORDER[n]], i, BITS, false, word >>> (4 * n) & 0xF);
                }
            }
        }
        float[] scales = CheckpointTensors.transposedScales(file, sc, groups, rows);
        DType scaleType = sc.dtype() == SafetensorsDType.F16 ? DType.F16 : DType.F32;
        AffineSpec spec = AffineSpec.groupsAlongIn(BITS, g, false).withScaleType(scaleType);
        try {
            return GroupwiseAffine.ofPacked(rows, cols, spec, packed, scales, zeros, null, null);
        } catch (IllegalArgumentException e) {
            throw new TensorFormatException(src, prefix + "." + SCALES, "values", e.getMessage(), e);
        }
    }

    /**
     * The AWQ tensors of {@code m} under {@code prefix}: qweight, qzeros, scales (F16 if m's scales are F16, else F32).
     *
     * @throws IllegalArgumentException unless m is 4-bit, grouped along in with the config's group size (or per
     *     output channel for &minus;1), without act-order, and out is a multiple of 8
     */
    public static Map<String, Tensor> tensors(String prefix, GroupwiseAffine m, Config cfg) {
        AffineSpec spec = m.spec();
        int rows = m.rows();
        int cols = m.cols();
        int g = cfg.groupSize() == -1 ? cols : cfg.groupSize();
        boolean layoutOk = spec.bits() == BITS && m.gIdx() == null
                && (spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN && spec.groupSize() == g
                || spec.granularity() == AffineSpec.Granularity.PER_OUTPUT_CHANNEL && g == cols);
        if (!layoutOk || rows % 8 != 0) {
            throw new IllegalArgumentException("AWQ (4-bit, group size " + cfg.groupSize() + ", out % 8 == 0) cannot "
                    + "store a [" + rows + ", " + cols + "] " + spec.describe() + " layout"
                    + (m.gIdx() != null ? " with act-order" : ""));
        }
        int groups = cols / g;
        int packs = rows / 8;
        int[] qweight = new int[cols * packs];
        for (int i = 0; i < cols; i++) {
            for (int c = 0; c < packs; c++) {
                int word = 0;
                for (int n = 0; n < 8; n++) {
                    word |= m.code(8 * c + ORDER[n], i) << (4 * n);
                }
                qweight[i * packs + c] = word;
            }
        }
        int[] zeros = m.zeros();
        int[] qzeros = new int[groups * packs];
        for (int k = 0; k < groups; k++) {
            for (int c = 0; c < packs; c++) {
                int word = 0;
                for (int n = 0; n < 8; n++) {
                    int o = 8 * c + ORDER[n];
                    word |= (spec.symmetric() ? spec.symmetricZero() : zeros[o * groups + k]) << (4 * n);
                }
                qzeros[k * packs + c] = word;
            }
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(prefix + "." + QWEIGHT, Tensor.ofCodes(DType.I32, qweight, Shape.of(cols, packs)));
        out.put(prefix + "." + QZEROS, Tensor.ofCodes(DType.I32, qzeros, Shape.of(groups, packs)));
        out.put(prefix + "." + SCALES, CheckpointTensors.fileScales(m.scales(), rows, groups, spec.scaleType()));
        return out;
    }
}

package lowbit.tensor.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.PackedInts;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;

/**
 * GPTQ checkpoints (AutoGPTQ / GPTQModel, Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
 * Generative Pre-trained Transformers"): the safetensors tensors of one quantized {@code nn.Linear} converted to and
 * from lowbit's {@link GroupwiseAffine}, without loss in either direction.
 *
 * <p>Per Linear of {@code in} inputs and {@code out} outputs, quantized with {@code bits} ∈ {2, 3, 4, 8} in groups of
 * g along {@code in} (ngroups = in/g; g = in for {@code group_size = -1}):
 * <ul>
 *   <li>{@code <prefix>.qweight}: I32 {@code [in·bits/32, out]}. Column o, read word by word down the rows, is a
 *   little-endian bit stream of the codes of W[o, 0..in): code i at stream bits [i·bits, i·bits + bits). For 2, 4
 *   and 8 bits that is 32/bits codes per word, code j of a word at bits [bits·j, bits·j + bits) (AutoGPTQ's
 *   {@code pack}); for 3 bits, 32 codes span 3 words, codes 10 and 21 crossing word boundaries.</li>
 *   <li>{@code <prefix>.qzeros}: I32 {@code [ngroups, out·bits/32]}, row g the same kind of bit stream of the zero
 *   points of group g along {@code out}. Format {@link Format#GPTQ} (v1, AutoGPTQ and the default of GPTQModel
 *   exports) stores <em>z − 1</em>; readers add 1 to the unpacked field. {@link Format#GPTQ_V2} stores z.</li>
 *   <li>{@code <prefix>.scales}: F16 (or BF16/F32) {@code [ngroups, out]}, the transpose of lowbit's scale grid.</li>
 *   <li>{@code <prefix>.g_idx}: I32 {@code [in]}, the group of each input column; {@code i / g} unless the model was
 *   quantized with act-order ({@code desc_act}).</li>
 * </ul>
 * Dequantization (AutoGPTQ's {@code QuantLinear.forward}): W[o, i] = scales[g_idx[i], o] · (q[i, o] − z[g_idx[i],
 * o]), which is {@link GroupwiseAffine}'s s·(q − z) with the act-order map {@code gIdx = g_idx}.
 *
 * <p>The v1 quirk: a zero point of 0 cannot be stored as z − 1 (AutoGPTQ's packer wraps it to all ones and corrupts
 * the neighbouring fields), and an unpacked field of 2^bits − 1 reads as z = 2^bits, which no code grid holds.
 * {@link #read} rejects the latter with a {@link TensorFormatException}; {@link #tensors} refuses to write a zero of 0
 * as v1 (use {@link Format#GPTQ_V2}). Symmetric checkpoints (all zeros 2^(bits−1)) become symmetric specs.
 */
public final class GptqCheckpoint {
    /** How {@code qzeros} store a zero point. */
    public enum Format {
        /** v1 ({@code "gptq"}): the stored field is z − 1. */
        GPTQ("gptq"),
        /** v2 ({@code "gptq_v2"}, GPTQModel's internal format): the stored field is z. */
        GPTQ_V2("gptq_v2");

        private final String id;

        Format(String id) {
            this.id = id;
        }

        /** The name in {@code quantize_config.json}'s {@code checkpoint_format}. */
        public String id() {
            return id;
        }
    }

    /**
     * The fields of {@code quantize_config.json} that define the tensors.
     *
     * @param bits 2, 3, 4 or 8
     * @param groupSize g &ge; 1, or &minus;1 for one group per output channel (g = in)
     * @param descAct act-order: {@code g_idx} may be any column-to-group map
     * @param sym symmetric: every zero point is 2^(bits−1)
     * @param format how qzeros store zero points
     */
    public record Config(int bits, int groupSize, boolean descAct, boolean sym, Format format) {
        /** @throws IllegalArgumentException for unsupported bits or a group size that is neither &minus;1 nor &ge; 1 */
        public Config {
            if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
                throw new IllegalArgumentException("GPTQ bits must be 2, 3, 4 or 8, got " + bits);
            }
            if (groupSize != -1 && groupSize < 1) {
                throw new IllegalArgumentException("GPTQ group_size must be -1 or >= 1, got " + groupSize);
            }
            Objects.requireNonNull(format, "format");
        }

        /**
         * Reads {@code quantize_config.json} (or a {@code config.json} with a {@code quantization_config} object):
         * {@code bits}, {@code group_size}, {@code desc_act} (default false), {@code sym} (default true) and
         * {@code checkpoint_format} or {@code format} ({@code "gptq"} or {@code "gptq_v2"}, default {@code "gptq"});
         * {@code quant_method}, if present, must be {@code "gptq"}. Other fields are ignored.
         *
         * @throws TensorFormatException for invalid JSON, missing or mistyped fields, or unsupported values
         */
        public static Config parse(String source, byte[] json) throws TensorFormatException {
            Map<String, Object> root = Json.readObject(source, json);
            Map<String, Object> q = ConfigFields.object(source, root, "quantization_config");
            if (q == null) {
                q = root;
            }
            ConfigFields f = new ConfigFields(source, q);
            String method = f.string("quant_method", "gptq");
            if (!method.equals("gptq")) {
                throw f.fail("quant_method", "is \"" + method + "\", not \"gptq\"");
            }
            int bits = f.integer("bits", null);
            int group = f.integer("group_size", null);
            boolean descAct = f.bool("desc_act", false);
            boolean sym = f.bool("sym", true);
            String fmt = f.string("checkpoint_format", f.string("format", "gptq"));
            Format format = switch (fmt) {
                case "gptq" -> Format.GPTQ;
                case "gptq_v2" -> Format.GPTQ_V2;
                default -> throw f.fail("checkpoint_format", "\"" + fmt + "\" is not gptq or gptq_v2 (lowbit reads those)");
            };
            try {
                return new Config(bits, group, descAct, sym, format);
            } catch (IllegalArgumentException e) {
                throw f.fail(null, e.getMessage());
            }
        }

        /** This config as {@code quantize_config.json} (pretty-printed UTF-8). */
        public byte[] toJson() {
            return Json.write(true, g -> {
                g.writeStartObject();
                g.writeNumberField("bits", bits);
                g.writeNumberField("group_size", groupSize);
                g.writeBooleanField("desc_act", descAct);
                g.writeBooleanField("sym", sym);
                g.writeStringField("quant_method", "gptq");
                g.writeStringField("checkpoint_format", format.id());
                g.writeEndObject();
            });
        }
    }

    /** Tensor name suffixes. */
    public static final String QWEIGHT = "qweight";
    public static final String QZEROS = "qzeros";
    public static final String SCALES = "scales";
    public static final String G_IDX = "g_idx";

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private GptqCheckpoint() {
    }

    /**
     * Reads the GPTQ tensors {@code <prefix>.qweight}, {@code .qzeros}, {@code .scales} and (if present)
     * {@code .g_idx} of {@code file} as a {@link GroupwiseAffine} of [out, in], scales at F16 for F16 files and F32
     * otherwise (BF16 scales are exact in F32). Codes are repacked into lowbit's row layout (a copy the size of
     * qweight, in GC-managed native memory).
     *
     * @throws TensorFormatException if a tensor is missing or has the wrong dtype or shape, a g_idx entry or zero
     *     point is out of range (the v1 wrap), or a scale is zero or not finite; each message names the tensor
     */
    public static GroupwiseAffine read(SafetensorsFile file, String prefix, Config cfg) throws TensorFormatException {
        String src = file.source();
        int bits = cfg.bits();
        SafetensorsEntry qw = CheckpointTensors.require(file, prefix, QWEIGHT, SafetensorsDType.I32, 2);
        long[] qd = qw.spec().dims();
        long in = qd[0] * 32 / bits;
        long out = qd[1];
        if (qd[0] * 32 % bits != 0 || in > Integer.MAX_VALUE || out > Integer.MAX_VALUE) {
            throw new TensorFormatException(src, qw.name(), "shape", "[" + qd[0] + ", " + qd[1] + "] is not [in·"
                    + bits + "/32, out] for any in < 2^31");
        }
        int cols = (int) in;
        int rows = (int) out;
        int g = cfg.groupSize() == -1 ? cols : cfg.groupSize();
        if (cols % g != 0) {
            throw new TensorFormatException(src, qw.name(), "shape", "in = " + cols + " is not a multiple of group_size " + g);
        }
        int groups = cols / g;
        SafetensorsEntry sc = CheckpointTensors.require(file, prefix, SCALES, null, 2);
        CheckpointTensors.requireDims(src, sc, groups, rows);
        SafetensorsEntry qz = CheckpointTensors.require(file, prefix, QZEROS, SafetensorsDType.I32, 2);
        if ((long) rows * bits % 32 != 0) {
            throw new TensorFormatException(src, qz.name(), "shape", "out = " + rows + " times " + bits
                    + " bits is not a whole number of 32-bit words");
        }
        CheckpointTensors.requireDims(src, qz, groups, (long) rows * bits / 32);
        int[] gIdx = null;
        if (file.contains(prefix + "." + G_IDX)) {
            SafetensorsEntry gi = CheckpointTensors.require(file, prefix, G_IDX, SafetensorsDType.I32, 1);
            CheckpointTensors.requireDims(src, gi, cols);
            gIdx = file.tensor(gi.name()).toIntArray();
            boolean trivial = true;
            for (int i = 0; i < cols; i++) {
                if (gIdx[i] < 0 || gIdx[i] >= groups) {
                    throw new TensorFormatException(src, gi.name(), "values", "g_idx[" + i + "] = " + gIdx[i]
                            + " is not a group in [0, " + groups + ")");
                }
                trivial &= gIdx[i] == i / g;
            }
            if (trivial) {
                gIdx = null;
            }
        }

        // zero points: row k of qzeros is a bit stream along out
        MemorySegment zs = file.bytes(qz.name());
        int maxCode = (1 << bits) - 1;
        int[] zeros = new int[rows * groups];
        boolean symmetric = true;
        long zRowBytes = (long) rows * bits / 8;
        for (int k = 0; k < groups; k++) {
            MemorySegment zRow = zs.asSlice(k * zRowBytes, zRowBytes);
            for (int o = 0; o < rows; o++) {
                int z = PackedInts.get(zRow, o, bits, false) + (cfg.format() == Format.GPTQ ? 1 : 0);
                if (z > maxCode) {
                    throw new TensorFormatException(src, qz.name(), "values", "group " + k + ", output " + o
                            + ": the v1 field " + (z - 1) + " means zero point " + z + ", outside [0, " + maxCode
                            + "] (a zero of 0 wrapped when it was stored as z - 1)");
                }
                zeros[o * groups + k] = z;
                symmetric &= z == 1 << (bits - 1);
            }
        }
        float[] scales = CheckpointTensors.transposedScales(file, sc, groups, rows);
        DType scaleType = sc.dtype() == SafetensorsDType.F16 ? DType.F16 : DType.F32;

        // codes: column o of qweight is a bit stream along in; lowbit row o is a PackedInts stream along in
        MemorySegment qs = file.bytes(qw.name());
        long rowBytes = GroupwiseAffine.rowBytes(cols, bits);
        MemorySegment packed = Arena.ofAuto().allocate(Math.max(1, rows * rowBytes)).asSlice(0, rows * rowBytes);
        long words = qd[0];
        for (int o = 0; o < rows; o++) {
            long acc = 0;
            int have = 0;
            int c = 0;
            MemorySegment dst = packed.asSlice(o * rowBytes, rowBytes);
            for (long w = 0; w < words; w++) {
                acc |= (qs.get(I32, (w * rows + o) * 4) & 0xFFFF_FFFFL) << have;
                have += 32;
                while (have >= bits && c < cols) {
                    PackedInts.set(dst, c++, bits, false, (int) (acc & maxCode));
                    acc >>>= bits;
                    have -= bits;
                }
            }
        }
        AffineSpec spec = (g == cols && gIdx == null ? AffineSpec.perOutputChannel(bits, symmetric)
                : AffineSpec.groupsAlongIn(bits, g, symmetric)).withScaleType(scaleType);
        try {
            return GroupwiseAffine.ofPacked(rows, cols, spec, packed, scales, symmetric ? null : zeros, gIdx, null);
        } catch (IllegalArgumentException e) {
            throw new TensorFormatException(src, prefix + "." + SCALES, "values", e.getMessage(), e);
        }
    }

    /**
     * The GPTQ tensors of {@code m} under {@code prefix}, in the order qweight, qzeros, scales, g_idx (for
     * {@link SafetensorsWriter}); {@code g_idx} is always written, {@code i / g} without act-order.
     *
     * @throws IllegalArgumentException if m's layout is not GPTQ's (groups along in or per output channel, the
     *     config's bits and group size, in a multiple of 32, out·bits a multiple of 32), a v1 zero point is 0, the
     *     config says sym but the zeros are not all 2^(bits−1), or m has act-order but the config has no desc_act
     */
    public static Map<String, Tensor> tensors(String prefix, GroupwiseAffine m, Config cfg) {
        AffineSpec spec = m.spec();
        int bits = cfg.bits();
        int rows = m.rows();
        int cols = m.cols();
        int g = cfg.groupSize() == -1 ? cols : cfg.groupSize();
        boolean perRow = spec.granularity() == AffineSpec.Granularity.PER_OUTPUT_CHANNEL;
        if (spec.bits() != bits || !(perRow && g == cols
                || spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN && spec.groupSize() == g)) {
            throw new IllegalArgumentException("GPTQ " + bits + "-bit group_size " + cfg.groupSize()
                    + " cannot store a " + spec.describe() + " layout");
        }
        if (cols % 32 != 0 || (long) rows * bits % 32 != 0) {
            throw new IllegalArgumentException("GPTQ needs in % 32 == 0 and out·bits % 32 == 0, the matrix is ["
                    + rows + ", " + cols + "]");
        }
        int groups = cols / g;
        int[] gIdx = m.gIdx();
        if (gIdx != null && !cfg.descAct()) {
            throw new IllegalArgumentException("the matrix has an act-order g_idx but the config has desc_act = false");
        }
        int[] zeros = m.zeros();
        int maxCode = (1 << bits) - 1;

        // qweight [cols·bits/32, rows]: column o is the bit stream of row o's codes
        int words = cols * bits / 32;
        int[] qweight = new int[words * rows];
        for (int o = 0; o < rows; o++) {
            long acc = 0;
            int have = 0;
            int w = 0;
            for (int c = 0; c < cols; c++) {
                acc |= (long) m.code(o, c) << have;
                have += bits;
                if (have >= 32) {
                    qweight[w++ * rows + o] = (int) acc;
                    acc >>>= 32;
                    have -= 32;
                }
            }
        }
        // qzeros [groups, rows·bits/32]: row k is the bit stream of the zero points of group k along out
        int zWords = rows * bits / 32;
        int[] qzeros = new int[groups * zWords];
        for (int k = 0; k < groups; k++) {
            long acc = 0;
            int have = 0;
            int w = 0;
            for (int o = 0; o < rows; o++) {
                int z = spec.symmetric() ? spec.symmetricZero() : zeros[o * groups + k];
                if (cfg.sym() && z != spec.symmetricZero()) {
                    throw new IllegalArgumentException("the config says sym but row " + o + ", group " + k
                            + " has zero point " + z);
                }
                if (cfg.format() == Format.GPTQ) {
                    if (z == 0) {
                        throw new IllegalArgumentException("row " + o + ", group " + k + " has zero point 0, which "
                                + "GPTQ v1 cannot store (z - 1 would wrap); write Format.GPTQ_V2");
                    }
                    z -= 1;
                }
                acc |= (long) (z & maxCode) << have;
                have += bits;
                if (have >= 32) {
                    qzeros[k * zWords + w++] = (int) acc;
                    acc >>>= 32;
                    have -= 32;
                }
            }
        }
        int[] gi = new int[cols];
        for (int i = 0; i < cols; i++) {
            gi[i] = gIdx != null ? gIdx[i] : i / g;
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(prefix + "." + QWEIGHT, Tensor.ofCodes(DType.I32, qweight, Shape.of(words, rows)));
        out.put(prefix + "." + QZEROS, Tensor.ofCodes(DType.I32, qzeros, Shape.of(groups, zWords)));
        out.put(prefix + "." + SCALES, CheckpointTensors.fileScales(m.scales(), rows, groups, spec.scaleType()));
        out.put(prefix + "." + G_IDX, Tensor.ofCodes(DType.I32, gi, Shape.of(cols)));
        return out;
    }

    /** The suffixes read and written, for listing a checkpoint's quantized modules. */
    public static List<String> suffixes() {
        return List.of(QWEIGHT, QZEROS, SCALES, G_IDX);
    }
}

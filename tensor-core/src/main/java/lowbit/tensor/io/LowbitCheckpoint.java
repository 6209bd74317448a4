package lowbit.tensor.io;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Outliers;

/**
 * lowbit's own checkpoint format for quantized Linear weights: plain safetensors tensors beside the model's other
 * tensors, plus one {@code __metadata__} entry per quantized weight, so that every {@link GroupwiseAffine} lowbit's
 * quantizers produce (any bits 2..8, any granularity, act-order, exact outliers) and the input-side transform some
 * of them return (AWQ and D²Quant channel multipliers, Hadamard rotations, output bias corrections) are stored
 * without loss. GPTQ- and ggml-layout files cannot hold most of these; this format exists for them.
 *
 * <p>For a quantized Linear whose weight tensor was {@code <prefix>.weight} [out, in] (version 1):
 * <table>
 *   <caption>tensors</caption>
 *   <tr><th>tensor</th><th>dtype, shape</th><th>content</th></tr>
 *   <tr><td>{@code <prefix>.lowbit_codes}</td><td>U8 [out, ceil(in·bits/8)]</td><td>the codes, row r a
 *       {@code PackedInts} stream (code c at bits [c·bits, c·bits + bits), LSB first) — exactly
 *       {@link GroupwiseAffine#packedCodes()}</td></tr>
 *   <tr><td>{@code <prefix>.lowbit_scales}</td><td>F16 or F32 [scaleRows, scaleCols]</td><td>the scale grid in
 *       lowbit's orientation ({@link AffineSpec}: [out, in/g] for groups along in)</td></tr>
 *   <tr><td>{@code <prefix>.lowbit_zeros}</td><td>U8 [scaleRows, scaleCols]</td><td>the zero points, one byte each
 *       (asymmetric only; symmetric means z = 2^(bits−1))</td></tr>
 *   <tr><td>{@code <prefix>.lowbit_g_idx}</td><td>I32 [in]</td><td>act-order column → group map (optional)</td></tr>
 *   <tr><td>{@code <prefix>.lowbit_outlier_index}, {@code .lowbit_outlier_value}</td><td>I32 [k], F32 or F16
 *       [k]</td><td>exact weights: flat index r·in + c (ascending) and value, replacing the decoded weight
 *       (optional)</td></tr>
 *   <tr><td>{@code <prefix>.lowbit_input_multiplier}</td><td>F32 [in]</td><td>m of x' = R·(m ⊙ x)
 *       (optional)</td></tr>
 *   <tr><td>{@code <prefix>.lowbit_output_bias}</td><td>F32 [out]</td><td>c added to y (optional)</td></tr>
 * </table>
 * The metadata key {@code lowbit.quant.<prefix>} holds a JSON object: {@code format} ("lowbit-affine"),
 * {@code version} (1), {@code bits}, {@code symmetric}, {@code granularity} (an {@link AffineSpec.Granularity} name),
 * {@code group_size}, {@code rows}, {@code cols}, and optionally {@code method} (the quantizer's name),
 * {@code rotation_block} and {@code rotation_seed} (a seeded randomized Hadamard rotation R of tensor-quant's
 * {@code HadamardRotation.of(cols, rotation_block, seed)}, the seed as a decimal string). The layer computes
 * y = Ŵ·(R·(m ⊙ x)) + b + c, Ŵ[r, c] = s·(q − z) (outliers replacing their positions).
 *
 * <pre>{@code
 * Map<String, Tensor> t = new LinkedHashMap<>(LowbitCheckpoint.tensors("mlp.down_proj", entry));
 * Map<String, String> meta = LowbitCheckpoint.metadata("mlp.down_proj", entry);
 * SafetensorsWriter.write(path, t, meta);
 * try (SafetensorsFile f = SafetensorsFile.open(path)) {
 *     LowbitCheckpoint.Entry back = LowbitCheckpoint.read(f, "mlp.down_proj");   // equal codes, scales, zeros, ...
 * }
 * }</pre>
 */
public final class LowbitCheckpoint {
    /** The metadata key prefix: {@code lowbit.quant.<prefix>}. */
    public static final String METADATA_PREFIX = "lowbit.quant.";
    /** The format name in the metadata. */
    public static final String FORMAT = "lowbit-affine";
    /** The format version written. */
    public static final int VERSION = 1;

    public static final String CODES = "lowbit_codes";
    public static final String SCALES = "lowbit_scales";
    public static final String ZEROS = "lowbit_zeros";
    public static final String G_IDX = "lowbit_g_idx";
    public static final String OUTLIER_INDEX = "lowbit_outlier_index";
    public static final String OUTLIER_VALUE = "lowbit_outlier_value";
    public static final String INPUT_MULTIPLIER = "lowbit_input_multiplier";
    public static final String OUTPUT_BIAS = "lowbit_output_bias";

    private LowbitCheckpoint() {
    }

    /**
     * One quantized Linear weight and its input-side transform.
     *
     * @param matrix Ŵ [out, in]
     * @param inputMultiplier m [in], or null
     * @param rotationBlock block b of the Hadamard rotation, or 0 for none
     * @param rotationSeed seed of the rotation's signs (ignored without a rotation)
     * @param outputBias c [out], or null
     * @param method the quantizer's name, or null
     */
    public record Entry(GroupwiseAffine matrix, float[] inputMultiplier, int rotationBlock, long rotationSeed,
            float[] outputBias, String method) {
        /**
         * @throws IllegalArgumentException for a multiplier or bias of the wrong length or with a non-finite entry,
         *     or a rotation block that is not a power of two dividing in
         */
        public Entry {
            Objects.requireNonNull(matrix, "matrix");
            if (inputMultiplier != null) {
                checkVector("input multiplier", inputMultiplier, matrix.cols());
                inputMultiplier = inputMultiplier.clone();
            }
            if (outputBias != null) {
                checkVector("output bias", outputBias, matrix.rows());
                outputBias = outputBias.clone();
            }
            if (rotationBlock < 0 || rotationBlock > 0 && (Integer.bitCount(rotationBlock) != 1
                    || matrix.cols() % rotationBlock != 0)) {
                throw new IllegalArgumentException("rotation block " + rotationBlock + " is not 0 or a power of two "
                        + "dividing in = " + matrix.cols());
            }
        }

        /** Just the matrix: no transform. */
        public static Entry of(GroupwiseAffine matrix) {
            return new Entry(matrix, null, 0, 0, null, null);
        }

        @Override
        public float[] inputMultiplier() {
            return inputMultiplier == null ? null : inputMultiplier.clone();
        }

        @Override
        public float[] outputBias() {
            return outputBias == null ? null : outputBias.clone();
        }

        /** Whether x or y is changed around the matrix. */
        public boolean hasTransform() {
            return inputMultiplier != null || rotationBlock != 0 || outputBias != null;
        }
    }

    private static void checkVector(String what, float[] v, int n) {
        if (v.length != n) {
            throw new IllegalArgumentException(what + " has " + v.length + " entries, expected " + n);
        }
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException(what + "[" + i + "] is " + v[i]);
            }
        }
    }

    /** The tensors of {@code e} under {@code prefix} (see the class comment), in a fixed order. */
    public static Map<String, Tensor> tensors(String prefix, Entry e) {
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(e, "entry");
        GroupwiseAffine m = e.matrix();
        AffineSpec spec = m.spec();
        int rows = m.rows();
        int cols = m.cols();
        Map<String, Tensor> out = new LinkedHashMap<>();
        MemorySegment codes = MemorySegment.ofArray(new byte[Math.toIntExact(rows * m.rowBytes())]);
        codes.copyFrom(m.packedCodes());
        out.put(prefix + "." + CODES, Tensor.wrap(codes, DType.U8, Shape.of(rows, m.rowBytes())));
        Shape grid = Shape.of(m.scaleRows(), m.scaleCols());
        out.put(prefix + "." + SCALES, Tensor.ofFloats(spec.scaleType(), m.scales(), grid));
        int[] z = m.zeros();
        if (z != null) {
            byte[] zb = new byte[z.length];
            for (int i = 0; i < z.length; i++) {
                zb[i] = (byte) z[i];
            }
            out.put(prefix + "." + ZEROS, Tensor.wrap(MemorySegment.ofArray(zb), DType.U8, grid));
        }
        int[] g = m.gIdx();
        if (g != null) {
            out.put(prefix + "." + G_IDX, Tensor.wrap(MemorySegment.ofArray(g), DType.I32, Shape.of(cols)));
        }
        Outliers o = m.outliers();
        if (!o.isEmpty()) {
            int k = o.count();
            int[] idx = new int[k];
            float[] val = new float[k];
            for (int i = 0; i < k; i++) {
                idx[i] = Math.toIntExact((long) o.row(i) * cols + o.col(i));
                val[i] = o.value(i);
            }
            out.put(prefix + "." + OUTLIER_INDEX, Tensor.wrap(MemorySegment.ofArray(idx), DType.I32, Shape.of(k)));
            out.put(prefix + "." + OUTLIER_VALUE, Tensor.ofFloats(o.valueType(), val, Shape.of(k)));
        }
        if (e.inputMultiplier() != null) {
            out.put(prefix + "." + INPUT_MULTIPLIER, Tensor.ofFloats(e.inputMultiplier(), cols));
        }
        if (e.outputBias() != null) {
            out.put(prefix + "." + OUTPUT_BIAS, Tensor.ofFloats(e.outputBias(), rows));
        }
        return out;
    }

    /** The {@code __metadata__} entry of {@code e} under {@code prefix}: key {@code lowbit.quant.<prefix>}. */
    public static Map<String, String> metadata(String prefix, Entry e) {
        Objects.requireNonNull(prefix, "prefix");
        AffineSpec spec = e.matrix().spec();
        byte[] json = Json.write(false, g -> {
            g.writeStartObject();
            g.writeStringField("format", FORMAT);
            g.writeNumberField("version", VERSION);
            g.writeNumberField("bits", spec.bits());
            g.writeBooleanField("symmetric", spec.symmetric());
            g.writeStringField("granularity", spec.granularity().name());
            g.writeNumberField("group_size", spec.groupSize());
            g.writeNumberField("rows", e.matrix().rows());
            g.writeNumberField("cols", e.matrix().cols());
            if (e.method() != null) {
                g.writeStringField("method", e.method());
            }
            if (e.rotationBlock() != 0) {
                g.writeNumberField("rotation_block", e.rotationBlock());
                g.writeStringField("rotation_seed", Long.toString(e.rotationSeed()));
            }
            g.writeEndObject();
        });
        return Map.of(METADATA_PREFIX + prefix, new String(json, StandardCharsets.UTF_8));
    }

    /** The prefixes of the quantized weights {@code file} holds (from its metadata), in metadata order. */
    public static List<String> prefixes(SafetensorsFile file) {
        List<String> out = new ArrayList<>();
        for (String k : file.metadata().keySet()) {
            if (k.startsWith(METADATA_PREFIX)) {
                out.add(k.substring(METADATA_PREFIX.length()));
            }
        }
        return out;
    }

    /**
     * Reads the weight stored under {@code prefix}.
     *
     * @throws TensorFormatException for missing metadata or tensors, a wrong dtype or shape, an unknown format or
     *     version, or values the layout rejects (codes or zeros out of range, zero or non-finite scales, bad g_idx or
     *     outliers); each message names the tensor or field
     */
    public static Entry read(SafetensorsFile file, String prefix) throws TensorFormatException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(prefix, "prefix");
        String src = file.source();
        String key = METADATA_PREFIX + prefix;
        String meta = file.metadata().get(key);
        if (meta == null) {
            throw new TensorFormatException(src, prefix, key, "no such metadata entry: not a lowbit-quantized weight");
        }
        ConfigFields f = new ConfigFields(src + " " + key, Json.readObject(src + " " + key,
                meta.getBytes(StandardCharsets.UTF_8)));
        String format = f.string("format", null);
        if (!format.equals(FORMAT)) {
            throw f.fail("format", "is \"" + format + "\", expected \"" + FORMAT + "\"");
        }
        int version = f.integer("version", null);
        if (version != VERSION) {
            throw f.fail("version", version + " is not supported (this lowbit reads version " + VERSION + ")");
        }
        int rows = f.integer("rows", null);
        int cols = f.integer("cols", null);
        AffineSpec.Granularity gran;
        try {
            gran = AffineSpec.Granularity.valueOf(f.string("granularity", null));
        } catch (IllegalArgumentException ex) {
            throw f.fail("granularity", "is not one of " + java.util.Arrays.toString(AffineSpec.Granularity.values()));
        }
        SafetensorsEntry sc = CheckpointTensors.require(file, prefix, SCALES, null, 2);
        if (sc.dtype() == SafetensorsDType.BF16) {
            throw new TensorFormatException(src, sc.name(), "dtype", "is BF16, expected F16 or F32");
        }
        AffineSpec spec;
        try {
            spec = new AffineSpec(f.integer("bits", null), f.bool("symmetric", false), gran,
                    f.integer("group_size", null), sc.dtype() == SafetensorsDType.F16 ? DType.F16 : DType.F32);
            spec.checkShape(rows, cols);
        } catch (IllegalArgumentException ex) {
            throw f.fail(null, ex.getMessage());
        }
        if (rows < 1 || cols < 1) {
            throw f.fail("rows", "[" + rows + ", " + cols + "] is not a matrix shape");
        }
        SafetensorsEntry ce = CheckpointTensors.require(file, prefix, CODES, SafetensorsDType.U8, 2);
        CheckpointTensors.requireDims(src, ce, rows, GroupwiseAffine.rowBytes(cols, spec.bits()));
        CheckpointTensors.requireDims(src, sc, spec.scaleRows(rows), spec.scaleCols(cols));
        float[] scales = file.tensor(sc.name()).toFloatArray();
        int[] zeros = null;
        if (!spec.symmetric()) {
            SafetensorsEntry ze = CheckpointTensors.require(file, prefix, ZEROS, SafetensorsDType.U8, 2);
            CheckpointTensors.requireDims(src, ze, spec.scaleRows(rows), spec.scaleCols(cols));
            zeros = file.tensor(ze.name()).toIntArray();
        } else if (file.contains(prefix + "." + ZEROS)) {
            throw new TensorFormatException(src, prefix + "." + ZEROS, null, "is present but the weight is symmetric");
        }
        int[] gIdx = null;
        if (file.contains(prefix + "." + G_IDX)) {
            SafetensorsEntry ge = CheckpointTensors.require(file, prefix, G_IDX, SafetensorsDType.I32, 1);
            CheckpointTensors.requireDims(src, ge, cols);
            gIdx = file.tensor(ge.name()).toIntArray();
        }
        Outliers outliers = null;
        if (file.contains(prefix + "." + OUTLIER_INDEX)) {
            SafetensorsEntry ie = CheckpointTensors.require(file, prefix, OUTLIER_INDEX, SafetensorsDType.I32, 1);
            SafetensorsEntry ve = CheckpointTensors.require(file, prefix, OUTLIER_VALUE, null, 1);
            if (ve.dtype() == SafetensorsDType.BF16) {
                throw new TensorFormatException(src, ve.name(), "dtype", "is BF16, expected F16 or F32");
            }
            int k = Math.toIntExact(ie.spec().dims()[0]);
            CheckpointTensors.requireDims(src, ve, k);
            int[] idx = file.tensor(ie.name()).toIntArray();
            int[] r = new int[k];
            int[] c = new int[k];
            for (int i = 0; i < k; i++) {
                if (idx[i] < 0 || (long) idx[i] >= (long) rows * cols) {
                    throw new TensorFormatException(src, ie.name(), "values", "index " + idx[i] + " at " + i
                            + " is outside the [" + rows + ", " + cols + "] matrix");
                }
                r[i] = idx[i] / cols;
                c[i] = idx[i] % cols;
            }
            try {
                outliers = Outliers.of(rows, cols, r, c, file.tensor(ve.name()).toFloatArray(),
                        ve.dtype() == SafetensorsDType.F16 ? DType.F16 : DType.F32);
            } catch (IllegalArgumentException ex) {
                throw new TensorFormatException(src, ie.name(), "values", ex.getMessage());
            }
        }
        float[] m = optionalVector(file, prefix, INPUT_MULTIPLIER, cols);
        float[] bias = optionalVector(file, prefix, OUTPUT_BIAS, rows);
        int block = f.integer("rotation_block", 0);
        long seed = 0;
        if (block != 0) {
            try {
                seed = Long.parseLong(f.string("rotation_seed", null));
            } catch (NumberFormatException ex) {
                throw f.fail("rotation_seed", "is not a decimal long");
            }
        }
        try {
            GroupwiseAffine g = GroupwiseAffine.ofPacked(rows, cols, spec, file.bytes(ce.name()), scales, zeros, gIdx,
                    outliers);
            return new Entry(g, m, block, seed, bias, f.has("method") ? f.string("method", null) : null);
        } catch (IllegalArgumentException ex) {
            throw new TensorFormatException(src, prefix, null, ex.getMessage());
        }
    }

    private static float[] optionalVector(SafetensorsFile file, String prefix, String suffix, int n)
            throws TensorFormatException {
        if (!file.contains(prefix + "." + suffix)) {
            return null;
        }
        SafetensorsEntry e = CheckpointTensors.require(file, prefix, suffix, SafetensorsDType.F32, 1);
        CheckpointTensors.requireDims(file.source(), e, n);
        return file.tensor(e.name()).toFloatArray();
    }
}

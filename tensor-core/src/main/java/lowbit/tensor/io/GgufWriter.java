package lowbit.tensor.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import lowbit.tensor.Bf16;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.ggml.Q4_1;
import lowbit.tensor.ggml.Q5_0;
import lowbit.tensor.ggml.Q5_1;
import lowbit.tensor.ggml.Q8_0;
import lowbit.tensor.ggml.Q8_1;

/**
 * Writes a GGUF v3 file tensor by tensor, never holding more than a chunk of the tensor being written: the tensors
 * are declared up front ({@link GgufTensorSpec}: name, type, shape), which fixes the header, every offset and the
 * padding, so the header goes out first and each tensor's bytes go straight to their final place, in any order,
 * whole, in sequential chunks, or {@linkplain #quantize encoded row by row} from a float tensor.
 *
 * <p>Layout, as ggml's {@code gguf_write_to_file}: magic, version 3, tensor count, key/value count; the metadata in
 * the map's iteration order; the tensor infos in declaration order (dimensions reversed, see
 * {@link GgufTensorInfo}); zero padding to the alignment; the tensors in declaration order, each at an offset that
 * is a multiple of the alignment and followed by zero padding up to the next multiple. The alignment is the
 * metadata's {@value GgufFile#ALIGNMENT_KEY} (which must then be a UINT32 power of two) or
 * {@value GgufFile#DEFAULT_ALIGNMENT}. If any tensor has a block-quantized type and the metadata has no
 * {@value #QUANTIZATION_VERSION_KEY}, the writer appends it as UINT32 {@value #QUANTIZATION_VERSION} (ggml's
 * {@code GGML_QNT_VERSION}), which the GGUF spec requires of quantized files.
 *
 * <p>The file appears under its name only when {@link #close()} succeeds (until then it is {@code <file>.partial});
 * closing before every tensor was written deletes it and throws. Not thread-safe.
 */
public final class GgufWriter implements AutoCloseable {
    /** The metadata key the GGUF spec requires in files with quantized tensors. */
    public static final String QUANTIZATION_VERSION_KEY = "general.quantization_version";
    /** ggml's {@code GGML_QNT_VERSION}. */
    public static final int QUANTIZATION_VERSION = 2;

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long CHUNK = 1 << 20;

    private final DeclaredTensors slots;
    private final int alignment;
    private final long dataStart;
    private final List<GgufTensorInfo> layout;
    private final Map<String, GgufTensorSpec> specs = new HashMap<>();

    private GgufWriter(FileSink sink, int alignment, long dataStart, List<GgufTensorSpec> tensors,
            List<GgufTensorInfo> layout) {
        this.slots = new DeclaredTensors(sink);
        this.alignment = alignment;
        this.dataStart = dataStart;
        this.layout = layout;
        for (int i = 0; i < tensors.size(); i++) {
            specs.put(tensors.get(i).name(), tensors.get(i));
            slots.declare(layout.get(i).name(), dataStart + layout.get(i).offset(), layout.get(i).byteSize());
        }
    }

    /**
     * Starts {@code file}: computes the layout, writes the header, the tensor infos and all padding.
     *
     * @throws IllegalArgumentException for duplicate tensor names, an empty key, or a bad {@value GgufFile#ALIGNMENT_KEY}
     * @throws IOException if the file cannot be created
     */
    public static GgufWriter create(Path file, Map<String, GgufValue> metadata, List<GgufTensorSpec> tensors)
            throws IOException {
        Map<String, GgufValue> meta = new LinkedHashMap<>();
        metadata.forEach((k, v) -> {
            if (Objects.requireNonNull(k, "metadata key").isEmpty()) {
                throw new IllegalArgumentException("GGUF metadata keys must not be empty");
            }
            meta.put(k, Objects.requireNonNull(v, () -> "metadata value of " + k));
        });
        int alignment = alignment(meta.get(GgufFile.ALIGNMENT_KEY));
        if (!meta.containsKey(QUANTIZATION_VERSION_KEY)
                && tensors.stream().anyMatch(t -> t.type().blockSize() > 1)) {
            meta.put(QUANTIZATION_VERSION_KEY, GgufValue.ofU32(QUANTIZATION_VERSION));
        }
        LeBuffer h = new LeBuffer().u32(GgufParser.MAGIC).u32(3).u64(tensors.size()).u64(meta.size());
        for (Map.Entry<String, GgufValue> e : meta.entrySet()) {
            h.string(e.getKey().getBytes(StandardCharsets.UTF_8));
            e.getValue().writeTo(h);
        }
        List<GgufTensorInfo> layout = new ArrayList<>(tensors.size());
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (GgufTensorSpec t : tensors) {
            if (!names.add(t.name())) {
                throw new IllegalArgumentException("tensor '" + t.name() + "' is declared twice");
            }
            GgufTensorInfo info = new GgufTensorInfo(t.name(), t.type(), t.ne(), offset, t.byteSize());
            layout.add(info);
            h.string(t.name().getBytes(StandardCharsets.UTF_8)).u32(info.ne().length);
            for (long d : info.ne()) {
                h.u64(d);
            }
            h.u32(t.type().id()).u64(offset);
            offset = Math.addExact(offset, padded(t.byteSize(), alignment));
        }
        if (!tensors.isEmpty()) {
            h.pad(alignment);
        }
        FileSink sink = new FileSink(file);
        try {
            sink.write(0, h.toByteArray());
            long dataStart = h.size();
            for (GgufTensorInfo t : layout) {
                sink.zeros(dataStart + t.offset() + t.byteSize(), padded(t.byteSize(), alignment) - t.byteSize());
            }
            return new GgufWriter(sink, alignment, dataStart, tensors, Collections.unmodifiableList(layout));
        } catch (IOException | RuntimeException e) {
            sink.abort();
            throw e;
        }
    }

    /**
     * Writes {@code tensors} of plain dtypes (F32, F16, BF16, F64, I8, I16, I32, I64; stored as the ggml type of the
     * same name) with {@code metadata} to {@code file}, in the map's iteration order.
     *
     * @throws IllegalArgumentException for a dtype ggml has no plain type for
     * @throws IOException if writing fails (no file is left under the target name)
     */
    public static void write(Path file, Map<String, GgufValue> metadata, Map<String, Tensor> tensors)
            throws IOException {
        List<GgufTensorSpec> specs = new ArrayList<>();
        tensors.forEach((name, t) -> specs.add(new GgufTensorSpec(name, plainType(t.dtype()), t.shape())));
        GgufWriter w = create(file, metadata, specs);
        try {
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                w.write(e.getKey(), e.getValue());
            }
        } catch (IOException | RuntimeException e) {
            w.abort();
            throw e;
        }
        w.close();
    }

    /**
     * The ggml type that stores a lowbit plain dtype unchanged.
     *
     * @throws IllegalArgumentException for U8, BOOL, F8 and the packed codes, which ggml has no type for
     */
    public static GgmlType plainType(DType dtype) {
        return switch (dtype) {
            case F32 -> GgmlType.F32;
            case F16 -> GgmlType.F16;
            case BF16 -> GgmlType.BF16;
            case F64 -> GgmlType.F64;
            case I8 -> GgmlType.I8;
            case I16 -> GgmlType.I16;
            case I32 -> GgmlType.I32;
            case I64 -> GgmlType.I64;
            default -> throw new IllegalArgumentException("ggml has no tensor type for lowbit's " + dtype);
        };
    }

    private static int alignment(GgufValue v) {
        if (v == null) {
            return GgufFile.DEFAULT_ALIGNMENT;
        }
        if (v.type() != GgufType.UINT32 || v.asLong() == 0 || (v.asLong() & (v.asLong() - 1)) != 0
                || v.asLong() > (1 << 30)) {
            throw new IllegalArgumentException(GgufFile.ALIGNMENT_KEY + " must be a UINT32 power of two, got " + v);
        }
        return (int) v.asLong();
    }

    private static long padded(long bytes, int alignment) {
        return (bytes + alignment - 1) / alignment * alignment;
    }

    // ---------------------------------------------------------------- tensor data

    /** The layout being written, in file order (offsets relative to {@link #dataStart()}). */
    public List<GgufTensorInfo> layout() {
        return layout;
    }

    /** The alignment in use. */
    public int alignment() {
        return alignment;
    }

    /** File offset of the data section. */
    public long dataStart() {
        return dataStart;
    }

    /**
     * Writes all of tensor {@code name} from a lowbit tensor of the declared plain type's dtype and element count.
     *
     * @throws IllegalArgumentException if it was not declared, is a block type (use {@link #write(String,
     *     MemorySegment)} or {@link #quantize}), or the dtype or element count differs
     */
    public void write(String name, Tensor tensor) throws IOException {
        GgufTensorSpec s = declared(name);
        DType dt = GgufFile.plainDType(s.type());
        if (dt != tensor.dtype() || tensor.numel() != s.shape().numel()) {
            throw new IllegalArgumentException("tensor '" + name + "' was declared " + s.type() + " " + s.shape()
                    + ", got " + tensor + (dt == null ? "; use quantize(name, tensor) to encode floats to " + s.type() : ""));
        }
        write(name, tensor.segment());
    }

    /**
     * Writes all of tensor {@code name}'s bytes (exactly its declared byte size; for block types, the ggml blocks row
     * after row).
     *
     * @throws IllegalArgumentException if it was not declared, the size differs, or it was already written
     */
    public void write(String name, MemorySegment bytes) throws IOException {
        slots.writeWhole(name, bytes);
    }

    /**
     * Writes the next {@code chunk.byteSize()} bytes of tensor {@code name}.
     *
     * @throws IllegalArgumentException if it was not declared or the chunk runs past the tensor's end
     */
    public void append(String name, MemorySegment chunk) throws IOException {
        slots.append(name, chunk);
    }

    /**
     * Encodes {@code source} (F32, F16 or BF16, the declared element count, read as rows of the declared row length)
     * into the declared type row by row and writes it: for F32/F16/BF16 a conversion (round-to-nearest-even), for
     * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 and the k-quants Q2_K..Q6_K ggml's reference encoders
     * ({@code lowbit.tensor.ggml}, byte-identical to {@code quantize_row_*_ref}). Only about 1 MiB of output is buffered at a time.
     *
     * @throws IllegalArgumentException if the tensor was not declared or already written, the source dtype or element
     *     count does not fit, a value is not finite (the encoders reject them), or there is no encoder for the type
     */
    public void quantize(String name, Tensor source) throws IOException {
        GgufTensorSpec s = declared(name);
        if (!source.dtype().isComputeFloat() || source.numel() != s.shape().numel()) {
            throw new IllegalArgumentException("tensor '" + name + "' was declared " + s.shape() + "; quantize needs an "
                    + "F32, F16 or BF16 source of " + s.shape().numel() + " elements, got " + source);
        }
        if (slots.written(name) != 0) {
            throw new IllegalArgumentException("tensor '" + name + "' was already written");
        }
        long cols = s.shape().dim(-1);
        if (cols > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + cols + " elements are too long");
        }
        long rowBytes = s.type().rowBytes(cols);
        long rows = s.rows();
        int perChunk = (int) Math.max(1, Math.min(rows, CHUNK / Math.max(1, rowBytes)));
        float[] row = new float[(int) cols];
        MemorySegment buf = MemorySegment.ofArray(new byte[(int) Math.min(Integer.MAX_VALUE - 8, perChunk * rowBytes)]);
        for (long r0 = 0; r0 < rows; r0 += perChunk) {
            int n = (int) Math.min(perChunk, rows - r0);
            for (int i = 0; i < n; i++) {
                readRow(source, (r0 + i) * cols, row);
                encodeRow(s.type(), row, buf, i * rowBytes);
            }
            append(name, buf.asSlice(0, n * rowBytes));
        }
    }

    private static void readRow(Tensor t, long first, float[] row) {
        MemorySegment seg = t.segment();
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(seg, F32_LE, first * 4, row, 0, row.length);
            case F16 -> Fp16.toFloats(seg, first, row, 0, row.length);
            default -> Bf16.toFloats(seg, first, row, 0, row.length);
        }
    }

    private static void encodeRow(GgmlType type, float[] row, MemorySegment dst, long off) {
        int n = row.length;
        switch (type) {
            case F32 -> MemorySegment.copy(row, 0, dst, F32_LE, off, n);
            case F16 -> Fp16.fromFloats(row, 0, dst.asSlice(off), 0, n);
            case BF16 -> Bf16.fromFloats(row, 0, dst.asSlice(off), 0, n);
            case Q4_0 -> Q4_0.quantizeRow(row, 0, dst, off, n);
            case Q4_1 -> Q4_1.quantizeRow(row, 0, dst, off, n);
            case Q5_0 -> Q5_0.quantizeRow(row, 0, dst, off, n);
            case Q5_1 -> Q5_1.quantizeRow(row, 0, dst, off, n);
            case Q8_0 -> Q8_0.quantizeRow(row, 0, dst, off, n);
            case Q8_1 -> Q8_1.quantizeRow(row, 0, dst, off, n);
            case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> lowbit.tensor.ggml.GgmlOps.quantizeRow(type, row, 0, dst, off, n);
            default -> throw new IllegalArgumentException("lowbit has no encoder for " + type
                    + " (encoders: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K); write its blocks with "
                    + "write(name, bytes)");
        }
    }

    /**
     * Finishes the file and moves it to its name.
     *
     * @throws IllegalStateException if a declared tensor was not completely written (the partial file is deleted)
     */
    @Override
    public void close() throws IOException {
        slots.close();
    }

    /** Abandons the file: deletes what was written, leaves the target untouched. */
    public void abort() {
        slots.abort();
    }

    private GgufTensorSpec declared(String name) {
        slots.require(name);
        return specs.get(name);
    }
}

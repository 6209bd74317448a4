package lowbit.tensor.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;

/**
 * A GGUF file (llama.cpp / ggml's model format), opened for reading: metadata, tensor infos, and tensor data
 * memory-mapped and zero-copy.
 *
 * <p>Layout (ggml {@code docs/gguf.md}, {@code gguf.h}): magic {@code "GGUF"}; u32 version; u64 tensor count; u64
 * key/value count; the key/values (a string key, a u32 {@link GgufType}, the value); the tensor infos (a string
 * name, u32 n_dims, n_dims u64 dimensions fastest-varying first, u32 ggml type id, u64 offset relative to the data
 * section); zero padding to a multiple of the alignment ({@value #ALIGNMENT_KEY}, a UINT32, default
 * {@value #DEFAULT_ALIGNMENT}); the data section. Strings are a u64 byte length and UTF-8 bytes. Little-endian
 * throughout. Versions 3 and 2 (identical for little-endian files) are read; v1 and big-endian files are rejected.
 * See {@link GgufTensorInfo} for how ggml's dimension order maps to lowbit's row-major shapes.
 *
 * <p>Validation, each failure a {@link TensorFormatException} naming file, tensor and field; the rules are those of
 * ggml's reader ({@code gguf_init_from_file_impl}) unless noted:
 * <ul>
 *   <li>magic; version 2 or 3 (with a hint for v1 and for big-endian files);</li>
 *   <li>counts and lengths are checked against the bytes left in the file before anything is allocated: a string
 *   length, array count, tensor count or key count that the rest of the file cannot hold fails at once (so a string
 *   length of 2<sup>63</sup> costs nothing); strings and arrays at most 2<sup>30</sup> (ggml's limits); lowbit
 *   also limits keys to 2<sup>20</sup>, tensors to 2<sup>22</sup>, array nesting to 8 levels and arrays per file to
 *   2<sup>20</sup> (ggml itself rejects nested arrays);</li>
 *   <li>keys non-empty, valid UTF-8, unique; value types known; {@value #ALIGNMENT_KEY} a UINT32 power of two;</li>
 *   <li>tensor names valid UTF-8 and unique; n_dims &le; 4; dimensions in [0, 2<sup>63</sup>) with an element count
 *   and byte size that fit a long; a ggml type lowbit knows ({@link GgmlType}, which covers every type with a fixed
 *   block layout except the IQ and ternary ones), and ne[0] a multiple of its block size;</li>
 *   <li>tensors lie in info order, each at the previous offset plus the previous size rounded up to the alignment
 *   (offsets aligned, no overlap, no gap), and each tensor's data ends within the file (the padding after the last
 *   one may be missing, as llama.cpp's loader allows).</li>
 * </ul>
 * Names are not limited to ggml's 63 bytes when reading (they are when {@linkplain GgufWriter writing}).
 *
 * <p>Tensors and segments view the mapping and are valid until {@link #close()} (or the caller's arena closes).
 * Metadata values are copied out of the mapping and stay valid. Instances are immutable and thread-safe.
 */
public final class GgufFile implements AutoCloseable {
    /** The metadata key of the data alignment. */
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** Alignment when the file does not say: 32 bytes ({@code GGUF_DEFAULT_ALIGNMENT}). */
    public static final int DEFAULT_ALIGNMENT = 32;

    private final String source;
    private final MemorySegment bytes;
    private final GgufParser.Parsed header;
    private final Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
    private final Arena owned;

    private GgufFile(String source, MemorySegment bytes, Arena owned) throws TensorFormatException {
        this.source = source;
        this.bytes = bytes;
        this.header = GgufParser.parse(source, bytes);
        this.owned = owned;
        for (GgufTensorInfo t : header.tensors()) {
            byName.put(t.name(), t);
        }
    }

    /**
     * Maps {@code file} read-only into a new shared arena released by {@link #close()}, and validates it.
     *
     * @throws TensorFormatException if the file breaks the format
     * @throws IOException if it cannot be opened or mapped
     */
    public static GgufFile open(Path file) throws IOException {
        return FileSink.mapShared(file, (bytes, arena) -> new GgufFile(file.toString(), bytes, arena));
    }

    /**
     * Maps {@code file} into the caller's arena (which decides how long tensors stay valid) and validates it.
     *
     * @throws TensorFormatException if the file breaks the format
     * @throws IOException if it cannot be opened or mapped
     */
    public static GgufFile open(Path file, Arena arena) throws IOException {
        return new GgufFile(file.toString(), FileSink.mapReadOnly(file, Objects.requireNonNull(arena, "arena")), null);
    }

    /**
     * Reads a GGUF file held in memory, zero-copy.
     *
     * @param source a name for error messages
     * @throws TensorFormatException if the bytes break the format
     */
    public static GgufFile read(MemorySegment bytes, String source) throws TensorFormatException {
        return new GgufFile(Objects.requireNonNull(source, "source"), Objects.requireNonNull(bytes, "bytes"), null);
    }


    // ---------------------------------------------------------------- header

    /** The file or buffer name used in messages. */
    public String source() {
        return source;
    }

    /** The format version: 3 (or 2). */
    public int version() {
        return header.version();
    }

    /** The data alignment in bytes. */
    public int alignment() {
        return header.alignment();
    }

    /** File offset of the data section. */
    public long dataStart() {
        return header.dataStart();
    }

    /** All metadata in file order. Unmodifiable. */
    public Map<String, GgufValue> metadata() {
        return header.metadata();
    }

    /** The value of metadata key {@code key}, if present. */
    public Optional<GgufValue> value(String key) {
        return Optional.ofNullable(header.metadata().get(key));
    }

    /** Tensor infos in file order (which is also data order). Unmodifiable. */
    public List<GgufTensorInfo> tensors() {
        return header.tensors();
    }

    /** True if there is a tensor called {@code name}. */
    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /**
     * The info of tensor {@code name}.
     *
     * @throws IllegalArgumentException if there is none
     */
    public GgufTensorInfo info(String name) {
        GgufTensorInfo t = byName.get(name);
        if (t == null) {
            throw new IllegalArgumentException(source + " has no tensor '" + name + "' (it has " + byName.size()
                    + " tensors)");
        }
        return t;
    }

    // ---------------------------------------------------------------- data

    /**
     * The data of tensor {@code name}, zero-copy: for block types ({@link GgmlType#Q4_0} ... {@link GgmlType#Q6_K})
     * {@link GgufTensorInfo#rowCount()} rows of {@code type.rowBytes(rowLength)} bytes each, in the exact ggml block
     * layout the classes of {@code lowbit.tensor.ggml} read; for plain types the little-endian elements.
     */
    public MemorySegment bytes(String name) {
        GgufTensorInfo t = info(name);
        return bytes.asSlice(header.dataStart() + t.offset(), t.byteSize());
    }

    /**
     * Tensor {@code name} of a plain type (F32, F16, BF16, F64, I8, I16, I32, I64) as a zero-copy lowbit
     * {@link Tensor} of its row-major {@linkplain GgufTensorInfo#shape() shape}.
     *
     * @throws IllegalArgumentException if there is no such tensor
     * @throws UnsupportedOperationException for block-quantized types: use {@link #bytes(String)}
     */
    public Tensor tensor(String name) {
        GgufTensorInfo t = info(name);
        DType dt = plainDType(t.type());
        if (dt == null) {
            throw new UnsupportedOperationException(source + ": tensor '" + name + "' is " + t.type()
                    + ", a block-quantized ggml type: read its blocks with bytes(name)");
        }
        return Tensor.wrap(bytes(name), dt, t.shape());
    }

    /** The lowbit dtype of a plain ggml type, or null for block types. */
    static DType plainDType(GgmlType t) {
        return switch (t) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            case F64 -> DType.F64;
            case I8 -> DType.I8;
            case I16 -> DType.I16;
            case I32 -> DType.I32;
            case I64 -> DType.I64;
            default -> null;
        };
    }

    /** Releases the mapping made by {@link #open(Path)}. Idempotent. */
    @Override
    public void close() {
        if (owned != null && owned.scope().isAlive()) {
            owned.close();
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + source + ", v" + version() + ", " + header.metadata().size() + " keys, "
                + header.tensors().size() + " tensors]";
    }
}

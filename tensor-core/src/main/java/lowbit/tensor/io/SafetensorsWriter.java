package lowbit.tensor.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import lowbit.tensor.Tensor;

/**
 * Writes a safetensors file tensor by tensor, never holding more than the tensor being written: the tensors are
 * <em>declared up front</em> (name, dtype, dimensions: a few bytes each), which fixes the header and every offset, so
 * the header is written first and each tensor's bytes go straight to their final place, in any order, whole or in
 * sequential chunks (e.g. a row block at a time while quantizing).
 *
 * <p>Layout, byte for byte as huggingface's {@code safetensors} writer: the u64 little-endian header length N; the
 * compact JSON header with {@code __metadata__} first (omitted when empty, keys in the map's iteration order), then
 * the tensors in data order; N is padded with spaces to a multiple of 8; the data region holds the tensors
 * contiguously in the order <b>dtype descending</b> in {@link SafetensorsDType}'s declaration order (so 8-byte types
 * come first and every tensor starts on a multiple of its element size), <b>then name</b> (by UTF-8 bytes).
 *
 * <p>The file appears under its name only when {@link #close()} succeeds: until then it is {@code <file>.partial},
 * and a writer closed before every tensor was written deletes it and throws. Not thread-safe.
 *
 * <pre>{@code
 * try (SafetensorsWriter w = SafetensorsWriter.create(path, Map.of("format", "pt"),
 *         List.of(SafetensorsSpec.of("w", SafetensorsDType.F16, 4096, 4096)))) {
 *     w.write("w", tensor);                            // or w.append("w", chunk) repeatedly
 * }
 * }</pre>
 */
public final class SafetensorsWriter implements AutoCloseable {
    private final DeclaredTensors slots;
    private final long dataStart;
    private final List<SafetensorsEntry> layout;
    private final Map<String, SafetensorsEntry> byName = new HashMap<>();

    private SafetensorsWriter(FileSink sink, long dataStart, List<SafetensorsEntry> layout) {
        this.slots = new DeclaredTensors(sink);
        this.dataStart = dataStart;
        this.layout = layout;
        for (SafetensorsEntry e : layout) {
            byName.put(e.name(), e);
            slots.declare(e.name(), dataStart + e.begin(), e.byteSize());
        }
    }

    /**
     * Starts {@code file} with the given metadata and declared tensors: computes the layout and writes the header.
     *
     * @throws IllegalArgumentException for duplicate names or a header over {@link SafetensorsFile#MAX_HEADER_BYTES}
     * @throws IOException if the file cannot be created
     */
    public static SafetensorsWriter create(Path file, Map<String, String> metadata, List<SafetensorsSpec> tensors)
            throws IOException {
        List<SafetensorsEntry> layout = layout(tensors);
        Map<String, String> meta = new LinkedHashMap<>();
        metadata.forEach((k, v) -> meta.put(Objects.requireNonNull(k, "metadata key"),
                Objects.requireNonNull(v, () -> "metadata value of " + k)));
        byte[] header = SafetensorsHeader.write(meta, layout);
        if (header.length > SafetensorsFile.MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("the header would have " + header.length + " bytes, over the cap of "
                    + SafetensorsFile.MAX_HEADER_BYTES + " that readers enforce");
        }
        FileSink sink = new FileSink(file);
        try {
            byte[] len = new byte[8];
            long n = header.length;
            for (int i = 0; i < 8; i++) {
                len[i] = (byte) (n >>> (8 * i));
            }
            sink.write(0, len);
            sink.write(8, header);
            return new SafetensorsWriter(sink, 8 + n, layout);
        } catch (IOException | RuntimeException e) {
            sink.abort();
            throw e;
        }
    }

    /**
     * Writes {@code tensors} (name to tensor, any iteration order) and {@code metadata} to {@code file}.
     *
     * @throws IllegalArgumentException for a tensor whose dtype safetensors cannot name (packed sub-byte codes)
     * @throws IOException if writing fails (no file is left under the target name)
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        List<SafetensorsSpec> specs = new ArrayList<>();
        tensors.forEach((name, t) -> specs.add(SafetensorsSpec.of(name, t)));
        SafetensorsWriter w = create(file, metadata, specs);
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
     * The data layout of {@code tensors}: sorted by dtype descending, then name by UTF-8 bytes, offsets contiguous
     * from 0.
     *
     * @throws IllegalArgumentException for duplicate names
     */
    public static List<SafetensorsEntry> layout(List<SafetensorsSpec> tensors) {
        List<SafetensorsSpec> sorted = new ArrayList<>(tensors);
        sorted.sort((a, b) -> a.dtype() != b.dtype() ? Integer.compare(b.dtype().ordinal(), a.dtype().ordinal())
                : Arrays.compareUnsigned(a.name().getBytes(StandardCharsets.UTF_8),
                        b.name().getBytes(StandardCharsets.UTF_8)));
        List<SafetensorsEntry> out = new ArrayList<>(sorted.size());
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (SafetensorsSpec s : sorted) {
            if (!names.add(s.name())) {
                throw new IllegalArgumentException("tensor '" + s.name() + "' is declared twice");
            }
            long end = Math.addExact(offset, s.byteSize());
            out.add(new SafetensorsEntry(s, offset, end));
            offset = end;
        }
        return Collections.unmodifiableList(out);
    }

    /** The layout being written, in data order. */
    public List<SafetensorsEntry> layout() {
        return layout;
    }

    /** File offset of the data region (8 + header length). */
    public long dataStart() {
        return dataStart;
    }

    /**
     * Writes all of tensor {@code name} from a lowbit tensor.
     *
     * @throws IllegalArgumentException if the name was not declared, its dtype or element count differs from the
     *     declaration, or it was already (partly) written
     */
    public void write(String name, Tensor tensor) throws IOException {
        slots.require(name);
        SafetensorsEntry e = byName.get(name);
        SafetensorsDType dt = SafetensorsDType.of(tensor.dtype());
        if (dt != e.dtype() || tensor.numel() != e.spec().numel()) {
            throw new IllegalArgumentException("tensor '" + name + "' was declared " + e.spec() + ", got a " + dt + " "
                    + tensor.shape() + " tensor");
        }
        write(name, tensor.segment());
    }

    /**
     * Writes all of tensor {@code name}'s bytes (exactly its declared byte size).
     *
     * @throws IllegalArgumentException if the name was not declared, the size differs, or it was already written
     */
    public void write(String name, MemorySegment bytes) throws IOException {
        slots.writeWhole(name, bytes);
    }

    /**
     * Writes the next {@code chunk.byteSize()} bytes of tensor {@code name}, after those already written.
     *
     * @throws IllegalArgumentException if the name was not declared or the chunk runs past the tensor's end
     */
    public void append(String name, MemorySegment chunk) throws IOException {
        slots.append(name, chunk);
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
}

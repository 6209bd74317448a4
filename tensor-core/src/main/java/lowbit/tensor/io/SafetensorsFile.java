package lowbit.tensor.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;

/**
 * A safetensors file, opened for reading: its {@code __metadata__} and its tensors, memory-mapped and zero-copy.
 *
 * <p>The format (huggingface {@code safetensors}): an unsigned 64-bit little-endian N; N bytes of UTF-8 JSON, an
 * object mapping each tensor name to {@code {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}} plus an
 * optional {@code "__metadata__"} object of string values; then the data region, from byte 8 + N to the end of the
 * file, with each tensor's row-major little-endian bytes at {@code [begin, end)} relative to its start.
 *
 * <p>Every header field is checked before it is used, and every failure is a {@link TensorFormatException} naming
 * the file, the tensor and the field:
 * <ul>
 *   <li>the file has at least 8 bytes; N &le; {@link #MAX_HEADER_BYTES} (the crate's own cap) and N &le; file size
 *   &minus; 8, so a lying length neither allocates nor reads past the end;</li>
 *   <li>the header is valid UTF-8 JSON (parsed by Jackson's streaming parser with limits on nesting, name, string,
 *   number and document length, and duplicate keys rejected), a single object and nothing after it but
 *   whitespace (writers pad with spaces);</li>
 *   <li>each tensor has a known {@code dtype}, a {@code shape} of non-negative integers whose element count and byte
 *   size fit a long and fill whole bytes, and {@code data_offsets} of two non-negative integers with
 *   end &minus; begin = numel &middot; bits / 8; unknown fields of a tensor are ignored, as the crate does;</li>
 *   <li>sorted by offset, the tensors tile the data region exactly: the first starts at 0, each starts where the
 *   previous ended (no gap, no overlap), the last ends at the end of the file.</li>
 * </ul>
 * Tensor contents are not inspected (zero-copy): a BOOL byte other than 0 or 1 reads as true.
 *
 * <p>Tensors returned by {@link #tensor} view the mapping; they are valid until the file is {@linkplain #close
 * closed} (or, for {@link #open(Path, Arena)}, until the caller's arena is). The mapping of {@link #open(Path)} is
 * shared, so tensors can be read from any thread. Instances are immutable and thread-safe.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The header key of the string-to-string metadata object. */
    public static final String METADATA_KEY = "__metadata__";
    /** Largest header accepted, in bytes: 100,000,000, as huggingface's crate ({@code MAX_HEADER_SIZE}). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private final String source;
    private final MemorySegment bytes;
    private final long dataStart;
    private final Map<String, String> metadata;
    private final List<SafetensorsEntry> entries;
    private final Map<String, SafetensorsEntry> byName;
    private final Arena owned;

    private SafetensorsFile(String source, MemorySegment bytes, long dataStart, Map<String, String> metadata,
            List<SafetensorsEntry> entries, Arena owned) {
        this.source = source;
        this.bytes = bytes;
        this.dataStart = dataStart;
        this.metadata = metadata;
        this.entries = entries;
        this.owned = owned;
        Map<String, SafetensorsEntry> m = new LinkedHashMap<>();
        for (SafetensorsEntry e : entries) {
            m.put(e.name(), e);
        }
        this.byName = Collections.unmodifiableMap(m);
    }

    /**
     * Maps {@code file} read-only into a new shared arena that {@link #close()} releases, and validates its header.
     *
     * @throws TensorFormatException if the file breaks the format (see the class comment)
     * @throws IOException if the file cannot be opened or mapped
     */
    public static SafetensorsFile open(Path file) throws IOException {
        return FileSink.mapShared(file, (bytes, arena) -> new SafetensorsFile(file.toString(), bytes, arena));
    }

    /**
     * Maps {@code file} read-only into the caller's {@code arena} (which decides how long tensors stay valid;
     * {@link #close()} then does nothing) and validates its header.
     *
     * @throws TensorFormatException if the file breaks the format
     * @throws IOException if the file cannot be opened or mapped
     */
    public static SafetensorsFile open(Path file, Arena arena) throws IOException {
        Objects.requireNonNull(arena, "arena");
        return new SafetensorsFile(file.toString(), FileSink.mapReadOnly(file, arena), null);
    }

    /**
     * Reads a safetensors file held in memory, zero-copy: tensors view {@code bytes}.
     *
     * @param source a name for error messages (e.g. where the bytes came from)
     * @throws TensorFormatException if the bytes break the format
     */
    public static SafetensorsFile read(MemorySegment bytes, String source) throws TensorFormatException {
        return new SafetensorsFile(Objects.requireNonNull(source, "source"), Objects.requireNonNull(bytes, "bytes"),
                null);
    }

    private SafetensorsFile(String source, MemorySegment bytes, Arena owned) throws TensorFormatException {
        this(source, bytes, Parsed.of(source, bytes), owned);
    }

    private SafetensorsFile(String source, MemorySegment bytes, Parsed p, Arena owned) {
        this(source, bytes, p.dataStart, p.metadata, p.entries, owned);
    }


    // ---------------------------------------------------------------- contents

    /** The file or buffer name used in messages. */
    public String source() {
        return source;
    }

    /** The {@code __metadata__} entries in header order (empty if the header has none). Unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Every tensor, in data order (by {@code data_offsets}). Unmodifiable. */
    public List<SafetensorsEntry> entries() {
        return entries;
    }

    /** Tensor names in data order. */
    public List<String> names() {
        return entries.stream().map(SafetensorsEntry::name).toList();
    }

    /** True if the file has a tensor called {@code name}. */
    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /**
     * The entry of tensor {@code name}.
     *
     * @throws IllegalArgumentException if there is none (the message names the file)
     */
    public SafetensorsEntry entry(String name) {
        SafetensorsEntry e = byName.get(name);
        if (e == null) {
            throw new IllegalArgumentException(source + " has no tensor '" + name + "' (it has " + entries.size()
                    + " tensors)");
        }
        return e;
    }

    /** Offset of the data region from the start of the file: 8 + N. */
    public long dataStart() {
        return dataStart;
    }

    /** The raw little-endian bytes of tensor {@code name}, zero-copy (read-only for a mapped file). */
    public MemorySegment bytes(String name) {
        SafetensorsEntry e = entry(name);
        return bytes.asSlice(dataStart + e.begin(), e.byteSize());
    }

    /**
     * Tensor {@code name} as a zero-copy lowbit {@link Tensor} of its {@linkplain SafetensorsDType#lowbit() lowbit
     * dtype} and shape (a scalar as shape {@code [1]}).
     *
     * @throws IllegalArgumentException if there is no such tensor
     * @throws UnsupportedOperationException if its dtype has no lowbit equivalent (read it with {@link #bytes})
     */
    public Tensor tensor(String name) {
        SafetensorsEntry e = entry(name);
        DType dt = e.dtype().lowbit().orElseThrow(() -> new UnsupportedOperationException(source + ": tensor '" + name
                + "' is " + e.dtype() + ", which has no lowbit dtype; read its bytes with bytes(name)"));
        return Tensor.wrap(bytes(name), dt, e.spec().shape());
    }

    /** Releases the mapping made by {@link #open(Path)}; tensors from it become inaccessible. Idempotent. */
    @Override
    public void close() {
        if (owned != null && owned.scope().isAlive()) {
            owned.close();
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + source + ", " + entries.size() + " tensors, " + metadata.size() + " metadata]";
    }

    // ---------------------------------------------------------------- validation

    /** The validated header. */
    private record Parsed(long dataStart, Map<String, String> metadata, List<SafetensorsEntry> entries) {
        static Parsed of(String source, MemorySegment file) throws TensorFormatException {
            long size = file.byteSize();
            if (size < 8) {
                throw new TensorFormatException(source, null, "header length",
                        "the file has " + size + " bytes, fewer than the 8 of the header length");
            }
            long n = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (n < 0 || n > MAX_HEADER_BYTES) {
                throw new TensorFormatException(source, null, "header length", Long.toUnsignedString(n)
                        + " bytes exceeds the cap of " + MAX_HEADER_BYTES);
            }
            if (n > size - 8) {
                throw new TensorFormatException(source, null, "header length", n + " bytes run past the end of the "
                        + size + "-byte file");
            }
            byte[] header = file.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            SafetensorsHeader h = SafetensorsHeader.parse(source, header);
            long dataLength = size - 8 - n;
            List<SafetensorsEntry> entries = validateLayout(source, h.tensors(), dataLength);
            return new Parsed(8 + n, Collections.unmodifiableMap(h.metadata()), entries);
        }

        private static List<SafetensorsEntry> validateLayout(String source, List<SafetensorsHeader.Raw> raw,
                long dataLength) throws TensorFormatException {
            List<SafetensorsEntry> entries = new ArrayList<>(raw.size());
            for (SafetensorsHeader.Raw r : raw) {
                entries.add(r.toEntry(source, dataLength));
            }
            entries.sort((a, b) -> a.begin() != b.begin() ? Long.compare(a.begin(), b.begin())
                    : Long.compare(a.end(), b.end()));
            long expected = 0;
            String previous = null;
            for (SafetensorsEntry e : entries) {
                if (e.begin() != expected) {
                    String problem = previous == null
                            ? "[" + e.begin() + ", " + e.end() + "): the first tensor must start at 0"
                            : e.begin() < expected
                                    ? "[" + e.begin() + ", " + e.end() + ") overlaps tensor '" + previous
                                            + "', which ends at " + expected
                                    : "[" + e.begin() + ", " + e.end() + ") leaves a gap of " + (e.begin() - expected)
                                            + " bytes after tensor '" + previous + "', which ends at " + expected;
                    throw new TensorFormatException(source, e.name(), "data_offsets", problem);
                }
                expected = e.end();
                previous = e.name();
            }
            if (expected != dataLength) {
                throw new TensorFormatException(source, null, "data region", "the tensors cover " + expected
                        + " bytes, but the data region after the header has " + dataLength);
            }
            return Collections.unmodifiableList(entries);
        }
    }
}

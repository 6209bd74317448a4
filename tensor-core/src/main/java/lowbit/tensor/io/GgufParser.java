package lowbit.tensor.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import lowbit.tensor.ggml.GgmlType;

/**
 * Reads and validates the header of a GGUF file (v2 or v3, little-endian): every count, length, type id and offset is
 * checked against the bytes that remain before anything is allocated or read, so a lying file costs at most a few
 * times its own size in memory and never reads past its end. The rules are ggml's ({@code gguf.cpp}), see
 * {@link GgufFile}.
 */
final class GgufParser {
    /** Magic bytes "GGUF" read as a little-endian u32. */
    static final int MAGIC = 0x4655_4747;
    /** ggml's {@code GGML_MAX_DIMS}. */
    static final int MAX_DIMS = 4;
    /** ggml's {@code GGUF_MAX_STRING_LENGTH} and {@code GGUF_MAX_ARRAY_ELEMENTS}: 2^30. */
    static final long MAX_STRING_BYTES = 1L << 30;
    static final long MAX_ARRAY_ITEMS = 1L << 30;
    /** lowbit's limits, far above real files (tens of keys, at most ~10^5 tensors, a handful of arrays). */
    static final long MAX_KV = 1L << 20;
    static final long MAX_TENSORS = 1L << 22;
    static final int MAX_ARRAY_DEPTH = 8;
    static final int MAX_ARRAYS = 1 << 20;
    /** Fewest bytes of one key/value (u64 key length, a 1-byte key, u32 type, a 1-byte value). */
    private static final long MIN_KV_BYTES = 14;
    /** Fewest bytes of one tensor info (u64 name length, u32 n_dims, u32 type, u64 offset). */
    private static final long MIN_INFO_BYTES = 24;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The validated header. */
    record Parsed(int version, Map<String, GgufValue> metadata, List<GgufTensorInfo> tensors, int alignment,
            long dataStart) {
    }

    private final String source;
    private final MemorySegment seg;
    private final long size;
    private long pos;
    private String tensor; // the tensor being read, for messages
    private String field; // the field being read, for messages
    private int arrays;

    private GgufParser(String source, MemorySegment seg) {
        this.source = source;
        this.seg = seg;
        this.size = seg.byteSize();
    }

    static Parsed parse(String source, MemorySegment seg) throws TensorFormatException {
        return new GgufParser(source, seg).parse();
    }

    private Parsed parse() throws TensorFormatException {
        field = "magic";
        need(4);
        int magic = seg.get(LE32, 0);
        if (magic != MAGIC) {
            throw fail(String.format("the file starts with %02x %02x %02x %02x, not \"GGUF\"", magic & 0xFF,
                    magic >>> 8 & 0xFF, magic >>> 16 & 0xFF, magic >>> 24 & 0xFF));
        }
        pos = 4;
        field = "version";
        long version = u32();
        if (version == 1) {
            throw fail("GGUF v1 (2023, 32-bit counts) is not supported; convert the model again with a current llama.cpp");
        }
        if (version != 2 && version != 3) {
            throw fail(version != 0 && (version & 0xFFFF) == 0
                    ? "version " + version + " looks like a big-endian GGUF file; lowbit reads little-endian files only"
                    : "unsupported version " + version + " (lowbit reads GGUF v2 and v3)");
        }
        field = "tensor_count";
        long nTensors = count(MAX_TENSORS, MIN_INFO_BYTES);
        field = "kv_count";
        long nKv = count(MAX_KV, MIN_KV_BYTES);

        Map<String, GgufValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            field = "key " + i;
            String key = strictString();
            if (key.isEmpty()) {
                throw fail("is empty");
            }
            field = "metadata '" + TensorFormatException.abbreviate(key) + "'";
            if (metadata.containsKey(key)) {
                throw fail("appears twice");
            }
            metadata.put(key, value(type(), 0));
        }
        int alignment = alignment(metadata.get(GgufFile.ALIGNMENT_KEY));

        List<GgufTensorInfo> infos = new ArrayList<>((int) nTensors);
        Set<String> names = new HashSet<>();
        for (long i = 0; i < nTensors; i++) {
            field = "name";
            tensor = "#" + i;
            String name = strictString();
            tensor = name;
            if (!names.add(name)) {
                throw fail("appears twice");
            }
            infos.add(tensorInfo(name));
        }
        tensor = null;
        field = "data section";
        long dataStart = pos;
        if (nTensors > 0) {
            dataStart = (pos + alignment - 1) / alignment * alignment;
            if (dataStart > size) {
                throw fail("the padding to the " + alignment + "-byte aligned data section at " + dataStart
                        + " runs past the end of the " + size + "-byte file");
            }
        }
        checkLayout(infos, alignment, dataStart);
        return new Parsed((int) version, Collections.unmodifiableMap(metadata), Collections.unmodifiableList(infos),
                alignment, dataStart);
    }

    // ---------------------------------------------------------------- header parts

    private long count(long max, long minBytesEach) throws TensorFormatException {
        long n = u64();
        if (n < 0 || n > max) {
            throw fail(Long.toUnsignedString(n) + " is more than lowbit's limit of " + max);
        }
        if (n * minBytesEach > size - pos) {
            throw fail(n + " entries need at least " + n * minBytesEach + " bytes, the file has " + (size - pos)
                    + " left");
        }
        return n;
    }

    private int alignment(GgufValue v) throws TensorFormatException {
        if (v == null) {
            return GgufFile.DEFAULT_ALIGNMENT;
        }
        field = "metadata '" + GgufFile.ALIGNMENT_KEY + "'";
        if (v.type() != GgufType.UINT32) {
            throw fail("must be UINT32, is " + v.type());
        }
        long a = v.asLong();
        if (a == 0 || (a & (a - 1)) != 0 || a > (1 << 30)) {
            throw fail(a + " is not a power of two (at most 2^30)");
        }
        return (int) a;
    }

    private GgufTensorInfo tensorInfo(String name) throws TensorFormatException {
        field = "n_dims";
        long nDims = u32();
        if (nDims > MAX_DIMS) {
            throw fail(nDims + " dimensions, ggml allows at most " + MAX_DIMS);
        }
        long[] ne = new long[(int) nDims];
        long numel = 1;
        for (int j = 0; j < ne.length; j++) {
            field = "ne[" + j + "]";
            ne[j] = u64();
            if (ne[j] < 0) {
                throw fail(Long.toUnsignedString(ne[j]) + " is not in [0, 2^63)");
            }
            if (ne[j] != 0 && numel > Long.MAX_VALUE / ne[j]) {
                throw fail("the element count of ne " + Arrays.toString(ne) + " overflows a long");
            }
            numel *= ne[j];
        }
        field = "type";
        long id = u32();
        GgmlType type = ggmlType(id);
        long rowLength = ne.length == 0 ? 1 : ne[0];
        if (rowLength % type.blockSize() != 0) {
            field = "ne[0]";
            throw fail(rowLength + " elements per row is not a multiple of " + type + "'s block size "
                    + type.blockSize());
        }
        long rows = rowLength == 0 ? 0 : numel / rowLength;
        long bytes;
        try {
            bytes = Math.multiplyExact(Math.multiplyExact(rowLength / type.blockSize(), type.blockBytes()), rows);
        } catch (ArithmeticException e) {
            throw fail("the byte size of ne " + Arrays.toString(ne) + " of " + type + " overflows a long");
        }
        field = "offset";
        long offset = u64();
        if (offset < 0) {
            throw fail(Long.toUnsignedString(offset) + " is not in [0, 2^63)");
        }
        return new GgufTensorInfo(name, type, ne, offset, bytes);
    }

    private GgmlType ggmlType(long id) throws TensorFormatException {
        for (GgmlType t : GgmlType.values()) {
            if (t.id() == id) {
                return t;
            }
        }
        throw fail("ggml type " + id + GgmlTypeNames.describe(id) + " is not supported by lowbit");
    }

    /**
     * ggml's rule ({@code gguf_init_from_file_impl}): tensors lie in the data section in info order, each at the
     * previous one's offset plus its size padded to the alignment; so offsets are aligned and nothing overlaps. The
     * padding after the last tensor may be missing (llama.cpp's mmap loader does not need it).
     */
    private void checkLayout(List<GgufTensorInfo> infos, int alignment, long dataStart) throws TensorFormatException {
        long expected = 0;
        String previous = null;
        field = "offset";
        for (GgufTensorInfo t : infos) {
            tensor = t.name();
            if (t.offset() != expected) {
                throw fail(t.offset() % alignment != 0
                        ? t.offset() + " is not a multiple of the alignment " + alignment
                        : previous == null ? t.offset() + ": the first tensor must be at offset 0"
                        : t.offset() < expected ? t.offset() + " overlaps tensor '" + previous + "', which with its padding ends at " + expected
                        : t.offset() + " leaves a gap after tensor '" + previous + "', which with its padding ends at " + expected);
            }
            if (t.byteSize() > size - dataStart - t.offset()) {
                throw fail("data [" + t.offset() + ", " + (t.offset() + t.byteSize()) + ") runs past the end of the "
                        + (size - dataStart) + "-byte data section");
            }
            long padded = (t.byteSize() + alignment - 1) / alignment * alignment; // no overflow: byteSize < file size
            expected += padded;
            previous = t.name();
        }
        tensor = null;
    }

    // ---------------------------------------------------------------- values

    private GgufType type() throws TensorFormatException {
        long id = u32();
        GgufType t = GgufType.byId(id);
        if (t == null) {
            throw fail("unknown value type " + id);
        }
        return t;
    }

    private GgufValue value(GgufType type, int depth) throws TensorFormatException {
        return switch (type) {
            case STRING -> new GgufValue(type, 0, stringBytes());
            case ARRAY -> new GgufValue(type, 0, array(depth + 1));
            default -> {
                need(type.size());
                long bits = scalarBits(type, pos);
                pos += type.size();
                yield new GgufValue(type, bits, null);
            }
        };
    }

    private long scalarBits(GgufType type, long at) {
        return switch (type) {
            case UINT8 -> seg.get(ValueLayout.JAVA_BYTE, at) & 0xFFL;
            case INT8 -> seg.get(ValueLayout.JAVA_BYTE, at);
            case BOOL -> seg.get(ValueLayout.JAVA_BYTE, at) != 0 ? 1 : 0;
            case UINT16 -> seg.get(LE16, at) & 0xFFFFL;
            case INT16 -> seg.get(LE16, at);
            case UINT32, FLOAT32 -> seg.get(LE32, at) & 0xFFFF_FFFFL;
            case INT32 -> seg.get(LE32, at);
            default -> seg.get(LE64, at);
        };
    }

    private GgufArray array(int depth) throws TensorFormatException {
        if (depth > MAX_ARRAY_DEPTH) {
            throw fail("arrays nest deeper than " + MAX_ARRAY_DEPTH);
        }
        if (++arrays > MAX_ARRAYS) {
            throw fail("more than " + MAX_ARRAYS + " arrays in one file");
        }
        GgufType item = type();
        long n = u64();
        if (n < 0 || n > MAX_ARRAY_ITEMS) {
            throw fail("array count " + Long.toUnsignedString(n) + " exceeds ggml's limit of " + MAX_ARRAY_ITEMS);
        }
        if (n * item.minBytes() > size - pos) {
            throw fail("array of " + n + " " + item + " items needs at least " + n * item.minBytes() + " bytes, the file has "
                    + (size - pos) + " left");
        }
        int count = (int) n;
        return switch (item) {
            case STRING -> new GgufArray(item, count, strings(count));
            case ARRAY -> {
                GgufArray[] a = new GgufArray[count];
                for (int i = 0; i < count; i++) {
                    a[i] = array(depth + 1);
                }
                yield new GgufArray(item, count, a);
            }
            default -> new GgufArray(item, count, primitives(item, count));
        };
    }

    private Object primitives(GgufType item, int n) {
        long at = pos;
        pos += (long) n * item.size();
        switch (item.size()) {
            case 1 -> {
                byte[] b = new byte[n];
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, at, b, 0, n);
                if (item == GgufType.BOOL) {
                    for (int i = 0; i < n; i++) {
                        b[i] = (byte) (b[i] != 0 ? 1 : 0);
                    }
                }
                return b;
            }
            case 2 -> {
                short[] s = new short[n];
                MemorySegment.copy(seg, LE16, at, s, 0, n);
                return s;
            }
            case 4 -> {
                int[] v = new int[n];
                MemorySegment.copy(seg, LE32, at, v, 0, n);
                return v;
            }
            default -> {
                long[] v = new long[n];
                MemorySegment.copy(seg, LE64, at, v, 0, n);
                return v;
            }
        }
    }

    /** n strings: a first pass checks every length against the file and sizes the blob, a second copies. */
    private GgufArray.Strings strings(int n) throws TensorFormatException {
        long start = pos;
        long total = 0;
        for (int i = 0; i < n; i++) {
            long len = stringLength();
            pos += len;
            total += len;
        }
        if (total > Integer.MAX_VALUE - 16) {
            throw fail("string array of " + total + " bytes exceeds what lowbit holds in memory (2 GiB)");
        }
        byte[] blob = new byte[(int) total];
        int[] ends = new int[n];
        pos = start;
        int at = 0;
        for (int i = 0; i < n; i++) {
            int len = (int) seg.get(LE64, pos);
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos + 8, blob, at, len);
            pos += 8 + len;
            at += len;
            ends[i] = at;
        }
        return new GgufArray.Strings(blob, ends);
    }

    // ---------------------------------------------------------------- primitives

    private long stringLength() throws TensorFormatException {
        long len = u64();
        if (len < 0 || len > MAX_STRING_BYTES) {
            throw fail("string length " + Long.toUnsignedString(len) + " exceeds ggml's limit of " + MAX_STRING_BYTES);
        }
        if (len > size - pos) {
            throw fail("string length " + len + " at offset " + (pos - 8) + " runs past the end of the " + size
                    + "-byte file");
        }
        return len;
    }

    private byte[] stringBytes() throws TensorFormatException {
        int len = (int) stringLength();
        byte[] b = new byte[len];
        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, 0, len);
        pos += len;
        return b;
    }

    /** A string that must be valid UTF-8 (keys and tensor names). */
    private String strictString() throws TensorFormatException {
        byte[] b = stringBytes();
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw fail("is not valid UTF-8");
        }
    }

    private void need(long n) throws TensorFormatException {
        if (n > size - pos) {
            throw fail("needs " + n + " bytes at offset " + pos + ", the " + size + "-byte file has " + (size - pos)
                    + " left");
        }
    }

    private long u32() throws TensorFormatException {
        need(4);
        long v = seg.get(LE32, pos) & 0xFFFF_FFFFL;
        pos += 4;
        return v;
    }

    private long u64() throws TensorFormatException {
        need(8);
        long v = seg.get(LE64, pos);
        pos += 8;
        return v;
    }

    private TensorFormatException fail(String problem) {
        return new TensorFormatException(source, tensor, field, problem);
    }
}

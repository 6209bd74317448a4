package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void writerProducesTheBytesOfTheFormatDefinition() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("b", Tensor.ofCodes(DType.I8, new int[] {1, -1, 127}, Shape.of(3)));
        tensors.put("a", Tensor.ofFloats(new float[] {1f, -2f}, 2));
        tensors.put("c", Tensor.ofFloats(DType.BF16, new float[] {1f}, Shape.of(1, 1)));
        Path file = dir.resolve("hand.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));

        // Data order: dtype descending in the crate's enum order (F32 > BF16 > I8), then name.
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[8,10]},"
                + "\"b\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[10,13]}}";
        byte[] data = {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, (byte) 0xC0, // 1.0f, -2.0f
            (byte) 0x80, 0x3F, // bf16 1.0 = 0x3F80
            1, (byte) 0xFF, 0x7F};
        byte[] expected = Le.safetensors(json, data);
        assertThat(json.length() % 8).isNotZero(); // so the space padding is exercised
        assertThat(Files.readAllBytes(file)).containsExactly(expected);
        assertThat(Files.exists(dir.resolve("hand.safetensors.partial"))).isFalse();
    }

    @Test
    void readerTakesAnyKeyOrderUnpaddedHeadersAndIgnoresUnknownFields() throws IOException {
        String json = " { \"w\" : {\"data_offsets\":[4,12],\"dtype\":\"I16\",\"shape\":[2,2],\"note\":{\"x\":[1,{}]}},\n"
                + "\"__metadata__\":{\"k\":\"v\",\"\\u00fc\":\"\\n\"}, \"z\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]} }";
        byte[] data = new Le().bytes((byte) 9, (byte) 8, (byte) 7, (byte) 250).u16(1).u16(-2 & 0xFFFF).u16(0x7FFF).u16(0x8000)
                .toBytes();
        SafetensorsFile f = SafetensorsFile.read(MemorySegment.ofArray(Le.safetensorsUnpadded(json, data)), "mem");
        assertThat(f.names()).containsExactly("z", "w");
        assertThat(f.metadata()).containsExactly(Map.entry("k", "v"), Map.entry("ü", "\n"));
        Tensor w = f.tensor("w");
        assertThat(w.dtype()).isEqualTo(DType.I16);
        assertThat(w.shape()).isEqualTo(Shape.of(2, 2));
        assertThat(w.toIntArray()).containsExactly(1, -2, 32767, -32768);
        assertThat(f.tensor("z").toIntArray()).containsExactly(9, 8, 7, 250);
        assertThat(f.entry("w").begin()).isEqualTo(4);
        assertThat(f.dataStart()).isEqualTo(8 + json.getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
        assertThatThrownBy(() -> f.entry("nope")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nope");
    }

    /** Random bytes for a tensor of {@code dims}; any bit pattern is a valid element of every dtype. */
    private static byte[] randomBytes(SafetensorsSpec s, Random r) {
        byte[] b = new byte[(int) s.byteSize()];
        r.nextBytes(b);
        return b;
    }

    @Test
    void everyDtypeRoundTripsByteForByte() throws IOException {
        long seed = 10;
        Random r = new Random(seed);
        List<SafetensorsSpec> specs = new ArrayList<>();
        Map<String, byte[]> contents = new LinkedHashMap<>();
        for (SafetensorsDType t : SafetensorsDType.values()) {
            // 12 elements fill whole bytes for every width (4 and 6 bits included)
            SafetensorsSpec s = SafetensorsSpec.of("t." + t, t, 3, 4);
            specs.add(s);
            contents.put(s.name(), randomBytes(s, r));
        }
        Path file = dir.resolve("all.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(file, Map.of("seed", Long.toString(seed)), specs)) {
            for (SafetensorsSpec s : specs.reversed()) {
                w.write(s.name(), MemorySegment.ofArray(contents.get(s.name())));
            }
        }
        byte[] first = Files.readAllBytes(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.entries()).hasSize(specs.size());
            for (SafetensorsSpec s : specs) {
                assertThat(f.entry(s.name()).spec()).isEqualTo(s);
                assertThat(f.bytes(s.name()).toArray(ValueLayout.JAVA_BYTE)).as(s.name()).containsExactly(contents.get(s.name()));
                s.dtype().lowbit().ifPresentOrElse(dt -> {
                    Tensor t = f.tensor(s.name());
                    assertThat(t.dtype()).isEqualTo(dt);
                    assertThat(t.shape()).isEqualTo(Shape.of(3, 4));
                    assertThat(t.isReadOnly()).isTrue();
                    assertThat(t.segment().isMapped()).isTrue();
                }, () -> assertThatThrownBy(() -> f.tensor(s.name())).isInstanceOf(UnsupportedOperationException.class)
                        .hasMessageContaining(s.dtype().name()));
            }
            // the dtypes' data is laid out largest alignment first: every tensor starts on a multiple of its width
            for (SafetensorsEntry e : f.entries()) {
                assertThat((f.dataStart() + e.begin()) % Math.max(1, e.dtype().bits() / 8)).as(e.name()).isZero();
            }
            // writing what was read gives the same file
            Path again = dir.resolve("again.safetensors");
            List<SafetensorsSpec> readSpecs = f.entries().stream().map(SafetensorsEntry::spec).toList();
            try (SafetensorsWriter w = SafetensorsWriter.create(again, f.metadata(), readSpecs)) {
                for (SafetensorsSpec s : readSpecs) {
                    w.write(s.name(), f.bytes(s.name()));
                }
            }
            assertThat(Files.readAllBytes(again)).containsExactly(first);
        }
    }

    @Test
    void lowbitTensorsOfEveryFileDtypeRoundTripThroughTheConvenienceWriter() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("f32", Tensor.ofFloats(DType.F32, new float[] {1.5f, Float.NaN, -0f}, Shape.of(3)));
        tensors.put("f16", Tensor.ofFloats(DType.F16, new float[] {65504f, 0x1p-24f}, Shape.of(2, 1)));
        tensors.put("bf16", Tensor.ofFloats(DType.BF16, new float[] {3f, -1e30f}, Shape.of(1, 2)));
        tensors.put("f64", Tensor.ofFloats(DType.F64, new float[] {Float.MAX_VALUE}, Shape.of(1)));
        tensors.put("i64", Tensor.ofCodes(DType.I64, new int[] {-7, 7}, Shape.of(2)));
        tensors.put("i32", Tensor.ofCodes(DType.I32, new int[] {Integer.MIN_VALUE}, Shape.of(1)));
        tensors.put("i16", Tensor.ofCodes(DType.I16, new int[] {-300, 300}, Shape.of(2)));
        tensors.put("i8", Tensor.ofCodes(DType.I8, new int[] {-128}, Shape.of(1)));
        tensors.put("u8", Tensor.ofCodes(DType.U8, new int[] {255, 0}, Shape.of(2)));
        tensors.put("bool", Tensor.ofCodes(DType.BOOL, new int[] {1, 0, 1}, Shape.of(3)));
        tensors.put("f8a", Tensor.wrap(MemorySegment.ofArray(new byte[] {0x7E}), DType.F8_E4M3, Shape.of(1)));
        tensors.put("f8b", Tensor.wrap(MemorySegment.ofArray(new byte[] {0x7B}), DType.F8_E5M2, Shape.of(1)));
        Path file = dir.resolve("lowbit.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.metadata()).isEmpty();
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor got = f.tensor(e.getKey());
                assertThat(got.dtype()).isEqualTo(e.getValue().dtype());
                assertThat(got.shape()).isEqualTo(e.getValue().shape());
                assertThat(got.segment().toArray(ValueLayout.JAVA_BYTE)).as(e.getKey())
                        .containsExactly(e.getValue().segment().toArray(ValueLayout.JAVA_BYTE));
            }
            assertThat(f.tensor("f8a").getFloat(0)).isEqualTo(448f);
            assertThat(f.tensor("f64").getDouble(0)).isEqualTo(Float.MAX_VALUE);
            assertThat(f.tensor("i64").getLong(0)).isEqualTo(-7);
        }
        assertThatThrownBy(() -> SafetensorsWriter.write(dir.resolve("x.safetensors"),
                Map.of("p", Tensor.ofCodes(DType.U4, new int[] {1, 2}, Shape.of(2))), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("U4");
    }

    @Test
    void scalarsAndEmptyTensors() throws IOException {
        List<SafetensorsSpec> specs = List.of(SafetensorsSpec.of("scalar", SafetensorsDType.F32),
                SafetensorsSpec.of("empty", SafetensorsDType.F32, 0, 5), SafetensorsSpec.of("e2", SafetensorsDType.I8, 0));
        Path file = dir.resolve("s.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(file, Map.of(), specs)) {
            w.write("scalar", MemorySegment.ofArray(new Le().f32(2.5f).toBytes()));
            w.write("empty", MemorySegment.ofArray(new byte[0]));
            w.write("e2", MemorySegment.ofArray(new byte[0]));
        }
        byte[] all = Files.readAllBytes(file);
        String header = new String(all, 8, all.length - 8 - 4, java.nio.charset.StandardCharsets.UTF_8);
        assertThat(header).contains("\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.entry("scalar").spec().dims()).isEmpty();
            assertThat(f.tensor("scalar").shape()).isEqualTo(Shape.of(1));
            assertThat(f.tensor("scalar").getFloat(0)).isEqualTo(2.5f);
            assertThat(f.tensor("empty").numel()).isZero();
            assertThat(f.tensor("empty").shape()).isEqualTo(Shape.of(0, 5));
        }
    }

    @Test
    void namesSortByUtf8BytesLikeRustStrings() {
        // Java's compareTo orders U+1F600 (a surrogate pair, D83D..) before U+FFFF; UTF-8 bytes (F0.. vs EF..) do not.
        List<String> names = List.of("\uD83D\uDE00", "\uFFFF", "é", "b", "a");
        List<SafetensorsSpec> specs = names.stream().map(n -> SafetensorsSpec.of(n, SafetensorsDType.U8, 1)).toList();
        assertThat(SafetensorsWriter.layout(specs).stream().map(SafetensorsEntry::name))
                .containsExactly("a", "b", "é", "\uFFFF", "\uD83D\uDE00");
    }

    @Test
    void metadataWithEscapesAndUnicodeIsPreserved() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("k\"q\\", "v\n\u0001\t");
        meta.put("ü", "\uD83D\uDE00");
        meta.put("format", "pt");
        Path file = dir.resolve("m.safetensors");
        SafetensorsWriter.write(file, Map.of("x", Tensor.ofFloats(new float[] {1}, 1)), meta);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.metadata()).containsExactlyEntriesOf(meta);
        }
    }

    @Test
    void streamingWriterTakesAnyOrderAndSequentialChunks() throws IOException {
        Random r = new Random(11);
        List<SafetensorsSpec> specs = List.of(SafetensorsSpec.of("a", SafetensorsDType.F32, 5, 7),
                SafetensorsSpec.of("b", SafetensorsDType.F16, 3), SafetensorsSpec.of("c", SafetensorsDType.I64, 2, 2));
        Map<String, byte[]> data = new LinkedHashMap<>();
        for (SafetensorsSpec s : specs) {
            data.put(s.name(), randomBytes(s, r));
        }
        Path whole = dir.resolve("whole.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(whole, Map.of(), specs)) {
            for (SafetensorsSpec s : specs) {
                w.write(s.name(), MemorySegment.ofArray(data.get(s.name())));
            }
        }
        Path chunked = dir.resolve("chunked.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(chunked, Map.of(), specs)) {
            w.write("c", MemorySegment.ofArray(data.get("c")));
            MemorySegment a = MemorySegment.ofArray(data.get("a"));
            for (long at = 0; at < a.byteSize(); at += 28) { // one row of 7 floats at a time
                w.append("a", a.asSlice(at, 28));
            }
            w.write("b", MemorySegment.ofArray(data.get("b")));
            assertThatThrownBy(() -> w.append("b", MemorySegment.ofArray(new byte[1])))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("run past");
        }
        assertThat(Files.readAllBytes(chunked)).containsExactly(Files.readAllBytes(whole));
    }

    @Test
    void streamingWriterRefusesMisuseAndLeavesNoPartialFile() throws IOException {
        List<SafetensorsSpec> specs = List.of(SafetensorsSpec.of("a", SafetensorsDType.F32, 2),
                SafetensorsSpec.of("b", SafetensorsDType.F32, 2));
        Path file = dir.resolve("bad.safetensors");
        SafetensorsWriter w = SafetensorsWriter.create(file, Map.of(), specs);
        assertThat(Files.exists(dir.resolve("bad.safetensors.partial"))).isTrue();
        assertThatThrownBy(() -> w.write("zz", MemorySegment.ofArray(new byte[8])))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not declared");
        assertThatThrownBy(() -> w.write("a", MemorySegment.ofArray(new byte[7])))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 8 bytes");
        assertThatThrownBy(() -> w.write("a", Tensor.ofFloats(DType.F16, new float[2], Shape.of(2))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("declared");
        w.write("a", Tensor.ofFloats(new float[] {1, 2}, 2));
        assertThatThrownBy(() -> w.write("a", Tensor.ofFloats(new float[] {1, 2}, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("already written");
        assertThatThrownBy(w::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("b (0 of 8 bytes)");
        assertThat(Files.exists(file)).isFalse();
        assertThat(Files.exists(dir.resolve("bad.safetensors.partial"))).isFalse();
        assertThatThrownBy(() -> SafetensorsWriter.create(file, Map.of(), List.of(specs.get(0), specs.get(0))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("declared twice");
        assertThatThrownBy(() -> SafetensorsSpec.of("__metadata__", SafetensorsDType.U8, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SafetensorsSpec.of("f4", SafetensorsDType.F4, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole bytes");
    }

    @Test
    void tensorsOfAnOpenedFileDieWithIt() throws IOException {
        Path file = dir.resolve("c.safetensors");
        SafetensorsWriter.write(file, Map.of("x", Tensor.ofFloats(new float[] {4}, 1)), Map.of());
        Tensor t;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            t = f.tensor("x");
            assertThat(t.getFloat(0)).isEqualTo(4f);
        }
        assertThatThrownBy(() -> t.getFloat(0)).isInstanceOf(IllegalStateException.class);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(file, arena);
            f.close(); // the caller's arena owns the mapping
            assertThat(f.tensor("x").getFloat(0)).isEqualTo(4f);
        }
    }
}

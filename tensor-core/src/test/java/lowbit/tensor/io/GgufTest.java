package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
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
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.ggml.Q5_1;
import lowbit.tensor.ggml.Q8_0;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufTest {
    @TempDir
    Path dir;

    /** One metadata value of every type, nested arrays included. */
    static Map<String, GgufValue> everyType() {
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("general.architecture", GgufValue.ofString("llama"));
        m.put("u8", GgufValue.ofU8(200));
        m.put("i8", GgufValue.ofI8(-5));
        m.put("u16", GgufValue.ofU16(60000));
        m.put("i16", GgufValue.ofI16(-300));
        m.put("u32", GgufValue.ofU32(4_000_000_000L));
        m.put("i32", GgufValue.ofI32(-7));
        m.put("f32", GgufValue.ofF32(1.5f));
        m.put("bool", GgufValue.ofBool(true));
        m.put("u64", GgufValue.ofU64(Long.MIN_VALUE + 5)); // 2^63 + 5
        m.put("i64", GgufValue.ofI64(-9));
        m.put("f64", GgufValue.ofF64(0.1));
        m.put("ints", GgufValue.ofArray(GgufArray.ofIntegers(GgufType.INT32, 1, 2, 3)));
        m.put("strings", GgufValue.ofArray(GgufArray.ofStrings(List.of("a", "é", ""))));
        m.put("nested", GgufValue.ofArray(GgufArray.ofArrays(List.of(GgufArray.ofIntegers(GgufType.UINT8, 1, 2),
                GgufArray.ofIntegers(GgufType.UINT8)))));
        return m;
    }

    /** The same metadata, encoded by hand from the GGUF definition. */
    static Le everyTypeBytes(Le b) {
        b.str("general.architecture").u32(8).str("llama");
        b.str("u8").u32(0).u8(200);
        b.str("i8").u32(1).u8(0xFB);
        b.str("u16").u32(2).u16(60000);
        b.str("i16").u32(3).u16(-300 & 0xFFFF);
        b.str("u32").u32(4).u32(4_000_000_000L);
        b.str("i32").u32(5).u32(-7);
        b.str("f32").u32(6).f32(1.5f);
        b.str("bool").u32(7).u8(1);
        b.str("u64").u32(10).u64(Long.MIN_VALUE + 5);
        b.str("i64").u32(11).u64(-9);
        b.str("f64").u32(12).f64(0.1);
        b.str("ints").u32(9).u32(5).u64(3).u32(1).u32(2).u32(3);
        b.str("strings").u32(9).u32(8).u64(3).str("a").str("é").str("");
        b.str("nested").u32(9).u32(9).u64(2).u32(0).u64(2).u8(1).u8(2).u32(0).u64(0);
        return b;
    }

    @Test
    void writerProducesTheBytesOfTheFormatDefinition() throws IOException {
        Random r = new Random(20);
        byte[] w = new byte[2 * 18];
        r.nextBytes(w);
        Path file = dir.resolve("hand.gguf");
        try (GgufWriter g = GgufWriter.create(file, everyType(), List.of(
                new GgufTensorSpec("w", GgmlType.Q4_0, Shape.of(2, 32)),
                new GgufTensorSpec("v", GgmlType.F32, Shape.of(3))))) {
            g.write("v", Tensor.ofFloats(new float[] {1, 2, 3}, 3));
            g.write("w", MemorySegment.ofArray(w));
            assertThat(g.alignment()).isEqualTo(32);
        }
        Le b = new Le().ascii("GGUF").u32(3).u64(2).u64(16);
        everyTypeBytes(b);
        b.str("general.quantization_version").u32(4).u32(2); // added because w is quantized
        b.str("w").u32(2).u64(32).u64(2).u32(2).u64(0); // ne reversed: [32, 2]; Q4_0 = 2
        b.str("v").u32(1).u64(3).u32(0).u64(64); // 36 bytes of w padded to 64
        b.padTo(32);
        b.bytes(w).padTo(32).f32(1).f32(2).f32(3).padTo(32);
        assertThat(Files.readAllBytes(file)).containsExactly(b.toBytes());
    }

    @Test
    void readerGivesTypedMetadataTensorsAndBlocks() throws IOException {
        Random r = new Random(21);
        byte[] w = new byte[2 * 18];
        r.nextBytes(w);
        Le b = new Le().ascii("GGUF").u32(3).u64(2).u64(15);
        everyTypeBytes(b);
        b.str("w").u32(2).u64(32).u64(2).u32(2).u64(0);
        b.str("v").u32(2).u64(2).u64(1).u32(1).u64(64);
        b.padTo(32).bytes(w).padTo(32).u16(0x3C00).u16(0xC000); // f16 1.0, -2.0; no padding after the last tensor
        try (GgufFile f = GgufFile.read(MemorySegment.ofArray(b.toBytes()), "mem.gguf")) {
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.alignment()).isEqualTo(32);
            assertThat(f.metadata()).containsExactlyEntriesOf(everyType());
            assertThat(f.value("general.architecture").orElseThrow().asString()).isEqualTo("llama");
            assertThat(f.value("u8").orElseThrow().asInt()).isEqualTo(200);
            assertThat(f.value("i8").orElseThrow().asLong()).isEqualTo(-5);
            assertThat(f.value("u32").orElseThrow().asLong()).isEqualTo(4_000_000_000L);
            assertThatThrownBy(() -> f.value("u32").orElseThrow().asInt()).isInstanceOf(ArithmeticException.class);
            assertThat(f.value("u64").orElseThrow().asUnsignedString()).isEqualTo("9223372036854775813");
            assertThat(f.value("u64").orElseThrow().asDouble()).isEqualTo(9223372036854775813.0);
            assertThat(f.value("f32").orElseThrow().asFloat()).isEqualTo(1.5f);
            assertThat(f.value("f64").orElseThrow().asDouble()).isEqualTo(0.1);
            assertThat(f.value("bool").orElseThrow().asBoolean()).isTrue();
            assertThat(f.value("ints").orElseThrow().asArray().toLongArray()).containsExactly(1, 2, 3);
            assertThat(f.value("strings").orElseThrow().asArray().strings()).containsExactly("a", "é", "");
            GgufArray nested = f.value("nested").orElseThrow().asArray();
            assertThat(nested.getArray(0).toLongArray()).containsExactly(1, 2);
            assertThat(nested.getArray(1).size()).isZero();
            assertThatThrownBy(() -> f.value("u8").orElseThrow().asString()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("UINT8");
            assertThat(f.value("missing")).isEmpty();

            GgufTensorInfo wi = f.info("w");
            assertThat(wi.ne()).containsExactly(32, 2);
            assertThat(wi.shape()).isEqualTo(Shape.of(2, 32));
            assertThat(wi.rowCount()).isEqualTo(2);
            assertThat(wi.byteSize()).isEqualTo(36);
            assertThat(f.bytes("w").toArray(ValueLayout.JAVA_BYTE)).containsExactly(w);
            assertThatThrownBy(() -> f.tensor("w")).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("Q4_0");
            Tensor v = f.tensor("v");
            assertThat(v.dtype()).isEqualTo(DType.F16);
            assertThat(v.shape()).isEqualTo(Shape.of(1, 2));
            assertThat(v.toFloatArray()).containsExactly(1f, -2f);
            assertThat(f.dataStart() % 32).isZero();
        }
    }

    @Test
    void everyGgmlTypeRoundTripsByteForByte() throws IOException {
        long seed = 22;
        Random r = new Random(seed);
        List<GgufTensorSpec> specs = new ArrayList<>();
        Map<String, byte[]> data = new LinkedHashMap<>();
        for (GgmlType t : GgmlType.values()) {
            GgufTensorSpec s = new GgufTensorSpec("t." + t, t, Shape.of(3, 2 * t.blockSize()));
            byte[] b = new byte[(int) s.byteSize()];
            r.nextBytes(b);
            specs.add(s);
            data.put(s.name(), b);
        }
        Map<String, GgufValue> meta = new LinkedHashMap<>();
        meta.put(GgufFile.ALIGNMENT_KEY, GgufValue.ofU32(64));
        meta.put("seed", GgufValue.ofU64(seed));
        Path file = dir.resolve("all.gguf");
        try (GgufWriter w = GgufWriter.create(file, meta, specs)) {
            for (GgufTensorSpec s : specs.reversed()) {
                w.write(s.name(), MemorySegment.ofArray(data.get(s.name())));
            }
        }
        byte[] first = Files.readAllBytes(file);
        try (GgufFile f = GgufFile.open(file)) {
            assertThat(f.alignment()).isEqualTo(64);
            assertThat(f.dataStart() % 64).isZero();
            assertThat(f.tensors()).hasSize(specs.size());
            for (GgufTensorSpec s : specs) {
                GgufTensorInfo i = f.info(s.name());
                assertThat(i.type()).isEqualTo(s.type());
                assertThat(i.shape()).isEqualTo(s.shape());
                assertThat(i.offset() % 64).isZero();
                assertThat(f.bytes(s.name()).toArray(ValueLayout.JAVA_BYTE)).as(s.name()).containsExactly(data.get(s.name()));
                DType plain = GgufFile.plainDType(s.type());
                if (plain != null) {
                    assertThat(f.tensor(s.name()).dtype()).isEqualTo(plain);
                    assertThat(f.tensor(s.name()).shape()).isEqualTo(s.shape());
                }
            }
            Path again = dir.resolve("again.gguf");
            List<GgufTensorSpec> readSpecs = f.tensors().stream()
                    .map(i -> new GgufTensorSpec(i.name(), i.type(), i.shape())).toList();
            try (GgufWriter w = GgufWriter.create(again, f.metadata(), readSpecs)) {
                for (GgufTensorSpec s : readSpecs) {
                    w.write(s.name(), f.bytes(s.name()));
                }
            }
            assertThat(Files.readAllBytes(again)).containsExactly(first);
        }
    }

    @Test
    void quantizeEncodesRowsWithTheReferenceEncoders() throws IOException {
        Random r = new Random(23);
        int rows = 5;
        int cols = 96;
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Tensor src = Tensor.ofFloats(x, rows, cols);
        Tensor srcBf16 = Tensor.ofFloats(DType.BF16, x, Shape.of(rows, cols));
        Path file = dir.resolve("q.gguf");
        try (GgufWriter w = GgufWriter.create(file, Map.of(), List.of(
                new GgufTensorSpec("q4", GgmlType.Q4_0, Shape.of(rows, cols)),
                new GgufTensorSpec("q8", GgmlType.Q8_0, Shape.of(rows, cols)),
                new GgufTensorSpec("q51", GgmlType.Q5_1, Shape.of(rows, cols)),
                new GgufTensorSpec("h", GgmlType.F16, Shape.of(rows, cols)),
                new GgufTensorSpec("b", GgmlType.Q4_0, Shape.of(rows, cols))))) {
            w.quantize("q4", src);
            w.quantize("q8", src);
            w.quantize("q51", src);
            w.quantize("h", src);
            w.quantize("b", srcBf16);
            assertThatThrownBy(() -> w.quantize("q4", src)).isInstanceOf(IllegalArgumentException.class);
        }
        try (GgufFile f = GgufFile.open(file)) {
            assertThat(f.value(GgufWriter.QUANTIZATION_VERSION_KEY).orElseThrow().asLong()).isEqualTo(2);
            long rb4 = Q4_0.rowBytes(cols);
            byte[] q4 = new byte[(int) (rows * rb4)];
            byte[] q8 = new byte[(int) (rows * Q8_0.rowBytes(cols))];
            byte[] q51 = new byte[(int) (rows * Q5_1.rowBytes(cols))];
            byte[] b4 = new byte[q4.length];
            float[] bf = srcBf16.toFloatArray();
            for (int i = 0; i < rows; i++) {
                Q4_0.quantizeRow(x, i * cols, q4, (int) (i * rb4), cols);
                Q8_0.quantizeRow(x, i * cols, q8, (int) (i * Q8_0.rowBytes(cols)), cols);
                Q5_1.quantizeRow(x, i * cols, MemorySegment.ofArray(q51), i * Q5_1.rowBytes(cols), cols);
                Q4_0.quantizeRow(bf, i * cols, b4, (int) (i * rb4), cols);
            }
            assertThat(f.bytes("q4").toArray(ValueLayout.JAVA_BYTE)).containsExactly(q4);
            assertThat(f.bytes("q8").toArray(ValueLayout.JAVA_BYTE)).containsExactly(q8);
            assertThat(f.bytes("q51").toArray(ValueLayout.JAVA_BYTE)).containsExactly(q51);
            assertThat(f.bytes("b").toArray(ValueLayout.JAVA_BYTE)).containsExactly(b4);
            assertThat(f.tensor("h").segment().toArray(ValueLayout.JAVA_BYTE))
                    .containsExactly(Tensor.ofFloats(DType.F16, x, Shape.of(rows, cols)).segment().toArray(ValueLayout.JAVA_BYTE));
        }
        try (GgufWriter w = GgufWriter.create(dir.resolve("k.gguf"), Map.of(),
                List.of(new GgufTensorSpec("k", GgmlType.Q8_K, Shape.of(1, 256))))) {
            assertThatThrownBy(() -> w.quantize("k", Tensor.ofFloats(new float[256], 1, 256)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no encoder for Q8_K");
            w.abort();
        }
    }

    @Test
    void versionTwoReadsAsVersionThree() throws IOException {
        Path file = dir.resolve("v.gguf");
        GgufWriter.write(file, Map.of("a", GgufValue.ofString("b")), Map.of("x", Tensor.ofFloats(new float[] {7}, 1)));
        byte[] b = Files.readAllBytes(file);
        assertThat(b[4]).isEqualTo((byte) 3);
        b[4] = 2;
        GgufFile f = GgufFile.read(MemorySegment.ofArray(b), "v2");
        assertThat(f.version()).isEqualTo(2);
        assertThat(f.tensor("x").getFloat(0)).isEqualTo(7f);
        assertThat(f.value("general.quantization_version")).isEmpty(); // nothing quantized, nothing added
    }

    @Test
    void emptyFilesAndScalars() throws IOException {
        Path file = dir.resolve("e.gguf");
        GgufWriter.write(file, Map.of(), Map.of());
        assertThat(Files.readAllBytes(file)).containsExactly(new Le().ascii("GGUF").u32(3).u64(0).u64(0).toBytes());
        assertThat(GgufFile.open(file).tensors()).isEmpty();
        // n_dims = 0 is a scalar, lowbit shape [1]
        byte[] scalar = new Le().ascii("GGUF").u32(3).u64(1).u64(0).str("s").u32(0).u32(0).u64(0).padTo(32).f32(5f).toBytes();
        GgufFile f = GgufFile.read(MemorySegment.ofArray(scalar), "scalar");
        assertThat(f.info("s").ne()).isEmpty();
        assertThat(f.tensor("s").shape()).isEqualTo(Shape.of(1));
        assertThat(f.tensor("s").getFloat(0)).isEqualTo(5f);
    }

    @Test
    void stringBytesSurviveEvenWhenNotUtf8() throws IOException {
        byte[] raw = {(byte) 0xFF, 'a', (byte) 0xC3};
        Map<String, GgufValue> m = Map.of("tok", GgufValue.ofStringBytes(raw),
                "toks", GgufValue.ofArray(GgufArray.ofStringBytes(List.of(raw, new byte[] {'b'}))));
        Path file = dir.resolve("s.gguf");
        GgufWriter.write(file, m, Map.of());
        GgufFile f = GgufFile.open(file);
        assertThat(f.value("tok").orElseThrow().asStringBytes()).containsExactly(raw);
        assertThat(f.value("tok").orElseThrow().asString()).isEqualTo("\uFFFDa\uFFFD");
        assertThat(f.value("toks").orElseThrow().asArray().getStringBytes(0)).containsExactly(raw);
    }

    @Test
    void writerValidatesItsInput() {
        assertThatThrownBy(() -> new GgufTensorSpec("x".repeat(64), GgmlType.F32, Shape.of(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("63");
        assertThatThrownBy(() -> new GgufTensorSpec("x", GgmlType.Q4_0, Shape.of(2, 33)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("block size 32");
        assertThatThrownBy(() -> new GgufTensorSpec("x", GgmlType.F32, Shape.of(1, 1, 1, 1, 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most 4");
        assertThatThrownBy(() -> GgufWriter.create(dir.resolve("a.gguf"),
                Map.of(GgufFile.ALIGNMENT_KEY, GgufValue.ofU32(24)), List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("power of two");
        assertThatThrownBy(() -> GgufWriter.create(dir.resolve("a.gguf"),
                Map.of(GgufFile.ALIGNMENT_KEY, GgufValue.ofI32(32)), List.of()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GgufValue.ofU8(256)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("256");
        assertThatThrownBy(() -> GgufValue.ofU32(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GgufArray.ofIntegers(GgufType.INT8, 1, 128)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("item 1");
        assertThatThrownBy(() -> GgufWriter.write(dir.resolve("u.gguf"), Map.of(),
                Map.of("u", Tensor.ofCodes(DType.U8, new int[] {1}, Shape.of(1)))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("U8");
    }
}

package lowbit.tensor.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;

/**
 * Regenerates the fuzzers' seed corpora under {@code src/test/resources} (small valid files exercising every dtype,
 * metadata type and layout rule). Run from {@code tensor-core/} after {@code test-compile}:
 * {@code java -cp target/test-classes:target/classes:<jackson-core.jar> lowbit.tensor.io.FuzzSeeds}.
 */
public final class FuzzSeeds {
    private FuzzSeeds() {
    }

    public static void main(String[] args) throws IOException {
        Path st = Path.of("src/test/resources/lowbit/tensor/io/SafetensorsFuzzTestInputs/safetensors");
        Path gg = Path.of("src/test/resources/lowbit/tensor/io/GgufFuzzTestInputs/gguf");
        Files.createDirectories(st);
        Files.createDirectories(gg);

        Map<String, Tensor> small = new LinkedHashMap<>();
        small.put("w", Tensor.ofFloats(DType.F16, new float[] {1, -2, 3, 0.5f, 7, 8}, Shape.of(2, 3)));
        small.put("b", Tensor.ofFloats(new float[] {1, 2}, 2));
        small.put("ids", Tensor.ofCodes(DType.I64, new int[] {3, -1}, Shape.of(2)));
        small.put("mask", Tensor.ofCodes(DType.BOOL, new int[] {1, 0, 1}, Shape.of(3)));
        SafetensorsWriter.write(st.resolve("small.safetensors"), small, Map.of("format", "pt"));
        try (SafetensorsWriter w = SafetensorsWriter.create(st.resolve("all-dtypes.safetensors"), Map.of(),
                java.util.Arrays.stream(SafetensorsDType.values()).map(t -> SafetensorsSpec.of(t.name(), t, 4)).toList())) {
            for (SafetensorsEntry e : w.layout()) {
                w.write(e.name(), java.lang.foreign.MemorySegment.ofArray(new byte[(int) e.byteSize()]));
            }
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(st.resolve("scalar-empty.safetensors"), Map.of("k", "v"),
                List.of(SafetensorsSpec.of("s", SafetensorsDType.F64), SafetensorsSpec.of("e", SafetensorsDType.I32, 0, 3)))) {
            w.write("s", java.lang.foreign.MemorySegment.ofArray(new byte[8]));
            w.write("e", java.lang.foreign.MemorySegment.ofArray(new byte[0]));
        }
        Files.write(st.resolve("empty.safetensors"), Le.safetensors("{}", new byte[0]));

        Map<String, GgufValue> meta = GgufTest.everyType();
        try (GgufWriter w = GgufWriter.create(gg.resolve("every-value.gguf"), meta, List.of(
                new GgufTensorSpec("q", GgmlType.Q4_0, Shape.of(2, 32)), new GgufTensorSpec("f", GgmlType.F32, Shape.of(3))))) {
            w.quantize("q", Tensor.ofFloats(new float[64], 2, 32));
            w.write("f", Tensor.ofFloats(new float[] {1, 2, 3}, 3));
        }
        Map<String, GgufValue> aligned = new LinkedHashMap<>();
        aligned.put(GgufFile.ALIGNMENT_KEY, GgufValue.ofU32(64));
        aligned.put("general.architecture", GgufValue.ofString("llama"));
        try (GgufWriter w = GgufWriter.create(gg.resolve("aligned-types.gguf"), aligned, List.of(
                new GgufTensorSpec("h", GgmlType.F16, Shape.of(1, 4)), new GgufTensorSpec("b", GgmlType.BF16, Shape.of(2)),
                new GgufTensorSpec("k", GgmlType.Q6_K, Shape.of(1, 256)), new GgufTensorSpec("i", GgmlType.I32, Shape.of(1, 1, 2))))) {
            for (GgufTensorInfo t : w.layout()) {
                w.write(t.name(), java.lang.foreign.MemorySegment.ofArray(new byte[(int) t.byteSize()]));
            }
        }
        GgufWriter.write(gg.resolve("empty.gguf"), Map.of(), Map.of());
    }
}

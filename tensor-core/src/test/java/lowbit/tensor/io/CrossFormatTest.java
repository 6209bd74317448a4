package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import lowbit.tensor.Fp16;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Q4_0;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GGUF Q4_0 ↔ lowbit Q4_0 ↔ dequantized safetensors, byte for byte. */
class CrossFormatTest {
    @TempDir
    Path dir;

    @Test
    void q4_0GoesFromSafetensorsToGgufAndBackUnchanged() throws IOException {
        long seed = 30;
        Random r = new Random(seed);
        int rows = 6;
        int cols = 96;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * (i % 7 == 0 ? 4 : 1));
        }
        // 1. a float checkpoint, as a model arrives
        Path st = dir.resolve("model.safetensors");
        SafetensorsWriter.write(st, Map.of("w", Tensor.ofFloats(w, rows, cols)), Map.of("format", "pt"));

        // 2. lowbit's Q4_0 of it, and GGUF written by quantizing the mapped tensor row by row
        byte[] lowbit = new byte[(int) (rows * Q4_0.rowBytes(cols))];
        for (int i = 0; i < rows; i++) {
            Q4_0.quantizeRow(w, i * cols, lowbit, (int) (i * Q4_0.rowBytes(cols)), cols);
        }
        Path gguf = dir.resolve("model.gguf");
        try (SafetensorsFile in = SafetensorsFile.open(st);
                GgufWriter out = GgufWriter.create(gguf, Map.of("general.architecture", GgufValue.ofString("test")),
                        List.of(new GgufTensorSpec("w", GgmlType.Q4_0, in.tensor("w").shape())))) {
            out.quantize("w", in.tensor("w"));
        }

        float[] dequantized = new float[rows * cols];
        try (GgufFile g = GgufFile.open(gguf)) {
            MemorySegment blocks = g.bytes("w");
            assertThat(g.info("w").shape()).isEqualTo(Shape.of(rows, cols));
            assertThat(blocks.toArray(ValueLayout.JAVA_BYTE)).as("GGUF Q4_0 = lowbit Q4_0").containsExactly(lowbit);

            // 3. dequantize straight from the mapped blocks, and check it against the block definition by hand:
            //    block b of a row: f16 d at byte 18b, element j / j+16 in the low / high nibble of byte 18b+2+j
            for (int i = 0; i < rows; i++) {
                Q4_0.dequantizeRow(blocks, i * Q4_0.rowBytes(cols), dequantized, i * cols, cols);
            }
            for (int i = 0; i < rows; i++) {
                for (int b = 0; b < cols / 32; b++) {
                    long off = i * Q4_0.rowBytes(cols) + 18L * b;
                    float d = Fp16.toFloat(blocks.get(ValueLayout.JAVA_SHORT_UNALIGNED, off));
                    for (int j = 0; j < 16; j++) {
                        int q = blocks.get(ValueLayout.JAVA_BYTE, off + 2 + j) & 0xFF;
                        assertThat(dequantized[i * cols + 32 * b + j]).isEqualTo(((q & 15) - 8) * d);
                        assertThat(dequantized[i * cols + 32 * b + j + 16]).isEqualTo(((q >> 4) - 8) * d);
                    }
                }
            }
        }

        // 4. the dequantized weights as safetensors F32, and back to GGUF Q4_0: Q4_0 is idempotent on its own
        //    reconstructions (the block's largest magnitude is -8·d, so d comes back exactly and every code too)
        Path st2 = dir.resolve("dequantized.safetensors");
        SafetensorsWriter.write(st2, Map.of("w", Tensor.ofFloats(dequantized, rows, cols)), Map.of());
        Path gguf2 = dir.resolve("again.gguf");
        try (SafetensorsFile in = SafetensorsFile.open(st2);
                GgufWriter out = GgufWriter.create(gguf2, Map.of(), List.of(new GgufTensorSpec("w", GgmlType.Q4_0,
                        Shape.of(rows, cols))))) {
            assertThat(in.tensor("w").toFloatArray()).containsExactly(dequantized);
            out.quantize("w", in.tensor("w"));
        }
        try (GgufFile g = GgufFile.open(gguf2)) {
            assertThat(g.bytes("w").toArray(ValueLayout.JAVA_BYTE)).as("seed %d", seed).containsExactly(lowbit);
        }
    }
}

package lowbit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import lowbit.examples.minilm.MiniLm;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.io.GgufTensorSpec;
import lowbit.tensor.io.GgufValue;
import lowbit.tensor.io.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectTest {
    @TempDir
    Path dir;

    @Test
    void safetensorsTensorsDtypesShapesAndMetadata() throws Exception {
        Path f = Cli.smallModel(dir);
        Cli.Run r = Cli.run("inspect", f).ok();
        assertThat(r.out()).contains("safetensors, 5 tensors").contains("dtypes {BF16=1, F32=3, I64=1}");
        assertThat(r.out()).containsPattern("model.layers.0.mlp.down_proj.weight +BF16 +\\[256, 64\\] +32.0 KiB");
        assertThat(r.out()).containsPattern("model.position_ids +I64 +\\[3\\] +24 B");
        assertThat(r.out()).contains("format = pt");
        Cli.Run filtered = Cli.run("inspect", f, "--filter", "norm", "--no-metadata").ok();
        assertThat(filtered.out()).contains("model.norm.weight").doesNotContain("up_proj").doesNotContain("format = pt");
    }

    @Test
    void ggufTypesAndMetadata() throws Exception {
        Path f = dir.resolve("t.gguf");
        float[] w = Cli.weights(4, 64, 5);
        try (GgufWriter g = GgufWriter.create(f, Map.of("general.architecture", GgufValue.ofString("test")),
                List.of(new GgufTensorSpec("blk.0.ffn_down.weight", GgmlType.Q4_0, lowbit.tensor.Shape.of(4, 64)),
                    new GgufTensorSpec("norm.weight", GgmlType.F32, lowbit.tensor.Shape.of(64))))) {
            g.quantize("blk.0.ffn_down.weight", Tensor.ofFloats(w, 4, 64));
            g.write("norm.weight", Tensor.ofFloats(new float[64], 64));
        }
        Cli.Run r = Cli.run("inspect", f).ok();
        assertThat(r.out()).contains("GGUF v3, 2 tensors").contains("types {F32=1, Q4_0=1}");
        // 4 rows of 2 Q4_0 blocks of 18 bytes; 4.5 bits per weight
        assertThat(r.out()).containsPattern("blk.0.ffn_down.weight +Q4_0 +\\[4, 64\\] +144 B +ggml blocks of 32, 4.50 bits/weight");
        assertThat(r.out()).contains("general.architecture = STRING \"test\"").contains("general.quantization_version");
    }

    @Test
    void onnxInitializersAndMatMulRoles() throws Exception {
        Path f = dir.resolve("minilm.onnx");
        try (InputStream in = MiniLm.class.getResourceAsStream(MiniLm.ONNX_RESOURCE)) {
            Files.copy(in, f, StandardCopyOption.REPLACE_EXISTING);
        }
        Cli.Run r = Cli.run("inspect", f, "--filter", "embeddings.word|MatMul").ok();
        assertThat(r.out()).contains("ONNX,").contains("MatMul=");
        assertThat(r.out()).containsPattern("embeddings.word_embeddings.weight +FLOAT +\\[30522, 384\\] +44.7 MiB");
        assertThat(r.out()).contains("MatMul weight [in, out] of /encoder/layer.0/attention/self/query/MatMul");
        // --filter also matches the role, since the MatMul weights themselves are named onnx::MatMul_NNN
        Cli.Run down = Cli.run("inspect", f, "--filter", "layer.5/output/dense").ok();
        assertThat(down.out()).contains("MatMul weight [in, out] of /encoder/layer.5/output/dense/MatMul")
                .containsPattern("\\[1536, 384\\] +2.3 MiB").doesNotContain("layer.4");
    }

    @Test
    void badFilesGiveOneLineAndExitOne() throws Exception {
        Cli.run("inspect", dir.resolve("missing.safetensors")).userError(1, "no such file");
        Path junk = dir.resolve("junk.safetensors");
        Files.write(junk, new byte[] {1, 2, 3});
        Cli.run("inspect", junk).userError(1, "not a safetensors file");
        // a safetensors header that claims more bytes than the file has
        Path lying = dir.resolve("lying.safetensors");
        byte[] b = Files.readAllBytes(Cli.smallModel(dir));
        Files.write(lying, java.util.Arrays.copyOf(b, b.length - 100));
        Cli.run("inspect", lying).userError(1, "lying.safetensors");
        Path gguf = dir.resolve("bad.gguf");
        Files.write(gguf, new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
            (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f});
        Cli.run("inspect", gguf).userError(1, "bad.gguf");
        Path onnx = dir.resolve("bad.onnx");
        Files.write(onnx, new byte[] {0x0a, (byte) 0xff, 0x01});
        Cli.run("inspect", onnx).userError(1, "bad.onnx");
        Cli.run("inspect", dir).userError(1, "is a directory");
    }
}

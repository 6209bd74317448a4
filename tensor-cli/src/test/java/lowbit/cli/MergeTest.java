package lowbit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import lowbit.nn.Linear;
import lowbit.nn.adapter.AdaptedLinear;
import lowbit.nn.adapter.LoraAdapter;
import lowbit.nn.adapter.LoraConfig;
import lowbit.nn.adapter.PeftFiles;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.io.SafetensorsFile;
import lowbit.tensor.io.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MergeTest {
    private static final String Q = "model.layers.0.self_attn.q_proj";

    @TempDir
    Path dir;

    /** A base with q_proj (F32 [32, 48]) and an unrelated tensor; a LoRA r = 4, α = 8 on q_proj. */
    private float[][] fixture(Path base, Path adapter) throws Exception {
        float[] w = Cli.weights(32, 48, 11);
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put(Q + ".weight", Tensor.ofFloats(w, 32, 48));
        t.put(Q + ".bias", Tensor.ofFloats(new float[32], 32));
        t.put("model.norm.weight", Tensor.ofFloats(DType.F16, new float[] {1, 2}, Shape.of(2)));
        SafetensorsWriter.write(base, t, Map.of("format", "pt"));
        AdaptedLinear layer = AdaptedLinear.of(Q, Linear.of(Tensor.ofFloats(w.clone(), 32, 48), null));
        LoraAdapter lora = layer.addLora("default", LoraConfig.of(4, 8));
        SplittableRandom r = new SplittableRandom(3);
        float[] b = lora.b().data();
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) r.nextGaussian() * 0.1f;
        }
        PeftFiles.save(adapter, List.of(layer), "default", "base");
        return new float[][] {w, lora.a().data().clone(), b.clone()};
    }

    @Test
    void loraMergedIntoTheBase() throws Exception {
        Path base = dir.resolve("base.safetensors");
        Path adapter = dir.resolve("adapter");
        float[][] f = fixture(base, adapter);
        Path out = dir.resolve("merged.safetensors");
        Cli.Run r = Cli.run("merge", base, adapter, out).ok();
        assertThat(r.out()).contains("merged 1 adapter modules (lora r4) into 3 tensors");
        float[] w = f[0], a = f[1], b = f[2];
        double s = 8.0 / 4; // LoRA scaling α/r
        try (SafetensorsFile m = SafetensorsFile.open(out)) {
            float[] got = m.tensor(Q + ".weight").toFloatArray();
            for (int o = 0; o < 32; o++) {
                for (int i = 0; i < 48; i++) {
                    double d = 0;
                    for (int k = 0; k < 4; k++) {
                        d += b[o * 4 + k] * (double) a[k * 48 + i];
                    }
                    // float merge of 4 products and one add: within a few ulps of the double result
                    assertThat((double) got[o * 48 + i]).isCloseTo(w[o * 48 + i] + s * d,
                            org.assertj.core.data.Offset.offset(1e-6));
                }
            }
            assertThat(m.tensor("model.norm.weight").toFloatArray()).containsExactly(1, 2);
            assertThat(m.entry("model.norm.weight").dtype().lowbit()).contains(DType.F16);
        }
    }

    @Test
    void errors() throws Exception {
        Path base = dir.resolve("base.safetensors");
        Path adapter = dir.resolve("adapter");
        fixture(base, adapter);
        Cli.run("merge", base, dir.resolve("none"), dir.resolve("o.safetensors")).userError(1, "no such directory");
        Cli.run("merge", dir.resolve("none.safetensors"), adapter, dir.resolve("o.safetensors")).userError(1,
                "no such file");
        Path other = dir.resolve("other.safetensors");
        SafetensorsWriter.write(other, Map.of("x.weight", Tensor.ofFloats(new float[4], 2, 2)), Map.of());
        Cli.run("merge", other, adapter, dir.resolve("o.safetensors")).userError(1,
                "has no tensor " + Q + ".weight");
        Files.writeString(adapter.resolve(PeftFiles.CONFIG_FILE), "{not json");
        Cli.run("merge", base, adapter, dir.resolve("o.safetensors")).userError(1, "not valid JSON");
        Cli.run("merge", base, adapter).userError(2, "OUT");
    }
}

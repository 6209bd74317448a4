package lowbit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import lowbit.tensor.DType;
import lowbit.tensor.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PruneTest {
    @TempDir
    Path dir;

    @Test
    void twoFourMagnitudeKeepsTheTwoLargestOfEveryFour() throws Exception {
        Path in = Cli.smallModel(dir);
        Path out = dir.resolve("p.safetensors");
        Cli.Run r = Cli.run("prune", in, out, "--pattern", "2:4", "--criterion", "magnitude").ok();
        assertThat(r.out()).contains("3 weights pruned (2:4 magnitude), 50.00 % of their entries are zero");
        float[] w = Cli.weights(64, 256, 1);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            float[] p = f.tensor("model.layers.0.mlp.up_proj.weight").toFloatArray();
            for (int g = 0; g < w.length; g += 4) {
                // by definition: the two entries of largest |w| in each group of 4 stay, the others become 0
                for (int i = g; i < g + 4; i++) {
                    int larger = 0;
                    for (int j = g; j < g + 4; j++) {
                        larger += Math.abs(w[j]) > Math.abs(w[i]) ? 1 : 0;
                    }
                    assertThat(p[i]).as("element %d", i).isEqualTo(larger < 2 ? w[i] : 0f);
                }
            }
            assertThat(f.entry("model.layers.0.mlp.down_proj.weight").dtype().lowbit()).contains(DType.BF16);
            assertThat(f.tensor("model.norm.weight").toFloatArray()).containsExactly(1, 1, 1, 1);
            assertThat(f.metadata()).containsEntry("lowbit.pruning", "2:4 magnitude");
        }
    }

    @Test
    void unstructuredFractionPerRow() throws Exception {
        Path out = dir.resolve("p.safetensors");
        Cli.run("prune", Cli.smallModel(dir), out, "--pattern", "0.25", "--include", ".*up_proj.*").ok();
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            float[] p = f.tensor("model.layers.0.mlp.up_proj.weight").toFloatArray();
            for (int r = 0; r < 64; r++) {
                int zeros = 0;
                for (int c = 0; c < 256; c++) {
                    zeros += p[r * 256 + c] == 0 ? 1 : 0;
                }
                assertThat(zeros).isEqualTo(64); // 25 % of 256 in every row
            }
        }
    }

    @Test
    void errors() throws Exception {
        Path in = Cli.smallModel(dir);
        Cli.run("prune", in, dir.resolve("o.safetensors"), "--pattern", "4:2").userError(2, "N:M pattern 4:2");
        Cli.run("prune", in, dir.resolve("o.safetensors"), "--pattern", "half").userError(2, "--pattern must be");
        Cli.run("prune", in, dir.resolve("o.safetensors"), "--pattern", "1.5").userError(2, "[0, 1)");
        Cli.run("prune", in, dir.resolve("o.safetensors"), "--criterion", "coin").userError(2, "unknown --criterion");
        Cli.run("prune", in, dir.resolve("o.gguf")).userError(2, "OUT must be a .safetensors");
        Cli.run("prune", in, dir.resolve("o.safetensors"), "--criterion", "wanda").userError(1,
                "wanda needs calibration activations");
        Cli.run("prune", dir.resolve("nope.safetensors"), dir.resolve("o.safetensors")).userError(1, "no such file");
    }

    @Test
    void wandaOnTheModel() throws Exception {
        Path calib = dir.resolve("c.txt");
        java.nio.file.Files.writeString(calib, "A man is eating food.\nThe weather is lovely today.\n");
        Path out = dir.resolve("w.safetensors");
        Cli.Run r = Cli.run("prune", "minilm", out, "--criterion", "wanda", "--pattern", "2:4", "--calib", calib).ok();
        assertThat(r.out()).contains("36 weights pruned (2:4 wanda), 50.00 %");
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            float[] p = f.tensor("encoder.layer.2.output.dense.weight").toFloatArray();
            assertThat(p).hasSize(384 * 1536);
            for (int g = 0; g < p.length; g += 4) {
                int zeros = 0;
                for (int i = g; i < g + 4; i++) {
                    zeros += p[i] == 0 ? 1 : 0;
                }
                assertThat(zeros).isGreaterThanOrEqualTo(2);
            }
        }
    }
}

package lowbit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import lowbit.quant.Rtn;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.io.GgufFile;
import lowbit.tensor.io.GptqCheckpoint;
import lowbit.tensor.io.LowbitCheckpoint;
import lowbit.tensor.io.SafetensorsFile;
import lowbit.tensor.io.SafetensorsWriter;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizeTest {
    private static final String UP = "model.layers.0.mlp.up_proj";
    private static final String DOWN = "model.layers.0.mlp.down_proj";

    @TempDir
    Path dir;

    private static int[] rtnCodes(float[] w, int rows, int cols, AffineSpec spec) {
        return Rtn.defaults().quantize(w, rows, cols, spec).affine().codes();
    }

    @Test
    void safetensorsToLowbitFormatRoundTrips() throws Exception {
        Path in = Cli.smallModel(dir);
        Path out = dir.resolve("q.safetensors");
        Cli.Run r = Cli.run("quantize", in, out, "--bits", "4", "--group", "64").ok();
        assertThat(r.out()).contains("2 weights quantized, 3 tensors copied");
        assertThat(r.err()).contains("model.embed.weight kept as is: 48 columns are not a multiple of the group size 64");
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 64, false).withScaleType(DType.F16);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertThat(LowbitCheckpoint.prefixes(f)).containsExactlyInAnyOrder(UP, DOWN);
            LowbitCheckpoint.Entry up = LowbitCheckpoint.read(f, UP);
            assertThat(up.matrix().spec()).isEqualTo(spec);
            assertThat(up.method()).isEqualTo("rtn");
            assertThat(up.hasTransform()).isFalse();
            assertThat(up.matrix().codes()).isEqualTo(rtnCodes(Cli.weights(64, 256, 1), 64, 256, spec));
            // the BF16 weight is quantized from its BF16 values
            float[] down = Tensor.ofFloats(DType.BF16, Cli.weights(256, 64, 2), lowbit.tensor.Shape.of(256, 64))
                    .toFloatArray();
            assertThat(LowbitCheckpoint.read(f, DOWN).matrix().codes()).isEqualTo(rtnCodes(down, 256, 64, spec));
            // other tensors are copied unchanged
            assertThat(f.tensor("model.embed.weight").toFloatArray()).isEqualTo(Cli.weights(100, 48, 3));
            assertThat(f.tensor("model.position_ids").getLong(2)).isEqualTo(2);
            assertThat(f.metadata()).containsEntry("lowbit.method", "rtn").containsEntry("format", "pt");
        }
        Cli.Run ins = Cli.run("inspect", out).ok();
        assertThat(ins.out()).contains("lowbit-quantized weights: 2").contains(UP + ": affine u4 asym g64(in) F16 [64, 256] by rtn");
    }

    @Test
    void ggufQ4_0IsGgmlsReferenceEncoding() throws Exception {
        Path in = Cli.smallModel(dir);
        Path out = dir.resolve("q.gguf");
        Cli.run("quantize", in, out, "--format", "q4_0").ok();
        float[] w = Cli.weights(64, 256, 1);
        byte[] expected = new byte[(int) (64 * Q4_0.rowBytes(256))];
        for (int r = 0; r < 64; r++) {
            Q4_0.quantizeRow(w, r * 256, expected, (int) (r * Q4_0.rowBytes(256)), 256);
        }
        try (GgufFile g = GgufFile.open(out)) {
            assertThat(g.info(UP + ".weight").type()).isEqualTo(GgmlType.Q4_0);
            assertThat(g.bytes(UP + ".weight").toArray(ValueLayout.JAVA_BYTE)).isEqualTo(expected);
            assertThat(g.info("model.embed.weight").type()).isEqualTo(GgmlType.F32); // 48 is not a multiple of 32
            assertThat(g.info("model.position_ids").type()).isEqualTo(GgmlType.I64);
            assertThat(g.value("lowbit.method").orElseThrow().asString()).isEqualTo("rtn");
        }
    }

    @Test
    void ggufWithGroupsOfSeveralBlocks() throws Exception {
        Path in = Cli.smallModel(dir);
        float[] w = Cli.weights(64, 256, 1);
        // --group 128 into q4_0 (symmetric): lowbit's RTN on g128, each group's scale repeated over its 4 blocks
        Path out = dir.resolve("g128.gguf");
        Cli.run("quantize", in, out, "--bits", "4", "--group", "128", "--include", ".*up_proj.*").ok();
        AffineSpec g128 = AffineSpec.groupsAlongIn(4, 128, true).withScaleType(DType.F16);
        float[] expected = Rtn.defaults().quantize(w, 64, 256, g128).affine().dequantize();
        try (GgufFile g = GgufFile.open(out)) {
            assertThat(g.info(UP + ".weight").type()).isEqualTo(GgmlType.Q4_0);
            assertThat(dequantize(g, GgmlType.Q4_0)).isEqualTo(expected);
        }
        // asymmetric g64 into q4_1: d = s, m = fp16(-s z), so each weight within 2^-11 s z <= 0.0074 s of lowbit's
        Path out1 = dir.resolve("g64.gguf");
        Cli.run("quantize", in, out1, "--format", "q4_1", "--group", "64", "--include", ".*up_proj.*").ok();
        GroupwiseAffine a = Rtn.defaults().quantize(w, 64, 256, AffineSpec.groupsAlongIn(4, 64, false)
                .withScaleType(DType.F16)).affine();
        float[] asym = a.dequantize();
        try (GgufFile g = GgufFile.open(out1)) {
            assertThat(g.info(UP + ".weight").type()).isEqualTo(GgmlType.Q4_1);
            float[] got = dequantize(g, GgmlType.Q4_1);
            for (int i = 0; i < got.length; i++) {
                assertThat(Math.abs(got[i] - asym[i])).isLessThanOrEqualTo(0.0075f * a.scaleAt(i / 256, i % 256));
            }
        }
    }

    /** UP's 64 x 256 weight of a GGUF file, decoded by the ggml block type's own decoder. */
    private static float[] dequantize(GgufFile g, GgmlType type) {
        MemorySegment b = g.bytes(UP + ".weight");
        float[] out = new float[64 * 256];
        for (int r = 0; r < 64; r++) {
            if (type == GgmlType.Q4_0) {
                Q4_0.dequantizeRow(b, r * Q4_0.rowBytes(256), out, r * 256, 256);
            } else {
                lowbit.tensor.ggml.Q4_1.dequantizeRow(b, r * lowbit.tensor.ggml.Q4_1.rowBytes(256), out, r * 256, 256);
            }
        }
        return out;
    }

    @Test
    void ggufQ8_0FromClipSearchFitsGgmlsGrid() throws Exception {
        Path in = Cli.smallModel(dir);
        Path out = dir.resolve("clip.gguf");
        Cli.run("quantize", in, out, "--method", "clip", "--format", "q8_0").ok();
        try (GgufFile g = GgufFile.open(out)) {
            MemorySegment b = g.bytes(UP + ".weight");
            float[] row = new float[256];
            lowbit.tensor.ggml.Q8_0.dequantizeRow(b, 0, row, 0, 256);
            float[] w = Cli.weights(64, 256, 1);
            for (int c = 0; c < 256; c++) {
                // 8-bit codes, clip search never widens the range: error at most one step of max|w|/127 per block
                assertThat(Math.abs(row[c] - w[c])).isLessThan(0.7f / 127);
            }
        }
    }

    @Test
    void gptqLayoutReadsBackWithItsConfig() throws Exception {
        Path in = Cli.smallModel(dir);
        Path sub = dir.resolve("gptq");
        Files.createDirectories(sub);
        Path out = sub.resolve("model.safetensors");
        Cli.run("quantize", in, out, "--format", "gptq", "--bits", "4", "--group", "64", "--exclude", ".*embed.*").ok();
        GptqCheckpoint.Config cfg = GptqCheckpoint.Config.parse("cfg", Files.readAllBytes(sub.resolve("quantize_config.json")));
        assertThat(cfg.bits()).isEqualTo(4);
        assertThat(cfg.groupSize()).isEqualTo(64);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            GroupwiseAffine up = GptqCheckpoint.read(f, UP, cfg);
            AffineSpec spec = AffineSpec.groupsAlongIn(4, 64, false).withScaleType(DType.F16);
            assertThat(up.codes()).isEqualTo(rtnCodes(Cli.weights(64, 256, 1), 64, 256, spec));
            assertThat(f.contains(UP + ".weight")).isFalse();
            assertThat(f.contains("model.embed.weight")).isTrue();
        }
    }

    @Test
    void gwqKeepsTheLargestGradientsExact() throws Exception {
        Path in = Cli.smallModel(dir);
        float[] g = new float[64 * 256];
        // the top 1 % (164 weights) by |g|: index 7, then entries 0..163 of a decreasing ramp
        for (int i = 0; i < g.length; i++) {
            g[i] = i == 7 ? 1e6f : -(g.length - i);
        }
        Path grads = dir.resolve("grad.safetensors");
        SafetensorsWriter.write(grads, Map.of(UP + ".weight", Tensor.ofFloats(g, 64, 256)), Map.of());
        Path out = dir.resolve("gwq.safetensors");
        Cli.run("quantize", in, out, "--method", "gwq", "--gradient", grads, "--include", ".*up_proj.*").ok();
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            GroupwiseAffine m = LowbitCheckpoint.read(f, UP).matrix();
            assertThat(m.outliers().count()).isEqualTo(164); // round(0.01 · 16384)
            float[] d = m.dequantize();
            float[] w = Cli.weights(64, 256, 1);
            assertThat(d[7]).isEqualTo(w[7]);
            for (int i = 0; i < 163; i++) {
                assertThat(d[i]).isEqualTo(w[i]);
            }
        }
        Cli.run("quantize", in, dir.resolve("x.safetensors"), "--method", "gwq", "--gradient", grads, "--group", "64")
                .userError(1, "no gradient for model.layers.0.mlp.down_proj.weight");
    }

    @Test
    void usageErrorsExitTwo() throws Exception {
        Path in = Cli.smallModel(dir);
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--bits", "9").userError(2, "--bits must be 2..8");
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--method", "nope").userError(2, "unknown method 'nope'");
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--format", "q4_k").userError(2, "need a .gguf OUT");
        Cli.run("quantize", in, dir.resolve("o.txt")).userError(2, "OUT must end with .safetensors or .gguf");
        Cli.run("quantize", in, dir.resolve("o.gguf"), "--format", "q4_k", "--method", "hqq").userError(2,
                "written only by ggml's own encoder");
        Cli.run("quantize", in, dir.resolve("o.gguf"), "--format", "q4_0", "--bits", "3").userError(2,
                "--bits 3 does not fit ggml q4_0");
        Cli.run("quantize", in, dir.resolve("o.gguf"), "--group", "48").userError(2, "--group 48: ggml q4_0 blocks");
        Cli.run("quantize", in, dir.resolve("o.gguf"), "--format", "q4_1", "--sym", "--method", "clip").userError(2,
                "ggml q4_1 is asymmetric");
        Cli.run("quantize", in, dir.resolve("o.gguf"), "--format", "q5_0", "--group", "64").userError(2,
                "writes ggml q4_0, q4_1 or q8_0 blocks");
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--format", "gptq", "--bits", "5").userError(2,
                "GPTQ files hold 2, 3, 4 or 8 bits");
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--calib", in).userError(2, "--calib runs the model");
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--method", "gwq").userError(2, "--gradient");
        Cli.run("quantize", in, in).userError(2, "is the input file");
    }

    @Test
    void methodsThatDoNotFitTheInputOrFormatExitOne() throws Exception {
        Path in = Cli.smallModel(dir);
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--method", "gptq").userError(1,
                "gptq needs calibration activations");
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--method", "hadamard", "--format", "gptq",
                "--group", "64").userError(1, "cannot hold; use --format lowbit");
        Cli.run("quantize", in, dir.resolve("o.gguf"), "--method", "easyquant", "--format", "q4_0",
                "--include", ".*up_proj.*").userError(1, "exact outliers");
        Cli.run("quantize", dir.resolve("none.safetensors"), dir.resolve("o.safetensors")).userError(1, "no such file");
        Path junk = dir.resolve("junk.safetensors");
        Files.write(junk, new byte[] {9, 0, 0, 0, 0, 0, 0, 0, '{', 'x'});
        Cli.run("quantize", junk, dir.resolve("o.safetensors")).userError(1, "junk.safetensors");
        Cli.run("quantize", in, dir.resolve("o.safetensors"), "--include", "nothing").userError(1,
                "no 2-D F32/F16/BF16 tensor matches");
    }

    @Test
    void theModelWithCalibrationText() throws Exception {
        Path calib = dir.resolve("calib.txt");
        Files.write(calib, List.of("# three sentences", "The cat sat on the mat.", "", "Stocks fell sharply today.",
            "How do I reset my password?"));
        Path out = dir.resolve("minilm-clip.safetensors");
        Cli.Run r = Cli.run("quantize", "minilm", out, "--method", "clip", "--bits", "4", "--group", "128", "--calib",
                calib).ok();
        assertThat(r.err()).contains("calibrating on 3 sentences");
        assertThat(r.out()).contains("36 weights quantized, 65 tensors copied");
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            List<String> p = LowbitCheckpoint.prefixes(f);
            assertThat(p).hasSize(36).contains("encoder.layer.5.output.dense", "encoder.layer.0.attention.self.query");
            assertThat(LowbitCheckpoint.read(f, "encoder.layer.3.intermediate.dense").matrix().rows()).isEqualTo(1536);
            assertThat(f.entry("embeddings.word_embeddings.weight").spec().dims()).containsExactly(30522, 384);
        }
        Path empty = dir.resolve("empty.txt");
        Files.write(empty, List.of("# nothing", ""));
        Cli.run("quantize", "minilm", dir.resolve("o.safetensors"), "--method", "gptq", "--calib", empty)
                .userError(1, "no calibration text");
    }
}

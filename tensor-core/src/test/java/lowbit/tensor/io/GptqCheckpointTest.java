package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPTQ tensors built by hand from AutoGPTQ's packing definition ({@code QuantLinear.pack}: for 2/4/8 bits
 * {@code qweight[row] |= intweight[j] << bits·(j − i)} over 32/bits consecutive inputs; for 3 bits its three-word
 * scheme; {@code qzeros} the same along out after {@code zeros -= 1}) and its dequantization
 * ({@code scales[g_idx] · (weight − (zeros + 1))}).
 */
class GptqCheckpointTest {
    @TempDir
    Path dir;

    private static final String P = "model.layers.0.mlp.down_proj";

    /** The test matrix: codes, zero points and F16-exact scales as functions of their indices. */
    record Case(int bits, int in, int out, int g, int[][] q, int[][] z, float[][] s, int[] gIdx) {
        static Case of(int bits, int in, int out, int g, boolean zeroAllowed) {
            int groups = in / g;
            int max = (1 << bits) - 1;
            int[][] q = new int[out][in];
            int[][] z = new int[groups][out];
            float[][] s = new float[groups][out];
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    q[o][i] = (7 * o + 3 * i + i / 5) % (max + 1);
                }
                for (int k = 0; k < groups; k++) {
                    z[k][o] = zeroAllowed ? (5 * k + o) % (max + 1) : 1 + (5 * k + o) % max;
                    s[k][o] = 0.5f + 0.25f * (o % 5) + k;
                }
            }
            int[] gIdx = new int[in];
            for (int i = 0; i < in; i++) {
                gIdx[i] = i / g;
            }
            return new Case(bits, in, out, g, q, z, s, gIdx);
        }

        /** AutoGPTQ's packing for 2, 4, 8 bits: 32/bits consecutive values per word, value j at bits·j. */
        static int word(int bits, int[] v, int from) {
            int w = 0;
            for (int j = 0; j < 32 / bits; j++) {
                w |= v[from + j] << (bits * j);
            }
            return w;
        }

        /** AutoGPTQ's 3-bit packing of 32 values into three words. */
        static int[] words3(int[] v, int from) {
            int[] w = new int[3];
            for (int j = 0; j < 10; j++) {
                w[0] |= v[from + j] << (3 * j);
            }
            w[0] |= v[from + 10] << 30;
            w[1] |= (v[from + 10] >> 2) & 1;
            for (int j = 11; j < 21; j++) {
                w[1] |= v[from + j] << (3 * (j - 11) + 1);
            }
            w[1] |= v[from + 21] << 31;
            w[2] |= (v[from + 21] >> 1) & 3;
            for (int j = 22; j < 32; j++) {
                w[2] |= v[from + j] << (3 * (j - 22) + 2);
            }
            return w;
        }

        /** Packs a stream of values (length a multiple of 32) as AutoGPTQ does. */
        int[] pack(int[] v) {
            int[] out = new int[v.length * bits / 32];
            int r = 0;
            for (int i = 0; i < v.length; ) {
                if (bits == 3) {
                    int[] w = words3(v, i);
                    System.arraycopy(w, 0, out, r, 3);
                    r += 3;
                    i += 32;
                } else {
                    out[r++] = word(bits, v, i);
                    i += 32 / bits;
                }
            }
            return out;
        }

        /** The checkpoint tensors, by hand: qweight [in·bits/32, out], qzeros [groups, out·bits/32], v1 or v2. */
        Map<String, Tensor> tensors(boolean v1) {
            int groups = in / g;
            int words = in * bits / 32;
            int[] qweight = new int[words * out];
            for (int o = 0; o < out; o++) {
                int[] col = pack(q[o]);
                for (int r = 0; r < words; r++) {
                    qweight[r * out + o] = col[r];
                }
            }
            int zWords = out * bits / 32;
            int[] qzeros = new int[groups * zWords];
            float[] scales = new float[groups * out];
            for (int k = 0; k < groups; k++) {
                int[] zz = z[k].clone();
                if (v1) {
                    for (int o = 0; o < out; o++) {
                        zz[o] -= 1;
                    }
                }
                System.arraycopy(pack(zz), 0, qzeros, k * zWords, zWords);
                for (int o = 0; o < out; o++) {
                    scales[k * out + o] = s[k][o];
                }
            }
            Map<String, Tensor> t = new LinkedHashMap<>();
            t.put(P + ".qweight", Tensor.ofCodes(DType.I32, qweight, Shape.of(words, out)));
            t.put(P + ".qzeros", Tensor.ofCodes(DType.I32, qzeros, Shape.of(groups, zWords)));
            t.put(P + ".scales", Tensor.ofFloats(DType.F16, scales, Shape.of(groups, out)));
            t.put(P + ".g_idx", Tensor.ofCodes(DType.I32, gIdx, Shape.of(in)));
            return t;
        }

        /** W[o, i] = s[g_idx[i]][o] · (q − z[g_idx[i]][o]), AutoGPTQ's dequantization in float. */
        float w(int o, int i) {
            int k = gIdx[i];
            return s[k][o] * (q[o][i] - z[k][o]);
        }
    }

    private SafetensorsFile file(Map<String, Tensor> tensors) throws IOException {
        Path p = dir.resolve("gptq-" + System.nanoTime() + ".safetensors");
        SafetensorsWriter.write(p, tensors, Map.of());
        return SafetensorsFile.open(p);
    }

    private static void assertMatches(GroupwiseAffine m, Case c) {
        assertThat(m.rows()).isEqualTo(c.out);
        assertThat(m.cols()).isEqualTo(c.in);
        float[] w = m.dequantize();
        for (int o = 0; o < c.out; o++) {
            for (int i = 0; i < c.in; i++) {
                assertThat(m.code(o, i)).as("code (%d, %d)", o, i).isEqualTo(c.q[o][i]);
                assertThat(w[o * c.in + i]).as("W[%d, %d]", o, i).isEqualTo(c.w(o, i));
            }
        }
    }

    private static void assertSameTensors(Map<String, Tensor> got, Map<String, Tensor> want) {
        assertThat(got.keySet()).containsExactlyElementsOf(want.keySet());
        for (String k : want.keySet()) {
            assertThat(got.get(k).dtype()).as(k).isEqualTo(want.get(k).dtype());
            assertThat(got.get(k).shape()).as(k).isEqualTo(want.get(k).shape());
            assertThat(got.get(k).segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).as(k)
                    .containsExactly(want.get(k).segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void everyBitWidthInV1AndV2ReadsAndWritesTheDefinitionsBytes() throws IOException {
        for (int bits : new int[] {2, 3, 4, 8}) {
            for (boolean v1 : new boolean[] {true, false}) {
                Case c = Case.of(bits, 64, 32, 32, !v1);
                GptqCheckpoint.Config cfg = new GptqCheckpoint.Config(bits, 32, false, false,
                        v1 ? GptqCheckpoint.Format.GPTQ : GptqCheckpoint.Format.GPTQ_V2);
                Map<String, Tensor> hand = c.tensors(v1);
                try (SafetensorsFile f = file(hand)) {
                    GroupwiseAffine m = GptqCheckpoint.read(f, P, cfg);
                    assertThat(m.spec().bits()).isEqualTo(bits);
                    assertThat(m.spec().symmetric()).isFalse();
                    assertThat(m.spec().scaleType()).isEqualTo(DType.F16);
                    assertThat(m.gIdx()).isNull(); // i / g is not act-order
                    assertMatches(m, c);
                    assertSameTensors(GptqCheckpoint.tensors(P, m, cfg), hand);
                }
            }
        }
    }

    @Test
    void threeBitPackingIsOneBitStreamAcrossWords() {
        // AutoGPTQ's three-word scheme puts value j at bit 3j of the 96-bit little-endian word triple
        int[] v = new int[32];
        for (int j = 0; j < 32; j++) {
            v[j] = (j * 5 + 3) & 7;
        }
        int[] w = Case.words3(v, 0);
        for (int j = 0; j < 32; j++) {
            long bit = 3L * j;
            long triple = (w[(int) (bit / 32)] & 0xFFFF_FFFFL) | (bit / 32 < 2 ? (w[(int) (bit / 32) + 1] & 0xFFFF_FFFFL) << 32 : 0);
            assertThat((int) (triple >>> (bit % 32)) & 7).as("value %d", j).isEqualTo(v[j]);
        }
    }

    @Test
    void v1CannotHoldAZeroOfZeroAndAWrappedFieldIsRejected() throws IOException {
        Case c = Case.of(4, 32, 8, 32, true); // zero points include 0
        GptqCheckpoint.Config v2 = new GptqCheckpoint.Config(4, 32, false, false, GptqCheckpoint.Format.GPTQ_V2);
        GptqCheckpoint.Config v1 = new GptqCheckpoint.Config(4, 32, false, false, GptqCheckpoint.Format.GPTQ);
        GroupwiseAffine m;
        try (SafetensorsFile f = file(c.tensors(false))) {
            m = GptqCheckpoint.read(f, P, v2);
            assertMatches(m, c);
        }
        assertThatThrownBy(() -> GptqCheckpoint.tensors(P, m, v1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("zero point 0").hasMessageContaining("GPTQ_V2");
        // a v1 file whose field is 15 means z = 16 (AutoGPTQ stored a zero of 0 as -1): not a 4-bit zero point
        Map<String, Tensor> t = c.tensors(false);
        t.put(P + ".qzeros", Tensor.ofCodes(DType.I32, new int[] {0x0000_00F0}, Shape.of(1, 1)));
        try (SafetensorsFile f = file(t)) {
            assertThatThrownBy(() -> GptqCheckpoint.read(f, P, v1)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining("tensor '" + P + ".qzeros'").hasMessageContaining("output 1")
                    .hasMessageContaining("zero point 16").hasMessageContaining("wrapped");
        }
    }

    @Test
    void actOrderGIdxIsKeptAndUsed() throws IOException {
        Case base = Case.of(4, 64, 8, 16, false);
        int[] gIdx = new int[64];
        for (int i = 0; i < 64; i++) {
            gIdx[i] = (i * 7 + 3) % 4; // every group used 16 times, not in order
        }
        Case c = new Case(4, 64, 8, 16, base.q(), base.z(), base.s(), gIdx);
        GptqCheckpoint.Config cfg = new GptqCheckpoint.Config(4, 16, true, false, GptqCheckpoint.Format.GPTQ);
        try (SafetensorsFile f = file(c.tensors(true))) {
            GroupwiseAffine m = GptqCheckpoint.read(f, P, cfg);
            assertThat(m.gIdx()).containsExactly(gIdx);
            assertMatches(m, c);
            assertSameTensors(GptqCheckpoint.tensors(P, m, cfg), c.tensors(true));
            assertThatThrownBy(() -> GptqCheckpoint.tensors(P, m, new GptqCheckpoint.Config(4, 16, false, false,
                    GptqCheckpoint.Format.GPTQ))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("desc_act");
        }
    }

    @Test
    void symmetricCheckpointsBecomeSymmetricSpecsAndPerChannelGroups() throws IOException {
        Case c = Case.of(4, 64, 16, 64, false);
        for (int[] row : c.z()) {
            java.util.Arrays.fill(row, 8);
        }
        GptqCheckpoint.Config cfg = new GptqCheckpoint.Config(4, -1, false, true, GptqCheckpoint.Format.GPTQ);
        try (SafetensorsFile f = file(c.tensors(true))) {
            GroupwiseAffine m = GptqCheckpoint.read(f, P, cfg);
            assertThat(m.spec().symmetric()).isTrue();
            assertThat(m.spec().granularity()).isEqualTo(AffineSpec.Granularity.PER_OUTPUT_CHANNEL);
            assertMatches(m, c);
            assertSameTensors(GptqCheckpoint.tensors(P, m, cfg), c.tensors(true));
        }
        // a layout lowbit made itself: encode, write as GPTQ, read back the same matrix
        float[] w = new float[16 * 64];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) Math.sin(i * 0.37) * (1 + i % 3);
        }
        float[] scales = new float[16 * 2];
        java.util.Arrays.fill(scales, 0.125f);
        int[] zeros = new int[16 * 2];
        java.util.Arrays.fill(zeros, 7);
        GroupwiseAffine mine = GroupwiseAffine.encode(w, 16, 64, AffineSpec.groupsAlongIn(4, 32, false)
                .withScaleType(DType.F16), scales, zeros);
        GptqCheckpoint.Config cfg32 = new GptqCheckpoint.Config(4, 32, false, false, GptqCheckpoint.Format.GPTQ);
        try (SafetensorsFile f = file(GptqCheckpoint.tensors(P, mine, cfg32))) {
            GroupwiseAffine back = GptqCheckpoint.read(f, P, cfg32);
            assertThat(back.codes()).containsExactly(mine.codes());
            assertThat(back.dequantize()).containsExactly(mine.dequantize());
        }
    }

    @Test
    void brokenTensorsAreNamed() throws IOException {
        Case c = Case.of(4, 32, 8, 32, false);
        GptqCheckpoint.Config cfg = new GptqCheckpoint.Config(4, 32, false, false, GptqCheckpoint.Format.GPTQ);
        Map<String, Tensor> t = c.tensors(true);
        t.remove(P + ".qzeros");
        try (SafetensorsFile f = file(t)) {
            assertThatThrownBy(() -> GptqCheckpoint.read(f, P, cfg)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining("tensor '" + P + ".qzeros': is missing");
        }
        t = c.tensors(true);
        t.put(P + ".qweight", Tensor.ofFloats(new float[32], 4, 8));
        try (SafetensorsFile f = file(t)) {
            assertThatThrownBy(() -> GptqCheckpoint.read(f, P, cfg)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining("qweight': dtype: is F32, expected I32");
        }
        t = c.tensors(true);
        t.put(P + ".scales", Tensor.ofFloats(DType.F16, new float[16], Shape.of(2, 8)));
        try (SafetensorsFile f = file(t)) {
            assertThatThrownBy(() -> GptqCheckpoint.read(f, P, cfg)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining("scales': shape: [2, 8] does not match");
        }
        t = c.tensors(true);
        t.put(P + ".g_idx", Tensor.ofCodes(DType.I32, new int[32], Shape.of(32)));
        t.get(P + ".g_idx").setInt(5, 1);
        try (SafetensorsFile f = file(t)) {
            assertThatThrownBy(() -> GptqCheckpoint.read(f, P, cfg)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining("g_idx[5] = 1 is not a group in [0, 1)");
        }
        t = c.tensors(true);
        t.put(P + ".scales", Tensor.ofFloats(DType.F16, new float[8], Shape.of(1, 8)));
        try (SafetensorsFile f = file(t)) {
            assertThatThrownBy(() -> GptqCheckpoint.read(f, P, cfg)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining("scales'");
        }
    }

    @Test
    void configFilesParseStrictlyAndRoundTrip() throws TensorFormatException {
        String autogptq = "{\"bits\": 4, \"group_size\": 128, \"damp_percent\": 0.01, \"desc_act\": true, "
                + "\"static_groups\": false, \"sym\": true, \"true_sequential\": true, \"model_name_or_path\": null, "
                + "\"model_file_base_name\": \"model\", \"quant_method\": \"gptq\", \"checkpoint_format\": \"gptq\"}";
        assertThat(GptqCheckpoint.Config.parse("q.json", autogptq.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new GptqCheckpoint.Config(4, 128, true, true, GptqCheckpoint.Format.GPTQ));
        String hf = "{\"architectures\": [\"LlamaForCausalLM\"], \"quantization_config\": {\"bits\": 8, "
                + "\"group_size\": -1, \"quant_method\": \"gptq\", \"format\": \"gptq_v2\", \"sym\": false}}";
        assertThat(GptqCheckpoint.Config.parse("config.json", hf.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new GptqCheckpoint.Config(8, -1, false, false, GptqCheckpoint.Format.GPTQ_V2));
        GptqCheckpoint.Config c = new GptqCheckpoint.Config(3, 64, false, true, GptqCheckpoint.Format.GPTQ_V2);
        assertThat(GptqCheckpoint.Config.parse("mine", c.toJson())).isEqualTo(c);
        assertThatThrownBy(() -> GptqCheckpoint.Config.parse("q.json", "{\"bits\": \"4\", \"group_size\": 128}"
                .getBytes(StandardCharsets.UTF_8))).isInstanceOf(TensorFormatException.class)
                .hasMessage("q.json: bits: must be an integer, is 4");
        assertThatThrownBy(() -> GptqCheckpoint.Config.parse("q.json", "{\"bits\": 5, \"group_size\": 128}"
                .getBytes(StandardCharsets.UTF_8))).isInstanceOf(TensorFormatException.class).hasMessageContaining("2, 3, 4 or 8");
        assertThatThrownBy(() -> GptqCheckpoint.Config.parse("q.json", "{\"bits\": 4}".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(TensorFormatException.class).hasMessage("q.json: group_size: is missing");
        assertThatThrownBy(() -> GptqCheckpoint.Config.parse("q.json", ("{\"bits\": 4, \"group_size\": 128, "
                + "\"quant_method\": \"awq\"}").getBytes(StandardCharsets.UTF_8))).isInstanceOf(TensorFormatException.class)
                .hasMessageContaining("quant_method");
        assertThatThrownBy(() -> GptqCheckpoint.Config.parse("q.json", "{\"bits\": 4,".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(TensorFormatException.class).hasMessageContaining("invalid JSON");
    }
}

package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.GroupwiseAffine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AWQ GEMM tensors built by hand from AutoAWQ's {@code WQLinear_GEMM.from_linear} ({@code qweight[:, col] |=
 * intweight[:, col·8 + order_map[i]] << 4i}, order_map = [0, 2, 4, 6, 1, 3, 5, 7]; qzeros alike), and read back
 * with its {@code dequantize_gemm} (unpack nibble n of each word to column 8c + n, then reorder with
 * AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]: output 8c + m is nibble REVERSE[m]).
 */
class AwqCheckpointTest {
    private static final int[] ORDER_MAP = {0, 2, 4, 6, 1, 3, 5, 7};
    private static final int[] REVERSE = {0, 4, 1, 5, 2, 6, 3, 7};
    private static final String P = "model.layers.3.self_attn.o_proj";

    @TempDir
    Path dir;

    @Test
    void gemmPackingMatchesAutoAwqBothWays() throws IOException {
        int in = 64;
        int out = 16;
        int g = 32;
        int groups = in / g;
        int[][] q = new int[in][out]; // AutoAWQ's intweight is [in, out]
        int[][] z = new int[groups][out];
        float[][] s = new float[groups][out];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                q[i][o] = (3 * o + 5 * i + o / 3) % 16;
            }
        }
        for (int k = 0; k < groups; k++) {
            for (int o = 0; o < out; o++) {
                z[k][o] = (o + 2 * k + 1) % 16;
                s[k][o] = 0.25f * (1 + (o + k) % 7);
            }
        }
        int[] qweight = new int[in * out / 8];
        for (int i = 0; i < in; i++) {
            for (int col = 0; col < out / 8; col++) {
                for (int n = 0; n < 8; n++) {
                    qweight[i * (out / 8) + col] |= q[i][col * 8 + ORDER_MAP[n]] << (4 * n);
                }
            }
        }
        int[] qzeros = new int[groups * out / 8];
        float[] scales = new float[groups * out];
        for (int k = 0; k < groups; k++) {
            for (int col = 0; col < out / 8; col++) {
                for (int n = 0; n < 8; n++) {
                    qzeros[k * (out / 8) + col] |= z[k][col * 8 + ORDER_MAP[n]] << (4 * n);
                }
            }
            for (int o = 0; o < out; o++) {
                scales[k * out + o] = s[k][o];
            }
        }
        Map<String, Tensor> hand = new LinkedHashMap<>();
        hand.put(P + ".qweight", Tensor.ofCodes(DType.I32, qweight, Shape.of(in, out / 8)));
        hand.put(P + ".qzeros", Tensor.ofCodes(DType.I32, qzeros, Shape.of(groups, out / 8)));
        hand.put(P + ".scales", Tensor.ofFloats(DType.F16, scales, Shape.of(groups, out)));
        Path file = dir.resolve("awq.safetensors");
        SafetensorsWriter.write(file, hand, Map.of());

        AwqCheckpoint.Config cfg = new AwqCheckpoint.Config(g);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            GroupwiseAffine m = AwqCheckpoint.read(f, P, cfg);
            assertThat(m.rows()).isEqualTo(out);
            assertThat(m.cols()).isEqualTo(in);
            float[] w = m.dequantize();
            for (int i = 0; i < in; i++) {
                for (int o = 0; o < out; o++) {
                    // dequantize_gemm's reading of the same words
                    int word = qweight[i * (out / 8) + o / 8];
                    int code = word >>> (4 * REVERSE[o % 8]) & 15;
                    int zw = qzeros[(i / g) * (out / 8) + o / 8];
                    int zero = zw >>> (4 * REVERSE[o % 8]) & 15;
                    assertThat(code).isEqualTo(q[i][o]);
                    assertThat(zero).isEqualTo(z[i / g][o]);
                    assertThat(m.code(o, i)).isEqualTo(code);
                    assertThat(w[o * in + i]).as("W[%d, %d]", o, i).isEqualTo((code - zero) * s[i / g][o]);
                }
            }
            Map<String, Tensor> back = AwqCheckpoint.tensors(P, m, cfg);
            assertThat(back.keySet()).containsExactlyElementsOf(hand.keySet());
            for (String k : hand.keySet()) {
                assertThat(back.get(k).shape()).isEqualTo(hand.get(k).shape());
                assertThat(back.get(k).segment().toArray(ValueLayout.JAVA_BYTE)).as(k)
                        .containsExactly(hand.get(k).segment().toArray(ValueLayout.JAVA_BYTE));
            }
        }
    }

    @Test
    void configsAndRefusals() throws TensorFormatException {
        String autoawq = "{\"zero_point\": true, \"q_group_size\": 128, \"w_bit\": 4, \"version\": \"GEMM\"}";
        assertThat(AwqCheckpoint.Config.parse("quant_config.json", autoawq.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new AwqCheckpoint.Config(128));
        String hf = "{\"quantization_config\": {\"bits\": 4, \"group_size\": 64, \"quant_method\": \"awq\", "
                + "\"version\": \"gemm\", \"zero_point\": true}}";
        assertThat(AwqCheckpoint.Config.parse("config.json", hf.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new AwqCheckpoint.Config(64));
        assertThat(AwqCheckpoint.Config.parse("mine", new AwqCheckpoint.Config(32).toJson()))
                .isEqualTo(new AwqCheckpoint.Config(32));
        assertThatThrownBy(() -> AwqCheckpoint.Config.parse("c", "{\"w_bit\": 4, \"q_group_size\": 128, \"version\": \"GEMV\"}"
                .getBytes(StandardCharsets.UTF_8))).isInstanceOf(TensorFormatException.class).hasMessageContaining("GEMM");
        assertThatThrownBy(() -> AwqCheckpoint.Config.parse("c", "{\"w_bit\": 3, \"q_group_size\": 128}"
                .getBytes(StandardCharsets.UTF_8))).isInstanceOf(TensorFormatException.class).hasMessageContaining("4-bit");
        GroupwiseAffine actOrder = GroupwiseAffine.of(8, 64, lowbit.tensor.layout.AffineSpec.groupsAlongIn(4, 32, false),
                new int[8 * 64], filled(16, 1f), new int[16], new int[64], null);
        assertThatThrownBy(() -> AwqCheckpoint.tensors(P, actOrder, new AwqCheckpoint.Config(32)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("act-order");
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }
}

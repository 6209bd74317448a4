package lowbit.tensor.io;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * A deterministic mutation fuzzer over the Jazzer seed corpora, run with the ordinary tests (every execution, no
 * agent): the same property as the Jazzer fuzz tests ({@link FuzzChecks}), on inputs made by flipping bits, writing
 * boundary values (0, &minus;1, 2<sup>31</sup>, 2<sup>32</sup>, 2<sup>63</sup>, ...) over 1-8 bytes, cutting,
 * duplicating and deleting ranges. Fixed seed; the failing input is printed as hex.
 */
class SeededMutationTest {
    private static final long SEED = 1234;
    private static final int MUTANTS_PER_SEED = 800;
    private static final long[] BOUNDARY = {0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF_FFFFL, 0x8000_0000L, 0xFFFF_FFFFL,
        1L << 32, 1L << 40, Long.MAX_VALUE, Long.MIN_VALUE, 8, 32, 64, 1000};

    private static List<byte[]> seeds(String dir, String... names) throws IOException {
        List<byte[]> out = new ArrayList<>();
        for (String n : names) {
            try (InputStream in = SeededMutationTest.class.getResourceAsStream(dir + "/" + n)) {
                assertThat(in).as("seed %s/%s", dir, n).isNotNull();
                out.add(in.readAllBytes());
            }
        }
        return out;
    }

    static byte[] mutate(byte[] s, Random r) {
        byte[] b = s.clone();
        int edits = 1 + r.nextInt(3);
        for (int k = 0; k < edits && b.length > 0; k++) {
            int at = r.nextInt(b.length);
            switch (r.nextInt(6)) {
                case 0 -> b[at] ^= (byte) (1 << r.nextInt(8));
                case 1 -> {
                    long v = BOUNDARY[r.nextInt(BOUNDARY.length)];
                    int width = 1 << r.nextInt(4);
                    for (int i = 0; i < width && at + i < b.length; i++) {
                        b[at + i] = (byte) (v >>> (8 * i));
                    }
                }
                case 2 -> b = Arrays.copyOf(b, at);
                case 3 -> {
                    int len = Math.min(b.length - at, 1 + r.nextInt(16));
                    byte[] c = new byte[b.length + len];
                    System.arraycopy(b, 0, c, 0, at + len);
                    System.arraycopy(b, at, c, at + len, b.length - at);
                    b = c;
                }
                case 4 -> {
                    int len = Math.min(b.length - at, 1 + r.nextInt(16));
                    byte[] c = new byte[b.length - len];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(b, at + len, c, at, b.length - at - len);
                    b = c;
                }
                default -> b[at] = (byte) r.nextInt(256);
            }
        }
        return b;
    }

    private static void run(List<byte[]> seeds, Consumer<byte[]> check) {
        Random r = new Random(SEED);
        for (byte[] s : seeds) {
            check.accept(s);
            for (int i = 0; i < MUTANTS_PER_SEED; i++) {
                byte[] m = mutate(s, r);
                try {
                    check.accept(m);
                } catch (RuntimeException | Error e) {
                    throw new AssertionError("seed " + SEED + ", mutant " + i + " escaped with " + e + "; input: "
                            + java.util.HexFormat.of().formatHex(m), e);
                }
            }
        }
    }

    @Test
    void safetensorsReaderOnlyThrowsTheFormatException() throws IOException {
        run(seeds("SafetensorsFuzzTestInputs/safetensors", "small.safetensors", "all-dtypes.safetensors",
                "scalar-empty.safetensors", "empty.safetensors"), FuzzChecks::safetensors);
    }

    @Test
    void checkpointConfigParsersOnlyThrowTheFormatException() {
        List<byte[]> configs = List.of(
                ("{\"bits\": 4, \"group_size\": 128, \"desc_act\": true, \"sym\": false, \"quant_method\": \"gptq\", "
                        + "\"checkpoint_format\": \"gptq_v2\", \"meta\": {\"quantizer\": [\"x\"]}}").getBytes(UTF_8),
                ("{\"quantization_config\": {\"bits\": 4, \"group_size\": 64, \"quant_method\": \"awq\", "
                        + "\"version\": \"gemm\", \"zero_point\": true}}").getBytes(UTF_8),
                "{\"zero_point\": true, \"q_group_size\": 128, \"w_bit\": 4, \"version\": \"GEMM\"}".getBytes(UTF_8));
        run(configs, b -> {
            try {
                GptqCheckpoint.Config.parse("fuzz", b);
            } catch (TensorFormatException e) {
                assertThat(e.getMessage()).startsWith("fuzz");
            }
            try {
                AwqCheckpoint.Config.parse("fuzz", b);
            } catch (TensorFormatException e) {
                assertThat(e.getMessage()).startsWith("fuzz");
            }
        });
    }

    @Test
    void ggufReaderOnlyThrowsTheFormatException() throws IOException {
        run(seeds("GgufFuzzTestInputs/gguf", "every-value.gguf", "aligned-types.gguf", "empty.gguf"), FuzzChecks::gguf);
    }
}

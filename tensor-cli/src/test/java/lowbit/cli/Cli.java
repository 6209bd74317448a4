package lowbit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.io.SafetensorsWriter;

/** Runs the picocli command in-process with captured streams, and makes small model files. */
final class Cli {
    /** Exit code, standard output and standard error of one run. */
    record Run(int exit, String out, String err) {
        /** Asserts a user error: the exit code, one line on stderr naming {@code fragment}, no stack trace. */
        Run userError(int code, String fragment) {
            assertThat(exit).as("exit code; stderr: %s", err).isEqualTo(code);
            assertThat(err).contains(fragment);
            assertThat(err).doesNotContain("Exception").doesNotContain("\tat ");
            long lines = err.lines().filter(l -> !l.contains(": warning: ") && !l.isBlank()
                    && !l.matches("^[a-z]+ [a-z0-9 ]+ \\d+/\\d+ .*")).count(); // warnings and progress lines aside
            assertThat(lines).as("stderr lines: %s", err).isLessThanOrEqualTo(2); // the message (+ "Try ... --help")
            return this;
        }

        Run ok() {
            assertThat(exit).as("exit code; stderr: %s", err).isZero();
            return this;
        }
    }

    private Cli() {
    }

    static Run run(Object... args) {
        String[] a = new String[args.length];
        for (int i = 0; i < args.length; i++) {
            a[i] = args[i].toString();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(a, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true,
                StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Gaussian weights (σ = 0.05) with a few large outliers, seeded. */
    static float[] weights(int rows, int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.05);
        }
        for (int k = 0; k < 5; k++) {
            w[r.nextInt(w.length)] = (float) (r.nextBoolean() ? 0.6 : -0.6);
        }
        return w;
    }

    /**
     * A small "model": two Linear weights (F32 [64, 256] and BF16 [256, 64]), a 1-D norm weight, an embedding
     * [100, 64] whose width is not a multiple of 128, and an I64 tensor.
     */
    static Path smallModel(Path dir) throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("model.layers.0.mlp.up_proj.weight", Tensor.ofFloats(weights(64, 256, 1), 64, 256));
        t.put("model.layers.0.mlp.down_proj.weight", Tensor.ofFloats(DType.BF16, weights(256, 64, 2),
                Shape.of(256, 64)));
        t.put("model.norm.weight", Tensor.ofFloats(new float[] {1, 1, 1, 1}, 4));
        t.put("model.embed.weight", Tensor.ofFloats(weights(100, 48, 3), 100, 48));
        t.put("model.position_ids", Tensor.wrap(java.lang.foreign.MemorySegment.ofArray(new long[] {0, 1, 2}),
                DType.I64, Shape.of(3)));
        Path p = dir.resolve("small.safetensors");
        SafetensorsWriter.write(p, t, Map.of("format", "pt"));
        return p;
    }
}

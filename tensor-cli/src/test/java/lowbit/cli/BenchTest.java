package lowbit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BenchTest {
    @Test
    void smallRunPrintsEveryKernelAndTheBaseline() {
        Cli.Run r = Cli.run("bench", "--rows", "64", "--cols", "256", "--gemm", "32", "--repeats", "3", "--stream-mib", "16").ok();
        for (String k : new String[] {"streaming read (baseline)", "F32 GEMV", "int8 g128 sym F16 GEMV",
            "int4 g128 asym F16 GEMV", "ggml Q8_0 GEMV", "ggml Q4_0 GEMV", "NF4 b64 GEMV", "NF4 b64 tiles GEMV", "F32 GEMM",
            "int4 g128 GEMM"}) {
            assertThat(r.out()).contains("| " + k);
        }
        assertThat(r.out()).contains("JMH").contains("is the reference");
    }

    @Test
    void badOptions() {
        Cli.run("bench", "--cols", "100").userError(2, "multiple of 128");
        Cli.run("bench", "--threads", "0").userError(2, "--threads must be");
        Cli.run("bench", "--repeats", "x").userError(2, "--repeats");
        Cli.run("bench", "--repeats", "2").userError(2, "--repeats 3..1000");
    }
}

package lowbit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MainTest {
    @Test
    void noArgumentsListsEveryCommand() {
        Cli.Run r = Cli.run().ok();
        for (String c : new String[] {"inspect", "quantize", "prune", "merge", "eval", "bench"}) {
            assertThat(r.out()).contains("  " + c + " ");
        }
        assertThat(r.out()).contains("Exit codes:").contains("2   usage error");
    }

    @Test
    void everySubcommandHasHelp() {
        for (String c : new String[] {"inspect", "quantize", "prune", "merge", "eval", "bench"}) {
            Cli.Run r = Cli.run(c, "--help").ok();
            assertThat(r.out()).startsWith("Usage: lowbit " + c).contains("Exit codes:");
        }
    }

    @Test
    void unknownCommandAndOptionAreUsageErrors() {
        Cli.run("frobnicate").userError(2, "frobnicate");
        Cli.run("inspect", "--frobnicate", "x").userError(2, "--frobnicate");
        Cli.run("quantize", "only-one-argument").userError(2, "OUT");
    }
}

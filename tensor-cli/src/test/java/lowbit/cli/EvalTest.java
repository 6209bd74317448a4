package lowbit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalTest {
    @TempDir
    Path dir;

    /** The mean cosine of the row whose method and bits cells are {@code method} and {@code bits}. */
    private static double cosine(String table, String method, String bits) {
        Matcher m = Pattern.compile("^\\| " + Pattern.quote(method) + " \\| " + Pattern.quote(bits)
                + " \\| [^|]* \\| ([0-9.]+) \\| ([0-9.]+) \\|", Pattern.MULTILINE).matcher(table);
        assertThat(m.find()).as("row %s %s in%n%s", method, bits, table).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void reducedReportOnTheRealModel() throws Exception {
        Path out = dir.resolve("report");
        // rtn with --calib-all runs the calibration path too (statistics collected, given to the quantizer)
        Cli.Run r = Cli.run("eval", "--methods", "rtn", "--bits", "4,3", "--groups", "128", "--ggml", "q8_0",
                "--sentences", "16", "--calib-sentences", "8", "--calib-all", "--out", out).ok();
        String t = r.out();
        assertThat(t).contains("| method | bits | group | mean cos |");
        assertThat(cosine(t, "fp32", "32")).isEqualTo(1.0);
        // ggml Q8_0 is near lossless; 4-bit g128 loses a few percent (README: RTN 0.961 on all 132 sentences)
        assertThat(cosine(t, "ggml q8_0", "—")).isGreaterThan(0.995);
        assertThat(cosine(t, "rtn", "4")).isBetween(0.90, 0.995);
        assertThat(cosine(t, "rtn", "3")).isBetween(0.70, cosine(t, "rtn", "4"));
        assertThat(Files.readString(out.resolve("eval.md"))).isEqualTo(t.substring(0, t.indexOf("\nwrote ")));
        byte[] png = Files.readAllBytes(out.resolve("eval.png"));
        assertThat(png).startsWith(0x89, 'P', 'N', 'G');
        assertThat(r.err()).contains("eval 4/4").contains("calibration: inputs of every Linear over 8 sentences");
    }

    @Test
    void badOptions() {
        Cli.run("eval", "--bits", "9").userError(2, "--bits entries must be 2..8");
        Cli.run("eval", "--groups", "100").userError(2, "--groups entries must divide");
        Cli.run("eval", "--methods", "gwq").userError(2, "gwq needs per-weight gradients");
        Cli.run("eval", "--ggml", "q4_k").userError(2, "blocks of 32");
        Cli.run("eval", "--bits", "four").userError(2, "comma-separated list of integers");
    }
}

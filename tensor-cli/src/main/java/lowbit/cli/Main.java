package lowbit.cli;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code lowbit} command. Subcommands: {@code inspect}, {@code quantize}, {@code prune}, {@code merge},
 * {@code eval}, {@code bench}. Exit codes: {@value #EXIT_OK} success, {@value #EXIT_FAILURE} the command failed
 * (unreadable or malformed input, a method that does not fit the file, I/O), {@value #EXIT_USAGE} usage error. User
 * errors print one line on stderr; {@code --verbose} adds the stack trace.
 */
@Command(name = "lowbit", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Compress and evaluate neural-network weights on the JVM: inspect, quantize, prune and merge "
                + "safetensors/GGUF/ONNX files; the all-MiniLM-L6-v2 quality report; a quick kernel benchmark.",
        subcommands = {InspectCommand.class, QuantizeCommand.class, PruneCommand.class, MergeCommand.class,
            EvalCommand.class, BenchCommand.class, CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:the command failed (unreadable or malformed input file, a method or format "
                + "that does not fit the input, I/O error)", "2:usage error (unknown option, bad option value, "
                + "missing argument)"},
        footer = {"", "Run 'lowbit COMMAND --help' for a command's options. Without arguments: this help."})
public final class Main implements Runnable {
    static final int EXIT_OK = 0;
    static final int EXIT_FAILURE = 1;
    static final int EXIT_USAGE = 2;
    /** Held so that the level set on it stays (java.util.logging keeps loggers weakly). */
    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("lowbit.tensor.simd");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command line {@code args} with the given streams and returns the exit code (for tests). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true"); // the eval chart is drawn without a display
        }
        boolean verbose = Arrays.asList(args).contains("--verbose");
        if (!verbose) {
            // the kernel provider's one-line INFO log: the reports say which kernels ran; --verbose shows it
            QUIET.setLevel(java.util.logging.Level.WARNING);
        }
        PrintWriter o = new PrintWriter(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8), true);
        PrintWriter e = new PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true);
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(o);
        cl.setErr(e);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println(c.getCommandName().equals("lowbit") ? "lowbit: " + ex.getMessage()
                    : "lowbit " + c.getCommandName() + ": " + ex.getMessage());
            c.getErr().println("Try 'lowbit " + (c.getCommandName().equals("lowbit") ? "" : c.getCommandName() + " ")
                    + "--help'.");
            if (verbose) {
                ex.printStackTrace(c.getErr());
            }
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parse) -> report(ex, c, verbose));
        try {
            return cl.execute(args);
        } finally {
            o.flush();
            e.flush();
        }
    }

    /** One line for a user error; the stack trace only with --verbose (or for what looks like a bug). */
    static int report(Exception ex, CommandLine c, boolean verbose) {
        PrintWriter err = c.getErr();
        String who = "lowbit " + c.getCommandName() + ": ";
        int code = EXIT_FAILURE;
        String msg;
        boolean bug = false;
        if (ex instanceof CliException ce) {
            code = ce.exitCode();
            msg = ce.getMessage();
        } else if (ex instanceof NoSuchFileException | ex instanceof FileNotFoundException) {
            msg = "no such file: " + ex.getMessage();
        } else if (ex instanceof AccessDeniedException) {
            msg = "permission denied: " + ex.getMessage();
        } else if (ex instanceof IOException) {
            msg = ex.getMessage() == null ? ex.toString() : ex.getMessage();
        } else if (ex instanceof UncheckedIOException u) {
            msg = u.getCause() instanceof NoSuchFileException ? "no such file: " + u.getCause().getMessage()
                    : u.getMessage();
        } else if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                || ex instanceof UnsupportedOperationException) {
            msg = ex.getMessage();
        } else {
            bug = true;
            msg = "internal error: " + ex + (verbose ? "" : " (run with --verbose for the stack trace)");
        }
        err.println(who + msg);
        if (verbose) {
            ex.printStackTrace(err);
        }
        err.flush();
        return bug ? EXIT_FAILURE : code;
    }

    /** The version from the jar manifest (or "dev"). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"lowbit " + (v == null ? "0.1.0-SNAPSHOT" : v) + " (Java "
                    + Runtime.version() + ", " + System.getProperty("os.arch") + ")"};
        }
    }
}

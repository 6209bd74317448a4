package lowbit.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** What every subcommand shares: {@code --verbose}, the output streams, input checks. */
abstract class BaseCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--verbose", description = "Show the stack trace of an error.")
    boolean verbose;

    /** Standard output (results). */
    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    /** Standard error (progress, warnings). */
    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** A warning line on stderr. */
    void warn(String message) {
        err().println("lowbit " + spec.name() + ": warning: " + message);
    }

    /** {@code p} must be a readable regular file. */
    static Path requireFile(Path p) {
        if (!Files.exists(p)) {
            throw CliException.failure("no such file: " + p);
        }
        if (Files.isDirectory(p)) {
            throw CliException.failure(p + " is a directory, expected a file");
        }
        if (!Files.isReadable(p)) {
            throw CliException.failure("permission denied: " + p);
        }
        return p;
    }

    /** {@code p} must be a readable directory. */
    static Path requireDirectory(Path p) {
        if (!Files.exists(p)) {
            throw CliException.failure("no such directory: " + p);
        }
        if (!Files.isDirectory(p)) {
            throw CliException.failure(p + " is not a directory");
        }
        return p;
    }

    /** Creates the parent directory of an output file if needed. */
    static Path prepareOutput(Path out, Path in) {
        try {
            if (in != null && Files.exists(out) && Files.isSameFile(in, out)) {
                throw CliException.usage("the output " + out + " is the input file; choose another name");
            }
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
        } catch (java.io.IOException e) {
            throw CliException.failure("cannot create the directory of " + out + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** The lower-case file name extension ("" if none). */
    static String extension(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot < 0 ? "" : n.substring(dot + 1).toLowerCase(java.util.Locale.ROOT);
    }

    /** A byte count for people: "1.4 MiB". */
    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        if (n < 1024 * 1024) {
            return String.format(java.util.Locale.ROOT, "%.1f KiB", n / 1024.0);
        }
        if (n < 1024L * 1024 * 1024) {
            return String.format(java.util.Locale.ROOT, "%.1f MiB", n / (1024.0 * 1024));
        }
        return String.format(java.util.Locale.ROOT, "%.2f GiB", n / (1024.0 * 1024 * 1024));
    }
}

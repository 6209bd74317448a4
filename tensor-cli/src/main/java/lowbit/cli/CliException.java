package lowbit.cli;

/**
 * An error the user can act on, reported as one line without a stack trace: {@link #usage} (exit code 2: a bad
 * option value, an incompatible combination of options) or {@link #failure} (exit code 1: an input that does not
 * fit the command, a method that cannot produce the requested format).
 */
final class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int exitCode;

    private CliException(String message, int exitCode, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    /** A usage error: exit code 2. */
    static CliException usage(String message) {
        return new CliException(message, Main.EXIT_USAGE, null);
    }

    /** A failure of the command on this input: exit code 1. */
    static CliException failure(String message) {
        return new CliException(message, Main.EXIT_FAILURE, null);
    }

    /** A failure with its cause (shown with --verbose). */
    static CliException failure(String message, Throwable cause) {
        return new CliException(message, Main.EXIT_FAILURE, cause);
    }

    int exitCode() {
        return exitCode;
    }
}

package lowbit.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress of a long task on stderr: a bar redrawn in place on a terminal, otherwise one line per step (at most
 * about 40 lines per task), each with the elapsed time.
 */
final class Progress {
    private static final boolean TERMINAL = System.console() != null && System.getenv("LOWBIT_NO_PROGRESS_BAR") == null;

    private final PrintWriter err;
    private final String task;
    private final int total;
    private final long start = System.nanoTime();
    private final boolean bar;
    private int done;
    private int lastPrinted = -1;

    Progress(PrintWriter err, String task, int total, boolean toTerminal) {
        this.err = err;
        this.task = task;
        this.total = Math.max(1, total);
        this.bar = toTerminal && TERMINAL;
    }

    /** Progress on the command's stderr, as a bar when that is the terminal. */
    static Progress of(BaseCommand c, String task, int total) {
        return new Progress(c.err(), task, total, true);
    }

    /** One step done ({@code label}: what was just finished). */
    void step(String label) {
        done++;
        double secs = (System.nanoTime() - start) / 1e9;
        if (bar) {
            int width = 30;
            int filled = (int) Math.round(width * (double) done / total);
            err.printf(Locale.ROOT, "\r%s [%s%s] %d/%d %5.1fs %-40.40s", task, "#".repeat(filled),
                    " ".repeat(width - filled), done, total, secs, label);
            if (done >= total) {
                err.println();
            }
            err.flush();
        } else {
            int every = Math.max(1, total / 40);
            if (done % every == 0 || done == total) {
                if (lastPrinted != done) {
                    err.printf(Locale.ROOT, "%s %d/%d (%.1fs) %s%n", task, done, total, secs, label);
                    err.flush();
                    lastPrinted = done;
                }
            }
        }
    }

    /** Seconds since the task started. */
    double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }
}

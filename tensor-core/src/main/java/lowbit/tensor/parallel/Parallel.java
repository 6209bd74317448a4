package lowbit.tensor.parallel;

/**
 * lowbit's library-wide parallelism: one setting (default: the number of available processors) and a parallel-for
 * over index ranges on a dedicated pool of daemon threads named {@code lowbit-worker-N}. Idle workers spin briefly
 * before they park (see {@link #SPIN_PROPERTY}), because kernels start many short loops in a row.
 *
 * <p><b>Determinism.</b> A range is cut into chunks of {@code grain} indices whose boundaries depend only on the
 * range and the grain, never on the thread count; which thread runs a chunk does not change what it computes.
 * {@link #sum} adds per-chunk results in chunk order. So a kernel that writes disjoint outputs per chunk, or
 * reduces through {@code sum}, gives identical bits with 1, 2 or 64 threads.
 *
 * <p>The calling thread works too. A parallel-for started from inside a lowbit worker runs sequentially in that
 * worker (no nested fan-out, no deadlock). One loop uses the pool at a time: a loop started while another
 * application thread's loop runs is run on its own caller's thread, with the same bits. The first exception thrown
 * by a chunk is rethrown to the caller after all started chunks have finished; remaining chunks are skipped.
 */
public final class Parallel {
    /** Maximum parallelism accepted by {@link #setParallelism}. */
    public static final int MAX_PARALLELISM = 1024;

    private static volatile int parallelism = Runtime.getRuntime().availableProcessors();
    /**
     * How long an idle worker spins before it parks, and a caller waiting for the workers' last chunks before it
     * parks: system property {@code lowbit.parallel.spinMicros}, default {@value #DEFAULT_SPIN_MICROS}; 0 parks at
     * once (for machines whose cores are oversubscribed).
     */
    public static final String SPIN_PROPERTY = "lowbit.parallel.spinMicros";

    /** The default of {@link #SPIN_PROPERTY}, in microseconds. */
    public static final int DEFAULT_SPIN_MICROS = 1000;

    private static final long SPIN_NANOS = spinNanos(System.getProperty(SPIN_PROPERTY));
    private static volatile WorkerPool pool;

    private Parallel() {
    }

    /** A body over the half-open index range {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
        /** Processes indices {@code from} (inclusive) to {@code to} (exclusive). */
        void run(long from, long to);
    }

    /** A partial float result over {@code [from, to)}, for {@link #sum}. */
    @FunctionalInterface
    public interface RangeToDouble {
        /** Computes the chunk's contribution. */
        double apply(long from, long to);
    }

    /** The number of threads parallel loops use (including the caller). */
    public static int parallelism() {
        return parallelism;
    }

    /**
     * Sets the number of threads parallel loops use, 1 for sequential. Affects loops started afterwards.
     *
     * @throws IllegalArgumentException unless 1 &le; threads &le; {@value #MAX_PARALLELISM}
     */
    public static synchronized void setParallelism(int threads) {
        if (threads < 1 || threads > MAX_PARALLELISM) {
            throw new IllegalArgumentException("parallelism must be 1.." + MAX_PARALLELISM + ", got " + threads);
        }
        if (threads != parallelism) {
            WorkerPool old = pool;
            pool = null;
            parallelism = threads;
            if (old != null) {
                old.shutdown();
            }
        }
    }

    /**
     * Runs {@code body} over {@code [start, end)} cut into chunks of {@code grain} indices (the last may be shorter),
     * in parallel. Returns when every chunk has run.
     *
     * @throws IllegalArgumentException if {@code end < start} or {@code grain < 1}
     */
    public static void forRange(long start, long end, long grain, RangeBody body) {
        checkRange(start, end, grain);
        long chunks = chunkCount(start, end, grain);
        if (chunks == 0) {
            return;
        }
        boolean parallel = parallelism > 1 && chunks > 1 && !insideWorker();
        // pool busy with another application thread's loop: this one runs on its caller, same chunks, same bits
        if (!parallel || !pool().tryRun(start, end, grain, chunks, body)) {
            for (long c = 0; c < chunks; c++) {
                long from = start + c * grain;
                body.run(from, Math.min(end, from + grain));
            }
        }
    }

    /** Like {@link #forRange(long, long, long, RangeBody)} choosing a grain that gives each thread a few chunks. */
    public static void forRange(long start, long end, RangeBody body) {
        long n = Math.max(0, end - start);
        forRange(start, end, Math.max(1, n / (4L * parallelism)), body);
    }

    /**
     * &Sigma; over chunks of {@code f(from, to)}, chunks of {@code grain} indices added in chunk order: the result does
     * not depend on the thread count.
     */
    public static double sum(long start, long end, long grain, RangeToDouble f) {
        checkRange(start, end, grain);
        long chunks = chunkCount(start, end, grain);
        if (chunks > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too many chunks: " + chunks + " (range " + start + ".." + end + ", grain " + grain + ")");
        }
        double[] partial = new double[(int) chunks];
        forRange(0, chunks, 1, (c0, c1) -> {
            for (long c = c0; c < c1; c++) {
                long from = start + c * grain;
                partial[(int) c] = f.apply(from, Math.min(end, from + grain));
            }
        });
        double s = 0;
        for (double v : partial) {
            s += v;
        }
        return s;
    }

    /** Parses a value of {@link #SPIN_PROPERTY} (null: the default) to nanoseconds. */
    static long spinNanos(String v) {
        if (v == null) {
            return DEFAULT_SPIN_MICROS * 1000L;
        }
        try {
            long micros = Long.parseLong(v.trim());
            if (micros >= 0 && micros <= 1_000_000) {
                return micros * 1000L;
            }
        } catch (NumberFormatException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("system property " + SPIN_PROPERTY + " must be 0..1000000 microseconds, got '" + v + "'");
    }

    private static long chunkCount(long start, long end, long grain) {
        long n = end - start;
        return n / grain + (n % grain == 0 ? 0 : 1);
    }

    private static void checkRange(long start, long end, long grain) {
        if (end < start) {
            throw new IllegalArgumentException("range end " + end + " is before start " + start);
        }
        if (grain < 1) {
            throw new IllegalArgumentException("grain must be >= 1, got " + grain);
        }
    }

    private static boolean insideWorker() {
        return WorkerPool.insideWorker();
    }

    private static WorkerPool pool() {
        WorkerPool p = pool;
        if (p == null) {
            synchronized (Parallel.class) {
                p = pool;
                if (p == null) {
                    p = new WorkerPool(Math.max(1, parallelism - 1), SPIN_NANOS);
                    pool = p;
                }
            }
        }
        return p;
    }
}

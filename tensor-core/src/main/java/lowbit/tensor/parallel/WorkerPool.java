package lowbit.tensor.parallel;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The threads behind {@link Parallel}: a fixed set of daemon workers that run one parallel-for at a time together
 * with the caller.
 *
 * <p>Between loops a worker spins ({@link Thread#onSpinWait}) for {@code spinNanos} before it parks, and a caller
 * waiting for the last chunks spins as long before it parks. Kernels call {@code Parallel} dozens of times per
 * model layer with well under a millisecond of sequential work in between; on the virtual machines this library is
 * measured on, waking a parked thread took 30&nbsp;&micro;s at the median and up to 1.8&nbsp;ms, which is what
 * a pool that parks at once (such as {@link java.util.concurrent.ForkJoinPool}) pays on every loop.
 *
 * <p>One loop runs at a time: a caller that finds the pool busy (another application thread's loop is running)
 * gets {@code false} from {@link #tryRun} and runs its loop on its own thread.
 */
final class WorkerPool {
    private final Worker[] workers;
    private final long spinNanos;
    private final AtomicBoolean busy = new AtomicBoolean();
    /** The loop being run, or null between loops; written only by the caller holding {@link #busy}. */
    private volatile Job current;
    private volatile boolean shutdown;
    private long jobIds;

    WorkerPool(int workerCount, long spinNanos) {
        this.spinNanos = spinNanos;
        this.workers = new Worker[workerCount];
        for (int i = 0; i < workerCount; i++) {
            workers[i] = new Worker(this, "lowbit-worker-" + (i + 1));
        }
        for (Worker w : workers) {
            w.start();
        }
    }

    /** True on one of this library's worker threads (of any pool, including one being shut down). */
    static boolean insideWorker() {
        return Thread.currentThread() instanceof Worker;
    }

    /**
     * Runs the loop with the workers and the calling thread, returning when every chunk has run, or returns false
     * at once (running nothing) if another loop holds the pool.
     */
    boolean tryRun(long start, long end, long grain, long chunks, Parallel.RangeBody body) {
        if (!busy.compareAndSet(false, true)) {
            return false;
        }
        Job job;
        try {
            job = new Job(++jobIds, start, end, grain, chunks, body);
            current = job;
            for (Worker w : workers) {
                if (w.parked) {
                    LockSupport.unpark(w);
                }
            }
            job.work();
            awaitCompletion(job);
        } finally {
            current = null; // drop the body (and the arrays it captures) as soon as the loop is over
            busy.set(false);
        }
        job.rethrow();
        return true;
    }

    /** Stops the workers once they are idle; loops already running finish. */
    void shutdown() {
        shutdown = true;
        for (Worker w : workers) {
            LockSupport.unpark(w);
        }
    }

    private void awaitCompletion(Job job) {
        long spinUntil = System.nanoTime() + spinNanos;
        for (int n = 1; !job.done(); n++) {
            if ((n & 63) != 0 || System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
                continue;
            }
            boolean interrupted = false;
            job.waiter = Thread.currentThread();
            while (!job.done()) {
                LockSupport.park(job);
                interrupted |= Thread.interrupted(); // park returns at once while the flag is set
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return;
        }
    }

    /** Waits for a loop newer than {@code lastId}; null once the pool is shut down. */
    private Job awaitJob(Worker self, long lastId) {
        long spinUntil = System.nanoTime() + spinNanos;
        for (int n = 1; ; n++) {
            Job j = newJob(lastId); // null unless new: no finished loop stays referenced from this frame
            if (j != null) {
                return j;
            }
            if (shutdown) {
                return null;
            }
            if ((n & 63) != 0 || System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
                continue;
            }
            self.parked = true; // the caller reads this after publishing `current`, so one of us sees the other
            if (newJob(lastId) == null && !shutdown) {
                LockSupport.park(this);
            }
            self.parked = false;
            Thread.interrupted(); // a stray interrupt must not turn park into a busy loop
            spinUntil = System.nanoTime() + spinNanos;
        }
    }

    private Job newJob(long lastId) {
        Job j = current;
        return j != null && j.id != lastId ? j : null;
    }

    /** One parallel-for: chunks are claimed from a counter, so each runs exactly once, on whichever thread. */
    private static final class Job {
        final long id;
        final long start;
        final long end;
        final long grain;
        final long chunks;
        final Parallel.RangeBody body;
        final AtomicLong next = new AtomicLong();
        final AtomicLong completed = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile Thread waiter;

        Job(long id, long start, long end, long grain, long chunks, Parallel.RangeBody body) {
            this.id = id;
            this.start = start;
            this.end = end;
            this.grain = grain;
            this.chunks = chunks;
            this.body = body;
        }

        void work() {
            long c;
            while ((c = next.getAndIncrement()) < chunks) {
                if (failure.get() == null) { // after a failure the remaining chunks are claimed but skipped
                    long from = start + c * grain;
                    try {
                        body.run(from, Math.min(end, from + grain));
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                }
                if (completed.incrementAndGet() == chunks) {
                    Thread w = waiter;
                    if (w != null) {
                        LockSupport.unpark(w);
                    }
                }
            }
        }

        boolean done() {
            return completed.get() == chunks;
        }

        void rethrow() {
            Throwable t = failure.get();
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new IllegalStateException(t);
            }
        }
    }

    private static final class Worker extends Thread {
        private final WorkerPool pool;
        volatile boolean parked;

        Worker(WorkerPool pool, String name) {
            super(name);
            this.pool = pool;
            setDaemon(true);
        }

        @Override
        public void run() {
            for (long lastId = 0; lastId >= 0; ) {
                lastId = runNext(lastId);
            }
        }

        /**
         * Runs the next loop; returns its id, or -1 once the pool is shut down. The job is a local of this method, so
         * the loop's body (and the arrays it captures) is not kept reachable while the worker waits for the next one.
         */
        private long runNext(long lastId) {
            Job j = pool.awaitJob(this, lastId);
            if (j == null) {
                return -1;
            }
            j.work();
            return j.id;
        }
    }
}

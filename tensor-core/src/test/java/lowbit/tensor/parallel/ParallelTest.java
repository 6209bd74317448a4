package lowbit.tensor.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.ref.WeakReference;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ParallelTest {
    private final int defaultParallelism = Parallel.parallelism();

    @AfterEach
    void restore() {
        Parallel.setParallelism(defaultParallelism);
    }

    @Test
    void everyIndexRunsExactlyOnceAtAnyParallelism() {
        for (int threads : new int[] {1, 2, 3, 8}) {
            Parallel.setParallelism(threads);
            for (long n : new long[] {0, 1, 7, 100, 1001}) {
                for (long grain : new long[] {1, 3, 64, 5000}) {
                    int[] hits = new int[(int) n];
                    Parallel.forRange(0, n, grain, (from, to) -> {
                        assertThat(to - from).isBetween(1L, grain);
                        assertThat(from % grain).isZero(); // boundaries depend on the grain only
                        for (long i = from; i < to; i++) {
                            hits[(int) i]++;
                        }
                    });
                    for (int i = 0; i < n; i++) {
                        assertThat(hits[i]).as("threads=%d n=%d grain=%d i=%d", threads, n, grain, i).isEqualTo(1);
                    }
                }
            }
        }
    }

    @Test
    void moreThanOneThreadActuallyWorks() {
        Parallel.setParallelism(2);
        ConcurrentHashMap<String, Boolean> threads = new ConcurrentHashMap<>();
        Parallel.forRange(0, 64, 1, (from, to) -> {
            threads.put(Thread.currentThread().getName(), true);
            long end = System.nanoTime() + 2_000_000; // 2 ms of work per chunk so both threads get some
            while (System.nanoTime() < end) {
                Thread.onSpinWait();
            }
        });
        assertThat(threads).hasSize(2);
        assertThat(threads.keySet()).anyMatch(n -> n.startsWith("lowbit-worker-"));
    }

    @Test
    void parkedWorkersWakeUpForTheNextLoop() throws Exception {
        Parallel.setParallelism(2);
        Parallel.forRange(0, 2, 1, (a, b) -> { });
        Thread.sleep(50); // far beyond the spin time: the worker has parked
        CountDownLatch bothThreads = new CountDownLatch(2);
        ConcurrentHashMap<String, Boolean> seen = new ConcurrentHashMap<>();
        Parallel.forRange(0, 2, 1, (a, b) -> {
            seen.put(Thread.currentThread().getName(), true);
            bothThreads.countDown();
            try { // each chunk waits for the other: passes only if a second thread runs the other chunk
                assertThat(bothThreads.await(10, TimeUnit.SECONDS)).as("the parked worker took the second chunk").isTrue();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(seen).hasSize(2);
    }

    @Test
    void loopsFromSeveralApplicationThreadsAtOnceAllComplete() throws Exception {
        Parallel.setParallelism(2);
        int callers = 4, loops = 300;
        AtomicInteger wrong = new AtomicInteger();
        Thread[] ts = new Thread[callers];
        for (int t = 0; t < callers; t++) {
            int seed = t;
            ts[t] = new Thread(() -> {
                for (int l = 0; l < loops; l++) {
                    int n = 1 + (seed * 31 + l * 17) % 200;
                    int[] hits = new int[n];
                    Parallel.forRange(0, n, 1 + l % 7, (from, to) -> {
                        for (long i = from; i < to; i++) {
                            hits[(int) i]++;
                        }
                    });
                    for (int h : hits) {
                        if (h != 1) {
                            wrong.incrementAndGet();
                        }
                    }
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join(60_000);
            assertThat(t.isAlive()).as("caller finished").isFalse();
        }
        assertThat(wrong.get()).as("indices not run exactly once").isZero();
    }

    @Test
    void workersOfAReplacedPoolExit() throws Exception {
        Parallel.setParallelism(4);
        Parallel.forRange(0, 8, 1, (a, b) -> { });
        Parallel.setParallelism(2);
        Parallel.forRange(0, 8, 1, (a, b) -> { });
        long deadline = System.nanoTime() + 10_000_000_000L;
        long alive;
        while ((alive = liveWorkers()) > 1 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(alive).as("live lowbit-worker threads at parallelism 2").isEqualTo(1);
    }

    private static long liveWorkers() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("lowbit-worker-")).count();
    }

    @Test
    void aFinishedLoopIsNotKeptReachable() throws Exception {
        Parallel.setParallelism(2);
        WeakReference<float[]> captured = runLoopCapturing(new float[1 << 22]);
        for (int i = 0; i < 50 && captured.get() != null; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertThat(captured.get()).as("a 16 MiB array captured by a finished loop's body").isNull();
    }

    private static WeakReference<float[]> runLoopCapturing(float[] big) {
        Parallel.forRange(0, 4, 1, (a, b) -> big[(int) a] = 1f);
        return new WeakReference<>(big);
    }

    @Test
    void spinPropertyIsParsedOrRejected() {
        assertThat(Parallel.spinNanos(null)).isEqualTo(Parallel.DEFAULT_SPIN_MICROS * 1000L);
        assertThat(Parallel.spinNanos(" 0 ")).isZero();
        assertThat(Parallel.spinNanos("250")).isEqualTo(250_000L);
        for (String bad : new String[] {"-1", "abc", "1000001", ""}) {
            assertThatThrownBy(() -> Parallel.spinNanos(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(Parallel.SPIN_PROPERTY).hasMessageContaining("'" + bad + "'");
        }
    }

    @Test
    void sumIsBitIdenticalWhateverTheThreadCount() {
        float[] x = new float[100_003];
        Random r = new Random(7);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(8) - 4));
        }
        Double reference = null;
        for (int threads : new int[] {1, 2, 3, 5}) {
            Parallel.setParallelism(threads);
            double s = Parallel.sum(0, x.length, 1000, (from, to) -> {
                double acc = 0;
                for (long i = from; i < to; i++) {
                    acc += x[(int) i];
                }
                return acc;
            });
            if (reference == null) {
                reference = s;
            }
            assertThat(Double.doubleToRawLongBits(s)).as("threads=%d", threads).isEqualTo(Double.doubleToRawLongBits(reference));
        }
    }

    @Test
    void nestedLoopsRunInlineAndExceptionsPropagate() {
        Parallel.setParallelism(2);
        AtomicInteger count = new AtomicInteger();
        Parallel.forRange(0, 4, 1, (a, b) -> Parallel.forRange(0, 10, 1, (c, d) -> count.incrementAndGet()));
        assertThat(count.get()).isEqualTo(40);
        assertThatThrownBy(() -> Parallel.forRange(0, 100, 1, (a, b) -> {
            if (a == 57) {
                throw new IllegalStateException("chunk 57 failed");
            }
        })).isInstanceOf(IllegalStateException.class).hasMessage("chunk 57 failed");
    }

    @Test
    void badArgumentsAreRejected() {
        assertThatThrownBy(() -> Parallel.setParallelism(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0");
        assertThatThrownBy(() -> Parallel.forRange(5, 4, 1, (a, b) -> { })).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4").hasMessageContaining("5");
        assertThatThrownBy(() -> Parallel.forRange(0, 4, 0, (a, b) -> { })).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("grain");
    }
}

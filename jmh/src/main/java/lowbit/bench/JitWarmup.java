package lowbit.bench;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Brings the measured benchmark method to C2 before JMH's warm-up iterations start, by calling it many times on a
 * small "twin" (the same state class set up with a small shape).
 *
 * <p>Why: the Vector API is only fast once C2 has compiled (intrinsified) the code; in the interpreter and in C1
 * every vector operation is an object and a Java loop over lanes, 100-1000x slower. The tiers are reached by
 * invocation counts: a method that runs once per product (the activation quantizer of the ggml GEMVs, the per-call
 * setup of a GEMM) needs several hundred products first. On the 4096x14336 shape a cold product took 1-12 s (measured:
 * the first {@code Interleaved.quantizeActivation} of 14336 floats 1.1 s, about 5 s until it ran at its compiled
 * 13 µs, under load), so JMH's short warm-up ({@code -wi 2 -w 1}) ended before C2 was done and the "measurements"
 * averaged interpreted calls (15-113 ms instead of 3-5 ms). On the twin a cold call costs ~100x less, and the
 * compiled code is the same code (same call sites, same types).
 */
final class JitWarmup {
    private JitWarmup() {
    }

    /**
     * Calls the benchmark method of {@code params} on {@code twin} {@code calls} times, stopping early after
     * {@code maxSeconds} of wall time; prints what it did.
     */
    static void run(Object twin, BenchmarkParams params, int calls, double maxSeconds) {
        String name = params.getBenchmark();
        name = name.substring(name.lastIndexOf('.') + 1);
        Method m;
        try {
            m = twin.getClass().getMethod(name);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("no benchmark method " + name + " on " + twin.getClass(), e);
        }
        long t0 = System.nanoTime();
        long limit = (long) (maxSeconds * 1e9);
        int i = 0;
        try {
            for (; i < calls && System.nanoTime() - t0 < limit; i++) {
                m.invoke(twin);
            }
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof UnsupportedOperationException) {
                return; // the benchmark itself throws for these parameters (e.g. Jlama without a Q8 kernel)
            }
            throw new IllegalStateException(e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
        System.out.printf("%nJIT warm-up: %d calls of %s on a small twin in %.1f s%n", i, name, (System.nanoTime() - t0) / 1e9);
    }
}

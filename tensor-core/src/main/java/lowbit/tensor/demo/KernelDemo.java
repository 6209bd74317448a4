package lowbit.tensor.demo;

import java.util.Locale;
import java.util.Random;
import java.util.function.DoubleSupplier;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatKernels;
import lowbit.tensor.simd.ScalarFloatKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * The main job for now: prints which kernel provider and vector width this JVM chose, then runs each kernel beside
 * its scalar twin on random data, checks that they agree, and shows a rough speed ratio (rough: a few timed
 * repetitions, not JMH; see the jmh module for real measurements). Exits with status 1 if any kernel disagrees.
 */
public final class KernelDemo {
    private static final Random RANDOM = new Random(2026);
    private static boolean failed;

    private KernelDemo() {
    }

    /** Runs the demo; takes no arguments. */
    public static void main(String[] args) {
        VectorizationProvider p = VectorizationProvider.get();
        System.out.printf(Locale.ROOT, "lowbit kernel demo on Java %s, %s %s%n", Runtime.version(),
                System.getProperty("os.arch"), System.getProperty("java.vm.name"));
        System.out.printf(Locale.ROOT, "provider: %s, vector width: %d bits, parallelism: %d%n", p.name(),
                p.vectorBitSize(), Parallel.parallelism());
        if (p.vectorBitSize() == 0) {
            System.out.println("(scalar fallback: run with --add-modules jdk.incubator.vector for SIMD kernels)");
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-28s %-44s %12s %12s %8s%n", "kernel", "agreement with scalar twin", "simd", "scalar", "ratio");
        floatKernels(p.floats(), new ScalarFloatKernels());
        System.out.println();
        System.out.println(failed ? "SOME KERNELS DISAGREE WITH THEIR SCALAR TWIN" : "all kernels agree with their scalar twins");
        if (failed) {
            System.exit(1);
        }
    }

    private static void floatKernels(FloatKernels k, FloatKernels ref) {
        for (int n : new int[] {4096, 1 << 20}) {
            float[] a = randomFloats(n), b = randomFloats(n);
            double sumAbs = 0;
            for (int i = 0; i < n; i++) {
                sumAbs += Math.abs((double) a[i] * b[i]);
            }
            double bound = 2 * n * 0x1p-24 * sumAbs; // 2·γ_n·Σ|a·b|: two summation orders
            compare("dot n=" + n, () -> k.dot(a, 0, b, 0, n), () -> ref.dot(a, 0, b, 0, n), bound);
            compare("maxAbs n=" + n, () -> k.maxAbs(a, 0, n), () -> ref.maxAbs(a, 0, n), 0);
            compare("min n=" + n, () -> k.min(a, 0, n), () -> ref.min(a, 0, n), 0);
        }
    }

    /** Checks |simd − scalar| ≤ bound and prints the two times. */
    static void compare(String name, DoubleSupplier simd, DoubleSupplier scalar, double bound) {
        double vs = simd.getAsDouble(), rs = scalar.getAsDouble();
        double diff = Math.abs(vs - rs);
        boolean ok = diff <= bound;
        failed |= !ok;
        double ts = time(simd), tr = time(scalar);
        String agree = String.format(Locale.ROOT, "|diff| %.3g <= %.3g %s", diff, bound, ok ? "ok" : "FAIL");
        System.out.printf(Locale.ROOT, "%-28s %-44s %12s %12s %7.1fx%n", name, agree, fmt(ts), fmt(tr), tr / ts);
    }

    /** Warms up for 300 ms (so C2 has compiled the kernel), then the best of 10 batches of >= 10 ms, per call. */
    static double time(DoubleSupplier f) {
        double sink = 0;
        long warmEnd = System.nanoTime() + 300_000_000L;
        int reps = 1;
        while (System.nanoTime() < warmEnd) {
            for (int i = 0; i < reps; i++) {
                sink += f.getAsDouble();
            }
            reps = Math.min(reps * 2, 1 << 20);
        }
        double best = Double.MAX_VALUE;
        reps = 1;
        for (int round = 0; round < 10; ) {
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                sink += f.getAsDouble();
            }
            long dt = System.nanoTime() - t0;
            if (dt < 10_000_000L) {
                reps *= 2;
                continue;
            }
            best = Math.min(best, dt / 1e9 / reps);
            round++;
        }
        if (sink == 42.4242) {
            System.out.print(""); // keeps the results alive
        }
        return best;
    }

    static String fmt(double seconds) {
        return seconds < 1e-3 ? String.format(Locale.ROOT, "%.2f us", seconds * 1e6)
                : String.format(Locale.ROOT, "%.2f ms", seconds * 1e3);
    }

    static float[] randomFloats(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = RANDOM.nextFloat() * 2 - 1;
        }
        return a;
    }
}

package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.simd.FloatKernels;
import lowbit.tensor.simd.ScalarFloatKernels;
import lowbit.tensor.simd.VectorizationProvider;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Float dot product and max-abs: the provider's SIMD kernel beside its scalar twin in the same run. Size 4096 keeps
 * both arrays (32 KiB) in L1/L2; 1M floats streams from L3/DRAM. Pairs: {@code *_simd} vs {@code *_scalar};
 * {@code jmh/ratios.py} prints the ratios.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch"})
public class FloatDotBench {
    private static final FloatKernels SIMD = VectorizationProvider.get().floats();
    private static final FloatKernels SCALAR = new ScalarFloatKernels();

    @Param({"4096", "1048576"})
    int size;

    float[] a;
    float[] b;

    /** Random inputs in [-1, 1); checks that the provider is the Vector API one. */
    @Setup
    public void setup() {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Random r = new Random(1);
        a = new float[size];
        b = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = r.nextFloat() * 2 - 1;
            b[i] = r.nextFloat() * 2 - 1;
        }
    }

    @Benchmark
    public float dot_simd() {
        return SIMD.dot(a, 0, b, 0, size);
    }

    @Benchmark
    public float dot_scalar() {
        return SCALAR.dot(a, 0, b, 0, size);
    }

    @Benchmark
    public float maxAbs_simd() {
        return SIMD.maxAbs(a, 0, size);
    }

    @Benchmark
    public float maxAbs_scalar() {
        return SCALAR.maxAbs(a, 0, size);
    }
}

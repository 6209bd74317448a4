package lowbit.bench;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.VectorizationProvider;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One-thread f32 &rarr; Q4_0 and f32 &rarr; Q8_0 encoding of 262144 floats (1 MiB of input, cache-resident) with the
 * provider's vector encoder beside the scalar reference. GB/s of f32 input = 1.048576 / (µs per op) · 1000 / 1000.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms4g", "-Xmx4g"})
public class GgmlQuantizeBench {
    private static final GgmlKernels SIMD = VectorizationProvider.get().ggml();
    private static final GgmlKernels SCALAR = new ScalarGgmlKernels();
    private static final int N = 1 << 18;

    float[] x;
    MemorySegment q4;
    MemorySegment q8;

    @Setup
    public void setup() {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Random r = new Random(2);
        x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) r.nextGaussian();
        }
        q4 = MemorySegment.ofArray(new byte[N / 32 * 18]);
        q8 = MemorySegment.ofArray(new byte[N / 32 * 34]);
    }

    @Benchmark
    public MemorySegment q4_0_simd() {
        SIMD.quantizeQ4_0(x, 0, q4, 0, N / 32);
        return q4;
    }

    @Benchmark
    public MemorySegment q4_0_scalar() {
        SCALAR.quantizeQ4_0(x, 0, q4, 0, N / 32);
        return q4;
    }

    @Benchmark
    public MemorySegment q8_0_simd() {
        SIMD.quantizeQ8_0(x, 0, q8, 0, N / 32);
        return q8;
    }

    @Benchmark
    public MemorySegment q8_0_scalar() {
        SCALAR.quantizeQ8_0(x, 0, q8, 0, N / 32);
        return q8;
    }
}

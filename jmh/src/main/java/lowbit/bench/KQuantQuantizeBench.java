package lowbit.bench;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.ggml.Q2_K;
import lowbit.tensor.ggml.Q3_K;
import lowbit.tensor.ggml.Q4_K;
import lowbit.tensor.ggml.Q5_K;
import lowbit.tensor.ggml.Q6_K;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.ScalarKQuantKernels;
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
 * One-thread f32 &rarr; k-quant encoding of 262144 floats (1 MiB of input, cache-resident): the reference encoders
 * of Q2_K..Q6_K (scalar: their iterative searches add floats in a fixed order, so they are not vectorized; no twin to
 * pair with), and the Q8_K activation encoder with the provider's vector kernel beside the scalar reference.
 * GB/s of f32 input = 1.048576 / (ms per op) / 1000.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms2g", "-Xmx2g"})
public class KQuantQuantizeBench {
    private static final KQuantKernels SIMD = VectorizationProvider.get().kquants();
    private static final KQuantKernels SCALAR = new ScalarKQuantKernels();
    private static final int N = 1 << 18;

    float[] x;
    MemorySegment out;

    @Setup
    public void setup() {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Random r = new Random(3);
        x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) r.nextGaussian();
        }
        out = MemorySegment.ofArray(new byte[N / 256 * 292]);
    }

    @Benchmark
    public MemorySegment q2_K() {
        Q2_K.quantizeRow(x, 0, out, 0, N);
        return out;
    }

    @Benchmark
    public MemorySegment q3_K() {
        Q3_K.quantizeRow(x, 0, out, 0, N);
        return out;
    }

    @Benchmark
    public MemorySegment q4_K() {
        Q4_K.quantizeRow(x, 0, out, 0, N);
        return out;
    }

    @Benchmark
    public MemorySegment q5_K() {
        Q5_K.quantizeRow(x, 0, out, 0, N);
        return out;
    }

    @Benchmark
    public MemorySegment q6_K() {
        Q6_K.quantizeRow(x, 0, out, 0, N);
        return out;
    }

    @Benchmark
    public MemorySegment q8_K_simd() {
        SIMD.quantizeQ8_K(x, 0, out, 0, N / 256);
        return out;
    }

    @Benchmark
    public MemorySegment q8_K_scalar() {
        SCALAR.quantizeQ8_K(x, 0, out, 0, N / 256);
        return out;
    }
}

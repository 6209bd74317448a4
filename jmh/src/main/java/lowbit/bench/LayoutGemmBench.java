package lowbit.bench;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.VectorizationProvider;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Batched Y = X·Ŵᵀ for X [n, in] and an int4 g128 (asymmetric, F16 scales) weight [out, in], beside the dense F32
 * product with the dequantized weight (lowbit's own GEMM) in the same run. GFLOP/s = 2·n·out·in / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms4g", "-Xmx4g"})
public class LayoutGemmBench {
    @Param({"4096x4096"})
    String shape;

    @Param({"512"})
    int n;

    @Param({"int4_g128_asym_f16"})
    String layout;

    @Param({"1", "2"})
    int threads;

    Arena arena;
    GroupwiseAffine w;
    float[] dense;
    float[] x;
    float[] y;
    int rows;
    int cols;

    /** W, X; then the measured method brought to C2 on a 64x512 twin with n = 32 ({@link JitWarmup}). */
    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Parallel.setParallelism(threads);
        init();
        LayoutGemmBench twin = new LayoutGemmBench();
        twin.shape = "64x512";
        twin.layout = layout;
        twin.n = 32;
        twin.threads = threads;
        twin.init();
        JitWarmup.run(twin, params, 2000, 60);
        twin.tearDown();
    }

    private void init() {
        String[] s = shape.split("x");
        rows = Integer.parseInt(s[0]);
        cols = Integer.parseInt(s[1]);
        arena = Arena.ofShared();
        Random r = new Random(1);
        w = LayoutGemvBench.random(arena, rows, cols, LayoutGemvBench.spec(layout), r);
        dense = w.dequantize();
        x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        y = new float[n * rows];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** The layout's GEMM: tiles of W dequantized once and multiplied with the dense kernel. */
    @Benchmark
    public float gemm_layout() {
        w.gemm(x, n, null, y);
        return y[y.length - 1];
    }

    /** The dense F32 GEMM with the already dequantized weight: the upper bound the layout can approach. */
    @Benchmark
    public float gemm_dense() {
        Gemm.linear(x, n, cols, dense, rows, null, y);
        return y[y.length - 1];
    }
}

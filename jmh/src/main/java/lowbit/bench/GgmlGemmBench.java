package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.layout.GgmlMatrix;
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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Batched Y = X·Ŵᵀ with X [n, cols], Ŵ [rows, cols] in Q4_0 (or Q8_0), n = 512 (a prompt), beside the dense F32 GEMM
 * of lowbit on the same shape ({@code gemm_f32}, the baseline). Paths: {@code gemm_int8} — the interleaved matrix's
 * fused kernel (X quantized to Q8_0 once, 16 weight rows × 4 X rows per register tile, int16 products);
 * {@code gemm_decode} — the standard matrix, which decodes 16-row tiles to F32 and runs the dense GEMM kernel.
 * GFLOP/s = 2·n·rows·cols / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms6g", "-Xmx6g"})
public class GgmlGemmBench {
    /** W shape as rows x cols. */
    @Param({"4096x4096", "4096x14336"})
    String shape;

    @Param({"Q4_0"})
    String type;

    @Param({"512"})
    int n;

    @Param({"1", "2"})
    int threads;

    int rows;
    int cols;
    GgmlMatrix interleaved;
    GgmlMatrix standard;
    float[] wf;
    float[] x;
    float[] y;

    /** W, X; then the measured method brought to C2 on a 64x512 twin with n = 32 ({@link JitWarmup}). */
    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Parallel.setParallelism(threads);
        init();
        GgmlGemmBench twin = new GgmlGemmBench();
        twin.shape = "64x512";
        twin.type = type;
        twin.n = 32;
        twin.threads = threads;
        twin.init();
        JitWarmup.run(twin, params, 2000, 60);
    }

    private void init() {
        String[] d = shape.split("x");
        rows = Integer.parseInt(d[0]);
        cols = Integer.parseInt(d[1]);
        Random r = new Random(3);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian() * 0.02f;
        }
        GgmlType t = GgmlType.valueOf(type);
        interleaved = GgmlMatrix.encode(w, rows, cols, t);
        standard = GgmlMatrix.of(t, interleaved.standardBytes(), 0, rows, cols);
        wf = standard.dequantize();
        x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        y = new float[n * rows];
    }

    @Benchmark
    public float gemm_int8() {
        interleaved.gemm(x, n, null, y);
        return y[y.length - 1];
    }

    @Benchmark
    public float gemm_decode() {
        standard.gemm(x, n, null, y);
        return y[y.length - 1];
    }

    /** Baseline: the dense F32 GEMM Y = X·Wᵀ on the dequantized weights. */
    @Benchmark
    public float gemm_f32() {
        Gemm.gemm(false, true, n, rows, cols, 1f, x, 0, cols, wf, 0, cols, 0f, y, 0, rows);
        return y[y.length - 1];
    }
}

package lowbit.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import lowbit.quant.Awq;
import lowbit.quant.CalibrationCollector;
import lowbit.quant.CalibrationStats;
import lowbit.quant.Gptq;
import lowbit.quant.GptqReference;
import lowbit.quant.QuantResult;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.parallel.Parallel;
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

/**
 * GPTQ (asymmetric 4-bit, groups of 128, no act-order) on one size×size layer with H collected from {@code tokens}
 * calibration tokens: lowbit's {@link Gptq} at 1 and 2 threads ({@code gptq_t1}, {@code gptq_t2}) against the plain
 * float64 {@link GptqReference} of the tests ({@code gptq_reference}, single-threaded), each a single shot, all at
 * full size in the same run; and AWQ's search + clip + quantize on the same layer ({@code awq_t1}, {@code awq_t2}).
 * Collecting H is set-up, not measured ({@code collect_t2} measures it separately). Ratios:
 * {@code python3 jmh/ratios.py result.json --baseline reference}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms6g", "-Xmx6g"})
public class GptqBench {
    @Param({"4096"})
    public int size;
    @Param({"2048"})
    public int tokens;

    private float[] w;
    private float[] x;
    private CalibrationStats stats;
    private final AffineSpec spec = AffineSpec.groupsAlongIn(4, 128, false);

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom r = new SplittableRandom(11);
        w = new float[size * size];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02);
        }
        // correlated inputs with a few loud channels: x = z·M + noise, z of 64 latent factors
        int k = 64;
        float[] m = new float[k * size];
        for (int i = 0; i < m.length; i++) {
            m[i] = (float) (r.nextGaussian() / 8);
        }
        x = new float[tokens * size];
        float[] z = new float[tokens * k];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) r.nextGaussian();
        }
        lowbit.tensor.linalg.Gemm.gemm(false, false, tokens, size, k, 1f, z, 0, k, m, 0, size, 0f, x, 0, size);
        for (int i = 0; i < x.length; i++) {
            x[i] += (float) (0.1 * r.nextGaussian());
        }
        for (int c = 0; c < size; c += 97) {
            for (int t = 0; t < tokens; t++) {
                x[t * size + c] *= 20;
            }
        }
        CalibrationCollector col = CalibrationCollector.withHessian(size);
        col.add(x, tokens);
        stats = col.snapshot();
        warmUp();
    }

    /**
     * Single shots of a cold JVM would time the interpreter: the Vector API is only fast once C2 has compiled the
     * kernels. So every measured code path first runs a few times on a 512-wide layer (the JIT does not care about
     * the size), then the full-size shot is measured.
     */
    private void warmUp() {
        int n = 512;
        SplittableRandom r = new SplittableRandom(5);
        float[] ws = new float[n * n];
        float[] xs = new float[1024 * n];
        for (int i = 0; i < ws.length; i++) {
            ws[i] = (float) (r.nextGaussian() * 0.02);
        }
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        for (int it = 0; it < 4; it++) {
            CalibrationCollector c = CalibrationCollector.withHessian(n);
            c.add(xs, 1024);
            CalibrationStats st = c.snapshot();
            for (int t = 1; t <= 2; t++) {
                Parallel.setParallelism(t);
                Gptq.defaults().quantize(ws, n, n, spec, st);
                Awq.defaults().quantize(ws, n, n, spec, st);
            }
            GptqReference.quantize(ws, n / 2, n, st.hessian(), 4, 128, false, false, 0.01, 128);
        }
    }

    private QuantResult gptq(int threads) {
        Parallel.setParallelism(threads);
        return Gptq.defaults().quantize(w, size, size, spec, stats);
    }

    @Benchmark
    public QuantResult gptq_t1() {
        return gptq(1);
    }

    @Benchmark
    public QuantResult gptq_t2() {
        return gptq(2);
    }

    @Benchmark
    public float[] gptq_reference() {
        return GptqReference.quantize(w, size, size, stats.hessian(), 4, 128, false, false, 0.01, 128);
    }

    private QuantResult awq(int threads) {
        Parallel.setParallelism(threads);
        return Awq.defaults().quantize(w, size, size, spec, stats);
    }

    @Benchmark
    public QuantResult awq_t1() {
        return awq(1);
    }

    @Benchmark
    public QuantResult awq_t2() {
        return awq(2);
    }

    @Benchmark
    public CalibrationCollector collect_t2() {
        Parallel.setParallelism(2);
        CalibrationCollector col = CalibrationCollector.withHessian(size);
        col.add(x, tokens);
        return col;
    }
}

package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.nn.Linear;
import lowbit.nn.adapter.AdaptedLinear;
import lowbit.nn.adapter.LoraAdapter;
import lowbit.nn.adapter.LoraConfig;
import lowbit.nn.optim.AdamW;
import lowbit.tensor.Tensor;
import lowbit.tensor.linalg.Gemm;
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
 * LoRA on a frozen F32 base, each against its baseline in the same run ({@code ratios.py --baseline base} /
 * {@code --baseline gemm}):
 * <ul>
 *   <li>{@code forward_lora} vs {@code forward_base}: unmerged LoRA r forward y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ vs the base
 *       Linear alone (goal ≤ 1.10×);</li>
 *   <li>{@code merge_lora} vs {@code merge_gemm}: W + s·B·A into a dense array ({@code merge_new}: a new one per call) vs one out×in×r GEMM
 *       (goal ≤ 2×);</li>
 *   <li>{@code step_lora} vs {@code step_base}: forward + backward (adapter gradients and dX) + AdamW vs the base's
 *       forward and input gradient alone.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch"})
public class AdapterBench {
    @Param({"4096"})
    public int dim;
    @Param({"16"})
    public int rank;
    @Param({"1", "512"})
    public int n;
    @Param({"2"})
    public int threads;

    private Linear base;
    private AdaptedLinear layer;
    private LoraAdapter lora;
    private AdamW opt;
    private float[] x;
    private float[] dy;
    private float[] y;
    private float[] dx;
    private float[] c;

    @Setup(Level.Trial)
    public void setUp() {
        Parallel.setParallelism(threads);
        Random r = new Random(42);
        float[] w = new float[dim * dim];
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextFloat() - 0.5f;
        }
        base = Linear.of(Tensor.ofFloats(w, dim, dim), null);
        layer = AdaptedLinear.of(base);
        lora = layer.addLora("default", LoraConfig.of(rank, 2 * rank).withSeed(1));
        float[] b = lora.b().data().clone();
        for (int i = 0; i < b.length; i++) {
            b[i] = (r.nextFloat() - 0.5f) * 0.01f;
        }
        lora.b().set(b);
        opt = new AdamW(layer.parameters(), 1e-4);
        x = new float[n * dim];
        dy = new float[n * dim];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextFloat() - 0.5f;
            dy[i] = (r.nextFloat() - 0.5f) * 1e-3f;
        }
        y = new float[n * dim];
        dx = new float[n * dim];
        c = new float[dim * dim];
    }

    @Benchmark
    public float[] forward_base() {
        base.forward(x, n, y);
        return y;
    }

    @Benchmark
    public float[] forward_lora() {
        layer.forward(x, n, y);
        return y;
    }

    @Benchmark
    public float[] merge_gemm() {
        Gemm.gemm(false, false, dim, dim, rank, 1f, lora.b().data(), 0, rank, lora.a().data(), 0, dim, 0f, c, 0, dim);
        return c;
    }

    @Benchmark
    public float[] merge_lora() {
        layer.mergedWeights(c);
        return c;
    }

    /** The same with a new destination array each time (the allocation and zeroing of 64 MiB included). */
    @Benchmark
    public float[] merge_new() {
        return layer.mergedWeights();
    }

    @Benchmark
    public float[] step_base() {
        base.forward(x, n, y);
        base.weight().backwardInput(dy, n, dx);
        return dx;
    }

    @Benchmark
    public float[] step_lora() {
        AdaptedLinear.Activations act = layer.train(x, n);
        float[] g = layer.backward(act, dy, true);
        opt.step();
        opt.zeroGrad();
        return g;
    }
}

package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.DType;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.linalg.PackedWeight;
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
 * Batched linear layer Y = X·Wᵀ for X [n, in] and W [out, in] in F32/F16/BF16, n ∈ {1, 8, 512}, 1 or 2 threads.
 * FLOPs = 2·n·out·in; n ≤ 8 is bandwidth-bound (bytes(W)/time), n = 512 compute-bound (compare with numpy's
 * {@code X @ W.T} from {@code jmh/numpy_sgemm.py}). {@code linear_packed} (F32 only) multiplies by a W packed once in
 * setup ({@link PackedWeight}, as {@code lowbit.nn.Linear} holds it), the others pack W's panels on every call, as
 * OpenBLAS does.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 4, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch"})
public class DenseLinearBench {
    /** W shape as out x in. */
    @Param({"4096x4096", "11008x4096", "4096x14336"})
    public String shape;
    @Param({"1", "8", "512"})
    public int n;
    @Param({"F32"})
    public String dtype;
    @Param({"1", "2"})
    public int threads;

    private int out;
    private int in;
    private DType type;
    private float[] w32;
    private PackedWeight packed;
    private short[] w16;
    private float[] x;
    private float[] y;

    @Setup(Level.Trial)
    public void setUp() {
        String[] d = shape.split("x");
        out = Integer.parseInt(d[0]);
        in = Integer.parseInt(d[1]);
        type = DType.valueOf(dtype);
        Random r = new Random(42);
        if (type == DType.F32) {
            w32 = new float[out * in];
            for (int i = 0; i < w32.length; i++) {
                w32[i] = r.nextFloat() - 0.5f;
            }
        } else {
            w16 = new short[out * in];
            for (int i = 0; i < w16.length; i++) {
                float f = r.nextFloat() - 0.5f;
                w16[i] = type == DType.F16 ? Float.floatToFloat16(f) : (short) (Float.floatToRawIntBits(f) >>> 16);
            }
        }
        x = new float[n * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextFloat() - 0.5f;
        }
        y = new float[n * out];
        packed = type == DType.F32 ? PackedWeight.of(w32, out, in) : null;
        Parallel.setParallelism(threads);
    }

    @Benchmark
    public float[] linear() {
        if (type == DType.F32) {
            Gemm.linear(x, n, in, w32, out, null, y);
        } else {
            Gemm.linear(x, n, in, w16, type, out, null, y);
        }
        return y;
    }

    @Benchmark
    public float[] linear_packed() {
        if (packed == null) {
            throw new IllegalStateException("linear_packed measures F32 weights only, got " + dtype);
        }
        Gemm.linear(x, n, packed, null, y);
        return y;
    }
}

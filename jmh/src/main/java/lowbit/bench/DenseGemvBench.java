package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.DType;
import lowbit.tensor.linalg.Gemv;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;
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
 * GEMV y = W·x for W [out, in] in F32, F16 and BF16, on 1 or 2 threads, next to its baseline measured in the same
 * run: {@link #streamRead}, a vectorized sum over a 256 MiB float array on the same number of threads (the memory
 * bandwidth a streaming kernel can reach). Convert times to bandwidth with bytes(W)/time: GEMV reads W once
 * (out·in·4 bytes for F32, ·2 for halves), the stream reads 2^28 bytes.
 *
 * <p>{@code weights}: {@code uniform} draws W from [−0.5, 0.5] (0.01 % of the F16 halves subnormal);
 * {@code gaussian} from N(0, 0.02²), like a trained layer (0.3 % subnormal halves, about one 16-lane vector in
 * twenty holds one; on hosts where an FMA with a subnormal operand takes a microcode assist the F16 GEMV is slower
 * there, see the README).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch"})
public class DenseGemvBench {
    /** W shape as out x in. */
    @Param({"4096x4096", "11008x4096", "4096x14336"})
    public String shape;
    @Param({"F32", "F16", "BF16"})
    public String dtype;
    @Param({"1", "2"})
    public int threads;
    @Param({"uniform"})
    public String weights;

    private static final int STREAM_FLOATS = 1 << 26; // 256 MiB

    private int out;
    private int in;
    private DType type;
    private float[] w32;
    private short[] w16;
    private float[] x;
    private float[] y;
    private float[] stream;

    @Setup(Level.Trial)
    public void setUp() {
        String[] d = shape.split("x");
        out = Integer.parseInt(d[0]);
        in = Integer.parseInt(d[1]);
        type = DType.valueOf(dtype);
        Random r = new Random(42);
        boolean gaussian = switch (weights) {
            case "uniform" -> false;
            case "gaussian" -> true;
            default -> throw new IllegalArgumentException("weights must be uniform or gaussian, got " + weights);
        };
        if (type == DType.F32) {
            w32 = new float[out * in];
            for (int i = 0; i < w32.length; i++) {
                w32[i] = gaussian ? (float) r.nextGaussian() * 0.02f : r.nextFloat() - 0.5f;
            }
        } else {
            w16 = new short[out * in];
            for (int i = 0; i < w16.length; i++) {
                float f = gaussian ? (float) r.nextGaussian() * 0.02f : r.nextFloat() - 0.5f;
                w16[i] = type == DType.F16 ? Float.floatToFloat16(f) : (short) (Float.floatToRawIntBits(f) >>> 16);
            }
        }
        x = new float[in];
        for (int i = 0; i < in; i++) {
            x[i] = r.nextFloat() - 0.5f;
        }
        y = new float[out];
        stream = new float[STREAM_FLOATS];
        for (int i = 0; i < stream.length; i++) {
            stream[i] = i & 1023;
        }
        Parallel.setParallelism(threads);
    }

    @Benchmark
    public float[] gemv() {
        if (type == DType.F32) {
            Gemv.multiply(w32, out, in, x, null, y);
        } else {
            Gemv.multiply(w16, type, out, in, x, null, y);
        }
        return y;
    }

    /** The bandwidth baseline: read 256 MiB once, on {@code threads} threads. */
    @Benchmark
    public double streamRead() {
        return Parallel.sum(0, STREAM_FLOATS, 1 << 16, (from, to) -> FloatOps.sum(stream, (int) from, (int) (to - from)));
    }
}

package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.FloatKernels;
import lowbit.tensor.simd.ScalarDenseKernels;
import lowbit.tensor.simd.ScalarFloatKernels;
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
 * The element-wise kernels behind softmax, GELU and LayerNorm ({@code expShifted}, {@code geluErf},
 * {@code scaleMulAdd}; 4096 floats, in L1/L2) and one fused attention head (MiniLM's shape: 16 queries, 16 keys
 * of which 4 masked, 32 columns, row stride 384), each SIMD kernel beside its scalar twin in the same run. Pairs:
 * {@code *_simd} vs {@code *_scalar}; {@code python3 jmh/ratios.py r.json} prints the speed-ups.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms1g", "-Xmx1g"})
public class ElementwiseBench {
    private static final FloatKernels SIMD = VectorizationProvider.get().floats();
    private static final FloatKernels SCALAR = new ScalarFloatKernels();
    private static final DenseKernels SIMD_DENSE = VectorizationProvider.get().dense();
    private static final DenseKernels SCALAR_DENSE = new ScalarDenseKernels();
    private static final int N = 4096;
    private static final int SEQ = 16;
    private static final int D = 32;
    private static final int LD = 384;

    float[] x;
    float[] g;
    float[] b;
    float[] y;
    float[] q;
    float[] k;
    float[] v;
    float[] bias;
    float[] out;
    float[] scratch;
    float[] scalarScratch;

    /** Random inputs (GELU and exp over [−8, 8)); checks that the provider is the Vector API one. */
    @Setup
    public void setup() {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Random r = new Random(1);
        x = floats(r, N, 8);
        g = floats(r, N, 1);
        b = floats(r, N, 1);
        y = new float[N];
        q = floats(r, SEQ * LD, 1);
        k = floats(r, SEQ * LD, 1);
        v = floats(r, SEQ * LD, 1);
        bias = new float[SEQ];
        for (int j = 12; j < SEQ; j++) {
            bias[j] = Float.NEGATIVE_INFINITY;
        }
        out = new float[SEQ * LD];
        scratch = new float[SIMD_DENSE.attentionScratch(SEQ, D)];
        scalarScratch = new float[SCALAR_DENSE.attentionScratch(SEQ, D)];
    }

    private static float[] floats(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (r.nextFloat() * 2 - 1) * scale;
        }
        return a;
    }

    @Benchmark
    public float[] exp_simd() {
        SIMD.expShifted(x, 0, 8f, y, 0, N);
        return y;
    }

    @Benchmark
    public float[] exp_scalar() {
        SCALAR.expShifted(x, 0, 8f, y, 0, N);
        return y;
    }

    @Benchmark
    public float[] gelu_simd() {
        SIMD.geluErf(x, 0, y, 0, N);
        return y;
    }

    @Benchmark
    public float[] gelu_scalar() {
        SCALAR.geluErf(x, 0, y, 0, N);
        return y;
    }

    @Benchmark
    public float[] scaleMulAdd_simd() {
        SIMD.scaleMulAdd(x, 0, 0.5f, g, 0, b, 0, y, 0, N);
        return y;
    }

    @Benchmark
    public float[] scaleMulAdd_scalar() {
        SCALAR.scaleMulAdd(x, 0, 0.5f, g, 0, b, 0, y, 0, N);
        return y;
    }

    @Benchmark
    public float[] attentionHead_simd() {
        SIMD_DENSE.attentionHead(SEQ, SEQ, D, 0.17f, q, 0, k, 0, v, 0, LD, bias, 0, 0, out, 0, scratch);
        return out;
    }

    @Benchmark
    public float[] attentionHead_scalar() {
        SCALAR_DENSE.attentionHead(SEQ, SEQ, D, 0.17f, q, 0, k, 0, v, 0, LD, bias, 0, 0, out, 0, scalarScratch);
        return out;
    }
}

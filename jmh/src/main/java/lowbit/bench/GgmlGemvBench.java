package lowbit.bench;

import com.github.tjake.jlama.math.VectorMath;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import com.github.tjake.jlama.tensor.TensorShape;
import com.github.tjake.jlama.tensor.operations.PanamaTensorOperations;
import com.github.tjake.jlama.util.MachineSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.FloatBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.ggml.GgmlOps;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.KQuantInterleaved;
import lowbit.tensor.ggml.Interleaved;
import lowbit.tensor.layout.GgmlMatrix;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.ScalarKQuantKernels;
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

/**
 * ggml integer-path GEMV y = Ŵ·x (one token) at 1 and 2 threads, beside a streaming-read baseline over 256 MiB in
 * the same run and beside Jlama 0.8.4 (the JVM peer) on the same shape. % of bandwidth = (weight bytes / gemv time)
 * / (256 MiB / stream time); {@code python3 jmh/ggml_bandwidth.py result.json} prints it.
 * <ul>
 *   <li>{@code gemv_interleaved}: {@link GgmlMatrix} in the 16-row interleaved storage (what {@code encode} gives),
 *       x quantized to Q8_0 pairs once per call;</li>
 *   <li>{@code gemv_standard}: {@link GgmlOps#gemv} on the standard (zero-copy, GGUF) row layout;</li>
 *   <li>{@code gemv_scalar}: the scalar twin of the standard row kernel;</li>
 *   <li>{@code gemv_jlamaI8} / {@code gemv_jlamaF32}: Jlama's {@code Q4ByteBufferTensor} (ggml Q4_0 nibble order,
 *       its own F32 block scales) times x quantized by Jlama to I8 (its int8 path), or times F32 x; one thread:
 *       {@code batchDotProduct}, two: {@code VectorMath.pchunk} over {@code dotProductChunk} (Jlama's own pool).
 *       Jlama 0.8.4 has no Q8 weight kernel (an I8 weight tensor throws {@code UnsupportedOperationException: I8}),
 *       so its rows run for Q4_0 only.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms4g", "-Xmx4g"})
public class GgmlGemvBench {
    private static final GgmlKernels SCALAR = new ScalarGgmlKernels();
    private static final KQuantKernels KSCALAR = new ScalarKQuantKernels();

    /** W shape as rows x cols (out x in). */
    @Param({"4096x14336", "4096x4096", "11008x4096"})
    String shape;

    @Param({"Q4_0", "Q8_0", "Q4_K", "Q6_K"})
    String type;

    @Param({"1", "2"})
    int threads;

    int rows;
    int cols;
    Arena arena;
    MemorySegment w;
    MemorySegment kpacked;
    GgmlMatrix interleaved;
    StreamingRead stream;
    float[] x;
    float[] y;
    GgmlType t;
    long rowBytes;
    PanamaTensorOperations jlama;
    Q4ByteBufferTensor jw;
    FloatBufferTensor jx;
    FloatBufferTensor jy;

    /** Random weights quantized row by row, a random activation, the 256 MiB stream buffer and Jlama's tensors. */
    @Setup(Level.Trial)
    public void setup() {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Parallel.setParallelism(threads);
        String[] d = shape.split("x");
        rows = Integer.parseInt(d[0]);
        cols = Integer.parseInt(d[1]);
        t = GgmlType.valueOf(type);
        rowBytes = t.rowBytes(cols);
        arena = Arena.ofShared();
        w = arena.allocate(rowBytes * rows, 64);
        Random r = new Random(1);
        float[] wf = new float[rows * cols];
        for (int i = 0; i < wf.length; i++) {
            wf[i] = (float) r.nextGaussian() * 0.02f;
        }
        for (int i = 0; i < rows; i++) {
            GgmlOps.quantizeRow(t, wf, i * cols, w, i * rowBytes, cols);
        }
        GgmlMatrix standard = GgmlMatrix.of(t, w, 0, rows, cols);
        interleaved = Interleaved.supports(t) ? standard.interleaved() : standard;
        x = new float[cols];
        for (int j = 0; j < cols; j++) {
            x[j] = (float) r.nextGaussian();
        }
        y = new float[rows];
        stream = new StreamingRead(arena);
        if (KQuantInterleaved.supports(t)) {
            kpacked = arena.allocate(KQuantInterleaved.byteSize(t, rows, cols), 64);
            KQuantInterleaved.pack(t, w, 0, rows, cols, kpacked, 0);
        }
        if (t == GgmlType.Q4_0) {
            jlama = new PanamaTensorOperations(MachineSpec.VECTOR_TYPE);
            jw = new Q4ByteBufferTensor(new FloatBufferTensor(FloatBuffer.wrap(wf), TensorShape.of(rows, cols), false));
            jx = new FloatBufferTensor(FloatBuffer.wrap(x.clone()), TensorShape.of(1, cols), false);
            jy = new FloatBufferTensor(1, rows);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float gemv_interleaved() {
        interleaved.gemv(x, null, y);
        return y[rows - 1];
    }

    @Benchmark
    public float gemv_standard() {
        GgmlOps.gemv(t, w, 0, rows, cols, x, 0, y, 0);
        return y[rows - 1];
    }

    /** Q4_K in {@link KQuantInterleaved}'s 16-row tiles (the same bytes permuted); other types have no such form. */
    @Benchmark
    public float gemv_kinterleaved() {
        if (kpacked == null) {
            throw new UnsupportedOperationException("no interleaved k-quant layout for " + type);
        }
        KQuantInterleaved.gemv(t, kpacked, 0, rows, cols, x, 0, y, 0);
        return y[rows - 1];
    }

    /** The scalar twin on the same threads: activation quantized by the scalar encoder, rows by the scalar dot. */
    @Benchmark
    public float gemv_scalar() {
        if (t == GgmlType.Q4_K || t == GgmlType.Q6_K) {
            return kquantScalar();
        }
        int nb = cols / 32;
        MemorySegment a = MemorySegment.ofArray(new byte[nb * 34]);
        SCALAR.quantizeQ8_0(x, 0, a, 0, nb);
        boolean q4 = t == GgmlType.Q4_0;
        Parallel.forRange(0, rows, 16, (from, to) -> {
            for (long i = from; i < to; i++) {
                y[(int) i] = q4 ? SCALAR.dotQ4_0Q8_0(w, i * rowBytes, a, 0, nb) : SCALAR.dotQ8_0Q8_0(w, i * rowBytes, a, 0, nb);
            }
        });
        return y[rows - 1];
    }

    /** Jlama: x quantized to I8 by Jlama, then its int8 x Q4 kernel. */
    @Benchmark
    public float gemv_jlamaI8() {
        return jlama(jlama.quantize(jx, DType.I8, 0, cols));
    }

    /** Jlama: F32 x times its Q4 weights. */
    @Benchmark
    public float gemv_jlamaF32() {
        return jlama(jx);
    }

    private float jlama(AbstractTensor a) {
        if (jw == null) {
            throw new UnsupportedOperationException("Jlama 0.8.4 has no " + type + " weight kernel");
        }
        if (threads == 1) {
            jlama.batchDotProduct(jy, a, jw, 0, 0, cols);
        } else {
            VectorMath.pchunk(0, rows, (s, l) -> jlama.dotProductChunk(jy, a, jw, 0, cols, s, l));
        }
        return jy.get(0, rows - 1);
    }

    private float kquantScalar() {
        int nb = cols / 256;
        MemorySegment a = MemorySegment.ofArray(new byte[nb * 292]);
        KSCALAR.quantizeQ8_K(x, 0, a, 0, nb);
        boolean q4 = t == GgmlType.Q4_K;
        Parallel.forRange(0, rows, 16, (from, to) -> {
            for (long i = from; i < to; i++) {
                y[(int) i] = q4 ? KSCALAR.dotQ4_KQ8_K(w, i * rowBytes, a, 0, nb) : KSCALAR.dotQ6_KQ8_K(w, i * rowBytes, a, 0, nb);
            }
        });
        return y[rows - 1];
    }

    /** Streaming read of 256 MiB on the same threads: the bandwidth baseline ({@link StreamingRead}). */
    @Benchmark
    public double stream_read_256MiB() {
        return stream.read();
    }
}

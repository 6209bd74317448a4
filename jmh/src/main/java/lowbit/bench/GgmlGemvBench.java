package lowbit.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.ggml.GgmlOps;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.ggml.Q4_K;
import lowbit.tensor.ggml.Q6_K;
import lowbit.tensor.ggml.Q8_0;
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
 * ggml integer-path GEMV y = Ŵ·x for W 4096×14336 (Q4_0 33 MB, Q8_0 62 MB, Q4_K 33 MB, Q6_K 48 MB: far beyond cache)
 * at 1 and 2 threads,
 * beside the scalar twin and beside a streaming-read baseline over 256 MiB in the same run. % of bandwidth =
 * (weight bytes / gemv time) / (256 MiB / stream time).
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
    private static final int ROWS = 4096;
    private static final int COLS = 14336;

    @Param({"Q4_0", "Q8_0", "Q4_K", "Q6_K"})
    String type;

    @Param({"1", "2"})
    int threads;

    Arena arena;
    MemorySegment w;
    StreamingRead stream;
    float[] x;
    float[] y;
    GgmlType t;
    long rowBytes;

    /** Random weights quantized row by row, a random activation, and the 256 MiB stream buffer. */
    @Setup(Level.Trial)
    public void setup() {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Parallel.setParallelism(threads);
        t = GgmlType.valueOf(type);
        rowBytes = t.rowBytes(COLS);
        arena = Arena.ofShared();
        w = arena.allocate(rowBytes * ROWS, 64);
        Random r = new Random(1);
        float[] row = new float[COLS];
        for (int i = 0; i < ROWS; i++) {
            for (int j = 0; j < COLS; j++) {
                row[j] = (float) r.nextGaussian() * 0.02f;
            }
            MemorySegment dst = w.asSlice(i * rowBytes, rowBytes);
            switch (t) {
                case Q4_0 -> Q4_0.quantizeRow(row, 0, dst, 0, COLS);
                case Q8_0 -> Q8_0.quantizeRow(row, 0, dst, 0, COLS);
                case Q4_K -> Q4_K.quantizeRow(row, 0, dst, 0, COLS);
                default -> Q6_K.quantizeRow(row, 0, dst, 0, COLS);
            }
        }
        x = new float[COLS];
        for (int j = 0; j < COLS; j++) {
            x[j] = (float) r.nextGaussian();
        }
        y = new float[ROWS];
        stream = new StreamingRead(arena);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float gemv_simd() {
        GgmlOps.gemv(t, w, 0, ROWS, COLS, x, 0, y, 0);
        return y[ROWS - 1];
    }

    /** The scalar twin on the same threads: activation quantized by the scalar encoder, rows by the scalar dot. */
    @Benchmark
    public float gemv_scalar() {
        if (t == GgmlType.Q4_K || t == GgmlType.Q6_K) {
            return kquantScalar();
        }
        int nb = COLS / 32;
        MemorySegment a = MemorySegment.ofArray(new byte[nb * 34]);
        SCALAR.quantizeQ8_0(x, 0, a, 0, nb);
        boolean q4 = t == GgmlType.Q4_0;
        Parallel.forRange(0, ROWS, 16, (from, to) -> {
            for (long i = from; i < to; i++) {
                y[(int) i] = q4 ? SCALAR.dotQ4_0Q8_0(w, i * rowBytes, a, 0, nb) : SCALAR.dotQ8_0Q8_0(w, i * rowBytes, a, 0, nb);
            }
        });
        return y[ROWS - 1];
    }

    private float kquantScalar() {
        int nb = COLS / 256;
        MemorySegment a = MemorySegment.ofArray(new byte[nb * 292]);
        KSCALAR.quantizeQ8_K(x, 0, a, 0, nb);
        boolean q4 = t == GgmlType.Q4_K;
        Parallel.forRange(0, ROWS, 16, (from, to) -> {
            for (long i = from; i < to; i++) {
                y[(int) i] = q4 ? KSCALAR.dotQ4_KQ8_K(w, i * rowBytes, a, 0, nb) : KSCALAR.dotQ6_KQ8_K(w, i * rowBytes, a, 0, nb);
            }
        });
        return y[ROWS - 1];
    }

    /** Streaming read of 256 MiB on the same threads: the bandwidth baseline ({@link StreamingRead}). */
    @Benchmark
    public double stream_read_256MiB() {
        return stream.read();
    }
}

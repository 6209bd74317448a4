package lowbit.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.ggml.GgmlOps;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Interleaved;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.ggml.Q8_0;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatKernels;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;
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
 * ggml integer-path GEMV y = Ŵ·x for W 4096×14336 (Q4_0 33 MB, Q8_0 62 MB: far beyond cache) at 1 and 2 threads,
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
    private static final FloatKernels FLOATS = VectorizationProvider.get().floats();
    private static final int ROWS = 4096;
    private static final int COLS = 14336;
    private static final long STREAM_BYTES = 256L << 20;

    @Param({"Q4_0", "Q8_0"})
    String type;

    @Param({"1", "2"})
    int threads;

    Arena arena;
    MemorySegment w;
    MemorySegment stream;
    float[] x;
    float[] y;
    double[] partial;
    GgmlType t;
    long rowBytes;
    MemorySegment wi;
    int[] act;

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
            if (t == GgmlType.Q4_0) {
                Q4_0.quantizeRow(row, 0, dst, 0, COLS);
            } else {
                Q8_0.quantizeRow(row, 0, dst, 0, COLS);
            }
        }
        x = new float[COLS];
        for (int j = 0; j < COLS; j++) {
            x[j] = (float) r.nextGaussian();
        }
        y = new float[ROWS];
        wi = arena.allocate(Interleaved.byteSize(t, ROWS, COLS), 64);
        Interleaved.repack(t, w, 0, ROWS, COLS, wi, 0);
        act = new int[Interleaved.activationInts(COLS)];
        stream = arena.allocate(STREAM_BYTES, 64);
        for (long i = 0; i < STREAM_BYTES / 4; i++) {
            stream.setAtIndex(ValueLayout.JAVA_FLOAT, i, (i & 1023) * 1e-3f);
        }
        partial = new double[(int) (STREAM_BYTES / (1 << 20))];
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

    /** The 16-row interleaved layout: activation pairs once, tiles in parallel (4 tiles = 64 rows per task). */
    @Benchmark
    public float gemv_interleaved() {
        Interleaved.quantizeActivation(x, 0, COLS, act, 0);
        Parallel.forRange(0, ROWS, 64, (from, to) -> Interleaved.gemv(t, wi, 0, ROWS, COLS, act, 0, y, (int) from,
                (int) from, (int) to));
        return y[ROWS - 1];
    }

    /** The scalar twin on the same threads: activation quantized by the scalar encoder, rows by the scalar dot. */
    @Benchmark
    public float gemv_scalar() {
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

    /** Streaming read of 256 MiB (a vector float sum per MiB chunk) on the same threads: the bandwidth baseline. */
    @Benchmark
    public double stream_read_256MiB() {
        long floatsPerChunk = (1 << 20) / 4;
        Parallel.forRange(0, partial.length, 4, (from, to) -> {
            for (long c = from; c < to; c++) {
                partial[(int) c] = FLOATS.sum(stream, c * floatsPerChunk, floatsPerChunk);
            }
        });
        double s = 0;
        for (double v : partial) {
            s += v;
        }
        return s;
    }
}

package lowbit.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.DType;
import lowbit.tensor.layout.AffineInt4Tiles;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.DoubleQuantizedAbsmax;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Nf4;
import lowbit.tensor.layout.QuantizedMatrix;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.AffineKernels;
import lowbit.tensor.simd.CodebookKernels;
import lowbit.tensor.simd.ScalarAffineKernels;
import lowbit.tensor.simd.ScalarCodebookKernels;
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
 * Fused GEMV y = Ŵ·x of the group-wise affine and NF4 layouts for LLM shapes (rows × cols = out × in) at 1 and 2
 * threads, beside the scalar twin, the general Vector API kernels ({@link #gemv_general}: what int4 groups and NF4
 * ran before their prepared-x path) and the streaming-read baseline ({@link StreamingRead}) in the same run. The
 * bytes a GEMV reads are printed at setup ({@link #bytesRead}: codes + float scales (+ one byte per zero point) for
 * affine, codes + float absmax (or one byte per block + the second-level floats) for NF4, as held in memory);
 * % of bandwidth = (bytesRead / gemv time) / (256 MiB / stream time).
 *
 * <p>Layouts: {@code int4_g128_asym_f16} (GPTQ/AWQ's), {@code int8_g128_sym_f16}, {@code int3_g128_asym_f16},
 * {@code int2_g128_asym_f16}, {@code nf4_b64}, {@code nf4_b64_dq} (double-quantized absmax), and
 * {@code int4_g128_asym_f16_tiles}: the int4 matrix repacked into {@link AffineInt4Tiles} (16-row tiles, x quantized
 * to Q8_0, integer block sums; its gemv_scalar / gemv_general rows are the source matrix's kernels). Codes are random
 * bytes (the kernels do not branch on values).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms4g", "-Xmx4g"})
public class LayoutGemvBench {
    private static final AffineKernels SCALAR = new ScalarAffineKernels();
    private static final CodebookKernels SCALAR4 = new ScalarCodebookKernels();
    private static final AffineKernels SIMD = VectorizationProvider.get().affine();
    private static final CodebookKernels SIMD4 = VectorizationProvider.get().codebooks();

    @Param({"4096x14336"})
    String shape;

    @Param({"int4_g128_asym_f16"})
    String layout;

    @Param({"1", "2"})
    int threads;

    Arena arena;
    QuantizedMatrix m;
    GroupwiseAffine w;
    Nf4 nf4;
    StreamingRead stream;
    float[] x;
    float[] y;
    int rows;
    int cols;
    byte[] zeroBytes;
    /** The kernels' arrays for the direct kernel calls, copied once (the accessors return copies). */
    float[] kScales;
    float[] kAbsmax;

    /** Parses e.g. {@code int4_g128_asym_f16}. */
    static AffineSpec spec(String layout) {
        String[] p = layout.split("_");
        int bits = Integer.parseInt(p[0].substring(3));
        int g = Integer.parseInt(p[1].substring(1));
        return AffineSpec.groupsAlongIn(bits, g, p[2].equals("sym")).withScaleType(p[3].equals("f16") ? DType.F16 : DType.F32);
    }

    /** {@code bytes} random bytes in a native segment. */
    static MemorySegment randomBytes(Arena arena, long bytes, Random r) {
        MemorySegment s = arena.allocate(bytes, 64);
        byte[] chunk = new byte[1 << 20];
        for (long o = 0; o < bytes; o += chunk.length) {
            r.nextBytes(chunk);
            long n = Math.min(chunk.length, bytes - o);
            s.asSlice(o, n).copyFrom(MemorySegment.ofArray(chunk).asSlice(0, n));
        }
        return s;
    }

    /** Random packed codes, scales and zero points of the given spec, in a native segment. */
    static GroupwiseAffine random(Arena arena, int rows, int cols, AffineSpec spec, Random r) {
        MemorySegment codes = randomBytes(arena, rows * GroupwiseAffine.rowBytes(cols, spec.bits()), r);
        int ng = spec.scaleRows(rows) * spec.scaleCols(cols);
        float[] scales = new float[ng];
        int[] zeros = spec.symmetric() ? null : new int[ng];
        for (int i = 0; i < ng; i++) {
            scales[i] = 0.001f + r.nextFloat() * 0.01f;
            if (zeros != null) {
                zeros[i] = r.nextInt(spec.maxCode() + 1);
            }
        }
        return GroupwiseAffine.ofPacked(rows, cols, spec, codes, scales, zeros, null, null);
    }

    /** Random NF4 codes and absmax (0.01..0.05) in blocks of 64, the absmax double-quantized if asked. */
    static Nf4 randomNf4(Arena arena, int rows, int cols, boolean dq, Random r) {
        MemorySegment codes = randomBytes(arena, (long) rows * cols / 2, r);
        float[] absmax = new float[(int) ((long) rows * cols / 64)];
        for (int i = 0; i < absmax.length; i++) {
            absmax[i] = 0.01f + r.nextFloat() * 0.04f;
        }
        return dq ? Nf4.of(rows, cols, 64, codes, DoubleQuantizedAbsmax.quantize(absmax))
                : Nf4.of(rows, cols, 64, codes, absmax);
    }

    /** Bytes one GEMV reads from memory (see the class comment; tiles: codes + a float scale and zero per group). */
    static long bytesRead(QuantizedMatrix q) {
        if (q instanceof AffineInt4Tiles t) {
            return t.byteSize();
        }
        if (q instanceof GroupwiseAffine w) {
            long grid = (long) w.scaleRows() * w.scaleCols();
            return w.rows() * w.rowBytes() + 4 * grid + (w.spec().symmetric() ? 0 : grid);
        }
        Nf4 n = (Nf4) q;
        long blocks = (long) n.rows() * n.cols() / n.blockSize();
        return (long) n.rows() * n.cols() / 2 + (n.isDoubleQuantized() ? blocks + 4 * n.doubleQuantized().blockAbsmax().length
                : 4 * blocks);
    }

    /** The layout, x, the stream; then the measured method brought to C2 on a 64x512 twin ({@link JitWarmup}). */
    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Parallel.setParallelism(threads);
        init(StreamingRead.BYTES);
        System.out.println("\n" + m + ": " + bytesRead(m) + " bytes read per GEMV");
        LayoutGemvBench twin = new LayoutGemvBench();
        twin.shape = "64x512";
        twin.layout = layout;
        twin.threads = threads;
        twin.init(1 << 20);
        JitWarmup.run(twin, params, 3000, 60);
        twin.tearDown();
    }

    private void init(long streamBytes) {
        String[] s = shape.split("x");
        rows = Integer.parseInt(s[0]);
        cols = Integer.parseInt(s[1]);
        arena = Arena.ofShared();
        Random r = new Random(1);
        if (layout.startsWith("nf4")) {
            nf4 = randomNf4(arena, rows, cols, layout.endsWith("_dq"), r);
            m = nf4;
            kAbsmax = nf4.absmax();
        } else {
            w = random(arena, rows, cols, spec(layout), r);
            m = layout.endsWith("_tiles") ? AffineInt4Tiles.of(w) : w;
            kScales = w.scales();
            int[] z = w.zeros();
            if (z != null) {
                zeroBytes = new byte[z.length];
                for (int i = 0; i < z.length; i++) {
                    zeroBytes[i] = (byte) z[i];
                }
            }
        }
        x = new float[cols];
        for (int j = 0; j < cols; j++) {
            x[j] = (float) r.nextGaussian();
        }
        y = new float[rows];
        stream = new StreamingRead(arena, streamBytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float gemv_simd() {
        m.gemv(x, null, y);
        return y[rows - 1];
    }

    /** The scalar twin on the same threads and row chunks (the NF4 one with F32 absmax decoded up front). */
    @Benchmark
    public float gemv_scalar() {
        return direct(SCALAR, SCALAR4);
    }

    /**
     * The Vector API kernels on the column-order x that the layouts ran before the prepared 4-bit path (and still run
     * for other shapes): {@code gemvGroups} with the exact (q − z) decode, the codebook {@code gemv}; same threads and
     * row chunks as the scalar twin. {@code python3 jmh/ratios.py r.json --baseline general} gives the layout's
     * speed-up over them in the same run (1.0 for the layouts without a prepared path).
     */
    @Benchmark
    public float gemv_general() {
        return direct(SIMD, SIMD4);
    }

    /** The general GEMV kernel of {@code affine} or {@code codebook}, called directly in row chunks of 16. */
    private float direct(AffineKernels affine, CodebookKernels codebook) {
        if (nf4 != null) {
            MemorySegment codes = nf4.packedCodes();
            float[] table = nf4.codebook();
            float[] absmax = kAbsmax;
            Parallel.forRange(0, rows, 16, (from, to) -> codebook.gemv(codes, table, cols, 64, absmax, 0, x, 0,
                    (int) from, (int) to, y, 0));
            return y[rows - 1];
        }
        MemorySegment codes = w.packedCodes();
        long rowBytes = w.rowBytes();
        int bits = w.spec().bits();
        int g = w.spec().groupSize();
        float[] scales = kScales;
        int zero = w.spec().symmetricZero();
        int stride = w.scaleCols();
        Parallel.forRange(0, rows, 16, (from, to) -> affine.gemvGroups(codes, rowBytes, bits, cols, g, scales,
                zeroBytes, zero, stride, x, 0, (int) from, (int) to, y, 0));
        return y[rows - 1];
    }

    /** Streaming read of 256 MiB on the same threads: the bandwidth baseline. */
    @Benchmark
    public double stream_read_256MiB() {
        return stream.read();
    }
}

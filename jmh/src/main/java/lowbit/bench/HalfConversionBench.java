package lowbit.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.Bf16;
import lowbit.tensor.Fp16;
import lowbit.tensor.simd.HalfKernels;
import lowbit.tensor.simd.ScalarHalfKernels;
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
 * F16/BF16 &harr; F32 conversions: the provider's (Vector API) kernels beside their scalar twin
 * ({@link ScalarHalfKernels}) in the same run, over arrays and over little-endian segments. The {@code jdkLoop}
 * benchmarks are a second baseline: a plain loop over {@link Float#float16ToFloat} / {@link Float#floatToFloat16} /
 * {@code bits << 16}, which C2 may auto-vectorize (it has vector nodes for the half-float conversions since JDK 21);
 * they do not apply lowbit's platform-independent NaN rule, so they are a speed reference only.
 *
 * <p>Data: weights-like floats, Gaussian with σ = 0.05 (in range for both formats), and their F16/BF16 encodings.
 * The vector and scalar outputs are compared once per trial; a mismatch fails the run.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class HalfConversionBench {
    @Param({"4096", "1048576"})
    int size;

    private final HalfKernels vector = VectorizationProvider.get().halves();
    private final HalfKernels scalar = new ScalarHalfKernels();

    private float[] floats;
    private short[] halves;
    private short[] bf16s;
    private float[] floatsOut;
    private short[] shortsOut;
    private Arena arena;
    private MemorySegment halvesSegment;
    private MemorySegment bf16Segment;
    private MemorySegment segmentOut;

    /** Fills the inputs and checks that the kernels under test are the vector ones and agree with the scalar twin. */
    @Setup(Level.Trial)
    public void setUp() {
        if (!VectorizationProvider.get().name().equals("panama")) {
            throw new IllegalStateException("expected the panama provider, got " + VectorizationProvider.get());
        }
        Random r = new Random(42);
        floats = new float[size];
        for (int i = 0; i < size; i++) {
            floats[i] = (float) (r.nextGaussian() * 0.05);
        }
        halves = Fp16.fromFloats(floats);
        bf16s = Bf16.fromFloats(floats);
        floatsOut = new float[size];
        shortsOut = new short[size];
        arena = Arena.ofShared();
        halvesSegment = arena.allocate(2L * size, 64);
        bf16Segment = arena.allocate(2L * size, 64);
        segmentOut = arena.allocate(2L * size, 64);
        for (int i = 0; i < size; i++) {
            halvesSegment.setAtIndex(ScalarHalfKernels.I16_LE, i, halves[i]);
            bf16Segment.setAtIndex(ScalarHalfKernels.I16_LE, i, bf16s[i]);
        }
        float[] f1 = new float[size], f2 = new float[size];
        short[] s1 = new short[size], s2 = new short[size];
        vector.f16ToF32(halves, 0, f1, 0, size);
        scalar.f16ToF32(halves, 0, f2, 0, size);
        vector.f32ToF16(floats, 0, s1, 0, size);
        scalar.f32ToF16(floats, 0, s2, 0, size);
        if (!Arrays.equals(f1, f2) || !Arrays.equals(s1, s2)) {
            throw new IllegalStateException("vector and scalar F16 conversions disagree");
        }
        vector.bf16ToF32(bf16s, 0, f1, 0, size);
        scalar.bf16ToF32(bf16s, 0, f2, 0, size);
        vector.f32ToBf16(floats, 0, s1, 0, size);
        scalar.f32ToBf16(floats, 0, s2, 0, size);
        if (!Arrays.equals(f1, f2) || !Arrays.equals(s1, s2)) {
            throw new IllegalStateException("vector and scalar BF16 conversions disagree");
        }
    }

    /** Frees the segments. */
    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    // ---- F16 -> F32, arrays ----

    @Benchmark
    public float[] f16ToF32_simd() {
        vector.f16ToF32(halves, 0, floatsOut, 0, size);
        return floatsOut;
    }

    @Benchmark
    public float[] f16ToF32_scalar() {
        scalar.f16ToF32(halves, 0, floatsOut, 0, size);
        return floatsOut;
    }

    @Benchmark
    public float[] f16ToF32_jdkLoop() {
        short[] src = halves;
        float[] dst = floatsOut;
        for (int i = 0; i < src.length; i++) {
            dst[i] = Float.float16ToFloat(src[i]);
        }
        return dst;
    }

    // ---- F32 -> F16, arrays ----

    @Benchmark
    public short[] f32ToF16_simd() {
        vector.f32ToF16(floats, 0, shortsOut, 0, size);
        return shortsOut;
    }

    @Benchmark
    public short[] f32ToF16_scalar() {
        scalar.f32ToF16(floats, 0, shortsOut, 0, size);
        return shortsOut;
    }

    @Benchmark
    public short[] f32ToF16_jdkLoop() {
        float[] src = floats;
        short[] dst = shortsOut;
        for (int i = 0; i < src.length; i++) {
            dst[i] = Float.floatToFloat16(src[i]);
        }
        return dst;
    }

    // ---- BF16 <-> F32, arrays ----

    @Benchmark
    public float[] bf16ToF32_simd() {
        vector.bf16ToF32(bf16s, 0, floatsOut, 0, size);
        return floatsOut;
    }

    @Benchmark
    public float[] bf16ToF32_scalar() {
        scalar.bf16ToF32(bf16s, 0, floatsOut, 0, size);
        return floatsOut;
    }

    @Benchmark
    public short[] f32ToBf16_simd() {
        vector.f32ToBf16(floats, 0, shortsOut, 0, size);
        return shortsOut;
    }

    @Benchmark
    public short[] f32ToBf16_scalar() {
        scalar.f32ToBf16(floats, 0, shortsOut, 0, size);
        return shortsOut;
    }

    // ---- little-endian segments ----

    @Benchmark
    public float[] f16SegmentToF32_simd() {
        vector.f16ToF32(halvesSegment, 0, floatsOut, 0, size);
        return floatsOut;
    }

    @Benchmark
    public float[] f16SegmentToF32_scalar() {
        scalar.f16ToF32(halvesSegment, 0, floatsOut, 0, size);
        return floatsOut;
    }

    @Benchmark
    public MemorySegment f32ToF16Segment_simd() {
        vector.f32ToF16(floats, 0, segmentOut, 0, size);
        return segmentOut;
    }

    @Benchmark
    public MemorySegment f32ToF16Segment_scalar() {
        scalar.f32ToF16(floats, 0, segmentOut, 0, size);
        return segmentOut;
    }

    @Benchmark
    public float[] bf16SegmentToF32_simd() {
        vector.bf16ToF32(bf16Segment, 0, floatsOut, 0, size);
        return floatsOut;
    }

    @Benchmark
    public float[] bf16SegmentToF32_scalar() {
        scalar.bf16ToF32(bf16Segment, 0, floatsOut, 0, size);
        return floatsOut;
    }

    @Benchmark
    public MemorySegment f32ToBf16Segment_simd() {
        vector.f32ToBf16(floats, 0, segmentOut, 0, size);
        return segmentOut;
    }

    @Benchmark
    public MemorySegment f32ToBf16Segment_scalar() {
        scalar.f32ToBf16(floats, 0, segmentOut, 0, size);
        return segmentOut;
    }
}

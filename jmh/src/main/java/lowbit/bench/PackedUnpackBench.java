package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.tensor.simd.PackKernels;
import lowbit.tensor.simd.ScalarPackKernels;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Bulk unpack and pack of n-bit codes: the provider's kernels (Vector API when the module is present) beside
 * {@link ScalarPackKernels} in the same run; the ratio scalar/provider is the speed-up. Widths 2, 4 and 8 have
 * SIMD paths; 3 is shown for reference (it runs the scalar code in both). Unpack starts at code 1, so the unaligned
 * head is part of the measurement; the setup checks that both implementations agree.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch"})
public class PackedUnpackBench {
    @Param({"2", "3", "4", "8"})
    public int bits;

    @Param({"4096", "1048576"})
    public int size;

    private final PackKernels provider = VectorizationProvider.get().packing();
    private final PackKernels scalar = new ScalarPackKernels();
    private int[] codes;
    private byte[] packed;
    private int[] out;
    private byte[] outBytes;
    private byte[] packOut;

    @Setup(Level.Trial)
    public void setUp() {
        Random r = new Random(42);
        codes = new int[size];
        for (int i = 0; i < size; i++) {
            codes[i] = r.nextInt(1 << bits) - (1 << (bits - 1)); // uniform over the signed range
        }
        packed = new byte[(int) (((long) (size + 1) * bits + 7) / 8)];
        scalar.pack(codes, 0, size, bits, packed, 1);
        out = new int[size];
        outBytes = new byte[size];
        packOut = new byte[packed.length];
        int[] a = new int[size], b = new int[size];
        provider.unpack(packed, 1, bits, true, a, 0, size);
        scalar.unpack(packed, 1, bits, true, b, 0, size);
        if (!java.util.Arrays.equals(a, b) || !java.util.Arrays.equals(a, codes)) {
            throw new IllegalStateException("provider and scalar unpack disagree for " + bits + " bits");
        }
        byte[] p = new byte[packed.length];
        provider.pack(codes, 0, size, bits, p, 1);
        if (!java.util.Arrays.equals(p, packed)) {
            throw new IllegalStateException("provider and scalar pack disagree for " + bits + " bits");
        }
        System.out.println("provider: " + VectorizationProvider.get());
    }

    @Benchmark
    public int[] unpack_simd() {
        provider.unpack(packed, 1, bits, true, out, 0, size);
        return out;
    }

    @Benchmark
    public int[] unpack_scalar() {
        scalar.unpack(packed, 1, bits, true, out, 0, size);
        return out;
    }

    @Benchmark
    public byte[] unpackToBytes_simd() {
        provider.unpackToBytes(packed, 1, bits, true, outBytes, 0, size);
        return outBytes;
    }

    @Benchmark
    public byte[] unpackToBytes_scalar() {
        scalar.unpackToBytes(packed, 1, bits, true, outBytes, 0, size);
        return outBytes;
    }

    @Benchmark
    public byte[] pack_simd() {
        provider.pack(codes, 0, size, bits, packOut, 1);
        return packOut;
    }

    @Benchmark
    public byte[] pack_scalar() {
        scalar.pack(codes, 0, size, bits, packOut, 1);
        return packOut;
    }
}

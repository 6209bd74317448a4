package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.quant.AdaDim;
import lowbit.quant.ClipSearch;
import lowbit.quant.DualScale;
import lowbit.quant.EasyQuant;
import lowbit.quant.FineQuant;
import lowbit.quant.HadamardQuantizer;
import lowbit.quant.Hqq;
import lowbit.quant.QuantResult;
import lowbit.quant.Rtn;
import lowbit.tensor.layout.AffineSpec;
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
 * Quantizing one size×size F32 matrix (Gaussian weights with 0.1 % outliers) to u4 asymmetric g128 with every
 * data-free method, beside RTN in the same run: {@code python3 jmh/ratios.py result.json --baseline rtn} prints
 * RTN's time / the method's time (so 0.05 = 20× RTN's time). Every call includes the method's report (per-group
 * error of the result). RTN's throughput is size²·4 bytes / its time; {@code quantize_read} is the floor it runs
 * beside, one streaming read of the same matrix (a float sum per row on the same threads), so that
 * {@code --baseline read} gives RTN's share of a bare read even on a loaded machine. {@link QuantizerCpuTime}
 * measures the same calls in thread CPU time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 2, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms6g", "-Xmx6g"})
public class QuantizerBench {
    @Param({"4096"})
    int size;

    @Param({"1", "2"})
    int threads;

    float[] w;
    AffineSpec spec;

    @Setup(Level.Trial)
    public void setup() {
        Random r = new Random(5);
        w = new float[size * size];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02);
        }
        for (int k = 0; k < w.length / 1000; k++) {
            w[r.nextInt(w.length)] = (float) (r.nextGaussian() * 0.5);
        }
        spec = AffineSpec.groupsAlongIn(4, 128, false);
        Parallel.setParallelism(threads);
    }

    @Benchmark
    public double quantize_read() {
        return Parallel.sum(0, size, Math.max(1, (1 << 16) / size),
                (from, to) -> FloatOps.sum(w, (int) from * size, (int) (to - from) * size));
    }

    @Benchmark
    public QuantResult quantize_rtn() {
        return Rtn.asymmetric().quantize(w, size, size, spec);
    }

    @Benchmark
    public QuantResult quantize_clip() {
        return ClipSearch.defaults().quantize(w, size, size, spec);
    }

    @Benchmark
    public QuantResult quantize_easyquant() {
        return EasyQuant.defaults().quantize(w, size, size, spec);
    }

    @Benchmark
    public QuantResult quantize_hqq() {
        return Hqq.defaults().quantize(w, size, size, spec);
    }

    @Benchmark
    public QuantResult quantize_adadim() {
        return AdaDim.defaults().quantize(w, size, size, spec);
    }

    @Benchmark
    public QuantResult quantize_finequant() {
        return FineQuant.defaults().quantize(w, size, size, spec);
    }

    @Benchmark
    public QuantResult quantize_adadimEasyquant() {
        return AdaDim.of(EasyQuant.defaults(), AdaDim.Mode.ADAPTIVE).quantize(w, size, size, spec);
    }

    @Benchmark
    public QuantResult quantize_d2quant() {
        return DualScale.defaults().quantize(w, size, size, spec);
    }

    @Benchmark
    public QuantResult quantize_hadamard() {
        return HadamardQuantizer.of(Rtn.asymmetric(), 1).quantize(w, size, size, spec);
    }
}

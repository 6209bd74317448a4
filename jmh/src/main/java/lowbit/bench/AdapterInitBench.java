package lowbit.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.nn.adapter.HouseholderQr;
import lowbit.nn.adapter.Svd;
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
 * The factorisations behind the PiSSA/SORSA/OLoRA initialisations of a rank-r adapter on a dim×dim weight:
 * {@code svd_exact} (EJML's full thin SVD in double, truncated) against {@code svd_randomized} (randomized subspace
 * iteration, niter = 4, on lowbit's float GEMM) — {@code ratios.py --baseline exact} prints how much faster the
 * randomized one is — and {@code qr_leading} (OLoRA's r Householder steps).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 2, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx4g"})
public class AdapterInitBench {
    @Param({"512", "1024"})
    public int dim;
    @Param({"16"})
    public int rank;

    private float[] w;
    private double[] wd;

    @Setup(Level.Trial)
    public void setUp() {
        Parallel.setParallelism(2);
        Random r = new Random(1);
        w = new float[dim * dim];
        wd = new double[dim * dim];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
            wd[i] = w[i];
        }
    }

    @Benchmark
    public Svd.Result svd_exact() {
        return Svd.exact(w, dim, dim, rank);
    }

    @Benchmark
    public Svd.Result svd_randomized() {
        return Svd.randomized(w, dim, dim, rank, 8, 4, 7);
    }

    @Benchmark
    public HouseholderQr.Result qr_leading() {
        return HouseholderQr.leading(wd, dim, dim, rank);
    }
}

package lowbit.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.Codebook4Tiles;
import lowbit.tensor.layout.GgmlMatrix;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Nf4;
import lowbit.tensor.layout.QuantizedMatrix;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.linalg.Gemv;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatOps;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lowbit bench}: the headline kernel numbers in about a minute, without JMH. Each GEMV repeat is timed right
 * after a streaming read of 256 MiB (the memory-bandwidth baseline), so that both see the same machine load; the
 * ratio per repeat is kept and the median reported.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Headline kernel speed on this machine in about a minute: GEMV (y = W*x) with F32, int8 and "
                + "int4 group-wise and ggml Q8_0/Q4_0 weights as a percentage of the streaming-read bandwidth "
                + "measured in the same run, and GEMM GFLOP/s (F32 and int4).",
            "In-process timing: warm-up, then the median of --repeats timed runs, each GEMV run paired with a "
                + "bandwidth run. JMH (module jmh; ./lowbit bench REGEX in the repository) is the reference for "
                + "published numbers; this is a quick look."},
        exitCodeListHeading = "%nExit codes:%n", exitCodeList = {"0:success", "1:failure (e.g. out of memory)",
            "2:usage error"})
final class BenchCommand extends BaseCommand {
    @Option(names = "--rows", paramLabel = "N", defaultValue = "4096", description = "GEMV rows (default ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--cols", paramLabel = "N", defaultValue = "14336",
            description = "GEMV columns, a multiple of 128 (default ${DEFAULT-VALUE}).")
    int cols;

    @Option(names = "--gemm", paramLabel = "N", defaultValue = "1024",
            description = "GEMM size: N x N times N x N (default ${DEFAULT-VALUE}).")
    int gemm;

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "21", description = "Timed runs per kernel (default ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--threads", paramLabel = "N", description = "Threads (default: all cores).")
    Integer threads;

    @Option(names = "--stream-mib", paramLabel = "MIB", defaultValue = "256",
            description = "Size of the streaming-read baseline, far beyond the caches (default ${DEFAULT-VALUE}).")
    int streamMib;

    /** One measured kernel. */
    record Result(String kernel, String shape, long bytes, double seconds, double ratio, double gflops) {
    }

    @Override
    public Integer call() {
        if (rows < 1 || cols < 128 || cols % 128 != 0) {
            throw CliException.usage("--rows must be >= 1 and --cols a positive multiple of 128, got " + rows + " x " + cols);
        }
        if (gemm < 16 || gemm > 8192 || repeats < 3 || repeats > 1000 || streamMib < 1 || streamMib > 16384) {
            throw CliException.usage("--gemm must be 16..8192, --repeats 3..1000 and --stream-mib 1..16384");
        }
        if (threads != null) {
            if (threads < 1 || threads > Parallel.MAX_PARALLELISM) {
                throw CliException.usage("--threads must be 1.." + Parallel.MAX_PARALLELISM + ", got " + threads);
            }
            Parallel.setParallelism(threads);
        }
        long t0 = System.nanoTime();
        out().printf("lowbit bench: %s%n", EvalCommand.machine());
        out().println("In-process timing (warm-up, median of " + repeats + " runs; each GEMV run paired with a "
                + "streaming read of " + streamMib + " MiB measured just before it). JMH (module jmh; ./lowbit bench "
                + "REGEX in the repository) is the reference; these are a quick look.");
        List<Result> results = new ArrayList<>();
        Progress p = Progress.of(this, "bench", 9);
        try (Arena arena = Arena.ofShared()) {
            long streamBytes = (long) streamMib << 20;
            MemorySegment stream = arena.allocate(streamBytes, 64);
            float[] chunk = new float[(1 << 20) / 4];
            for (int i = 0; i < chunk.length; i++) {
                chunk[i] = (i & 1023) * 1e-3f;
            }
            for (long off = 0; off < streamBytes; off += 1 << 20) {
                MemorySegment.copy(chunk, 0, stream, ValueLayout.JAVA_FLOAT, off, chunk.length);
            }
            Runnable read = () -> streamRead(stream);
            double streamSecs = median(time(read, repeats));
            results.add(new Result("streaming read (baseline)", streamMib + " MiB", streamBytes, streamSecs, 1, 0));
            p.step("stream");

            SplittableRandom rnd = new SplittableRandom(42);
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[] y = new float[rows];
            String shape = rows + "x" + cols;
            float[] w = new float[Math.multiplyExact(rows, cols)];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) rnd.nextGaussian() * 0.02f;
            }
            results.add(gemv("F32 GEMV", shape, 4L * w.length, () -> Gemv.multiply(w, rows, cols, x, y), read));
            p.step("F32 GEMV");
            QuantizedMatrix int8 = randomAffine(AffineSpec.groupsAlongIn(8, 128, true).withScaleType(DType.F16), rnd);
            results.add(gemv("int8 g128 sym F16 GEMV", shape, int8.byteSize(), () -> int8.gemv(x, null, y), read));
            p.step("int8 GEMV");
            GroupwiseAffine int4 = randomAffine(AffineSpec.groupsAlongIn(4, 128, false).withScaleType(DType.F16), rnd);
            results.add(gemv("int4 g128 asym F16 GEMV", shape, int4.byteSize(), () -> int4.gemv(x, null, y), read));
            p.step("int4 GEMV");
            GgmlMatrix q8 = randomGgml(GgmlType.Q8_0, arena, rnd);
            results.add(gemv("ggml Q8_0 GEMV", shape, q8.byteSize(), () -> q8.gemv(x, null, y), read));
            p.step("Q8_0 GEMV");
            GgmlMatrix q4 = randomGgml(GgmlType.Q4_0, arena, rnd);
            results.add(gemv("ggml Q4_0 GEMV", shape, q4.byteSize(), () -> q4.gemv(x, null, y), read));
            p.step("Q4_0 GEMV");
            Nf4 nf4 = Nf4.encode(w, rows, cols, Nf4.DEFAULT_BLOCK_SIZE, false);
            results.add(gemv("NF4 b64 GEMV", shape, nf4.byteSize(), () -> nf4.gemv(x, null, y), read));
            Codebook4Tiles nf4Tiles = nf4.tiles();
            results.add(gemv("NF4 b64 tiles GEMV", shape, nf4Tiles.byteSize(), () -> nf4Tiles.gemv(x, null, y), read));
            p.step("NF4 GEMV");

            int n = gemm;
            float[] a = new float[n * n];
            float[] b = new float[n * n];
            float[] c = new float[n * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextGaussian();
                b[i] = (float) rnd.nextGaussian();
            }
            double flops = 2.0 * n * n * n;
            double gs = median(time(() -> Gemm.gemm(false, true, n, n, n, 1f, a, 0, n, b, 0, n, 0f, c, 0, n), repeats));
            results.add(new Result("F32 GEMM C = A*B^T", n + "^3", 0, gs, 0, flops / gs / 1e9));
            p.step("F32 GEMM");
            int k = Math.max(128, n / 128 * 128);
            int wr = 4 * k;
            GroupwiseAffine w4 = randomAffine(AffineSpec.groupsAlongIn(4, 128, false).withScaleType(DType.F16), rnd,
                    wr, k);
            int m = 256;
            float[] xs = new float[m * k];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = (float) rnd.nextGaussian();
            }
            float[] ys = new float[m * wr];
            double qs = median(time(() -> w4.gemm(xs, m, null, ys), Math.max(3, repeats / 3)));
            results.add(new Result("int4 g128 GEMM Y = X*W^T", m + "x" + k + " * (" + wr + "x" + k + ")^T", 0, qs, 0,
                    2.0 * m * k * wr / qs / 1e9));
            p.step("int4 GEMM");
        }
        out().println();
        out().println("| kernel | shape | MiB read | median time | GB/s | % of streaming read | GFLOP/s |");
        out().println("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        for (Result r : results) {
            boolean gemmRow = r.gflops() > 0;
            out().printf(Locale.ROOT, "| %s | %s | %s | %.2f ms | %s | %s | %s |%n", r.kernel(), r.shape(),
                    gemmRow ? "—" : String.format(Locale.ROOT, "%.1f", r.bytes() / 1048576.0), r.seconds() * 1e3,
                    gemmRow ? "—" : String.format(Locale.ROOT, "%.1f", r.bytes() / r.seconds() / 1e9),
                    gemmRow ? "—" : String.format(Locale.ROOT, "%.0f %%", 100 * r.ratio()),
                    gemmRow ? String.format(Locale.ROOT, "%.1f", r.gflops()) : "—");
        }
        out().printf(Locale.ROOT, "%n%d threads; %.0f s in all.%n", Parallel.parallelism(), (System.nanoTime() - t0) / 1e9);
        return Main.EXIT_OK;
    }

    /** Times {@code kernel} paired with the bandwidth read; ratio = (bytes/t_kernel) / (stream bytes/t_read). */
    private Result gemv(String name, String shape, long bytes, Runnable kernel, Runnable read) {
        warmUp(kernel);
        double[] ks = new double[repeats];
        double[] ratios = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long a = System.nanoTime();
            read.run();
            long b = System.nanoTime();
            kernel.run();
            long c = System.nanoTime();
            ks[i] = (c - b) / 1e9;
            ratios[i] = (bytes / ks[i]) / (((long) streamMib << 20) / ((b - a) / 1e9));
        }
        return new Result(name, shape, bytes, median(ks), median(ratios), 0);
    }

    /** Runs {@code r} for at least 0.5 s and 5 times (JIT compilation, page faults, caches). */
    private static void warmUp(Runnable r) {
        long end = System.nanoTime() + 500_000_000L;
        for (int i = 0; i < 5 || System.nanoTime() < end; i++) {
            r.run();
        }
    }

    private static double[] time(Runnable r, int n) {
        warmUp(r);
        double[] t = new double[n];
        for (int i = 0; i < n; i++) {
            long a = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - a) / 1e9;
        }
        return t;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** Sums the buffer in 1 MiB chunks on the library's threads (the JMH module's StreamingRead baseline). */
    private static volatile double sink;

    private static void streamRead(MemorySegment buf) {
        int chunks = (int) (buf.byteSize() >> 20);
        double[] part = new double[chunks];
        long per = (1 << 20) / 4;
        Parallel.forRange(0, chunks, 4, (from, to) -> {
            for (long c = from; c < to; c++) {
                part[(int) c] = FloatOps.sum(buf, c * per, per);
            }
        });
        double s = 0;
        for (double v : part) {
            s += v;
        }
        sink = s;
    }

    private GroupwiseAffine randomAffine(AffineSpec spec, SplittableRandom rnd) {
        return randomAffine(spec, rnd, rows, cols);
    }

    /** Random codes, scales in [0.001, 0.01), zero points: the kernels' speed does not depend on the values. */
    private static GroupwiseAffine randomAffine(AffineSpec spec, SplittableRandom rnd, int rows, int cols) {
        int[] codes = new int[Math.multiplyExact(rows, cols)];
        int max = spec.maxCode();
        for (int i = 0; i < codes.length; i++) {
            codes[i] = rnd.nextInt(max + 1);
        }
        int ng = spec.scaleRows(rows) * spec.scaleCols(cols);
        float[] s = new float[ng];
        int[] z = spec.symmetric() ? null : new int[ng];
        for (int i = 0; i < ng; i++) {
            s[i] = 0.001f + 0.009f * (float) rnd.nextDouble();
            if (z != null) {
                z[i] = rnd.nextInt(max + 1);
            }
        }
        return GroupwiseAffine.of(rows, cols, spec, codes, s, z);
    }

    /** Random ggml blocks with a valid fp16 scale in each, as an interleaved matrix. */
    private GgmlMatrix randomGgml(GgmlType type, Arena arena, SplittableRandom rnd) {
        long rb = type.rowBytes(cols);
        MemorySegment seg = arena.allocate(rb * rows, 64);
        int bb = type.blockBytes();
        long blocks = rb * rows / bb;
        byte[] block = new byte[bb];
        for (long i = 0; i < blocks; i++) {
            rnd.nextBytes(block);
            short d = Fp16.fromFloat(0.001f + 0.009f * (float) rnd.nextDouble());
            block[0] = (byte) d;
            block[1] = (byte) (d >> 8);
            MemorySegment.copy(block, 0, seg, ValueLayout.JAVA_BYTE, i * bb, bb);
        }
        return GgmlMatrix.of(type, seg, 0, rows, cols).interleaved();
    }
}

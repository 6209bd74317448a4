package lowbit.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import lowbit.tensor.Bf16;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.ggml.GgmlOps;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.KQuantInterleaved;
import lowbit.tensor.layout.AffineInt4Tiles;
import lowbit.tensor.layout.Codebook4Tiles;
import lowbit.tensor.layout.GgmlMatrix;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Nf4;
import lowbit.tensor.linalg.Gemv;
import lowbit.tensor.parallel.Parallel;

/**
 * The quantized-layout GEMVs of issue 4 against the streaming read, all in one JVM, alternating round by round, by
 * wall clock: Q4_0 and Q8_0 (16-row interleaved), Q4_K (interleaved tiles), int4 g128 asym F16 on the float kernel
 * and on the integer path ({@link AffineInt4Tiles}), NF4 b64 row-major and in 16-row tiles ({@link Codebook4Tiles}), and
 * the dense F32, F16 and BF16 GEMVs of issue 3 (weights N(0, 0.02²) like a trained layer; "vs F32" = best F32 time /
 * best time). Every GEMV is warmed up on its real shape first (as an
 * application would), unlike the JMH benchmarks, which compile on a 64×512 twin ({@link JitWarmup}).
 *
 * <p>Per round each case runs {@code iters} GEMVs back to back, then the 256 MiB stream is read once. Printed: best
 * and median time per GEMV over the rounds, bytes held (codes + scales as stored), and % of the stream = (bytes / best
 * time) / (256 MiB / best stream time).
 *
 * <p>Usage: {@code java --add-modules=jdk.incubator.vector -cp jmh/target/benchmarks.jar lowbit.bench.LayoutGemvWall
 * [rounds [threads [shape]]]} (defaults 20, 2, 4096x14336); {@code -Dcases=Q4_0,int4} builds and runs only the
 * cases whose names start with one of the given prefixes.
 */
public final class LayoutGemvWall {
    private LayoutGemvWall() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        String[] shape = (args.length > 2 ? args[2] : "4096x14336").split("x");
        int rows = Integer.parseInt(shape[0]);
        int cols = Integer.parseInt(shape[1]);
        Parallel.setParallelism(threads);
        Arena arena = Arena.ofShared();
        Random r = new Random(1);
        float[] x = new float[cols];
        for (int j = 0; j < cols; j++) {
            x[j] = (float) r.nextGaussian();
        }
        float[] y = new float[rows];
        float[] wf = new float[cols];
        Map<String, Runnable> ops = new LinkedHashMap<>();
        Map<String, Long> bytes = new LinkedHashMap<>();
        String only = System.getProperty("cases");
        java.util.function.Predicate<String> wanted = name -> only == null
                || Arrays.stream(only.split(",")).anyMatch(name::startsWith);
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K}) {
            if (!wanted.test(t == GgmlType.Q4_K ? "Q4_K tiles" : t + " interleaved")) {
                continue;
            }
            long rb = t.rowBytes(cols);
            MemorySegment w = arena.allocate(rb * rows, 64);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    wf[j] = (float) r.nextGaussian() * 0.02f;
                }
                GgmlOps.quantizeRow(t, wf, 0, w, i * rb, cols);
            }
            if (t == GgmlType.Q4_K) {
                MemorySegment k = arena.allocate(KQuantInterleaved.byteSize(t, rows, cols), 64);
                KQuantInterleaved.pack(t, w, 0, rows, cols, k, 0);
                ops.put("Q4_K tiles", () -> KQuantInterleaved.gemv(t, k, 0, rows, cols, x, 0, y, 0));
                bytes.put("Q4_K tiles", k.byteSize());
            } else {
                GgmlMatrix m = GgmlMatrix.of(t, w, 0, rows, cols).interleaved();
                ops.put(t + " interleaved", () -> m.gemv(x, null, y));
                bytes.put(t + " interleaved", m.byteSize());
            }
        }
        if (wanted.test("int4 g128 float kernel") || wanted.test("int4 g128 tiles (Q8_0 x)")) {
            GroupwiseAffine g = LayoutGemvBench.random(arena, rows, cols, LayoutGemvBench.spec("int4_g128_asym_f16"), r);
            if (wanted.test("int4 g128 float kernel")) {
                ops.put("int4 g128 float kernel", () -> g.gemv(x, null, y));
                bytes.put("int4 g128 float kernel", LayoutGemvBench.bytesRead(g));
            }
            if (wanted.test("int4 g128 tiles (Q8_0 x)")) {
                AffineInt4Tiles tiles = AffineInt4Tiles.of(g);
                ops.put("int4 g128 tiles (Q8_0 x)", () -> tiles.gemv(x, null, y));
                bytes.put("int4 g128 tiles (Q8_0 x)", tiles.byteSize());
            }
        }
        if (wanted.test("NF4 b64") || wanted.test("NF4 b64 tiles")) {
            Nf4 nf4 = LayoutGemvBench.randomNf4(arena, rows, cols, false, r);
            if (wanted.test("NF4 b64")) {
                ops.put("NF4 b64", () -> nf4.gemv(x, null, y));
                bytes.put("NF4 b64", LayoutGemvBench.bytesRead(nf4));
            }
            if (wanted.test("NF4 b64 tiles")) {
                Codebook4Tiles tiles = nf4.tiles();
                ops.put("NF4 b64 tiles", () -> tiles.gemv(x, null, y));
                bytes.put("NF4 b64 tiles", tiles.byteSize());
            }
        }
        float[] w32 = null;
        for (String name : new String[] {"F32 dense", "F16 dense", "BF16 dense"}) {
            if (!wanted.test(name)) {
                continue;
            }
            if (w32 == null) { // N(0, 0.02²) like a trained layer (and the quantized cases above)
                w32 = new float[Math.multiplyExact(rows, cols)];
                for (int i = 0; i < w32.length; i++) {
                    w32[i] = (float) r.nextGaussian() * 0.02f;
                }
            }
            if (name.startsWith("F32")) {
                float[] w = w32;
                ops.put(name, () -> Gemv.multiply(w, rows, cols, x, null, y));
                bytes.put(name, 4L * w.length);
            } else {
                DType type = name.startsWith("F16") ? DType.F16 : DType.BF16;
                short[] w = type == DType.F16 ? Fp16.fromFloats(w32) : Bf16.fromFloats(w32);
                ops.put(name, () -> Gemv.multiply(w, type, rows, cols, x, null, y));
                bytes.put(name, 2L * w.length);
            }
        }
        StreamingRead stream = new StreamingRead(arena);

        Runnable[] run = ops.values().toArray(new Runnable[0]);
        int n = run.length;
        for (Runnable op : run) { // warm-up on the real shape
            for (int i = 0; i < 300; i++) {
                op.run();
            }
        }
        for (int i = 0; i < 5; i++) {
            stream.read();
        }
        int iters = 10;
        double[][] ms = new double[n][rounds];
        double[] st = new double[rounds];
        for (int round = 0; round < rounds; round++) {
            for (int v = 0; v < n; v++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < iters; i++) {
                    run[v].run();
                }
                ms[v][round] = (System.nanoTime() - t0) / 1e6 / iters;
            }
            long t0 = System.nanoTime();
            stream.read();
            st[round] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(st);
        double streamGbs = StreamingRead.BYTES / st[0] / 1e6;
        System.out.printf("%dx%d, %d threads, %d rounds: stream best %.2f ms = %.1f GB/s (median %.2f ms)%n", rows, cols,
                threads, rounds, st[0], streamGbs, st[rounds / 2]);
        System.out.printf("%-26s %12s %10s %10s %8s %8s %8s%n", "layout", "bytes", "best ms", "median ms", "GB/s",
                "% stream", "vs F32");
        String[] names = ops.keySet().toArray(new String[0]);
        int f32 = Arrays.asList(names).indexOf("F32 dense");
        double[] best = new double[n];
        for (int v = 0; v < n; v++) {
            Arrays.sort(ms[v]);
            best[v] = ms[v][0];
        }
        for (int v = 0; v < n; v++) {
            long b = bytes.get(names[v]);
            double gbs = b / best[v] / 1e6;
            String vsF32 = names[v].endsWith(" dense") && f32 >= 0 ? String.format("%.2fx", best[f32] / best[v]) : "";
            System.out.printf("%-26s %12d %10.3f %10.3f %8.1f %7.0f%% %8s%n", names[v], b, best[v], ms[v][rounds / 2],
                    gbs, 100 * gbs / streamGbs, vsF32);
        }
        arena.close();
    }
}

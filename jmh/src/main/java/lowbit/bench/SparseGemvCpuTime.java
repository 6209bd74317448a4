package lowbit.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@link SparseGemvBench}'s seven products (same state, same setup) on one thread, timed in the calling thread's
 * <em>CPU time</em> as well as wall time, the variants alternating call by call so that each round sees the same
 * load: on a shared machine (load average 10 on 2 cores while this was written) JMH's wall-clock scores swing by
 * ±100 % between iterations, while the CPU time a thread spends on one GEMV mostly does not count the wait for a
 * core. Memory-bound products still compete for bandwidth with the other jobs, so the numbers are the ratios between
 * variants measured in the same rounds, not the machine's capability. Prints, per variant, the median and best of
 * {@code rounds} calls after {@code -Dwarmup=N} rounds (default 100), and the sparse/dense ratios the sparsity issue
 * sets goals for. (The warm-up was 10 rounds until 2026-12-02. That day two runs right after the host booted measured
 * the 2:4 kernels 2-3x slow — 2:4 F32 19-20 ms against 9.4-9.8, int4 + 2:4 17-18 ms against 6.2 — and a JMH run an
 * hour later did the same; runs with 10 and with 100 warm-up rounds in between were all fast, so the slowness was the
 * host's, and it hit only the permute-heavy 2:4 kernels, not the dense ones. The longer warm-up stays as a margin.)
 * <pre>
 *   java --add-modules=jdk.incubator.vector -Xmx6g -cp jmh/target/benchmarks.jar lowbit.bench.SparseGemvCpuTime [rounds [shape]]
 * </pre>
 */
public final class SparseGemvCpuTime {
    private SparseGemvCpuTime() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        SparseGemvBench b = new SparseGemvBench();
        b.shape = args.length > 1 ? args[1] : "4096x14336";
        b.threads = 1;
        b.setup();
        Map<String, Runnable> ops = new LinkedHashMap<>();
        ops.put("f32_dense", b::f32_dense);
        ops.put("f32_nm24", b::f32_nm24);
        ops.put("f32_wina50", b::f32_wina50);
        ops.put("int4_dense", b::int4_dense);
        ops.put("int4_nm24", b::int4_nm24);
        ops.put("int4_tiles", b::int4_tiles);
        ops.put("i4nm24tile", b::int4_nm24_tiles);
        int warmup = Integer.getInteger("warmup", 100);
        int n = ops.size();
        double[][] cpu = new double[n][rounds];
        double[][] wall = new double[n][rounds];
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Runnable[] run = ops.values().toArray(new Runnable[0]);
        for (int round = -warmup; round < rounds; round++) {
            for (int v = 0; v < n; v++) {
                long c0 = mx.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                run[v].run();
                if (round >= 0) {
                    wall[v][round] = (System.nanoTime() - t0) / 1e6;
                    cpu[v][round] = (mx.getCurrentThreadCpuTime() - c0) / 1e6;
                }
            }
        }
        b.tearDown();
        String[] names = ops.keySet().toArray(new String[0]);
        double[] med = new double[n];
        System.out.printf(Locale.ROOT, "%s, 1 thread, %d alternating rounds after %d warm-up rounds%n", b.shape, rounds,
                warmup);
        for (int v = 0; v < n; v++) {
            med[v] = median(cpu[v]);
            System.out.printf(Locale.ROOT, "%-11s cpu median %7.2f ms best %7.2f ms   wall median %7.2f ms best %7.2f ms%n",
                    names[v], med[v], Arrays.stream(cpu[v]).min().orElseThrow(), median(wall[v]),
                    Arrays.stream(wall[v]).min().orElseThrow());
        }
        System.out.printf(Locale.ROOT, "CPU-time ratios (median): 2:4 F32 / dense F32 %.2fx (goal 1.6x), "
                + "WINA 50%% / dense F32 %.2fx (goal 1.6x), int4 + 2:4 / int4 %.2fx (goal 1.3x)%n", med[0] / med[1],
                med[0] / med[2], med[3] / med[4]);
        System.out.printf(Locale.ROOT, "wall-time ratios (median):  %.2fx, %.2fx, %.2fx%n",
                median(wall[0]) / median(wall[1]), median(wall[0]) / median(wall[2]), median(wall[3]) / median(wall[4]));
        System.out.printf(Locale.ROOT, "integer path (x to Q8_0, CPU time, median): int4 + 2:4 tiles / int4 float kernel "
                + "%.2fx, / int4 tiles %.2fx (goal 1.3x); int4 tiles / int4 float kernel %.2fx%n", med[3] / med[6],
                med[5] / med[6], med[3] / med[5]);
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}

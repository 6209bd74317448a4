package lowbit.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import lowbit.quant.AdaDim;
import lowbit.quant.ClipSearch;
import lowbit.quant.EasyQuant;
import lowbit.quant.Hqq;
import lowbit.quant.Quantizer;
import lowbit.quant.Rtn;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.parallel.Parallel;

/**
 * {@link QuantizerBench}'s matrix and spec on one thread, timed in <em>thread CPU time</em> (ThreadMXBean) besides
 * wall time: on a shared, loaded machine wall time counts the time the thread waited for a core, CPU time does not,
 * so this is the per-thread throughput the quantizers would have on a core of their own. Prints, per method, the
 * best of {@code reps} calls after {@code warmup} calls, GB/s of F32 input and the ratio to RTN.
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xmx6g -cp jmh/target/benchmarks.jar lowbit.bench.QuantizerCpuTime [size [reps]]
 * </pre>
 */
public final class QuantizerCpuTime {
    private QuantizerCpuTime() {
    }

    public static void main(String[] args) {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int warmup = 3;
        Random r = new Random(5);
        float[] w = new float[size * size];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02);
        }
        for (int k = 0; k < w.length / 1000; k++) {
            w[r.nextInt(w.length)] = (float) (r.nextGaussian() * 0.5);
        }
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 128, false);
        Parallel.setParallelism(1);
        Map<String, Quantizer> methods = new LinkedHashMap<>();
        methods.put("rtn", Rtn.asymmetric());
        methods.put("clip", ClipSearch.defaults());
        methods.put("hqq", Hqq.defaults());
        methods.put("easyquant", EasyQuant.defaults());
        methods.put("adadim+easyquant", AdaDim.of(EasyQuant.defaults(), AdaDim.Mode.ADAPTIVE));
        ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        double rtnCpu = Double.NaN;
        System.out.printf(Locale.ROOT, "%dx%d u4 g128, 1 thread, best of %d after %d warm-up calls%n", size, size, reps,
                warmup);
        for (Map.Entry<String, Quantizer> m : methods.entrySet()) {
            double bestCpu = Double.POSITIVE_INFINITY;
            double bestWall = Double.POSITIVE_INFINITY;
            for (int i = 0; i < warmup + reps; i++) {
                long c0 = bean.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                m.getValue().quantize(w, size, size, spec);
                double wall = (System.nanoTime() - t0) / 1e6;
                double cpu = (bean.getCurrentThreadCpuTime() - c0) / 1e6;
                if (i >= warmup) {
                    bestCpu = Math.min(bestCpu, cpu);
                    bestWall = Math.min(bestWall, wall);
                }
            }
            if (m.getKey().equals("rtn")) {
                rtnCpu = bestCpu;
            }
            System.out.printf(Locale.ROOT, "%-18s cpu %8.1f ms (%.2f GB/s, %5.1fx rtn)   wall %8.1f ms%n", m.getKey(),
                    bestCpu, 4.0 * w.length / bestCpu / 1e6, bestCpu / rtnCpu, bestWall);
        }
    }
}

package lowbit.bench;

import java.util.function.Supplier;

/**
 * The {@link AdapterBench} pairs measured interleaved (variant, baseline, variant, ...) and summarised by the
 * minimum over the rounds: on a machine shared with other jobs the minimum of interleaved runs is the least
 * disturbed estimate of both, where JMH's means of back-to-back blocks drift with the load.
 * {@code java --add-modules=jdk.incubator.vector -cp jmh/target/benchmarks.jar lowbit.bench.AdapterInterleaved [rounds]}
 */
public final class AdapterInterleaved {
    private AdapterInterleaved() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        for (int n : new int[] {1, 512}) {
            AdapterBench b = new AdapterBench();
            b.dim = 4096;
            b.rank = 16;
            b.n = n;
            b.threads = 2;
            b.setUp();
            pair("forward n=" + n, rounds, b::forward_lora, b::forward_base);
            if (n == 1) {
                pair("merge", rounds, b::merge_lora, b::merge_gemm);
                pair("merge (new array)", rounds, b::merge_new, b::merge_gemm);
            }
            pair("train step n=" + n, Math.max(3, rounds / 3), b::step_lora, b::step_base);
        }
    }

    private static void pair(String what, int rounds, Supplier<?> variant, Supplier<?> baseline) {
        for (int i = 0; i < 3; i++) {
            variant.get();
            baseline.get();
        }
        long bv = Long.MAX_VALUE, bb = Long.MAX_VALUE;
        for (int i = 0; i < rounds; i++) {
            long t0 = System.nanoTime();
            variant.get();
            long t1 = System.nanoTime();
            baseline.get();
            long t2 = System.nanoTime();
            bv = Math.min(bv, t1 - t0);
            bb = Math.min(bb, t2 - t1);
        }
        System.out.printf("%-20s variant %9.3f ms  baseline %9.3f ms  ratio %.3f%n", what, bv / 1e6, bb / 1e6,
                (double) bv / bb);
    }
}

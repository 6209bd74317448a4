package lowbit.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import lowbit.examples.minilm.Corpus;
import lowbit.examples.minilm.MiniLm;
import lowbit.tensor.parallel.Parallel;

/**
 * The {@link MiniLmEmbedBench} workload (32 sentences of 12–20 tokens, ids → hidden states) timed by the calling
 * thread's CPU time, single-threaded, lowbit and onnxruntime in the same JVM: on a machine shared with other jobs
 * wall-clock JMH numbers swing by several times, while the CPU time a thread spends on one batch barely depends on
 * the load. After 40 warm-up batches of each, the two alternate batch by batch for {@code rounds} rounds (default
 * 30), so that a slow phase of the machine hits both; prints best and median of each and the median of the rounds'
 * speed ratios. Run:
 * {@code java --add-modules=jdk.incubator.vector -cp jmh/target/benchmarks.jar lowbit.bench.MiniLmCpuTime [rounds [threads]]}.
 *
 * <p>With {@code threads} &gt; 1 (lowbit's {@link Parallel} and onnxruntime's intra-op threads alike) CPU time no
 * longer measures a batch, so each batch is timed by the wall clock instead, still alternating. Each side's idle
 * worker threads spin after a batch (lowbit's for up to {@link Parallel#DEFAULT_SPIN_MICROS} µs, onnxruntime's
 * measured here for 20–30 ms of CPU time) and would take a core from the other side's next batch, so before each
 * batch the harness waits, untimed, until the process has used no CPU for a 20 ms window (at most 1 s). With a fixed
 * 20 ms wait, onnxruntime's workers were still spinning through it: lowbit's batches right after an onnxruntime
 * batch took 44–52 ms against 34–40 ms after its own, while a 256 MiB memory sweep in onnxruntime's place slowed
 * nothing.
 */
public final class MiniLmCpuTime {
    private MiniLmCpuTime() {
    }

    private interface Op {
        void run() throws Exception;
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /**
     * With several threads, waits until the process is idle (no CPU time used in a 20 ms window; the clock counts in
     * ticks of about 10 ms) so that neither engine's spinning workers run into the other's timed batch; gives up after
     * 1 s and says so.
     */
    static void settle(int threads) throws InterruptedException {
        if (threads <= 1) {
            return;
        }
        long start = System.nanoTime();
        while (true) {
            long cpu = PROCESS.getProcessCpuTime();
            Thread.sleep(20);
            if (PROCESS.getProcessCpuTime() - cpu < 5_000_000L) {
                return;
            }
            if (System.nanoTime() - start > 1_000_000_000L) {
                System.err.println("MiniLmCpuTime: the process did not go idle within 1 s before a batch;"
                        + " the next time may include another thread's work");
                return;
            }
        }
    }

    private static final com.sun.management.OperatingSystemMXBean PROCESS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        if (rounds < 1 || threads < 1) {
            throw new IllegalArgumentException("usage: MiniLmCpuTime [rounds >= 1 [threads >= 1]], got " + String.join(" ", args));
        }
        Parallel.setParallelism(threads);
        MiniLm model = MiniLm.load();
        List<int[]> batch = new ArrayList<>();
        for (String s : Corpus.evaluation()) {
            int[] t = model.tokenizer().encode(s);
            if (t.length >= 12 && t.length <= 20 && batch.size() < 32) {
                batch.add(t);
            }
        }
        int seq = batch.stream().mapToInt(t -> t.length).max().orElseThrow();
        long[][] ids = new long[32][seq], mask = new long[32][seq], types = new long[32][seq];
        for (int i = 0; i < 32; i++) {
            for (int j = 0; j < batch.get(i).length; j++) {
                ids[i][j] = batch.get(i)[j];
                mask[i][j] = 1;
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        byte[] onnx;
        try (InputStream in = MiniLm.class.getResourceAsStream(MiniLm.ONNX_RESOURCE)) {
            onnx = in.readAllBytes();
        }
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        opts.setIntraOpNumThreads(threads);
        opts.setInterOpNumThreads(1);
        opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        try (OrtSession session = env.createSession(onnx, opts)) {
            Op ort = () -> {
                try (OnnxTensor a = OnnxTensor.createTensor(env, ids); OnnxTensor b = OnnxTensor.createTensor(env, mask);
                        OnnxTensor c = OnnxTensor.createTensor(env, types);
                        OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", b,
                                "token_type_ids", c))) {
                    r.get("output_0").orElseThrow().getValue();
                }
            };
            Op lowbit = () -> model.embedIds(batch, null);
            for (int i = 0; i < 40; i++) {
                lowbit.run();
                ort.run();
            }
            double[] l = new double[rounds], o = new double[rounds], ratio = new double[rounds];
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            java.util.function.LongSupplier clock = threads == 1 ? mx::getCurrentThreadCpuTime : System::nanoTime;
            for (int r = 0; r < rounds; r++) { // alternating, so that a slow phase of the machine hits both sides
                Op first = r % 2 == 0 ? lowbit : ort, second = r % 2 == 0 ? ort : lowbit;
                settle(threads);
                long t0 = clock.getAsLong();
                first.run();
                long t1 = clock.getAsLong();
                settle(threads);
                long t1b = clock.getAsLong();
                second.run();
                long t2 = clock.getAsLong() - (t1b - t1);
                l[r] = (r % 2 == 0 ? t1 - t0 : t2 - t1) / 1e6;
                o[r] = (r % 2 == 0 ? t2 - t1 : t1 - t0) / 1e6;
                ratio[r] = o[r] / l[r];
            }
            double lb = Arrays.stream(l).min().orElseThrow(), ob = Arrays.stream(o).min().orElseThrow();
            System.out.printf("32 sentences, %d tokens padded, %s per batch over %d alternating rounds:"
                    + " lowbit best %.1f ms / median %.1f ms (%.0f sentences/s at best), onnxruntime best %.1f / median"
                    + " %.1f ms (%.0f sentences/s); lowbit/onnxruntime speed: best-to-best %.2fx, median of the rounds'"
                    + " ratios %.2fx%n", seq, threads == 1 ? "1 thread, CPU time" : threads + " threads, wall time", rounds, lb, median(l), 32000 / lb, ob, median(o), 32000 / ob, ob / lb,
                    median(ratio));
        }
    }
}

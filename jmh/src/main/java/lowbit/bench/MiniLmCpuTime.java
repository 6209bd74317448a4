package lowbit.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import lowbit.examples.minilm.Corpus;
import lowbit.examples.minilm.MiniLm;
import lowbit.tensor.parallel.Parallel;

/**
 * The {@link MiniLmEmbedBench} workload (32 sentences of 12–20 tokens, ids → hidden states) timed by the calling
 * thread's CPU time, single-threaded, lowbit and onnxruntime in the same JVM: on a machine shared with other jobs
 * wall-clock JMH numbers swing by several times, while the CPU time a thread spends on one batch barely depends on
 * the load (best of 20 after 40 warm-up batches). Run:
 * {@code java --add-modules=jdk.incubator.vector -cp jmh/target/benchmarks.jar lowbit.bench.MiniLmCpuTime}.
 */
public final class MiniLmCpuTime {
    private MiniLmCpuTime() {
    }

    private interface Op {
        void run() throws Exception;
    }

    private static double bestCpuMs(Op op, int warmup, int reps) throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        for (int i = 0; i < warmup; i++) {
            op.run();
        }
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = mx.getCurrentThreadCpuTime();
            op.run();
            best = Math.min(best, (mx.getCurrentThreadCpuTime() - t0) / 1e6);
        }
        return best;
    }

    public static void main(String[] args) throws Exception {
        Parallel.setParallelism(1);
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
        opts.setIntraOpNumThreads(1);
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
            double l = bestCpuMs(lowbit, 40, 20);
            double o = bestCpuMs(ort, 40, 20);
            System.out.printf("32 sentences, %d tokens padded, 1 thread, CPU time per batch: lowbit %.1f ms (%.0f sentences/s),"
                    + " onnxruntime %.1f ms (%.0f sentences/s), lowbit/onnxruntime speed %.2fx%n", seq, l, 32000 / l, o,
                    32000 / o, o / l);
        }
    }
}

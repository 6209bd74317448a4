package lowbit.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import lowbit.examples.minilm.Corpus;
import lowbit.examples.minilm.MiniLm;
import lowbit.tensor.parallel.Parallel;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * all-MiniLM-L6-v2 sentence-embedding throughput: one batch of 32 evaluation sentences of 12–20 tokens (padded to
 * the longest), token ids to unit-norm mean-pooled embeddings, lowbit fp32 ({@code embed_lowbit}) against
 * onnxruntime's CPU provider running the same fp32 ONNX graph ({@code embed_onnxruntime}, same pooling in Java),
 * with 1 and 2 threads (lowbit's {@link Parallel}, onnxruntime's intra-op threads). Tokenization is excluded from
 * both. Sentences/s = 32 / (time per op). Pair with {@code python3 jmh/ratios.py r.json --baseline onnxruntime}.
 *
 * <p>JMH runs {@code embed_lowbit} and {@code embed_onnxruntime} as separate trials, minutes apart, and on a shared
 * host a slow phase then hits one side only (ratios between 0.7× and 1.1× for the same code on 2026-12-02). So
 * {@code alternating} runs both in each invocation, in turn first, and adds each side's batch time to the secondary
 * results {@code lowbitMs} and {@code onnxruntimeMs} (JMH sums them over the measurement iterations;
 * {@code ratios.py} prints onnxruntimeMs / lowbitMs as the speed ratio). With 2 threads each batch starts only once
 * the process is idle (see {@link MiniLmCpuTime}: onnxruntime's workers spin for 20–30 ms after a batch); that wait
 * is not counted, so the primary score of {@code alternating} means nothing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx2g"})
public class MiniLmEmbedBench {
    @Param({"1", "2"})
    public int threads;

    private MiniLm model;
    private List<int[]> batch;
    private OrtEnvironment env;
    private OrtSession session;
    private long[][] ids;
    private long[][] mask;
    private long[][] types;

    @Setup(Level.Trial)
    public void setUp() throws IOException, OrtException {
        model = MiniLm.load();
        batch = new ArrayList<>();
        for (String s : Corpus.evaluation()) {
            int[] t = model.tokenizer().encode(s);
            if (t.length >= 12 && t.length <= 20 && batch.size() < 32) {
                batch.add(t);
            }
        }
        if (batch.size() != 32) {
            throw new IllegalStateException("only " + batch.size() + " evaluation sentences of 12-20 tokens");
        }
        int seq = batch.stream().mapToInt(t -> t.length).max().orElseThrow();
        ids = new long[32][seq];
        mask = new long[32][seq];
        types = new long[32][seq];
        for (int i = 0; i < 32; i++) {
            for (int j = 0; j < batch.get(i).length; j++) {
                ids[i][j] = batch.get(i)[j];
                mask[i][j] = 1;
            }
        }
        Parallel.setParallelism(threads);
        env = OrtEnvironment.getEnvironment();
        byte[] onnx;
        try (InputStream in = MiniLm.class.getResourceAsStream(MiniLm.ONNX_RESOURCE)) {
            onnx = in.readAllBytes();
        }
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        opts.setIntraOpNumThreads(threads);
        opts.setInterOpNumThreads(1);
        opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        session = env.createSession(onnx, opts);
        // both must agree before we time them
        float[][] a = embed_lowbit(), b = embed_onnxruntime();
        for (int i = 0; i < 32; i++) {
            if (MiniLm.cosine(a[i], b[i]) < 0.99999) {
                throw new IllegalStateException("lowbit and onnxruntime disagree on sentence " + i);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws OrtException {
        session.close();
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    /** Each side's batch times for {@link #alternating}, summed (JMH adds the iterations up). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Alternation {
        /** Sum of lowbit's batch times in this iteration, ms. */
        public double lowbitMs;
        /** Sum of onnxruntime's batch times in this iteration, ms. */
        public double onnxruntimeMs;
        int calls;

        @Setup(Level.Iteration)
        public void clear() {
            lowbitMs = 0;
            onnxruntimeMs = 0;
        }
    }

    /** One batch of each engine, the one that goes first alternating between invocations (see the class comment). */
    @Benchmark
    public Object alternating(Alternation counters) throws Exception {
        boolean lowbitFirst = (counters.calls++ & 1) == 0;
        Object a = null, b = null;
        for (int side = 0; side < 2; side++) {
            boolean lowbit = (side == 0) == lowbitFirst;
            MiniLmCpuTime.settle(threads);
            long t0 = System.nanoTime();
            Object r = lowbit ? embed_lowbit() : embed_onnxruntime();
            double ms = (System.nanoTime() - t0) / 1e6;
            if (lowbit) {
                counters.lowbitMs += ms;
                a = r;
            } else {
                counters.onnxruntimeMs += ms;
                b = r;
            }
        }
        return new Object[] {a, b};
    }

    @Benchmark
    public float[][] embed_lowbit() {
        return model.embedIds(batch, null);
    }

    @Benchmark
    public float[][] embed_onnxruntime() throws OrtException {
        try (OnnxTensor a = OnnxTensor.createTensor(env, ids); OnnxTensor b = OnnxTensor.createTensor(env, mask);
                OnnxTensor c = OnnxTensor.createTensor(env, types);
                OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
            float[][][] h = (float[][][]) r.get("output_0").orElseThrow().getValue();
            float[][] out = new float[h.length][];
            for (int i = 0; i < h.length; i++) {
                int d = h[i][0].length, n = 0;
                float[] e = new float[d];
                for (int t = 0; t < h[i].length; t++) {
                    if (mask[i][t] == 1) {
                        n++;
                        for (int j = 0; j < d; j++) {
                            e[j] += h[i][t][j];
                        }
                    }
                }
                double norm = 0;
                for (int j = 0; j < d; j++) {
                    e[j] /= n;
                    norm += (double) e[j] * e[j];
                }
                float inv = (float) (1 / Math.sqrt(norm));
                for (int j = 0; j < d; j++) {
                    e[j] *= inv;
                }
                out[i] = e;
            }
            return out;
        }
    }
}

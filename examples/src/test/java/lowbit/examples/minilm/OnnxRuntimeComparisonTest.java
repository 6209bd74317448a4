package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * lowbit's fp32 pipeline against onnxruntime running the same ONNX graph (native peer, test scope only): the token
 * ids come from lowbit's tokenizer, so this checks the encoder, pooling and normalisation.
 */
class OnnxRuntimeComparisonTest {
    private static MiniLm model;
    private static OrtEnvironment env;
    private static OrtSession session;

    @BeforeAll
    static void load() throws Exception {
        model = SharedModel.get();
        env = OrtEnvironment.getEnvironment();
        byte[] onnx;
        try (InputStream in = MiniLm.class.getResourceAsStream(MiniLm.ONNX_RESOURCE)) {
            onnx = in.readAllBytes();
        }
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        opts.setIntraOpNumThreads(2);
        session = env.createSession(onnx, opts);
    }

    @AfterAll
    static void close() throws Exception {
        session.close();
    }

    /** onnxruntime's last hidden states for one unpadded sentence, mean-pooled and L2-normalised in double. */
    static double[] reference(OrtEnvironment env, OrtSession session, int[] ids) throws Exception {
        long[][] in = new long[1][ids.length], mask = new long[1][ids.length], types = new long[1][ids.length];
        for (int i = 0; i < ids.length; i++) {
            in[0][i] = ids[i];
            mask[0][i] = 1;
        }
        try (OnnxTensor a = OnnxTensor.createTensor(env, in); OnnxTensor b = OnnxTensor.createTensor(env, mask);
                OnnxTensor c = OnnxTensor.createTensor(env, types);
                OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
            float[][][] h = (float[][][]) r.get("output_0").orElseThrow().getValue();
            int d = h[0][0].length;
            double[] e = new double[d];
            for (float[] tok : h[0]) {
                for (int j = 0; j < d; j++) {
                    e[j] += tok[j];
                }
            }
            double norm = 0;
            for (int j = 0; j < d; j++) {
                e[j] /= ids.length;
                norm += e[j] * e[j];
            }
            norm = Math.sqrt(norm);
            for (int j = 0; j < d; j++) {
                e[j] /= norm;
            }
            return e;
        }
    }

    @Test
    void embeddingsMatchOnnxRuntimeWithin1e4() throws Exception {
        List<String> texts = TestSentences.ENGLISH;
        assertThat(texts.size()).isGreaterThanOrEqualTo(20);
        float[][] ours = model.embed(texts); // batched and padded: padding must not change anything
        double worst = 0;
        for (int s = 0; s < texts.size(); s++) {
            double[] ref = reference(env, session, model.tokenizer().encode(texts.get(s)));
            for (int j = 0; j < ref.length; j++) {
                double d = Math.abs(ours[s][j] - ref[j]);
                worst = Math.max(worst, d);
                assertThat(d).as("sentence %d '%s' component %d: lowbit %s, onnxruntime %s", s, texts.get(s), j,
                        ours[s][j], ref[j]).isLessThanOrEqualTo(1e-4);
            }
        }
        System.out.printf("max |Δ| vs onnxruntime over %d sentences: %.3g%n", texts.size(), worst);
    }

    @Test
    void modelCardCosine() {
        float[][] e = model.embed(List.of("A man is eating food.", "A man is eating a piece of bread."));
        // the model card (sentence-transformers/all-MiniLM-L6-v2) gives 0.7553 to four decimals
        assertThat(Math.round(MiniLm.cosine(e[0], e[1]) * 1e4) / 1e4).isEqualTo(0.7553);
    }
}

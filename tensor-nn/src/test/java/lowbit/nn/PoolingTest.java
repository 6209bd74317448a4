package lowbit.nn;

import static lowbit.nn.NnTesting.assertClose;
import static lowbit.nn.NnTesting.gamma;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** Embedding lookup, mean pooling with a mask, L2 normalisation and cosine. */
class PoolingTest {
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void embeddingCopiesTheExactRows(DType type) {
        Random r = new Random(501);
        int vocab = 50, dim = 13;
        Tensor table = Tensor.ofFloats(type, NnTesting.randn(r, vocab * dim, 1), Shape.of(vocab, dim));
        float[] exact = table.toFloatArray();
        Embedding e = new Embedding(table);
        int[] ids = {0, 49, 7, 7};
        float[] out = e.lookup(ids);
        for (int i = 0; i < ids.length; i++) {
            for (int c = 0; c < dim; c++) {
                assertThat(out[i * dim + c]).isEqualTo(exact[ids[i] * dim + c]);
            }
        }
        assertThatThrownBy(() -> e.lookup(new int[] {3, 50})).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("id 50 at position 1");
    }

    @Test
    void meanPoolingCountsOnlyMaskedTokens() {
        long seed = 502;
        Random r = new Random(seed);
        int batch = 3, seq = 6, dim = 10;
        float[] x = NnTesting.randn(r, batch * seq * dim, 1);
        int[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        float[] pooled = MeanPooling.forward(x, mask, batch, seq, dim);
        double[] ref = new double[batch * dim];
        double[] tol = new double[batch * dim];
        for (int b = 0; b < batch; b++) {
            int count = 0;
            for (int t = 0; t < seq; t++) {
                count += mask[b * seq + t];
            }
            for (int c = 0; c < dim; c++) {
                double s = 0, abs = 0;
                for (int t = 0; t < seq; t++) {
                    if (mask[b * seq + t] == 1) {
                        s += x[(b * seq + t) * dim + c];
                        abs += Math.abs(x[(b * seq + t) * dim + c]);
                    }
                }
                ref[b * dim + c] = count == 0 ? 0 : s / count;
                // a float sum of count terms, then one multiply by the rounded 1/count
                tol[b * dim + c] = (gamma(count + 2)) * abs / Math.max(1, count) + 1e-30;
            }
        }
        assertClose("mean pooling", seed, pooled, ref, tol);
        assertThatThrownBy(() -> MeanPooling.forward(x, new int[3], batch, seq, dim)).hasMessageContaining("mask has 3");
    }

    @Test
    void l2NormalisationAndCosine() {
        float[] x = {3, 4, 0, 0, 0, 0, 1e-30f, -1e-30f};
        L2Norm.inPlace(x, 4, 2);
        assertThat(x[0]).isEqualTo(0.6f);
        assertThat(x[1]).isEqualTo(0.8f);
        assertThat(x[2]).isZero(); // a zero row stays zero
        assertThat(x[6]).isEqualTo(1e-30f / 1e-12f); // ‖x‖ < ε: divided by ε, as torch's normalize does
        assertThat(L2Norm.cosine(new float[] {1, 0}, new float[] {1, 1})).isCloseTo(Math.sqrt(0.5),
                org.assertj.core.data.Offset.offset(1e-15));
        assertThat(L2Norm.cosine(new float[] {1, 0}, new float[] {0, 0})).isZero();
        assertThatThrownBy(() -> L2Norm.inPlace(new float[3], 2, 2)).hasMessageContaining("x has 3 elements");
    }
}

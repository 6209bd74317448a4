package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import lowbit.tensor.ggml.Q2_K;
import lowbit.tensor.ggml.Q3_K;
import lowbit.tensor.ggml.Q4_K;
import lowbit.tensor.ggml.Q5_K;
import lowbit.tensor.ggml.Q6_K;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link GgufWriter#quantize} writes the k-quants with their reference encoders (proven against ggml elsewhere). */
class GgufWriterKQuantTest {
    @TempDir
    Path dir;

    @FunctionalInterface
    interface RowEncoder {
        void encode(float[] src, int srcOff, byte[] dst, int dstOff, int n);
    }

    @Test
    void everyKQuantRowByRow() throws Exception {
        int rows = 3;
        int cols = 512;
        float[] w = new float[rows * cols];
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        Map<GgmlType, RowEncoder> enc = Map.of(GgmlType.Q2_K, Q2_K::quantizeRow, GgmlType.Q3_K, Q3_K::quantizeRow,
                GgmlType.Q4_K, Q4_K::quantizeRow, GgmlType.Q5_K, Q5_K::quantizeRow, GgmlType.Q6_K, Q6_K::quantizeRow);
        for (Map.Entry<GgmlType, RowEncoder> e : enc.entrySet()) {
            GgmlType t = e.getKey();
            Path f = dir.resolve(t + ".gguf");
            try (GgufWriter g = GgufWriter.create(f, Map.of(), List.of(new GgufTensorSpec("w", t, Shape.of(rows, cols))))) {
                g.quantize("w", Tensor.ofFloats(w, rows, cols));
            }
            int rb = (int) t.rowBytes(cols);
            byte[] expected = new byte[rows * rb];
            for (int row = 0; row < rows; row++) {
                e.getValue().encode(w, row * cols, expected, row * rb, cols);
            }
            try (GgufFile g = GgufFile.open(f)) {
                assertThat(g.bytes("w").toArray(ValueLayout.JAVA_BYTE)).as("%s", t).isEqualTo(expected);
            }
        }
    }
}

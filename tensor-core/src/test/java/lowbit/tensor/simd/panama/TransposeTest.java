package lowbit.tensor.simd.panama;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The zips of the GEMM packing at this JVM's vector width: both forms (one two-source permute, or two one-source
 * permutes and a blend; the build picks one by the register count) against their definition, and
 * {@link PanamaGemm#transpose8} (whichever form it uses here) against the packed-A order it documents, for 8 rows
 * and, at 8 lanes, with the 16-float stride of a transposed B panel.
 */
@Tag("simd")
class TransposeTest {
    private int lanes;

    @BeforeEach
    void needsTheVectorApi() {
        Assumptions.assumeTrue(VectorizationProvider.get().name().equals("panama"), "needs the Vector API");
        lanes = Species.F.length();
    }

    private static float[] randoms(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() - 0.5f;
        }
        return a;
    }

    @Test
    void bothZipFormsInterleaveTheHalves() {
        int l = lanes;
        Random r = new Random(11);
        float[] a = randoms(r, l), b = randoms(r, l);
        float[] lo = new float[l], hi = new float[l];
        for (int i = 0; i < l / 2; i++) {
            lo[2 * i] = a[i];
            lo[2 * i + 1] = b[i];
            hi[2 * i] = a[l / 2 + i];
            hi[2 * i + 1] = b[l / 2 + i];
        }
        FloatVector va = FloatVector.fromArray(Species.F, a, 0), vb = FloatVector.fromArray(Species.F, b, 0);
        assertThat(PanamaGemm.zipLo1(va, vb).toArray()).as("one-source zip lo").isEqualTo(lo);
        assertThat(PanamaGemm.zipLo2(va, vb).toArray()).as("two-source zip lo").isEqualTo(lo);
        assertThat(PanamaGemm.zipHi1(va, vb).toArray()).as("one-source zip hi").isEqualTo(hi);
        assertThat(PanamaGemm.zipHi2(va, vb).toArray()).as("two-source zip hi").isEqualTo(hi);
    }

    @Test
    void transpose8WritesPackedOrder() {
        int l = lanes;
        Assumptions.assumeTrue(l >= 8, "transpose8 needs at least 8 lanes");
        Random r = new Random(12);
        int ld = l + 3;
        float[] src = randoms(r, 8 * ld + 5);
        // strides: packed A (L), and at 8 lanes the 16-float rows of a transposed B panel
        for (int stride : l == 8 ? new int[] {8, 16} : new int[] {l}) {
            float[] dst = new float[7 * stride + l + 4];
            PanamaGemm.transpose8(src, 5, ld, dst, 2, stride);
            // column c of the block: its 8 rows at dst[2 + c·stride ..] at 8 lanes; at 16 lanes store t holds
            // columns 2t and 2t + 1, so column c is at dst[2 + 8c ..]
            for (int c = 0; c < l; c++) {
                int at = 2 + (l == 8 ? c * stride : 8 * c);
                for (int row = 0; row < 8; row++) {
                    assertThat(dst[at + row]).as("stride %d column %d row %d at %d lanes", stride, c, row, l)
                            .isEqualTo(src[5 + row * ld + c]);
                }
            }
        }
    }
}

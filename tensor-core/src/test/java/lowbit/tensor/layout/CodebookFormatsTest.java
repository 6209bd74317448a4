package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * NF4 and FP4 against their definitions (QLoRA's table, bitsandbytes' e2m1/12 FP4) and against the constants and
 * rules of bitsandbytes' CUDA kernels (csrc/kernels.cu: {@code nf4_dequantization_lut}, {@code dQuantizeNF4},
 * {@code fp4_dequantization_lut}, {@code dQuantizeFP4}, {@code kQuantizeBlockwise}), written out here as reference
 * facts: thresholds and ties, nibble order, zero/constant/tiny/huge blocks, and bad input.
 */
class CodebookFormatsTest {
    /** The NF4 values of /work/shared/specs/formats.md (QLoRA appendix / bitsandbytes). */
    private static final double[] NF4 = {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534,
        0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
        0.7229568362236023, 1.0};
    /** The thresholds of bitsandbytes' dQuantizeNF4 tree, ascending. */
    private static final double[] NF4_CUDA_THRESHOLDS = {-0.8480964004993439, -0.6106329262256622,
        -0.4599952697753906, -0.33967943489551544, -0.23460740596055984, -0.13791173323988914, -0.045525018125772476,
        0.03979014977812767, 0.1202552504837513, 0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
        0.5016634166240692, 0.6427869200706482, 0.8614784181118011};
    /** bitsandbytes' CUDA fp4_dequantization_lut (codes 0..7; codes 8..15 are the negatives). */
    private static final float[] FP4_CUDA_LUT = {0.0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f, 0.5f,
        0.16666667f, 0.25f};

    @Test
    void nf4TableAndThresholdsAreBitsandbytes() {
        for (int q = 0; q < 16; q++) {
            assertThat(Nf4.value(q)).isEqualTo((float) NF4[q]);
        }
        float[] t = Nf4.thresholds();
        for (int k = 0; k < 15; k++) {
            // each CUDA threshold is the float midpoint of its neighbours
            assertThat(t[k]).as("threshold %d", k).isEqualTo((float) NF4_CUDA_THRESHOLDS[k]);
            // a value on the threshold takes the lower code, the next float up the higher one
            assertThat(Nf4.encodeValue(t[k])).isEqualTo(k);
            assertThat(Nf4.encodeValue(Math.nextUp(t[k]))).isEqualTo(k + 1);
        }
        for (int q = 0; q < 16; q++) {
            assertThat(Nf4.encodeValue(Nf4.value(q))).isEqualTo(q);
        }
        assertThat(Nf4.encodeValue(Float.NaN)).isEqualTo(0);
        assertThat(Nf4.encodeValue(-0f)).isEqualTo(7);
        assertThat(Nf4.encodeValue(2f)).isEqualTo(15);
        assertThat(Nf4.encodeValue(-2f)).isEqualTo(0);
    }

    @Test
    void fp4TableIsE2m1OverTwelveAndTheCudaTreeIsReproduced() {
        for (int q = 0; q < 16; q++) {
            int e = (q >> 1) & 3;
            int m = q & 1;
            double raw = e == 0 ? m * 0.0625 : Math.pow(2, 4 - e) * (1 + m / 2.0);
            float expected = (float) ((q >= 8 ? -1 : 1) * raw) / 1f;
            assertThat(Fp4.value(q)).as("code %d", q).isEqualTo(expected / 12f);
            assertThat(Fp4.value(q)).isEqualTo((q >= 8 ? -1 : 1) * FP4_CUDA_LUT[q & 7]);
        }
        assertThat(Float.floatToRawIntBits(Fp4.value(8))).isEqualTo(0x8000_0000); // −0
        // magnitudes ascending: 0, 1/192, 1/6, 1/4, 1/3, 1/2, 2/3, 1 → codes 0, 1, 6, 7, 4, 5, 2, 3
        int[] byRank = {0, 1, 6, 7, 4, 5, 2, 3};
        float[] cuda = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};
        for (int k = 0; k < 7; k++) {
            assertThat(Fp4.encodeValue(cuda[k])).isEqualTo(byRank[k]);
            assertThat(Fp4.encodeValue(Math.nextUp(cuda[k]))).isEqualTo(byRank[k + 1]);
            assertThat(Fp4.encodeValue(-cuda[k])).isEqualTo(byRank[k] + 8);
            assertThat(Fp4.encodeValue(-Math.nextUp(cuda[k]))).isEqualTo(byRank[k + 1] + 8);
        }
        // the CUDA threshold 0.583333 lies below the true midpoint 0.5833333 of 1/2 and 2/3: in between, bitsandbytes
        // (and lowbit) choose 2/3 although 1/2 is nearer
        float between = 0.5833332f;
        assertThat(Math.abs(between - 0.5f)).isLessThan(Math.abs(between - 2f / 3));
        assertThat(Fp4.encodeValue(between)).isEqualTo(0b0010);
        assertThat(Fp4.encodeValue(Float.NaN)).isEqualTo(0);
        assertThat(Fp4.encodeValue(-0f)).isEqualTo(0); // −0 < 0 is false: no sign bit
        assertThat(Fp4.encodeValue(-1e-3f)).isEqualTo(8); // −0: a negative value below the first threshold
    }

    @Test
    void blocksScaleByReciprocalAbsmaxAndPackHighNibbleFirst() {
        // one row of 8 in blocks of 4: absmax 2 and 0.5
        float[] w = {2f, -1f, 0.5f, 0f, 0.25f, -0.5f, 0.125f, 0.0397901f};
        Nf4 m = Nf4.encode(w, 1, 8, 4, false);
        // scaled: 1, -0.5, 0.25, 0 | 0.5, -1, 0.25, 0.0795802
        int[] expected = {
            15, Nf4.encodeValue(-0.5f), Nf4.encodeValue(0.25f), 7, Nf4.encodeValue(0.5f), 0, Nf4.encodeValue(0.25f),
            Nf4.encodeValue(0.0397901f * 2f)
        };
        assertThat(expected).containsExactly(15, 2, 10, 7, 12, 0, 10, 8);
        assertThat(m.codes()).containsExactly(expected);
        assertThat(m.absmax()).containsExactly(2f, 0.5f);
        byte[] bytes = m.packedCodes().toArray(ValueLayout.JAVA_BYTE);
        assertThat(bytes).containsExactly((byte) 0xF2, (byte) 0xA7, (byte) 0xC0, (byte) 0xA8);
        float[] d = m.dequantize();
        for (int e = 0; e < 8; e++) {
            assertThat(d[e]).isEqualTo(Nf4.value(expected[e]) * (e < 4 ? 2f : 0.5f));
        }
        assertThat(m.byteSize()).isEqualTo(4 + 2 * 4);
        assertThat(m.describe()).isEqualTo("nf4 b4");
    }

    @Test
    void blocksRunOverTheFlatIndexAcrossRows() {
        // 3 rows of 3 in blocks of 4: blocks {0..3}, {4..7}, {8}
        float[] w = {1, 2, 3, 4, -8, 0, 0, 0, 0.5f};
        Nf4 m = Nf4.encode(w, 3, 3, 4, false);
        assertThat(m.absmax()).containsExactly(4f, 8f, 0.5f);
        assertThat(m.code(1, 0)).isEqualTo(15); // 4/4
        assertThat(m.code(1, 1)).isEqualTo(0); // -8/8
        assertThat(m.code(2, 2)).isEqualTo(15);
        assertThat(m.packedCodes().byteSize()).isEqualTo(5);
    }

    @Test
    void zeroConstantTinyAndHugeBlocksBehaveAsInBitsandbytes() {
        float[] w = new float[16];
        // block 0: all zero → absmax 0, 0·(1/0) = NaN → code 0 (−1.0 for NF4, +0 for FP4), decoded −0 / +0
        // block 1: constant 3 → scaled 1 (or 1 − ulp) → code 15, decoded exactly 3
        // block 2: subnormals only → flushed: like an all-zero block
        // block 3: huge, absmax 3e38 > 2^126 → the reciprocal flushes to 0 → every scaled value 0 → code 7 (NF4 0)
        for (int i = 4; i < 8; i++) {
            w[i] = 3f;
        }
        w[8] = 1e-40f;
        w[9] = -2e-39f;
        w[12] = 3e38f;
        w[13] = -1e38f;
        w[14] = 1f;
        Nf4 m = Nf4.encode(w, 1, 16, 4, false);
        assertThat(m.codes()).containsExactly(0, 0, 0, 0, 15, 15, 15, 15, 0, 0, 0, 0, 7, 7, 7, 7);
        assertThat(m.absmax()).containsExactly(0f, 3f, 0f, 3e38f);
        float[] d = m.dequantize();
        assertThat(Float.floatToRawIntBits(d[0])).isEqualTo(0x8000_0000);
        assertThat(d[5]).isEqualTo(3f);
        assertThat(d[12]).isEqualTo(0f);
        Fp4 f = Fp4.encode(w, 1, 16, 4, false);
        assertThat(f.codes()).containsExactly(0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0);
        // a negative constant block: scaled −1 → NF4 code 0, FP4 code 8 + 3
        float[] neg = {-0.75f, -0.75f};
        assertThat(Nf4.encode(neg, 1, 2, 64, false).dequantize()).containsExactly(-0.75f, -0.75f);
        assertThat(Fp4.encode(neg, 1, 2, 64, false).codes()).containsExactly(11, 11);
        // tiny but normal values keep their precision
        float[] tiny = {1e-37f, -5e-38f};
        assertThat(Nf4.encode(tiny, 1, 2, 64, false).codes()).containsExactly(15, Nf4.encodeValue(-0.5f));
    }

    @Test
    void badInputIsRejectedWithNamedValues() {
        float[] w = {0, 1, 2, Float.NaN};
        assertThatThrownBy(() -> Nf4.encode(w, 2, 2)).hasMessageContaining("weight at row 1, col 1 is NaN");
        w[3] = Float.POSITIVE_INFINITY;
        assertThatThrownBy(() -> Fp4.encode(w, 2, 2)).hasMessageContaining("weight at row 1, col 1 is Infinity");
        assertThatThrownBy(() -> Nf4.encode(new float[3], 2, 2)).hasMessageContaining("3 weights");
        assertThatThrownBy(() -> Nf4.encode(new float[4], 2, 2, 0, false)).hasMessageContaining("got 0");
        MemorySegment two = MemorySegment.ofArray(new byte[2]);
        assertThatThrownBy(() -> Nf4.of(2, 3, 4, two, new float[2])).hasMessageContaining("need 3 bytes");
        MemorySegment three = MemorySegment.ofArray(new byte[3]);
        assertThatThrownBy(() -> Nf4.of(2, 3, 4, three, new float[1])).hasMessageContaining("needs 2 absmax values");
        assertThatThrownBy(() -> Fp4.of(2, 3, 4, three, new float[] {1f, Float.NaN}))
                .hasMessageContaining("absmax[1] is NaN");
        Nf4 ok = Nf4.of(2, 3, 4, three, new float[] {1f, 2f});
        assertThat(ok.packedCodes().isNative()).isTrue(); // a heap segment is copied off-heap
        assertThat(ok.dequantize()).hasSize(6);
    }
}

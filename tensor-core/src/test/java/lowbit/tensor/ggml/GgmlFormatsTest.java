package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import lowbit.tensor.simd.ScalarGgmlKernels;
import org.junit.jupiter.api.Test;

/** Round-trip error bounds from each format's definition, the type table, and rejection of bad input. */
class GgmlFormatsTest {
    private static final long SEED = 0x6_6fL;

    /**
     * decode(encode(x)) per element. With d the float scale and d̂ = fp16(d): |x − x̂| ≤ |d|/2 (rounding to the
     * nearest code) + |code offset|·|d − d̂| (≤ 16·2^-11·|d| for normal fp16 d, or 16·2^-25 absolutely when subnormal)
     * + for the _1 types |min − m̂| (fp16 rounding of min); values that clamp to the top code (Q4_0/Q5_0: x·id + 8.5
     * &ge; 16, i.e. beyond 7.5|d| opposite max) allow |d|.
     */
    @Test
    void roundTripWithinHalfAStep() {
        Random r = new Random(SEED);
        for (int rep = 0; rep < 200; rep++) {
            float scale = (float) Math.pow(2, r.nextInt(20) - 10);
            float[] x = new float[64];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextGaussian() * scale + (rep % 2 == 0 ? 0 : scale);
            }
            for (GgmlType t : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
                GgmlType.Q8_0, GgmlType.Q8_1}) {
                MemorySegment s = MemorySegment.ofArray(new byte[(int) t.rowBytes(64)]);
                float[] back = new float[64];
                encode(t, x, s);
                GgmlKernelsTest.dequantize(t, s, 0, back, 2);
                for (int b = 0; b < 2; b++) {
                    float mx = 0, mn = Float.MAX_VALUE, hi = -Float.MAX_VALUE, amax = 0;
                    for (int j = 0; j < 32; j++) {
                        float v = x[b * 32 + j];
                        if (amax < Math.abs(v)) {
                            amax = Math.abs(v);
                            mx = v;
                        }
                        mn = Math.min(mn, v);
                        hi = Math.max(hi, v);
                    }
                    double d = switch (t) {
                        case Q4_0 -> mx / 8.0;
                        case Q5_0 -> mx / 16.0;
                        case Q4_1 -> (hi - mn) / 15.0;
                        case Q5_1 -> (hi - mn) / 31.0;
                        default -> amax / 127.0;
                    };
                    d = Math.abs(d);
                    double offsetMax = switch (t) {
                        case Q4_0 -> 8;
                        case Q5_0 -> 16;
                        case Q4_1 -> 15;
                        case Q5_1 -> 31;
                        default -> 127;
                    };
                    double fp16 = offsetMax * Math.max(d * 0x1p-11, 0x1p-25) * 1.01;
                    double minErr = (t == GgmlType.Q4_1 || t == GgmlType.Q5_1)
                            ? Math.abs(mn - Float.float16ToFloat(Float.floatToFloat16(mn))) : 0;
                    for (int j = 0; j < 32; j++) {
                        int i = b * 32 + j;
                        // Q4_0/Q5_0: values beyond 7.5|d| (15.5|d|) on the side opposite max clamp to the top code
                        double top = t == GgmlType.Q4_0 ? 16 : 32;
                        boolean clamped = (t == GgmlType.Q4_0 || t == GgmlType.Q5_0) && mx != 0
                                && x[i] * (-offsetMax / mx) + offsetMax + 0.5 >= top - 1e-6;
                        double bound = (clamped ? d : d / 2) * (1 + 1e-5) + fp16 + minErr;
                        assertThat(Math.abs((double) x[i] - back[i]))
                                .as("%s rep=%d i=%d x=%s back=%s d=%s seed=%d", t, rep, i, x[i], back[i], d, SEED)
                                .isLessThanOrEqualTo(bound);
                    }
                }
            }
        }
    }

    static void encode(GgmlType t, float[] x, MemorySegment s) {
        switch (t) {
            case Q4_0 -> Q4_0.quantizeRow(x, 0, s, 0, x.length);
            case Q4_1 -> Q4_1.quantizeRow(x, 0, s, 0, x.length);
            case Q5_0 -> Q5_0.quantizeRow(x, 0, s, 0, x.length);
            case Q5_1 -> Q5_1.quantizeRow(x, 0, s, 0, x.length);
            case Q8_0 -> Q8_0.quantizeRow(x, 0, s, 0, x.length);
            default -> Q8_1.quantizeRow(x, 0, s, 0, x.length);
        }
    }

    @Test
    void typeTableMatchesGgml() {
        assertThat(GgmlType.fromId(2)).isEqualTo(GgmlType.Q4_0);
        assertThat(GgmlType.fromId(8).blockBytes()).isEqualTo(34);
        assertThat(GgmlType.Q4_K.blockBytes()).isEqualTo(144);
        assertThat(GgmlType.Q6_K.blockBytes()).isEqualTo(210);
        assertThat(GgmlType.BF16.id()).isEqualTo(30);
        assertThat(Q5_1.rowBytes(4096)).isEqualTo(128 * 24);
        assertThat(new int[] {Q4_0.BLOCK_BYTES, Q4_1.BLOCK_BYTES, Q5_0.BLOCK_BYTES, Q5_1.BLOCK_BYTES,
            Q8_0.BLOCK_BYTES, Q8_1.BLOCK_BYTES}).containsExactly(18, 20, 22, 24, 34, 36);
        assertThatThrownBy(() -> GgmlType.fromId(4)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4");
    }

    @Test
    void rejectsLengthsThatAreNotWholeBlocks() {
        assertThatThrownBy(() -> Q4_0.quantizeRow(new float[40], 0, new byte[100], 0, 33))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("33").hasMessageContaining("32");
        assertThatThrownBy(() -> Q8_0.dequantizeRow(new byte[100], 0, new float[40], 0, 31))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("31");
        assertThatThrownBy(() -> GgmlType.Q4_K.rowBytes(300)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("300").hasMessageContaining("256");
    }

    @Test
    void rejectsNonFiniteInputNamingTheIndexUnlessAsked() {
        float[] x = new float[64];
        x[37] = Float.NaN;
        byte[] out = new byte[36];
        assertThatThrownBy(() -> Q4_0.quantizeRow(x, 0, out, 0, 64)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("37").hasMessageContaining("NaN");
        x[37] = 0;
        x[5] = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < 2; t++) {
            int tt = t;
            assertThatThrownBy(() -> {
                if (tt == 0) {
                    Q5_1.quantizeRow(x, 0, MemorySegment.ofArray(new byte[48]), 0, 64);
                } else {
                    GgmlOps.gemv(GgmlType.Q8_0, MemorySegment.ofArray(new byte[68]), 0, 1, 64, x, 0, new float[1], 0);
                }
            }).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("element 5").hasMessageContaining("Infinity");
        }
        assertThat(out).containsOnly((byte) 0); // nothing written
        // the ggml-compatible policy encodes; the first block is finite and unaffected by the second's -inf
        MemorySegment s = MemorySegment.ofArray(new byte[36]);
        x[5] = 0;
        x[40] = Float.NEGATIVE_INFINITY;
        Q4_0.quantizeRow(x, 0, s, 0, 64, NonFinitePolicy.ENCODE_LIKE_GGML);
        MemorySegment ref = MemorySegment.ofArray(new byte[36]);
        new ScalarGgmlKernels().quantizeQ4_0(x, 0, ref, 0, 2);
        assertThat(s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                .containsExactly(ref.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    @Test
    void rejectsTruncatedAndReadOnlyBuffers() {
        float[] x = new float[64];
        assertThatThrownBy(() -> Q4_0.quantizeRow(x, 0, new byte[35], 0, 64))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("36").hasMessageContaining("35");
        assertThatThrownBy(() -> Q8_0.quantizeRow(x, 0, new byte[68], 1, 64)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> Q5_0.dequantizeRow(new byte[43], 0, new float[64], 0, 64))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("44");
        assertThatThrownBy(() -> Q4_1.dequantizeRow(new byte[40], 0, new float[63], 0, 64))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> Q4_0.quantizeRow(x, 1, new byte[36], 0, 64)).isInstanceOf(IndexOutOfBoundsException.class);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ro = arena.allocate(36).asReadOnly();
            assertThatThrownBy(() -> Q4_0.quantizeRow(x, 0, ro, 0, 64)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("read-only");
        }
        assertThatThrownBy(() -> GgmlOps.dot(GgmlType.Q4_0, MemorySegment.ofArray(new byte[36]), 0,
                MemorySegment.ofArray(new byte[67]), 0, 64)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("activation");
        assertThatThrownBy(() -> GgmlOps.activationType(GgmlType.F32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("F32");
    }
}

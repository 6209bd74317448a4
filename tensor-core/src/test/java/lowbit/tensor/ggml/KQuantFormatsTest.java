package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.ScalarKQuantKernels;
import org.junit.jupiter.api.Test;

/**
 * K-quant round trips against the definition of the last encoding step (every re-coded sub-block holds the nearest
 * code to x for its stored scale and minimum), the reconstruction quality that step implies, and rejection of bad
 * input: lengths, non-finite values, truncated and read-only buffers.
 */
class KQuantFormatsTest {
    private static final long SEED = 0x4b_46L;

    static void encode(GgmlType t, float[] x, MemorySegment s) {
        switch (t) {
            case Q2_K -> Q2_K.quantizeRow(x, 0, s, 0, x.length);
            case Q3_K -> Q3_K.quantizeRow(x, 0, s, 0, x.length);
            case Q4_K -> Q4_K.quantizeRow(x, 0, s, 0, x.length);
            case Q5_K -> Q5_K.quantizeRow(x, 0, s, 0, x.length);
            case Q6_K -> Q6_K.quantizeRow(x, 0, s, 0, x.length);
            case Q8_K -> Q8_K.quantizeRow(x, 0, s, 0, x.length);
            default -> throw new IllegalArgumentException(t.toString());
        }
    }

    static void decode(GgmlType t, MemorySegment s, float[] back) {
        switch (t) {
            case Q8_K -> Q8_K.dequantizeRow(s, 0, back, 0, back.length);
            default -> KQuantKernelsTest.dequantize(t, s, 0, back, back.length / 256);
        }
    }

    /**
     * Per element of a sub-block j with step δ = d·sc_j &ne; 0 (fp16 d times the integer scale, in float) and offset
     * μ = dmin·m_j (0 for Q6_K/Q8_K): the stored code is the nearest integer to (x + μ)/δ clamped to the code range, so
     * |x − x̂| &le; |δ|/2 when (x + μ)/δ lies inside the range widened by 1/2, else the distance to the clamped end,
     * up to the float rounding of x̂ = δ·q − μ (a few ulps of |δ|·qmax + μ; 2^-20 relative here).
     */
    @Test
    void everyReCodedElementIsTheNearestCodeForItsStoredScale() {
        Random r = new Random(SEED);
        for (GgmlType t : new GgmlType[] {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
            GgmlType.Q8_K}) {
            double sumErr2 = 0, sumX2 = 0;
            for (int rep = 0; rep < 40; rep++) {
                float[] x = KQuantKernelsTest.row(r, 2, 8);
                if (rep % 4 == 0) {
                    for (int i = 0; i < x.length; i++) {
                        x[i] = (float) r.nextGaussian() * (1 + i % 7);
                    }
                }
                MemorySegment s = MemorySegment.ofArray(new byte[(int) t.rowBytes(x.length)]);
                encode(t, x, s);
                float[] back = new float[x.length];
                decode(t, s, back);
                for (int i = 0; i < x.length; i++) {
                    double[] step = step(t, s, i);
                    double delta = step[0], mu = step[1], lo = step[2], hi = step[3];
                    if (delta == 0) {
                        continue; // codes kept from the search: no re-coding rule to check
                    }
                    double u = (x[i] + mu) / delta;
                    double err = Math.abs((double) x[i] - back[i]);
                    double bound = u < lo - 0.5 ? (lo - u) * Math.abs(delta) : u > hi + 0.5 ? (u - hi) * Math.abs(delta)
                            : Math.abs(delta) / 2;
                    bound = bound * (1 + 1e-5) + (Math.abs(delta) * hi + Math.abs(mu)) * 0x1p-20;
                    assertThat(err).as("%s rep=%d i=%d x=%s back=%s step=%s seed=%d", t, rep, i, x[i], back[i], delta,
                            SEED).isLessThanOrEqualTo(bound);
                    sumErr2 += err * err;
                    sumX2 += (double) x[i] * x[i];
                }
            }
            // the quality this implies for these inputs: b bits give steps of about 1/(2^b − 1) of a sub-block's range
            double rel = Math.sqrt(sumErr2 / sumX2);
            assertThat(rel).as("%s relative RMS error", t).isLessThan(switch (t) {
                case Q2_K -> 0.5;
                case Q3_K -> 0.25;
                case Q4_K -> 0.12;
                case Q5_K -> 0.06;
                case Q6_K -> 0.03;
                default -> 0.01;
            });
        }
    }

    /** {δ, μ, lowest code, highest code} of element i's sub-block, from the stored bytes by the layout's definition. */
    static double[] step(GgmlType t, MemorySegment s, int i) {
        long b = (long) (i / 256) * t.blockBytes();
        int e = i % 256;
        return switch (t) {
            case Q2_K -> new double[] {
                ScalarGgmlKernels.f16(s, b + 80) * (float) (s.get(ValueLayout.JAVA_BYTE, b + e / 16) & 0xF),
                ScalarGgmlKernels.f16(s, b + 82) * (float) ((s.get(ValueLayout.JAVA_BYTE, b + e / 16) & 0xFF) >> 4), 0, 3};
            case Q3_K -> new double[] {ScalarGgmlKernels.f16(s, b + 108) * (float) (ScalarKQuantKernels.scaleQ3K(s, b + 96,
                e / 16) - 32), 0, -4, 3};
            case Q4_K, Q5_K -> new double[] {
                ScalarGgmlKernels.f16(s, b) * (float) ScalarKQuantKernels.scaleK4(s, b + 4, e / 32),
                ScalarGgmlKernels.f16(s, b + 2) * (float) ScalarKQuantKernels.minK4(s, b + 4, e / 32), 0,
                t == GgmlType.Q4_K ? 15 : 31};
            case Q6_K -> new double[] {ScalarGgmlKernels.f16(s, b + 208) * (float) s.get(ValueLayout.JAVA_BYTE, b + 192 + e / 16),
                0, -32, 31};
            default -> new double[] {s.get(ScalarKQuantKernels.F32_LE, b), 0, -127, 127};
        };
    }

    @Test
    void typeTable() {
        assertThat(new int[] {Q2_K.BLOCK_BYTES, Q3_K.BLOCK_BYTES, Q4_K.BLOCK_BYTES, Q5_K.BLOCK_BYTES, Q6_K.BLOCK_BYTES,
            Q8_K.BLOCK_BYTES}).containsExactly(84, 110, 144, 176, 210, 292);
        assertThat(GgmlType.fromId(12)).isEqualTo(GgmlType.Q4_K);
        assertThat(GgmlType.fromId(14)).isEqualTo(GgmlType.Q6_K);
        assertThat(GgmlType.fromId(15)).isEqualTo(GgmlType.Q8_K);
        assertThat(Q4_K.rowBytes(4096)).isEqualTo(16 * 144);
        for (GgmlType t : KQuantKernelsTest.KTYPES) {
            assertThat(GgmlOps.activationType(t)).isEqualTo(GgmlType.Q8_K);
        }
    }

    @Test
    void rejectsLengthsThatAreNotWholeSuperBlocks() {
        assertThatThrownBy(() -> Q4_K.quantizeRow(new float[512], 0, new byte[1000], 0, 300))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("300").hasMessageContaining("256");
        assertThatThrownBy(() -> Q6_K.dequantizeRow(new byte[1000], 0, new float[512], 0, 255))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("255");
        assertThatThrownBy(() -> Q8_K.quantizeRow(new float[512], 0, new byte[1000], 0, 32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("32");
        assertThatThrownBy(() -> GgmlOps.gemv(GgmlType.Q4_K, MemorySegment.ofArray(new byte[1000]), 0, 1, 288,
                new float[288], 0, new float[1], 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("288").hasMessageContaining("256");
        assertThatThrownBy(() -> GgmlOps.dot(GgmlType.Q6_K, MemorySegment.ofArray(new byte[1000]), 0,
                MemorySegment.ofArray(new byte[1000]), 0, 128)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("128");
    }

    @Test
    void rejectsNonFiniteInputNamingTheIndexUnlessAsked() {
        float[] x = new float[512];
        x[300] = Float.NaN;
        byte[] out = new byte[2 * 292];
        for (GgmlType t : new GgmlType[] {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
            GgmlType.Q8_K}) {
            assertThatThrownBy(() -> encode(t, x, MemorySegment.ofArray(out))).as("%s", t)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("300").hasMessageContaining("NaN");
        }
        assertThat(out).containsOnly((byte) 0); // nothing written
        x[300] = 0;
        x[7] = Float.POSITIVE_INFINITY;
        assertThatThrownBy(() -> GgmlOps.gemv(GgmlType.Q4_K, MemorySegment.ofArray(new byte[288]), 0, 1, 512, x, 0,
                new float[1], 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("element 7")
                .hasMessageContaining("Infinity");
        // the ggml-compatible policy encodes; the second block is finite and unaffected by the first's +inf
        MemorySegment s = MemorySegment.ofArray(new byte[288]);
        Q4_K.quantizeRow(x, 0, s, 0, 512, NonFinitePolicy.ENCODE_LIKE_GGML);
        MemorySegment second = MemorySegment.ofArray(new byte[144]);
        Q4_K.quantizeRow(java.util.Arrays.copyOfRange(x, 256, 512), 0, second, 0, 256);
        assertThat(s.asSlice(144).toArray(ValueLayout.JAVA_BYTE)).containsExactly(second.toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void rejectsTruncatedAndReadOnlyBuffers() {
        float[] x = new float[512];
        assertThatThrownBy(() -> Q4_K.quantizeRow(x, 0, new byte[287], 0, 512))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("288").hasMessageContaining("287");
        assertThatThrownBy(() -> Q6_K.quantizeRow(x, 0, new byte[420], 1, 512)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> Q6_K.dequantizeRow(new byte[419], 0, new float[512], 0, 512))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("420");
        assertThatThrownBy(() -> Q8_K.dequantizeRow(new byte[584], 0, new float[511], 0, 512))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> Q4_K.quantizeRow(x, 1, new byte[288], 0, 512)).isInstanceOf(IndexOutOfBoundsException.class);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ro = arena.allocate(584).asReadOnly();
            for (GgmlType t : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q8_K}) {
                assertThatThrownBy(() -> encode(t, x, ro)).as("%s", t).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("read-only");
            }
        }
        assertThatThrownBy(() -> GgmlOps.dot(GgmlType.Q4_K, MemorySegment.ofArray(new byte[288]), 0,
                MemorySegment.ofArray(new byte[583]), 0, 512)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("activation").hasMessageContaining("584");
        assertThatThrownBy(() -> GgmlOps.dot(GgmlType.Q6_K, MemorySegment.ofArray(new byte[419]), 0,
                MemorySegment.ofArray(new byte[584]), 0, 512)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("weight");
        assertThatThrownBy(() -> GgmlOps.gemv(GgmlType.Q4_K, MemorySegment.ofArray(new byte[3 * 288 - 1]), 0, 3, 512,
                x, 0, new float[3], 0)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("3x512");
        assertThatThrownBy(() -> GgmlOps.activationType(GgmlType.Q8_K)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Q8_K");
    }

    /** Scale underflow: Q6_K values so small that 1/iscale is below half the least fp16 subnormal store d = 0. */
    @Test
    void q6kScaleUnderflowStoresZeroScaleAndDecodesToZero() {
        float[] x = new float[256];
        for (int i = 0; i < 256; i++) {
            x[i] = (i % 5 - 2) * 0x1p-40f; // max 2^-39: sub-block scales S ≈ 2^-39/32 = 2^-44 > 1e-15, d = S/128 ≈ 2^-51
        }
        MemorySegment s = MemorySegment.ofArray(new byte[210]);
        Q6_K.quantizeRow(x, 0, s, 0, 256);
        assertThat(s.get(ScalarGgmlKernels.F16_LE, 208)).isZero();
        float[] back = new float[256];
        Q6_K.dequantizeRow(s, 0, back, 0, 256);
        for (float v : back) {
            assertThat(v == 0f).as("decoded %s", v).isTrue(); // ±0: 0·sc·(q − 32) keeps the sign of sc·(q − 32)
        }
    }
}

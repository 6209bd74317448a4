package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * QLoRA double quantization: the dynamic map from bitsandbytes' {@code create_dynamic_map} definition, the CUDA
 * nearest-code search, the mean offset, decoding, and the degenerate blocks.
 */
class DoubleQuantizedAbsmaxTest {
    private static final long SEED = 0xd0_0b1e_9aL;

    @Test
    void dynamicMapFollowsItsDefinition() {
        float[] map = DoubleQuantizedAbsmax.dynamicMap();
        assertThat(map).hasSize(256);
        for (int k = 1; k < 256; k++) {
            assertThat(map[k]).as("sorted at %d", k).isGreaterThan(map[k - 1]);
        }
        // 127 negatives, 0, 127 positives, then the appended 1.0; the negatives mirror the positives
        assertThat(map[127]).isEqualTo(0f);
        assertThat(map[255]).isEqualTo(1f);
        for (int k = 0; k < 127; k++) {
            assertThat(map[126 - k]).isEqualTo(-map[128 + k]);
        }
        // i = 0: linspace(0.1, 1, 2) = {0.1, 1}, one midpoint (0.1 + 1)/2 = 0.55, times 10^-6
        assertThat(map[128]).isEqualTo((float) 1e-6 * ((0.1f + 1f) / 2f));
        // i = 6: 64 midpoints times 1; the largest is (1 + (1 - step))/2 with step = (1 - 0.1)/64 taken from the end
        float step = (1f - 0.1f) / 64;
        assertThat(map[254]).isEqualTo((1f + (1f - step)) / 2f);
        // every exponent range i contributes 2^i positive values in (10^(i-6)·0.1, 10^(i-6)): 1, 2, 4, ..., 64
        int[] perDecade = new int[7];
        for (int k = 128; k < 255; k++) {
            int i = (int) Math.floor(Math.log10(map[k])) + 7;
            perDecade[i]++;
        }
        assertThat(perDecade).containsExactly(1, 2, 4, 8, 16, 32, 64);
    }

    @Test
    void nearestCodeIsTheCudaBinarySearch() {
        float[] map = DoubleQuantizedAbsmax.dynamicMap();
        for (int k = 0; k < 256; k++) {
            assertThat(DoubleQuantizedAbsmax.nearest(map, map[k])).as("exact value %d", k).isEqualTo(k);
        }
        assertThat(DoubleQuantizedAbsmax.nearest(map, Float.NaN)).isEqualTo(0);
        assertThat(DoubleQuantizedAbsmax.nearest(map, 2f)).isEqualTo(255);
        assertThat(DoubleQuantizedAbsmax.nearest(map, -2f)).isEqualTo(0);
        Random r = new Random(SEED);
        for (int i = 0; i < 20_000; i++) {
            float x = (float) (r.nextDouble() * 2 - 1) * (float) Math.pow(10, -r.nextInt(7));
            int q = DoubleQuantizedAbsmax.nearest(map, x);
            double d = Math.abs((double) x - map[q]);
            for (int k = 0; k < 256; k++) {
                // nearest up to the float rounding of the midpoint the kernel compares with
                assertThat(d).as("x = %s, q = %d, k = %d", x, q, k)
                        .isLessThanOrEqualTo(Math.abs((double) x - map[k]) + Math.ulp(map[k]));
            }
        }
    }

    @Test
    void quantizesAroundTheMeanAndDecodesWithinHalfAGap() {
        Random r = new Random(SEED + 1);
        float[] a = new float[700]; // two full blocks of 256 and a partial one of 188
        for (int i = 0; i < a.length; i++) {
            a[i] = 0.01f + r.nextFloat() * 0.05f;
        }
        DoubleQuantizedAbsmax dq = DoubleQuantizedAbsmax.quantize(a);
        double mean = 0;
        for (float v : a) {
            mean += v;
        }
        assertThat(dq.offset()).isEqualTo((float) (mean / a.length));
        assertThat(dq.blockAbsmax()).hasSize(3);
        assertThat(dq.count()).isEqualTo(700);
        assertThat(dq.byteSize()).isEqualTo(700 + 3 * 4 + 4);
        float[] d = dq.decode();
        float[] map = dq.map();
        for (int i = 0; i < a.length; i++) {
            int k = i / 256;
            float s = 0;
            for (int j = k * 256; j < Math.min(a.length, k * 256 + 256); j++) {
                s = Math.max(s, Math.abs(a[j] - dq.offset()));
            }
            assertThat(dq.blockAbsmax()[k]).isEqualTo(s);
            int q = dq.codes()[i] & 0xFF;
            assertThat(d[i]).isEqualTo(map[q] * s + dq.offset()).isEqualTo(dq.get(i));
            // the map's widest gap is (1 - 0.1)/64 near 1: half of it bounds the error relative to s, plus the
            // roundings of the scaled value and of the float midpoint (an ulp of 1 each, relative to s) and of
            // a − offset, map·s and + offset (an ulp of a each)
            assertThat((double) Math.abs(d[i] - a[i]))
                    .isLessThanOrEqualTo(s * (0.9 / 128 + 0x1p-22) + 3 * Math.ulp(a[i]));
        }
        DoubleQuantizedAbsmax back = DoubleQuantizedAbsmax.of(dq.codes(), dq.blockAbsmax(), dq.offset(), 256, dq.map());
        assertThat(back.decode()).containsExactly(d);
    }

    @Test
    void constantAndAllZeroAbsmaxDecodeExactly() {
        float[] c = new float[300];
        java.util.Arrays.fill(c, 0.125f);
        DoubleQuantizedAbsmax dq = DoubleQuantizedAbsmax.quantize(c);
        // every difference is 0, the block scales are 0, 0·(1/0) = NaN → code 0, decode map[0]·0 + offset = offset
        assertThat(dq.blockAbsmax()).containsExactly(0f, 0f);
        assertThat(dq.codes()).containsOnly((byte) 0);
        assertThat(dq.decode()).containsOnly(0.125f);
        DoubleQuantizedAbsmax zero = DoubleQuantizedAbsmax.quantize(new float[10]);
        assertThat(zero.decode()).containsOnly(0f);
        // an all-zero weight matrix with double quantization decodes to zeros
        Nf4 m = Nf4.encode(new float[512], 4, 128, 64, true);
        assertThat(m.isDoubleQuantized()).isTrue();
        for (float v : m.dequantize()) {
            assertThat(v).isEqualTo(0f);
        }
    }

    @Test
    void badInputIsRejected() {
        assertThatThrownBy(() -> DoubleQuantizedAbsmax.quantize(new float[] {1f, Float.NaN}))
                .hasMessageContaining("absmax[1] is NaN");
        assertThatThrownBy(() -> DoubleQuantizedAbsmax.quantize(new float[4], 0)).hasMessageContaining("got 0");
        assertThatThrownBy(() -> DoubleQuantizedAbsmax.of(new byte[300], new float[1], 0f, 256, new float[256]))
                .hasMessageContaining("need 2 block scales, got 1");
        assertThatThrownBy(() -> DoubleQuantizedAbsmax.of(new byte[3], new float[1], 0f, 256, new float[255]))
                .hasMessageContaining("256 entries, got 255");
        assertThatThrownBy(() -> DoubleQuantizedAbsmax.of(new byte[3], new float[1], Float.NaN, 256, new float[256]))
                .hasMessageContaining("offset is NaN");
    }
}

package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Byte-exact encoder vectors. Each expected block is built here from the format definition: the scale's fp16 bits
 * are worked out by hand from the float d of the reference rule, the codes by applying q = min(15, trunc(x·id + 8.5))
 * (etc.) by hand to chosen inputs, and the packing (low nibble element j, high nibble element j+16; qh bit j) from
 * ggml-common.h. Nothing here is copied from lowbit's output. Tagged simd: Q4_0/Q8_0/Q8_1 run the vector encoders.
 */
@Tag("simd")
class GgmlEncoderVectorsTest {

    /** A Q4_0/Q4_1-style nibble array from 32 codes: element j low nibble of byte j, element j+16 high nibble. */
    static byte[] nibbles(int[] q) {
        byte[] b = new byte[16];
        for (int j = 0; j < 16; j++) {
            b[j] = (byte) ((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
        }
        return b;
    }

    static byte[] le16(int bits) {
        return new byte[] {(byte) bits, (byte) (bits >>> 8)};
    }

    static byte[] cat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] r = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, r, o, p.length);
            o += p.length;
        }
        return r;
    }

    static int[] codes(int fill) {
        int[] q = new int[32];
        Arrays.fill(q, fill);
        return q;
    }

    static byte[] q4_0(float[] x) {
        byte[] out = new byte[18];
        Q4_0.quantizeRow(x, 0, out, 0, 32);
        return out;
    }

    @Test
    void q4_0AllZeroBlockStoresNegativeZeroScaleAndCode8() {
        // max stays +0, d = 0/-8 = -0 -> fp16 0x8000; id = 0; q = trunc(8.5) = 8.
        assertThat(q4_0(new float[32])).containsExactly(cat(le16(0x8000), nibbles(codes(8))));
    }

    @Test
    void q4_0ConstantBlock() {
        float[] x = new float[32];
        Arrays.fill(x, 1f);
        // max = 1, d = -0.125 (fp16 0xB000), id = -8: q = trunc(-8 + 8.5) = 0 for all.
        assertThat(q4_0(x)).containsExactly(cat(le16(0xB000), nibbles(codes(0))));
        Arrays.fill(x, -3f);
        // max = -3, d = 0.375 = 1.5·2^-2 (fp16: exp 13, mantissa 0x200 -> 0x3600), id = 1/0.375: q = trunc(-8+8.5) = 0.
        assertThat(q4_0(x)).containsExactly(cat(le16(0x3600), nibbles(codes(0))));
    }

    @Test
    void q4_0FirstOfEqualMagnitudesGivesTheSign() {
        float[] x = new float[32];
        Arrays.fill(x, 1f);
        x[3] = -4f;
        x[10] = 4f;
        // max = -4 (index 3 comes first), d = 0.5 (0x3800), id = 2: -4 -> 0, 4 -> trunc(16.5) = 16 -> 15, 1 -> 10.
        int[] q = codes(10);
        q[3] = 0;
        q[10] = 15;
        assertThat(q4_0(x)).containsExactly(cat(le16(0x3800), nibbles(q)));
        x[3] = 4f;
        x[10] = -4f;
        // max = 4, d = -0.5 (0xB800), id = -2: 4 -> 0, -4 -> 15, 1 -> trunc(6.5) = 6.
        q = codes(6);
        q[3] = 0;
        q[10] = 15;
        assertThat(q4_0(x)).containsExactly(cat(le16(0xB800), nibbles(q)));
    }

    @Test
    void q4_0TruncatesXTimesIdPlus8Point5() {
        float[] x = new float[32];
        x[0] = -8f; // max, d = 1 (0x3C00), id = 1
        float[] v = {-0.5f, 0.5f, -0.6f, 0.49f, 7.5f, 6.5f, 6.4f, -7.6f, 3.99f, -3.5f};
        int[] expect = {8, 9, 7, 8, 15, 15, 14, 0, 12, 5}; // trunc(v + 8.5), clamped to 15
        int[] q = codes(8);
        q[0] = 0;
        for (int i = 0; i < v.length; i++) {
            x[1 + i] = v[i];
            q[1 + i] = expect[i];
            x[17 + i] = -v[i]; // the high half, mirrored
            q[17 + i] = Math.min(15, (int) (-v[i] + 8.5f));
        }
        assertThat(q4_0(x)).containsExactly(cat(le16(0x3C00), nibbles(q)));
    }

    @Test
    void q4_0HugeAndSubnormalScales() {
        float[] x = new float[32];
        x[0] = 1e6f; // d = -125000 overflows fp16 -> -inf (0xFC00); id = -8e-6 finite: 1e6 -> 0, zeros -> 8
        int[] q = codes(8);
        q[0] = 0;
        assertThat(q4_0(x)).containsExactly(cat(le16(0xFC00), nibbles(q)));

        x[0] = -0x1p-17f; // d = 2^-20: an fp16 subnormal, 16·2^-24 -> 0x0010; id = 2^20
        x[1] = 3 * 0x1p-20f; // 3 + 8.5 -> 11
        x[20] = -0x1p-20f; // -1 + 8.5 -> 7
        q = codes(8);
        q[0] = 0;
        q[1] = 11;
        q[20] = 7;
        assertThat(q4_0(x)).containsExactly(cat(le16(0x0010), nibbles(q)));
    }

    @Test
    void q4_0ScaleBelowFloatRangeOfItsInverse() {
        // d = -2^-129 is a float subnormal whose inverse overflows: id = -inf, so x·id is ±inf or NaN, which the C cast
        // on x86-64 turns into 0x80000000 whose low byte is 0: every code 0. fp16(d) underflows to -0 (0x8000).
        float[] x = new float[32];
        x[0] = 0x1p-126f;
        assertThat(q4_0(x)).containsExactly(cat(le16(0x8000), nibbles(codes(0))));
        // d = 2^-149/-8 rounds to -0 in float: id = 0, all codes 8.
        x[0] = Float.MIN_VALUE;
        assertThat(q4_0(x)).containsExactly(cat(le16(0x8000), nibbles(codes(8))));
    }

    @Test
    void q8_0RoundsHalfAwayFromZero() {
        float[] x = new float[32];
        x[0] = 127f; // amax = 127, d = 1 (0x3C00), id = 1
        float[] v = {0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 0.49999997f, 126.5f, -126.5f, -127f, 3.4999998f, -0.50000006f};
        int[] expect = {1, -1, 2, 3, -3, 0, 127, -127, -127, 3, -1};
        byte[] qs = new byte[32];
        qs[0] = 127;
        for (int i = 0; i < v.length; i++) {
            x[1 + i] = v[i];
            qs[1 + i] = (byte) expect[i];
        }
        byte[] out = new byte[34];
        Q8_0.quantizeRow(x, 0, out, 0, 32);
        assertThat(out).containsExactly(cat(le16(0x3C00), qs));

        // Q8_1 adds s = fp16(sum·d): sum = 127 + 1 - 1 + 2 + 3 - 3 + 0 + 127 - 127 - 127 + 3 - 1 = 4 -> 4.0 = 0x4400.
        byte[] out1 = new byte[36];
        Q8_1.quantizeRow(x, 0, out1, 0, 32);
        assertThat(out1).containsExactly(cat(le16(0x3C00), le16(0x4400), qs));
    }

    @Test
    void q8_0ZeroAndTinyBlocks() {
        byte[] out = new byte[34];
        Q8_0.quantizeRow(new float[32], 0, out, 0, 32);
        assertThat(out).containsExactly(new byte[34]); // d = 0/127 = +0, q = 0
        float[] x = new float[32];
        x[5] = -0x1p-125f; // d = 2^-125/127 is subnormal, 1/d overflows: x86 cast gives 0 for every code
        Q8_0.quantizeRow(x, 0, out, 0, 32);
        assertThat(out).containsExactly(new byte[34]); // fp16(d) underflows to +0
    }

    @Test
    void q4_1MinMaxAndTruncation() {
        float[] x = new float[32];
        Arrays.fill(x, 3f);
        x[0] = -1f; // min
        x[1] = 14f; // max: d = 15/15 = 1 (0x3C00), m = -1 (0xBC00), id = 1
        x[2] = 0.49f; // trunc(1.49 + 0.5) = 1
        x[18] = 0.5f; // trunc(1.5 + 0.5) = 2
        int[] q = codes(4); // trunc(4 + 0.5)
        q[0] = 0;
        q[1] = 15;
        q[2] = 1;
        q[18] = 2;
        byte[] out = new byte[20];
        Q4_1.quantizeRow(x, 0, out, 0, 32);
        assertThat(out).containsExactly(cat(le16(0x3C00), le16(0xBC00), nibbles(q)));
        // constant block: d = 0, id = 0, every code trunc(0.5) = 0, m = the constant (2.5 = 0x4100)
        Arrays.fill(x, 2.5f);
        Q4_1.quantizeRow(x, 0, out, 0, 32);
        assertThat(out).containsExactly(cat(le16(0x0000), le16(0x4100), nibbles(codes(0))));
    }

    static byte[] qh(int[] q) {
        int h = 0;
        for (int j = 0; j < 32; j++) {
            h |= ((q[j] >> 4) & 1) << j;
        }
        return new byte[] {(byte) h, (byte) (h >>> 8), (byte) (h >>> 16), (byte) (h >>> 24)};
    }

    @Test
    void q5_0FifthBitsGoToQh() {
        float[] x = new float[32];
        x[0] = -16f; // max: d = 1 (0x3C00), id = 1
        float[] v = {15f, 15.5f, -1f, 0.49f, -15.6f, 14.5f};
        int[] expect = {31, 31, 15, 16, 0, 31}; // min(31, trunc(v + 16.5))
        int[] q = codes(16);
        q[0] = 0;
        for (int i = 0; i < v.length; i++) {
            x[1 + i] = v[i];
            q[1 + i] = expect[i];
            x[20 + i] = -v[i];
            q[20 + i] = Math.min(31, (int) (-v[i] + 16.5f));
        }
        byte[] out = new byte[22];
        Q5_0.quantizeRow(x, 0, out, 0, 32);
        assertThat(out).containsExactly(cat(le16(0x3C00), qh(q), nibbles(q)));
    }

    @Test
    void q5_1NoClamp() {
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) {
            x[j] = j; // min 0, max 31: d = 1, m = 0, q = trunc(j + 0.5) = j
        }
        x[7] = 6.5f; // trunc(7.0) = 7
        x[8] = 8.49f; // trunc(8.99) = 8
        int[] q = new int[32];
        for (int j = 0; j < 32; j++) {
            q[j] = j;
        }
        byte[] out = new byte[24];
        Q5_1.quantizeRow(x, 0, out, 0, 32);
        assertThat(out).containsExactly(cat(le16(0x3C00), le16(0x0000), qh(q), nibbles(q)));
    }

    @Test
    void blocksFollowEachOtherInARow() {
        float[] x = new float[64];
        Arrays.fill(x, 32, 64, 1f);
        byte[] out = new byte[36];
        Q4_0.quantizeRow(x, 0, out, 0, 64);
        assertThat(out).containsExactly(cat(le16(0x8000), nibbles(codes(8)), le16(0xB000), nibbles(codes(0))));
    }
}

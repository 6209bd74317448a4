package lowbit.tensor.ggml;

import static lowbit.tensor.ggml.GgmlEncoderVectorsTest.cat;
import static lowbit.tensor.ggml.GgmlEncoderVectorsTest.le16;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Byte-exact k-quant vectors derived by hand from ggml's definitions (see each comment): inputs are chosen so that
 * every float step of the reference search is exact or worked out here, the fp16 bits are computed by hand, and the
 * packing follows ggml-common.h / get_scale_min_k4. Nothing is copied from lowbit's output.
 */
class KQuantVectorsTest {

    @Test
    void nearestIntRoundsHalfToEvenAndKeepsItsBitTrickBeyondTheRange() {
        // f + 1.5·2^23 is rounded to an integer by the float add (ties to even); low 23 bits − 2^22 give it back.
        assertThat(KQuants.nearestInt(0.5f)).isEqualTo(0);
        assertThat(KQuants.nearestInt(1.5f)).isEqualTo(2);
        assertThat(KQuants.nearestInt(2.5f)).isEqualTo(2);
        assertThat(KQuants.nearestInt(-0.5f)).isEqualTo(0);
        assertThat(KQuants.nearestInt(-1.5f)).isEqualTo(-2);
        assertThat(KQuants.nearestInt(-2.5f)).isEqualTo(-2);
        assertThat(KQuants.nearestInt(0.49999997f)).isEqualTo(0);
        assertThat(KQuants.nearestInt(14.500001f)).isEqualTo(15);
        assertThat(KQuants.nearestInt(-0f)).isEqualTo(0);
        assertThat(KQuants.nearestInt(4194303f)).isEqualTo(4194303); // the documented limit
        assertThat(KQuants.nearestInt(-4194303f)).isEqualTo(-4194303);
        // 2^22 + 1.5·2^23 = 2^24: mantissa bits 0, so -2^22 (ggml's release build gives the same)
        assertThat(KQuants.nearestInt(4194304f)).isEqualTo(-4194304);
        // NaN + c is the NaN 0x7fc00000: mantissa 0x400000 - 0x400000 = 0; +inf has mantissa 0
        assertThat(KQuants.nearestInt(Float.NaN)).isEqualTo(0);
        assertThat(KQuants.nearestInt(Float.POSITIVE_INFINITY)).isEqualTo(-4194304);
    }

    static byte[] q4k(float[] x) {
        byte[] out = new byte[144];
        Q4_K.quantizeRow(x, 0, out, 0, 256);
        return out;
    }

    static byte[] bytes(int n, int fill) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) fill);
        return b;
    }

    static byte[] hex(String s) {
        return java.util.HexFormat.of().parseHex(s.replace(" ", ""));
    }

    @Test
    void q4kAllZeroIsAllZeroBytes() {
        // every sub-block: max == min == 0, codes 0, scale 0, min -0; S = M = 0 so sc = m = 0, d = dmin = fp16(0).
        assertThat(q4k(new float[256])).containsExactly(new byte[144]);
    }

    @Test
    void q4kConstantBlock() {
        float[] x = new float[256];
        Arrays.fill(x, 1f);
        // min clipped to 0, max 1: iscale 15, scale = 1/15f; 1/15f·15 rounds to 1, so every error is 0 and the search
        // keeps q = 15. S = 1/15f, M = 0 (the minimums are -0). 63/S = 944.99994 and 944.99994·(1/15f) = 63.0: sc = 63.
        // d = fp16(S/63 = 0.0010582011) = 1.0839844·2^-10 -> 0x1456; dmin = 0. Re-coding: 1/(d·63 = 0.066690445) = 14.99
        // -> 15. scales: bytes 0..3 = 63 | (63>>4)<<6 = 0xFF, 4..7 = 0, 8..11 = 63 & 15 = 0x0F; qs all 0xFF.
        assertThat(q4k(x)).containsExactly(cat(le16(0x1456), le16(0), hex("FFFFFFFF 00000000 0F0F0F0F"), bytes(128, 0xFF)));
    }

    @Test
    void q4kSingleSpike() {
        float[] x = new float[256];
        x[3] = 15f;
        // sub-block 0: min 0, max 15, iscale 1, scale 1, q = 15 at 3 with zero error everywhere: kept. Others all 0.
        // S = 1 -> sc_0 = 63, others 0; M = 0. d = fp16(1/63 = 0.015873017) = 1.015625·2^-6 -> 0x2410.
        // Re-coding sub-block 0: 15/(0.015869141·63 = 0.99975586) = 15.004 -> 15; sub-blocks 1..7 have d·sc = 0: kept.
        assertThat(q4k(x)).containsExactly(cat(le16(0x2410), le16(0), hex("3F000000 00000000 00000000"),
                bytes(3, 0), bytes(1, 0x0F), bytes(124, 0)));
    }

    @Test
    void q4kNegativeSpikeInAnUpperSubBlockUsesTheMinimum() {
        float[] x = new float[256];
        x[32 * 5 + 3] = -15f;
        // sub-block 5: min -15, max 0, iscale 15/15 = 1, q = x + 15: 15 for the zeros, 0 for the spike, zero error:
        // scale 1, minimum 15. S = 1, M = 15: sc_5 = 63; 63/15 = 4.2f, 4.2f·15 = 62.999996 -> m_5 = 63; others 0.
        // d = 0x2410; dmin = fp16(15/63 = 0.23809524) = 1.9042969·2^-3 -> 0x339E = 0.23803711, dmin·63 = 14.996338 =
        // 15·(d·63) exactly: zeros re-code to 15, the spike to nearest(-0.0037) = 0. j = 5 >= 4: byte 9 =
        // (63 & 15) | (63 & 15) << 4 = 0xFF, bytes 1 and 5 get (63 >> 4) << 6 = 0xC0. Sub-block 5 is the high nibble of
        // qs[64..95]: 0xF0, except qs[67] = 0x00.
        byte[] qs = new byte[128];
        Arrays.fill(qs, 64, 96, (byte) 0xF0);
        qs[67] = 0;
        assertThat(q4k(x)).containsExactly(cat(le16(0x2410), le16(0x339E), hex("00C00000 00C00000 00FF0000"), qs));
    }

    @Test
    void q4kNegativeConstantIsAllMinimum() {
        float[] x = new float[256];
        Arrays.fill(x, -1f);
        // each sub-block: max == min == -1: codes 0, scale 0, minimum 1. S = 0 -> d = 0, sc = 0; M = 1 -> m = 63,
        // dmin = fp16(1/63) = 0x2410. d·sc = 0: no re-coding. scales: bytes 0..3 = 0, 4..7 = 63 | (63 >> 4) << 6 = 0xFF,
        // 8..11 = (63 & 15) << 4 = 0xF0. Decodes to -dmin·63 = -0.99975586.
        byte[] b = q4k(x);
        assertThat(b).containsExactly(cat(le16(0), le16(0x2410), hex("00000000 FFFFFFFF F0F0F0F0"), new byte[128]));
        float[] y = new float[256];
        Q4_K.dequantizeRow(b, 0, y, 0, 256);
        float[] want = new float[256];
        Arrays.fill(want, -0.999755859375f);
        assertThat(y).containsExactly(want);
    }

    @Test
    void q4kScaleUnderflowToFp16ZeroAndSubnormal() {
        float[] x = new float[256];
        Arrays.fill(x, -0x1p-20f);
        // as the negative constant, M = 2^-20, 63/M·M = 63 exactly; M/63 = 1.51e-8 < 2^-25 (half the least fp16
        // subnormal) -> dmin = 0: the block decodes to 0 (ggml's behaviour, documented).
        byte[] b = q4k(x);
        assertThat(b).containsExactly(cat(le16(0), le16(0), hex("00000000 FFFFFFFF F0F0F0F0"), new byte[128]));
        float[] y = new float[256];
        Q4_K.dequantizeRow(b, 0, y, 0, 256);
        assertThat(y).containsOnly(0f);
        // 2^-18/63 = 6.06e-8 = 1.016·2^-24 rounds to the least subnormal 0x0001
        Arrays.fill(x, -0x1p-18f);
        assertThat(q4k(x)).containsExactly(cat(le16(0), le16(0x0001), hex("00000000 FFFFFFFF F0F0F0F0"), new byte[128]));
    }

    @Test
    void q4kScaleOverflowStoresInfinityAsGgmlDoes() {
        float[] x = new float[256];
        x[0] = 15 * 0x1p22f;
        // sub-block 0: iscale 15/(15·2^22) = 2^-22, scale 2^22, q = 15, exact. d = fp16(2^22/63 = 66576) = +inf (0x7C00).
        // Re-coding: sub-block 0 divides by inf·63 = inf -> all codes 0; the others by inf·0 = NaN, and
        // nearest_int(NaN) = 0. So every code is 0 (ggml writes the same bytes; the block decodes to NaN).
        assertThat(q4k(x)).containsExactly(cat(le16(0x7C00), le16(0), hex("3F000000 00000000 00000000"), new byte[128]));
    }
}

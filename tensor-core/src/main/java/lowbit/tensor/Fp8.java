package lowbit.tensor;

/**
 * The two 8-bit float formats of the OCP 8-bit floating point specification (Micikevicius et al., "FP8 Formats for
 * Deep Learning", arXiv:2209.05433), as PyTorch and safetensors store them: decoding to F32, which is exact.
 *
 * <p>{@link DType#F8_E4M3} (PyTorch {@code float8_e4m3fn}, safetensors {@code F8_E4M3}): sign s, 4-bit exponent e,
 * 3-bit significand m, bias 7:
 * <ul>
 *   <li>(&minus;1)<sup>s</sup> &middot; 2<sup>e&minus;7</sup> &middot; (1 + m/8) for 1 &le; e &le; 15, except</li>
 *   <li>e = 15, m = 7 (bytes 0x7F and 0xFF), which is NaN: the format has no infinities, its largest value is
 *   2<sup>8</sup> &middot; 1.75 = 448;</li>
 *   <li>(&minus;1)<sup>s</sup> &middot; 2<sup>&minus;6</sup> &middot; m/8 for e = 0 (zero and subnormals, smallest
 *   2<sup>&minus;9</sup>).</li>
 * </ul>
 *
 * <p>{@link DType#F8_E5M2} (PyTorch {@code float8_e5m2}, safetensors {@code F8_E5M2}): sign, 5-bit exponent, 2-bit
 * significand, bias 15, IEEE-style: e = 31 is &plusmn;&infin; for m = 0 and NaN otherwise, e = 0 subnormal
 * (2<sup>&minus;14</sup> &middot; m/4); largest finite 57344. It is the upper byte of an F16.
 *
 * <p>NaNs decode to the float NaN with the sign of the byte (payloads are not meaningful in 8 bits). lowbit does not
 * encode F8 (choosing among the saturating and non-saturating conversions is a quantizer's decision).
 */
public final class Fp8 {
    private Fp8() {
    }

    /** The float equal to the E4M3 ("FN") byte {@code b} (exact). */
    public static float e4m3ToFloat(byte b) {
        int s = b & 0x80;
        int e = (b >>> 3) & 0xF;
        int m = b & 0x7;
        if (e == 0xF && m == 0x7) {
            return nan(s != 0);
        }
        float mag;
        if (e == 0) {
            mag = m * 0x1p-9f; // 2^-6 · m/8
        } else {
            // normal: exponent e - 7 rebased to float's bias 127, significand m in the top 3 of 23 bits
            mag = Float.intBitsToFloat((e + 120) << 23 | m << 20);
        }
        return s != 0 ? -mag : mag;
    }

    /** The float equal to the E5M2 byte {@code b} (exact): the F16 whose upper byte is {@code b}. */
    public static float e5m2ToFloat(byte b) {
        float f = Fp16.toFloat((short) (b << 8));
        return f != f ? nan((b & 0x80) != 0) : f;
    }

    private static float nan(boolean negative) {
        return Float.intBitsToFloat(negative ? 0xFFC0_0000 : 0x7FC0_0000);
    }
}

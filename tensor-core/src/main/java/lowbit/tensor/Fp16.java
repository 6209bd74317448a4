package lowbit.tensor;

import java.lang.foreign.MemorySegment;
import lowbit.tensor.simd.HalfKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * F16, the IEEE 754 binary16 format: conversions to and from F32, one value at a time or in bulk through the
 * {@linkplain VectorizationProvider chosen} {@link HalfKernels}.
 *
 * <p>A half with sign s, 5-bit exponent e and 10-bit significand m has the value
 * <ul>
 *   <li>(&minus;1)<sup>s</sup> &middot; 2<sup>e&minus;15</sup> &middot; (1 + m/1024) for 1 &le; e &le; 30 (normal),</li>
 *   <li>(&minus;1)<sup>s</sup> &middot; 2<sup>&minus;14</sup> &middot; m/1024 for e = 0 (zero and subnormals),</li>
 *   <li>(&minus;1)<sup>s</sup> &middot; &infin; for e = 31, m = 0, and NaN for e = 31, m &ne; 0.</li>
 * </ul>
 * Every half is exactly representable as a float, so {@link #toFloat(short)} is exact. {@link #fromFloat(float)}
 * rounds to the nearest half, ties to the one with an even significand: magnitudes of 65520 (the midpoint between
 * the largest half, 65504, and 2<sup>16</sup>) and above become &plusmn;&infin;, magnitudes of 2<sup>&minus;25</sup>
 * (half the smallest subnormal) and below become &plusmn;0; the sign of zero is kept.
 *
 * <p>NaNs, identically on every platform: F16&rarr;F32 keeps the sign, puts the 10 payload bits at the top of the
 * float significand and sets the quiet bit ({@code s<<31 | 0x7FC00000 | m<<13}); F32&rarr;F16 keeps the sign and
 * the top 10 significand bits and sets the quiet bit ({@code s<<15 | 0x7E00 | (bits>>>13 & 0x3FF)}). These are the
 * results of the x86 F16C and AArch64 FCVT instructions, which HotSpot uses for {@link Float#float16ToFloat(short)}
 * and {@link Float#floatToFloat16(float)} where it intrinsifies them; the JDK's portable Java code instead keeps a
 * signalling NaN signalling, so lowbit applies the rule itself.
 *
 * <p>Bulk methods validate their ranges ({@link IndexOutOfBoundsException} naming the argument and range) and that an
 * output segment is writable ({@link IllegalArgumentException}); segments hold little-endian 16-bit values and their
 * offsets count elements. Source and destination must not overlap.
 */
public final class Fp16 {
    private Fp16() {
    }

    /** The float equal to the half with bits {@code h} (exact; NaN as described in the class comment). */
    public static float toFloat(short h) {
        float f = Float.float16ToFloat(h);
        if (f != f) { // only the NaN case can differ between HotSpot's intrinsic and its Java fallback
            return Float.intBitsToFloat(Float.floatToRawIntBits(f) | 0x0040_0000);
        }
        return f;
    }

    /** The bits of the half nearest to {@code f}, ties to even (NaN as described in the class comment). */
    public static short fromFloat(float f) {
        if (f != f) {
            int x = Float.floatToRawIntBits(f);
            return (short) ((x >>> 16 & 0x8000) | 0x7E00 | (x >>> 13 & 0x3FF));
        }
        return Float.floatToFloat16(f);
    }

    /** dst[dstOff+i] = {@link #toFloat(short) toFloat}(src[srcOff+i]) for i &lt; n. */
    public static void toFloats(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        HalfArgs.checkRange("Fp16.toFloats", "src", srcOff, n, src.length);
        HalfArgs.checkRange("Fp16.toFloats", "dst", dstOff, n, dst.length);
        kernels().f16ToF32(src, srcOff, dst, dstOff, n);
    }

    /** The floats equal to all the halves in {@code src}. */
    public static float[] toFloats(short[] src) {
        float[] dst = new float[src.length];
        kernels().f16ToF32(src, 0, dst, 0, src.length);
        return dst;
    }

    /** dst[dstOff+i] = {@link #fromFloat(float) fromFloat}(src[srcOff+i]) for i &lt; n. */
    public static void fromFloats(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        HalfArgs.checkRange("Fp16.fromFloats", "src", srcOff, n, src.length);
        HalfArgs.checkRange("Fp16.fromFloats", "dst", dstOff, n, dst.length);
        kernels().f32ToF16(src, srcOff, dst, dstOff, n);
    }

    /** The halves nearest to all the floats in {@code src}. */
    public static short[] fromFloats(float[] src) {
        short[] dst = new short[src.length];
        kernels().f32ToF16(src, 0, dst, 0, src.length);
        return dst;
    }

    /** Segment form of {@link #toFloats(short[], int, float[], int, int)}: src holds little-endian halves. */
    public static void toFloats(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        HalfArgs.checkRange("Fp16.toFloats", "src", srcOff, n, src);
        HalfArgs.checkRange("Fp16.toFloats", "dst", dstOff, n, dst.length);
        kernels().f16ToF32(src, srcOff, dst, dstOff, n);
    }

    /** Segment form of {@link #fromFloats(float[], int, short[], int, int)}: writes little-endian halves. */
    public static void fromFloats(float[] src, int srcOff, MemorySegment dst, long dstOff, int n) {
        HalfArgs.checkRange("Fp16.fromFloats", "src", srcOff, n, src.length);
        HalfArgs.checkRange("Fp16.fromFloats", "dst", dstOff, n, dst);
        HalfArgs.checkWritable("Fp16.fromFloats", "dst", dst);
        kernels().f32ToF16(src, srcOff, dst, dstOff, n);
    }

    private static HalfKernels kernels() {
        return VectorizationProvider.get().halves();
    }
}

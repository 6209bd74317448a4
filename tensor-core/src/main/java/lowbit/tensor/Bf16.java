package lowbit.tensor;

import java.lang.foreign.MemorySegment;
import lowbit.tensor.simd.HalfKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * BF16 (bfloat16): the upper 16 bits of an IEEE binary32 (1 sign, 8 exponent, 7 significand bits), so it has the
 * range of F32 with 8 bits of precision. Conversions to and from F32, one value at a time or in bulk through the
 * {@linkplain VectorizationProvider chosen} {@link HalfKernels}.
 *
 * <p>BF16&rarr;F32 is exact: {@code floatBits = b << 16}. F32&rarr;BF16 rounds to the nearest bfloat16, ties to
 * the one whose last significand bit is 0: with x the float's bits,
 * {@code b = (x + 0x7FFF + ((x >>> 16) & 1)) >>> 16}. Because the float bit patterns of one sign are ordered like
 * their magnitudes, this is exact rounding for zeros, subnormals and normals alike, and floats at or above the
 * midpoint between the largest bfloat16 (0x7F7F) and 2<sup>128</sup> become &plusmn;&infin;. A NaN never takes
 * that path (it could carry into &infin;): it keeps its sign and top 7 payload bits and is made quiet,
 * {@code b = (x >>> 16) | 0x0040}.
 *
 * <p>Bulk methods validate their ranges ({@link IndexOutOfBoundsException} naming the argument and range) and that an
 * output segment is writable ({@link IllegalArgumentException}); segments hold little-endian 16-bit values and their
 * offsets count elements. Source and destination must not overlap.
 */
public final class Bf16 {
    private Bf16() {
    }

    /** The float whose upper 16 bits are {@code b} and lower 16 bits zero (exact; a NaN stays as it is). */
    public static float toFloat(short b) {
        return Float.intBitsToFloat(b << 16);
    }

    /** The bits of the bfloat16 nearest to {@code f}, ties to even; a NaN becomes a quiet NaN of the same sign. */
    public static short fromFloat(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) (x >>> 16 | 0x0040);
        }
        return (short) ((x + 0x7FFF + (x >>> 16 & 1)) >>> 16);
    }

    /** dst[dstOff+i] = {@link #toFloat(short) toFloat}(src[srcOff+i]) for i &lt; n. */
    public static void toFloats(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        HalfArgs.checkRange("Bf16.toFloats", "src", srcOff, n, src.length);
        HalfArgs.checkRange("Bf16.toFloats", "dst", dstOff, n, dst.length);
        kernels().bf16ToF32(src, srcOff, dst, dstOff, n);
    }

    /** The floats equal to all the bfloat16 values in {@code src}. */
    public static float[] toFloats(short[] src) {
        float[] dst = new float[src.length];
        kernels().bf16ToF32(src, 0, dst, 0, src.length);
        return dst;
    }

    /** dst[dstOff+i] = {@link #fromFloat(float) fromFloat}(src[srcOff+i]) for i &lt; n. */
    public static void fromFloats(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        HalfArgs.checkRange("Bf16.fromFloats", "src", srcOff, n, src.length);
        HalfArgs.checkRange("Bf16.fromFloats", "dst", dstOff, n, dst.length);
        kernels().f32ToBf16(src, srcOff, dst, dstOff, n);
    }

    /** The bfloat16 values nearest to all the floats in {@code src}. */
    public static short[] fromFloats(float[] src) {
        short[] dst = new short[src.length];
        kernels().f32ToBf16(src, 0, dst, 0, src.length);
        return dst;
    }

    /** Segment form of {@link #toFloats(short[], int, float[], int, int)}: src holds little-endian bfloat16 values. */
    public static void toFloats(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        HalfArgs.checkRange("Bf16.toFloats", "src", srcOff, n, src);
        HalfArgs.checkRange("Bf16.toFloats", "dst", dstOff, n, dst.length);
        kernels().bf16ToF32(src, srcOff, dst, dstOff, n);
    }

    /** Segment form of {@link #fromFloats(float[], int, short[], int, int)}: writes little-endian bfloat16 values. */
    public static void fromFloats(float[] src, int srcOff, MemorySegment dst, long dstOff, int n) {
        HalfArgs.checkRange("Bf16.fromFloats", "src", srcOff, n, src.length);
        HalfArgs.checkRange("Bf16.fromFloats", "dst", dstOff, n, dst);
        HalfArgs.checkWritable("Bf16.fromFloats", "dst", dst);
        kernels().f32ToBf16(src, srcOff, dst, dstOff, n);
    }

    private static HalfKernels kernels() {
        return VectorizationProvider.get().halves();
    }
}

package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Bulk conversions between F32 and the two 16-bit float storage types, F16 (IEEE binary16) and BF16 (bfloat16),
 * over arrays and over little-endian 16-bit {@link MemorySegment}s. Offsets and counts are in elements (not bytes).
 *
 * <p>Every implementation produces, for every input bit pattern, exactly the bits of the element conversions
 * {@link lowbit.tensor.Fp16#toFloat(short)}, {@link lowbit.tensor.Fp16#fromFloat(float)},
 * {@link lowbit.tensor.Bf16#toFloat(short)} and {@link lowbit.tensor.Bf16#fromFloat(float)}, which define the
 * rounding (nearest, ties to even) and the NaN rules. Implementations trust their arguments: {@link lowbit.tensor.Fp16}
 * and {@link lowbit.tensor.Bf16} are the validated public entry points. Source and destination must not overlap.
 */
public interface HalfKernels {
    /** dst[dstOff+i] = F16→F32(src[srcOff+i]) for i in [0, n). */
    void f16ToF32(short[] src, int srcOff, float[] dst, int dstOff, int n);

    /** dst[dstOff+i] = F32→F16(src[srcOff+i]) for i in [0, n), rounding to nearest even. */
    void f32ToF16(float[] src, int srcOff, short[] dst, int dstOff, int n);

    /** dst[dstOff+i] = BF16→F32(src[srcOff+i]) for i in [0, n). */
    void bf16ToF32(short[] src, int srcOff, float[] dst, int dstOff, int n);

    /** dst[dstOff+i] = F32→BF16(src[srcOff+i]) for i in [0, n), rounding to nearest even. */
    void f32ToBf16(float[] src, int srcOff, short[] dst, int dstOff, int n);

    /** Segment form of {@link #f16ToF32(short[], int, float[], int, int)}: reads little-endian F16 element srcOff+i. */
    void f16ToF32(MemorySegment src, long srcOff, float[] dst, int dstOff, int n);

    /** Segment form of {@link #f32ToF16(float[], int, short[], int, int)}: writes little-endian F16 element dstOff+i. */
    void f32ToF16(float[] src, int srcOff, MemorySegment dst, long dstOff, int n);

    /** Segment form of {@link #bf16ToF32(short[], int, float[], int, int)}: reads little-endian BF16 element srcOff+i. */
    void bf16ToF32(MemorySegment src, long srcOff, float[] dst, int dstOff, int n);

    /** Segment form of {@link #f32ToBf16(float[], int, short[], int, int)}: writes little-endian BF16 element dstOff+i. */
    void f32ToBf16(float[] src, int srcOff, MemorySegment dst, long dstOff, int n);
}

package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import lowbit.tensor.Bf16;
import lowbit.tensor.Fp16;

/**
 * The scalar reference for {@link HalfKernels}: one plain loop per method over the element conversions of
 * {@link Fp16} and {@link Bf16}. It is the fallback implementation and the twin every SIMD kernel is tested against.
 */
public final class ScalarHalfKernels implements HalfKernels {
    /** Little-endian, unaligned 16-bit element: how lowbit stores F16 and BF16 values in segments. */
    public static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Creates the scalar kernels (stateless). */
    public ScalarHalfKernels() {
    }

    @Override
    public void f16ToF32(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = Fp16.toFloat(src[srcOff + i]);
        }
    }

    @Override
    public void f32ToF16(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = Fp16.fromFloat(src[srcOff + i]);
        }
    }

    @Override
    public void bf16ToF32(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = Bf16.toFloat(src[srcOff + i]);
        }
    }

    @Override
    public void f32ToBf16(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = Bf16.fromFloat(src[srcOff + i]);
        }
    }

    @Override
    public void f16ToF32(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = Fp16.toFloat(src.getAtIndex(I16_LE, srcOff + i));
        }
    }

    @Override
    public void f32ToF16(float[] src, int srcOff, MemorySegment dst, long dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst.setAtIndex(I16_LE, dstOff + i, Fp16.fromFloat(src[srcOff + i]));
        }
    }

    @Override
    public void bf16ToF32(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = Bf16.toFloat(src.getAtIndex(I16_LE, srcOff + i));
        }
    }

    @Override
    public void f32ToBf16(float[] src, int srcOff, MemorySegment dst, long dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst.setAtIndex(I16_LE, dstOff + i, Bf16.fromFloat(src[srcOff + i]));
        }
    }
}

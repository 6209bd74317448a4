package lowbit.tensor.simd.panama;

import static jdk.incubator.vector.VectorOperators.GE;
import static jdk.incubator.vector.VectorOperators.GT;
import static jdk.incubator.vector.VectorOperators.I2S;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.LT;
import static jdk.incubator.vector.VectorOperators.OR;
import static jdk.incubator.vector.VectorOperators.S2I;
import static lowbit.tensor.simd.ScalarHalfKernels.I16_LE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.Bf16;
import lowbit.tensor.Fp16;
import lowbit.tensor.simd.HalfKernels;

/**
 * Vector API F16/BF16 conversions. JDK 25's Vector API has no half-float lane type or conversion operator
 * ({@code jdk.incubator.vector.Float16} is a scalar class), so the kernels work on the bits: a vector of shorts at half
 * the chosen width is widened to one vector of ints (one lane per element), converted with integer and float lane
 * operations, and narrowed back. Results are bit-identical to {@link Fp16} and {@link Bf16}, which do the tails.
 */
final class PanamaHalfKernels implements HalfKernels {
    private static final VectorSpecies<Integer> I = Species.I;
    /** Shorts at half the chosen width: as many lanes as {@link #I}. */
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(Species.BITS / 2));
    private static final int L = I.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    // ---- one vector of elements ----

    /** F16 bits (sign-extended into int lanes) to F32; see {@link Fp16#toFloat(short)}. */
    private static FloatVector f16ToF32(ShortVector halves) {
        IntVector h = (IntVector) halves.convertShape(S2I, I, 0);
        IntVector em = h.and(0x7FFF);
        // Normal: move exponent and significand into place and rebias the exponent from 15 to 127 (+112 << 23).
        IntVector bits = em.lanewise(LSHL, 13).add(0x3800_0000);
        // Exponent 31 (Inf/NaN): rebias once more to reach 255; NaN: set the quiet bit.
        bits = bits.add(0x3800_0000, em.compare(GE, 0x7C00));
        bits = bits.lanewise(OR, 0x0040_0000, em.compare(GT, 0x7C00));
        // Zero and subnormals, em·2^-24: 0.5f + em·2^-24 has exactly the bits 0x3F000000 | em; subtracting 0.5f is exact.
        IntVector small = em.or(0x3F00_0000).reinterpretAsFloats().sub(0.5f).reinterpretAsInts();
        bits = bits.blend(small, em.compare(LT, 0x0400));
        return bits.or(h.and(0x8000).lanewise(LSHL, 16)).reinterpretAsFloats();
    }

    /** F32 to F16 bits, nearest even; see {@link Fp16#fromFloat(float)}. */
    private static ShortVector f32ToF16(FloatVector f) {
        IntVector x = f.reinterpretAsInts();
        IntVector a = x.and(0x7FFF_FFFF);
        // Normal halves: rebias the exponent (-112 << 23) and round away the low 13 bits, ties to even; a carry out of
        // the significand correctly bumps the exponent.
        IntVector h = a.add(a.lanewise(LSHR, 13).and(1)).add(0x0FFF - 0x3800_0000).lanewise(LSHR, 13);
        // Below 2^-14 (subnormal halves, zero): the float sum |f| + 0.5 is rounded by the FPU, nearest even, to a
        // multiple of 2^-24 in [0.5, 1], whose low bits are then the half's subnormal significand (1024 = min normal).
        IntVector sub = f.abs().add(0.5f).reinterpretAsInts().sub(0x3F00_0000);
        h = h.blend(sub, a.compare(LT, 0x3880_0000));
        // At or above 65520 (incl. Inf): rounds to Inf.
        h = h.blend(IntVector.broadcast(I, 0x7C00), a.compare(GE, 0x477F_F000));
        // NaN: quiet, keep the top 10 significand bits.
        h = h.blend(a.lanewise(LSHR, 13).and(0x3FF).or(0x7E00), a.compare(GT, 0x7F80_0000));
        h = h.or(x.lanewise(LSHR, 16).and(0x8000));
        return (ShortVector) h.convertShape(I2S, H, 0);
    }

    /** BF16 bits to F32: the bits become the upper half of the float. */
    private static FloatVector bf16ToF32(ShortVector b) {
        return ((IntVector) b.convertShape(S2I, I, 0)).lanewise(LSHL, 16).reinterpretAsFloats();
    }

    /** F32 to BF16 bits, nearest even; see {@link Bf16#fromFloat(float)}. */
    private static ShortVector f32ToBf16(FloatVector f) {
        IntVector x = f.reinterpretAsInts();
        IntVector hi = x.lanewise(LSHR, 16);
        IntVector b = x.add(hi.and(1)).add(0x7FFF).lanewise(LSHR, 16);
        b = b.blend(hi.or(0x0040), x.and(0x7FFF_FFFF).compare(GT, 0x7F80_0000));
        return (ShortVector) b.convertShape(I2S, H, 0);
    }

    // ---- arrays ----

    @Override
    public void f16ToF32(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = I.loopBound(n); i < bound; i += L) {
            f16ToF32(ShortVector.fromArray(H, src, srcOff + i)).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = Fp16.toFloat(src[srcOff + i]);
        }
    }

    @Override
    public void f32ToF16(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = I.loopBound(n); i < bound; i += L) {
            f32ToF16(FloatVector.fromArray(Species.F, src, srcOff + i)).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = Fp16.fromFloat(src[srcOff + i]);
        }
    }

    @Override
    public void bf16ToF32(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = I.loopBound(n); i < bound; i += L) {
            bf16ToF32(ShortVector.fromArray(H, src, srcOff + i)).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = Bf16.toFloat(src[srcOff + i]);
        }
    }

    @Override
    public void f32ToBf16(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = I.loopBound(n); i < bound; i += L) {
            f32ToBf16(FloatVector.fromArray(Species.F, src, srcOff + i)).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = Bf16.fromFloat(src[srcOff + i]);
        }
    }

    // ---- little-endian 16-bit segments; offsets in elements ----

    private static ShortVector load(MemorySegment s, long index) {
        return ShortVector.fromMemorySegment(H, s, index * Short.BYTES, LE);
    }

    @Override
    public void f16ToF32(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = I.loopBound(n); i < bound; i += L) {
            f16ToF32(load(src, srcOff + i)).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = Fp16.toFloat(src.getAtIndex(I16_LE, srcOff + i));
        }
    }

    @Override
    public void f32ToF16(float[] src, int srcOff, MemorySegment dst, long dstOff, int n) {
        int i = 0;
        for (int bound = I.loopBound(n); i < bound; i += L) {
            f32ToF16(FloatVector.fromArray(Species.F, src, srcOff + i)).intoMemorySegment(dst, (dstOff + i) * Short.BYTES, LE);
        }
        for (; i < n; i++) {
            dst.setAtIndex(I16_LE, dstOff + i, Fp16.fromFloat(src[srcOff + i]));
        }
    }

    @Override
    public void bf16ToF32(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = I.loopBound(n); i < bound; i += L) {
            bf16ToF32(load(src, srcOff + i)).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = Bf16.toFloat(src.getAtIndex(I16_LE, srcOff + i));
        }
    }

    @Override
    public void f32ToBf16(float[] src, int srcOff, MemorySegment dst, long dstOff, int n) {
        int i = 0;
        for (int bound = I.loopBound(n); i < bound; i += L) {
            f32ToBf16(FloatVector.fromArray(Species.F, src, srcOff + i)).intoMemorySegment(dst, (dstOff + i) * Short.BYTES, LE);
        }
        for (; i < n; i++) {
            dst.setAtIndex(I16_LE, dstOff + i, Bf16.fromFloat(src[srcOff + i]));
        }
    }
}

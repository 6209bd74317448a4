package lowbit.tensor.simd.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * In-register widening of F16 and BF16 lanes to F32, used by the dense kernels so that half-precision weights are
 * converted inside the loop that consumes them. A {@link ShortVector} of {@link #H} (half the float width, same lane
 * count as {@link Species#F}) becomes one {@link FloatVector}.
 *
 * <p>F16: the sign and the exponent-and-mantissa bits shifted left by 13 are read as a float and multiplied by
 * 2^112, which re-biases the exponent (15 → 127) for normal numbers and is exact for subnormal halves too (they
 * become float subnormals scaled by a power of two into the normal range); infinities and NaNs, recognised by a
 * result of magnitude &ge; 2^16, get the all-ones float exponent with sign and mantissa kept. The result equals
 * {@link Float#float16ToFloat} bit for bit for every non-NaN input, and is a NaN for every NaN input. BF16 is the
 * upper half of an F32: {@code bits << 16}.
 *
 * <p>(Kept local to the dense kernels; the bulk conversion kernels of the F16/BF16 work can share it later.)
 */
final class HalfLanes {
    private HalfLanes() {
    }

    /** Shorts with as many lanes as {@link Species#F} has floats. */
    static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(Species.BITS / 2));
    private static final VectorSpecies<Integer> I = Species.I;

    // Each helper stays under HotSpot's MaxInlineSize (35 bytecodes) so C2 inlines it at any call site, and the
    // sequence is kept short (8 vector operations): when the GEMV loop around it grew too large, C2 hit its
    // inlining node limit, left vector intrinsics unexpanded and boxed every vector (F16 GEMV ran 5x slower).
    private static final FloatVector TWO_112 = FloatVector.broadcast(Species.F, 0x1p112f);
    /** Bit 31 and bits 13..27: the sign and the exponent-and-mantissa of a half widened and shifted left by 13. */
    static final IntVector SIGN_EM = IntVector.broadcast(I, 0x8FFF_E000);
    private static final IntVector EXP_MASK = IntVector.broadcast(I, 0x7f80_0000);
    /** 2^16 in every lane: compared with a vector constant, not a scalar, which costs fewer of C2's inlining nodes. */
    private static final FloatVector TWO_16 = FloatVector.broadcast(Species.F, 0x1p16f);

    /** IEEE binary16 bits to floats. */
    static FloatVector f16(ShortVector h) {
        return specials(TWO_112.mul(signAndMagnitude(h)));
    }

    /** 2^112: {@link #f16Unbiased} times this is {@link #f16} for every finite half. */
    static final float UNBIAS = 0x1p112f;
    /** The 15 exponent-and-mantissa bits of a half. */
    static final short MAGNITUDE = 0x7FFF;
    /** Magnitude bits at or above this: exponent 31, an infinity or a NaN. */
    static final short SPECIAL = 0x7C00;

    /**
     * Finite IEEE binary16 bits to floats divided by 2^112, exactly (subnormal halves become float subnormals, which
     * still hold all their bits): three operations instead of {@link #f16}'s eight. A product {@code f·(c·2^112)} is
     * then the correctly rounded value·c, the same bits as {@code f16(h)·c} when c·2^112 is finite. Infinity and NaN
     * halves come out as finite garbage: callers rule out exponent 31 first (the F16 GEMV per row, the interleaved
     * ggml GEMVs once per matrix).
     */
    static FloatVector f16Unbiased(ShortVector h) {
        return signAndMagnitude(h);
    }

    /**
     * Finite IEEE binary16 bits to floats: {@link #f16} without its infinity/NaN step (four operations instead of
     * eight), the same bits for every finite half. For kernels that test {@link #special} first and call a method of
     * their own that takes {@link #f16} when it holds (C2 then leaves that call out of line and the kernel stays
     * within its inlining budget).
     */
    static FloatVector f16Finite(ShortVector h) {
        return TWO_112.mul(signAndMagnitude(h));
    }

    private static final ShortVector MAGNITUDES = ShortVector.broadcast(H, MAGNITUDE);
    private static final ShortVector SPECIALS = ShortVector.broadcast(H, SPECIAL);

    /** Whether a lane of {@code a} or {@code b} is an infinity or NaN half (exponent 31). */
    static boolean special(ShortVector a, ShortVector b) {
        return a.and(MAGNITUDES).max(b.and(MAGNITUDES)).compare(VectorOperators.GE, SPECIALS).anyTrue();
    }

    /** bfloat16 bits to floats. */
    static FloatVector bf16(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /**
     * Sign-extended half shifted left by 13: bits 13..27 hold exponent and mantissa, bits 28..31 copies of the sign;
     * keeping bit 31 and bits 13..27 gives a float of the half's sign and of magnitude value·2^-112.
     */
    private static FloatVector signAndMagnitude(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                .and(SIGN_EM).reinterpretAsFloats();
    }

    /**
     * Infinity and NaN halves (exponent 31) came out as ±2^16·(1 + m/1024), the only results with magnitude
     * &ge; 2^16 (the largest finite half is 65504): give them the all-ones exponent, keeping sign and mantissa.
     */
    private static FloatVector specials(FloatVector f) {
        return f.blend(f.reinterpretAsInts().or(EXP_MASK).reinterpretAsFloats(), f.abs().compare(VectorOperators.GE, TWO_16));
    }

    /** Widens {@code n} halves (n a multiple of the lane count) from {@code src} into {@code dst}: for tests. */
    static void widen(short[] src, boolean bf16, float[] dst, int n) {
        for (int i = 0; i < n; i += H.length()) {
            ShortVector h = ShortVector.fromArray(H, src, i);
            (bf16 ? bf16(h) : f16(h)).intoArray(dst, i);
        }
    }
}

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
 * <p>F16: the exponent and mantissa bits {@code em} shifted left by 13 are read as a float and multiplied by 2^112,
 * which re-biases the exponent (15 → 127) for normal numbers and is exact for subnormal halves too (they become
 * float subnormals scaled by a power of two into the normal range); {@code em ≥ 0x7c00} (infinity, NaN), detected as bit 15
 * of {@code em + 0x400}, gets the all-ones float exponent with the mantissa kept; the sign is bit 31 of the sign-extended short. The result equals
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

    // Each helper stays under HotSpot's MaxInlineSize (35 bytecodes), so C2 inlines it at any call site. And every
    // value whose static type is the abstract IntVector/FloatVector (results of convertShape and reinterpret) is
    // first combined with a constant vector as the receiver: the constant's exact class (e.g. Int512Vector) lets C2
    // bind and intrinsify the call even when the JDK's shared type profiles are polluted by other shapes. Without
    // this the F16 GEMV ran 5x slower than BF16 (vectors boxed, operations called virtually).
    private static final IntVector ZERO_I = IntVector.zero(I);
    private static final FloatVector TWO_112 = FloatVector.broadcast(Species.F, 0x1p112f);

    /** IEEE binary16 bits to floats. */
    static FloatVector f16(ShortVector h) {
        IntVector i = widen(h);
        return assemble(i, i.and(0x7fff));
    }

    /** bfloat16 bits to floats. */
    static FloatVector bf16(ShortVector h) {
        return widen(h).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** Sign-extends the shorts to ints (of exact vector class). */
    private static IntVector widen(ShortVector h) {
        return ZERO_I.or((IntVector) h.convertShape(VectorOperators.S2I, I, 0));
    }

    /** The float from the sign-extended half {@code i} and its exponent-and-mantissa bits {@code em}. */
    private static FloatVector assemble(IntVector i, IntVector em) {
        return normal(em).or(special(em)).or(i.and(0x8000_0000)).reinterpretAsFloats();
    }

    /** Float bits of {@code em·2^13} read as a float times 2^112: the value of a finite half (sign aside). */
    private static IntVector normal(IntVector em) {
        return ZERO_I.or(TWO_112.mul(em.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats()).reinterpretAsInts());
    }

    /**
     * 0x7f800000 where {@code em ≥ 0x7c00} (infinity or NaN: bit 15 of em + 0x400 is set, spread to all bits),
     * else 0; or-ed into {@link #normal}, whose exponent there is 31 + 112 = 0x8f, it makes the exponent all ones.
     */
    private static IntVector special(IntVector em) {
        return em.add(0x400).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 31).and(0x7f80_0000);
    }

    /** Widens {@code n} halves (n a multiple of the lane count) from {@code src} into {@code dst}: for tests. */
    static void widen(short[] src, boolean bf16, float[] dst, int n) {
        for (int i = 0; i < n; i += H.length()) {
            ShortVector h = ShortVector.fromArray(H, src, i);
            (bf16 ? bf16(h) : f16(h)).intoArray(dst, i);
        }
    }
}

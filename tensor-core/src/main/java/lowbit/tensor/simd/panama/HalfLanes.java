package lowbit.tensor.simd.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
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
 * float subnormals scaled by a power of two into the normal range); {@code em ≥ 0x7c00} (infinity, NaN) gets the
 * all-ones float exponent with the mantissa kept; the sign is bit 31 of the sign-extended short. The result equals
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

    /** IEEE binary16 bits to floats. */
    static FloatVector f16(ShortVector h) {
        IntVector i = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        IntVector em = i.and(0x7fff);
        IntVector shifted = em.lanewise(VectorOperators.LSHL, 13);
        IntVector normal = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = em.compare(VectorOperators.GE, 0x7c00);
        IntVector bits = normal.blend(shifted.or(0x7f80_0000), special).or(i.and(0x8000_0000));
        return bits.reinterpretAsFloats();
    }

    /** bfloat16 bits to floats. */
    static FloatVector bf16(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /** Widens {@code n} halves (n a multiple of the lane count) from {@code src} into {@code dst}: for tests. */
    static void widen(short[] src, boolean bf16, float[] dst, int n) {
        for (int i = 0; i < n; i += H.length()) {
            ShortVector h = ShortVector.fromArray(H, src, i);
            (bf16 ? bf16(h) : f16(h)).intoArray(dst, i);
        }
    }
}

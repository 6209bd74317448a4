package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarGgmlKernels.F16_LE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;

/**
 * Vector API versions of ggml's reference encoders (Q4_0, Q8_0, Q8_1, and Q8_0 into the pair activation form),
 * byte-identical to {@link ScalarGgmlKernels}.
 *
 * <p>max|x| is taken on the integer bits of |x| ({@code bits & 0x7FFFFFFF}): for non-negative floats the integer
 * order is the float order, and an integer max (one {@code vpmaxsd}, and a cheap integer lane reduction) avoids the
 * NaN and signed-zero fix-ups that Java's float max needs. A block whose max bits reach the exponent of &infin; (a NaN
 * or an infinity somewhere) or whose inverse scale overflows goes to the scalar reference, so the bytes stay
 * identical in every case. Codes are scaled, rounded and narrowed in lanes (F2I, then I2B or I2S), 16 codes per store.
 */
final class PanamaGgmlEncoders {
    private PanamaGgmlEncoders() {
    }

    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final int FL = F.length();
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    /** Float vectors per 16 codes. */
    private static final int PER16 = 16 / FL;
    /** Shorts with as many lanes as F (half width). */
    private static final VectorSpecies<Short> SH = HalfLanes.H;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int ABS = 0x7FFF_FFFF;
    private static final int INF_BITS = 0x7F80_0000;
    private static final int PAIR_INTS = GgmlKernels.PAIR_INTS;

    /** max over the block of |x| as float bits (a NaN gives bits above {@link #INF_BITS}). */
    private static int amaxBits(float[] x, int xo) {
        IntVector m = FloatVector.fromArray(F, x, xo).reinterpretAsInts().and(ABS);
        for (int j = FL; j < 32; j += FL) {
            m = m.max(FloatVector.fromArray(F, x, xo + j).reinterpretAsInts().and(ABS));
        }
        return m.reduceLanes(VectorOperators.MAX);
    }

    static void q4_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            int xo = xOff + 32 * b;
            long off = dstOff + 18L * b;
            int ab = amaxBits(x, xo);
            if (ab >= INF_BITS) {
                ScalarGgmlKernels.quantizeBlockQ4_0(x, xo, dst, off);
                continue;
            }
            float max = 0f; // the reference keeps +0 when every |x| is 0
            if (ab != 0) {
                for (int j = 0; j < 32; j += FL) {
                    VectorMask<Integer> eq = FloatVector.fromArray(F, x, xo + j).reinterpretAsInts().and(ABS)
                            .compare(VectorOperators.EQ, ab);
                    if (eq.anyTrue()) {
                        max = x[xo + j + eq.firstTrue()]; // the first of equal magnitudes, as the reference's strict '<'
                        break;
                    }
                }
            }
            float d = max / -8f;
            float id = d != 0f ? 1f / d : 0f;
            if (Float.isInfinite(id)) {
                ScalarGgmlKernels.quantizeBlockQ4_0(x, xo, dst, off);
                continue;
            }
            dst.set(F16_LE, off, Float.floatToFloat16(d));
            ByteVector out = ByteVector.zero(B16);
            for (int p = 0; p < PER16; p++) {
                // x·id + 8.5 lies in [0, 16.5] here, so the truncating F2I is C's cast.
                IntVector q0 = (IntVector) FloatVector.fromArray(F, x, xo + p * FL).mul(id).add(8.5f)
                        .convert(VectorOperators.F2I, 0);
                IntVector q1 = (IntVector) FloatVector.fromArray(F, x, xo + 16 + p * FL).mul(id).add(8.5f)
                        .convert(VectorOperators.F2I, 0);
                IntVector packed = q0.min(15).or(q1.min(15).lanewise(VectorOperators.LSHL, 4));
                out = out.or((ByteVector) packed.convertShape(VectorOperators.I2B, B16, -p));
            }
            out.intoMemorySegment(dst, off + 2, LE);
        }
    }

    static void q8(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks, boolean withSum) {
        int bytes = withSum ? 36 : 34;
        for (int b = 0; b < nBlocks; b++) {
            int xo = xOff + 32 * b;
            long off = dstOff + (long) bytes * b;
            int ab = amaxBits(x, xo);
            float d = Float.intBitsToFloat(ab) / 127f;
            float id = d != 0f ? 1f / d : 0f;
            if (ab >= INF_BITS || Float.isInfinite(id)) {
                ScalarGgmlKernels.quantizeBlockQ8(x, xo, dst, off, withSum);
                continue;
            }
            dst.set(F16_LE, off, Float.floatToFloat16(d));
            long qs = off + (withSum ? 4 : 2);
            IntVector sum = IntVector.zero(I);
            for (int h = 0; h < 32; h += 16) {
                ByteVector out = ByteVector.zero(B16);
                for (int p = 0; p < PER16; p++) {
                    // truncating F2I of the half-adjusted value is roundf; |q| <= 127, so I2B keeps it as (int8)
                    IntVector q = (IntVector) roundHalfAwayFromZero(FloatVector.fromArray(F, x, xo + h + p * FL).mul(id))
                            .convert(VectorOperators.F2I, 0);
                    if (withSum) {
                        sum = sum.add(q);
                    }
                    out = out.or((ByteVector) q.convertShape(VectorOperators.I2B, B16, -p));
                }
                out.intoMemorySegment(dst, qs + h, LE);
            }
            if (withSum) {
                int s = sum.reduceLanes(VectorOperators.ADD);
                dst.set(F16_LE, off + 2, Float.floatToFloat16(s * d));
            }
        }
    }

    /** Q8_0 codes and fp16 d of each block, written as int16 pairs, the code sum and the bits of d. */
    static void q8Pairs(float[] x, int xOff, int[] dst, int dstOff, int nBlocks) {
        MemorySegment tmp = null;
        for (int b = 0; b < nBlocks; b++) {
            int xo = xOff + 32 * b;
            int o = dstOff + PAIR_INTS * b;
            int ab = amaxBits(x, xo);
            float d = Float.intBitsToFloat(ab) / 127f;
            float id = d != 0f ? 1f / d : 0f;
            if (ab >= INF_BITS || Float.isInfinite(id)) {
                if (tmp == null) {
                    tmp = MemorySegment.ofArray(new byte[34]);
                }
                ScalarGgmlKernels.quantizeBlockQ8(x, xo, tmp, 0, false);
                ScalarGgmlKernels.pairsFromQ8_0(tmp, 0, dst, o);
                continue;
            }
            IntVector sum = IntVector.zero(I);
            for (int j = 0; j < 32; j += FL) {
                IntVector q = (IntVector) roundHalfAwayFromZero(FloatVector.fromArray(F, x, xo + j).mul(id))
                        .convert(VectorOperators.F2I, 0);
                sum = sum.add(q);
                ((ShortVector) q.convertShape(VectorOperators.I2S, SH, 0)).reinterpretAsInts().intoArray(dst, o + j / 2);
            }
            dst[o + 16] = sum.reduceLanes(VectorOperators.ADD);
            dst[o + 17] = Float.floatToRawIntBits(Float.float16ToFloat(Float.floatToFloat16(d)));
        }
    }

    /** 0.5 &minus; 2^&minus;25, the float just below 1/2. */
    private static final float HALF_DOWN = Math.nextDown(0.5f);

    /**
     * C's roundf for |v| &lt; 2^22, as a float holding an integer: trunc(v + copysign(0.5 &minus; 2^&minus;25, v)).
     * Exact: for a = |v| &lt; 1/2, a + h &le; 1 &minus; 2^&minus;24 rounds below 1; for a &ge; 1/2 with n = floor(a) and
     * u = ulp(a) &ge; 2^&minus;24, a fraction &ge; 1/2 puts a + h within 2^&minus;25 &le; u/2 below n+1 or above it (the
     * only tie, a = 1/2, rounds to the even 1.0), and a fraction &le; 1/2 &minus; u keeps a + h below the float
     * n + 1 &minus; u. Here |v| &le; 127·(1 + 2^&minus;20) (amax·id with a finite id).
     */
    private static FloatVector roundHalfAwayFromZero(FloatVector v) {
        IntVector sign = v.reinterpretAsInts().and(0x8000_0000);
        FloatVector h = sign.or(Float.floatToRawIntBits(HALF_DOWN)).reinterpretAsFloats();
        return v.add(h);
    }
}

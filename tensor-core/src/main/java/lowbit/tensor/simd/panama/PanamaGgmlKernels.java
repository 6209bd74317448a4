package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarGgmlKernels.F16_LE;
import static lowbit.tensor.simd.ScalarGgmlKernels.I32_LE;
import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;

/**
 * Vector API ggml kernels at the chosen width.
 *
 * <p>Dot products: per block, codes are widened from bytes to int lanes ({@code B2I}: one {@code vpmovsxbd} on x86),
 * multiplied and added in int lanes (exact), then the block's int lanes are converted to float and multiplied by the
 * block's d_w·d_a into a float accumulator (ggml's own AVX scheme); one lane reduction per row. Blocks with a
 * minimum add m_w·s_a in a scalar float.
 *
 * <p>Encoders: max-abs, scaling, rounding and packing in vectors; codes are narrowed into a 16-byte vector with
 * {@code convertShape} into successive parts. A block that is not finite, or whose inverse scale overflows, is
 * handed to {@link ScalarGgmlKernels} so that the bytes stay identical to the reference in every case.
 */
final class PanamaGgmlKernels implements GgmlKernels {
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final int FL = F.length();
    /** Bytes loaded at once and widened to ints: 8 for 4- or 8-lane ints, 16 for 16-lane ints. */
    private static final VectorSpecies<Byte> BL = FL <= 8 ? ByteVector.SPECIES_64 : ByteVector.SPECIES_128;
    private static final int BLN = BL.length();
    /** Int vectors per loaded byte vector. */
    private static final int PARTS = BLN / FL;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    /** Float vectors per 16 codes. */
    private static final int PER16 = 16 / FL;
    private static final boolean FMA = Species.FMA;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** 0..31: bit positions in qh of the elements of a Q5 block. */
    private static final int[] BITS = new int[32];

    static {
        for (int i = 0; i < 32; i++) {
            BITS[i] = i;
        }
    }

    private static IntVector widen(ByteVector v, int part) {
        return (IntVector) v.convertShape(VectorOperators.B2I, I, part);
    }

    private static ByteVector load(MemorySegment s, long off) {
        return ByteVector.fromMemorySegment(BL, s, off, LE);
    }

    private static FloatVector scaleAdd(IntVector s, float c, FloatVector acc) {
        FloatVector f = (FloatVector) s.convert(VectorOperators.I2F, 0);
        FloatVector vc = FloatVector.broadcast(F, c);
        return FMA ? f.fma(vc, acc) : f.mul(vc).add(acc);
    }

    // ---------------------------------------------------------------- dot products

    @Override
    public float dotQ4_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 18L * b, ab = aOff + 34L * b;
            IntVector s = IntVector.zero(I);
            for (int j = 0; j < 16; j += BLN) {
                ByteVector wv = load(w, wb + 2 + j);
                ByteVector y0 = load(a, ab + 2 + j);
                ByteVector y1 = load(a, ab + 18 + j);
                for (int p = 0; p < PARTS; p++) {
                    IntVector q = widen(wv, p);
                    IntVector lo = q.and(0xF).sub(8);
                    IntVector hi = q.lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8);
                    s = s.add(lo.mul(widen(y0, p))).add(hi.mul(widen(y1, p)));
                }
            }
            acc = scaleAdd(s, f16(w, wb) * f16(a, ab), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public float dotQ4_1Q8_1(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        FloatVector acc = FloatVector.zero(F);
        float msum = 0f;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 20L * b, ab = aOff + 36L * b;
            IntVector s = IntVector.zero(I);
            for (int j = 0; j < 16; j += BLN) {
                ByteVector wv = load(w, wb + 4 + j);
                ByteVector y0 = load(a, ab + 4 + j);
                ByteVector y1 = load(a, ab + 20 + j);
                for (int p = 0; p < PARTS; p++) {
                    IntVector q = widen(wv, p);
                    IntVector lo = q.and(0xF);
                    IntVector hi = q.lanewise(VectorOperators.LSHR, 4).and(0xF);
                    s = s.add(lo.mul(widen(y0, p))).add(hi.mul(widen(y1, p)));
                }
            }
            acc = scaleAdd(s, f16(w, wb) * f16(a, ab), acc);
            msum += f16(w, wb + 2) * f16(a, ab + 2);
        }
        return acc.reduceLanes(VectorOperators.ADD) + msum;
    }

    @Override
    public float dotQ5_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 22L * b, ab = aOff + 34L * b;
            IntVector qh = IntVector.broadcast(I, w.get(I32_LE, wb + 2));
            IntVector s = IntVector.zero(I);
            for (int j = 0; j < 16; j += BLN) {
                ByteVector wv = load(w, wb + 6 + j);
                ByteVector y0 = load(a, ab + 2 + j);
                ByteVector y1 = load(a, ab + 18 + j);
                for (int p = 0; p < PARTS; p++) {
                    int e = j + p * FL;
                    IntVector q = widen(wv, p);
                    IntVector h0 = qh.lanewise(VectorOperators.LSHR, IntVector.fromArray(I, BITS, e)).and(1);
                    IntVector h1 = qh.lanewise(VectorOperators.LSHR, IntVector.fromArray(I, BITS, e + 16)).and(1);
                    IntVector lo = q.and(0xF).or(h0.lanewise(VectorOperators.LSHL, 4)).sub(16);
                    IntVector hi = q.lanewise(VectorOperators.LSHR, 4).and(0xF).or(h1.lanewise(VectorOperators.LSHL, 4)).sub(16);
                    s = s.add(lo.mul(widen(y0, p))).add(hi.mul(widen(y1, p)));
                }
            }
            acc = scaleAdd(s, f16(w, wb) * f16(a, ab), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public float dotQ5_1Q8_1(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        FloatVector acc = FloatVector.zero(F);
        float msum = 0f;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 24L * b, ab = aOff + 36L * b;
            IntVector qh = IntVector.broadcast(I, w.get(I32_LE, wb + 4));
            IntVector s = IntVector.zero(I);
            for (int j = 0; j < 16; j += BLN) {
                ByteVector wv = load(w, wb + 8 + j);
                ByteVector y0 = load(a, ab + 4 + j);
                ByteVector y1 = load(a, ab + 20 + j);
                for (int p = 0; p < PARTS; p++) {
                    int e = j + p * FL;
                    IntVector q = widen(wv, p);
                    IntVector h0 = qh.lanewise(VectorOperators.LSHR, IntVector.fromArray(I, BITS, e)).and(1);
                    IntVector h1 = qh.lanewise(VectorOperators.LSHR, IntVector.fromArray(I, BITS, e + 16)).and(1);
                    IntVector lo = q.and(0xF).or(h0.lanewise(VectorOperators.LSHL, 4));
                    IntVector hi = q.lanewise(VectorOperators.LSHR, 4).and(0xF).or(h1.lanewise(VectorOperators.LSHL, 4));
                    s = s.add(lo.mul(widen(y0, p))).add(hi.mul(widen(y1, p)));
                }
            }
            acc = scaleAdd(s, f16(w, wb) * f16(a, ab), acc);
            msum += f16(w, wb + 2) * f16(a, ab + 2);
        }
        return acc.reduceLanes(VectorOperators.ADD) + msum;
    }

    @Override
    public float dotQ8_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 34L * b, ab = aOff + 34L * b;
            IntVector s = IntVector.zero(I);
            for (int j = 0; j < 32; j += BLN) {
                ByteVector wv = load(w, wb + 2 + j);
                ByteVector y = load(a, ab + 2 + j);
                for (int p = 0; p < PARTS; p++) {
                    s = s.add(widen(wv, p).mul(widen(y, p)));
                }
            }
            acc = scaleAdd(s, f16(w, wb) * f16(a, ab), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    // ---------------------------------------------------------------- encoders

    @Override
    public void quantizeQ4_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ4_0(x, xOff + 32 * b, dst, dstOff + 18L * b);
        }
    }

    private static void quantizeBlockQ4_0(float[] x, int xo, MemorySegment dst, long off) {
        FloatVector m = FloatVector.zero(F);
        for (int j = 0; j < 32; j += FL) {
            m = m.max(FloatVector.fromArray(F, x, xo + j).abs());
        }
        float amax = m.reduceLanes(VectorOperators.MAX);
        if (!Float.isFinite(amax)) {
            ScalarGgmlKernels.quantizeBlockQ4_0(x, xo, dst, off);
            return;
        }
        float max = 0f; // the reference keeps +0 when every |x| is 0
        if (amax != 0f) {
            for (int j = 0; j < 32; j += FL) {
                VectorMask<Float> eq = FloatVector.fromArray(F, x, xo + j).abs().compare(VectorOperators.EQ, amax);
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
            return;
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

    @Override
    public void quantizeQ8_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ8(x, xOff + 32 * b, dst, dstOff + 34L * b, false);
        }
    }

    @Override
    public void quantizeQ8_1(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ8(x, xOff + 32 * b, dst, dstOff + 36L * b, true);
        }
    }

    private static void quantizeBlockQ8(float[] x, int xo, MemorySegment dst, long off, boolean withSum) {
        FloatVector m = FloatVector.zero(F);
        for (int j = 0; j < 32; j += FL) {
            m = m.max(FloatVector.fromArray(F, x, xo + j).abs());
        }
        float amax = m.reduceLanes(VectorOperators.MAX);
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        if (!Float.isFinite(amax) || Float.isInfinite(id)) {
            ScalarGgmlKernels.quantizeBlockQ8(x, xo, dst, off, withSum);
            return;
        }
        dst.set(F16_LE, off, Float.floatToFloat16(d));
        long qs = off + (withSum ? 4 : 2);
        FloatVector sum = FloatVector.zero(F);
        for (int h = 0; h < 32; h += 16) {
            ByteVector out = ByteVector.zero(B16);
            for (int p = 0; p < PER16; p++) {
                FloatVector r = roundHalfAwayFromZero(FloatVector.fromArray(F, x, xo + h + p * FL).mul(id));
                sum = sum.add(r);
                out = out.or((ByteVector) r.convertShape(VectorOperators.F2B, B16, -p));
            }
            out.intoMemorySegment(dst, qs + h, LE);
        }
        if (withSum) {
            int s = (int) sum.reduceLanes(VectorOperators.ADD); // integers below 2^12: exact in any order
            dst.set(F16_LE, off + 2, Float.floatToFloat16(s * d));
        }
    }

    /** C's roundf for |v| &lt; 2^31: truncate, add one when the dropped fraction is at least 1/2, restore the sign. */
    private static FloatVector roundHalfAwayFromZero(FloatVector v) {
        FloatVector a = v.abs();
        FloatVector t = (FloatVector) ((IntVector) a.convert(VectorOperators.F2I, 0)).convert(VectorOperators.I2F, 0);
        t = t.lanewise(VectorOperators.ADD, 1f, a.sub(t).compare(VectorOperators.GE, 0.5f)); // a - t is exact
        return t.lanewise(VectorOperators.NEG, v.compare(VectorOperators.LT, 0f));
    }
}

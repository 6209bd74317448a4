package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarGgmlKernels.F16_LE;
import static lowbit.tensor.simd.ScalarGgmlKernels.I32_LE;
import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.ScalarGgmlKernels;

/**
 * Vector API ggml kernels at the chosen width.
 *
 * <p>Dot products: per block, codes are widened from bytes to int lanes ({@code B2I}: one {@code vpmovsxbd} on x86),
 * multiplied and added in int lanes (exact), then the block's int lanes are converted to float and multiplied by the
 * block's d_w·d_a into a float accumulator (ggml's own AVX scheme); one lane reduction per row. Blocks with a
 * minimum add m_w·s_a in a scalar float. Q4_0 and Q8_0 (the GEMV hot path) multiply in 16-bit lanes instead and
 * have multi-row forms sharing the activation loads; {@code -Dlowbit.ggml.group=1|2|4} picks the rows per group
 * (default 2: four rows exceed C2's inlining node budget and run slower).
 *
 * <p>Encoders: {@link PanamaGgmlEncoders}. The 16-row interleaved GEMV/GEMM: {@link PanamaInterleaved}.
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
    private static final boolean FMA = Species.FMA;
    /** Short lanes per block-half vector in the Q4_0/Q8_0 dots: 16 (256-bit shorts) from 256 bits up, else 8. */
    private static final int SL = Math.min(16, Species.BITS / 16);
    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(SL * 16));
    /** SL bytes: 128 or 64 bits. */
    private static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(SL * 8));
    /** Int vectors per short vector of SL lanes. */
    private static final int IPARTS = SL / FL;
    /** Rows per multi-row dot group (1, 2 or 4); a measurement knob, see the class comment. */
    private static final int GROUP = Integer.getInteger("lowbit.ggml.group", 2);
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

    // Q4_0 and Q8_0 dots: one row, or 2/4 rows sharing each activation load. Per block and row the integer sum is
    // formed in 16-bit lanes (SL codes per vector; the products and the Q4_0 offset fit: |P| <= 2*15*128 + 8*256 and
    // |q_w*q_a| <= 2^14), widened once to int lanes (S2I; below 512 bits the parts are added exactly in ints), so each
    // block ends as one int vector per row, converted to float and fused into one float accumulator per row with
    // d_w*d_a: every lane gets exactly one rounded term per block, by the same operations whether a row is computed
    // alone or in a group. Q4_0's "-8" is folded as 8*(y0 + y1), computed once per block for all rows. Everything is
    // written out in these methods (no helpers taking vectors: a helper C2 declines to inline boxes its arguments).

    @Override
    public float dotQ4_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        long w0 = wOff;
        FloatVector acc0 = FloatVector.zero(F);
        for (int b = 0; b < nBlocks; b++) {
            long o = 18L * b, ab = aOff + 34L * b;
            ShortVector y0 = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector y1 = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 18, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector y8 = y0.add(y1).lanewise(VectorOperators.LSHL, 3);
            ShortVector q0 = (ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
            ShortVector p0 = q0.and((short) 0xF).mul(y0).add(q0.lanewise(VectorOperators.LSHR, 4).mul(y1)).sub(y8);
            IntVector s0 = (IntVector) p0.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s0 = s0.add((IntVector) p0.convertShape(VectorOperators.S2I, I, k));
            }
            for (int h = SL; h < 16; h += SL) { // 128-bit vectors only
                ShortVector y0h = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector y1h = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 18 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector y8h = y0h.add(y1h).lanewise(VectorOperators.LSHL, 3);
                ShortVector q0h = (ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2 + h, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                ShortVector p0h = q0h.and((short) 0xF).mul(y0h).add(q0h.lanewise(VectorOperators.LSHR, 4).mul(y1h)).sub(y8h);
                s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, k));
                }
            }
            float da = f16(a, ab);
            FloatVector c0 = FloatVector.broadcast(F, f16(w, w0 + o) * da);
            FloatVector f0 = (FloatVector) s0.convert(VectorOperators.I2F, 0);
            acc0 = FMA ? f0.fma(c0, acc0) : f0.mul(c0).add(acc0);
        }
        return acc0.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void dotRowsQ4_0Q8_0(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        int r = 0;
        if (GROUP == 4) {
            for (; r + 4 <= rows; r += 4) {
                rows4Q4(w, wOff + r * rowStride, rowStride, a, aOff, nBlocks, y, yOff + r);
            }
        }
        if (GROUP >= 2) {
            for (; r + 2 <= rows; r += 2) {
                rows2Q4(w, wOff + r * rowStride, rowStride, a, aOff, nBlocks, y, yOff + r);
            }
        }
        for (; r < rows; r++) {
            y[yOff + r] = dotQ4_0Q8_0(w, wOff + r * rowStride, a, aOff, nBlocks);
        }
    }

    /** 4 rows from {@code wOff} sharing each activation load; per row the same operations as the one-row dot. */
    private static void rows4Q4(MemorySegment w, long wOff, long rowStride, MemorySegment a, long aOff, int nBlocks,
            float[] y, int yOff) {
        long w0 = wOff, w1 = w0 + rowStride, w2 = w1 + rowStride, w3 = w2 + rowStride;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int b = 0; b < nBlocks; b++) {
            long o = 18L * b, ab = aOff + 34L * b;
            ShortVector y0 = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector y1 = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 18, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector y8 = y0.add(y1).lanewise(VectorOperators.LSHL, 3);
            ShortVector q0 = (ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
            ShortVector p0 = q0.and((short) 0xF).mul(y0).add(q0.lanewise(VectorOperators.LSHR, 4).mul(y1)).sub(y8);
            ShortVector q1 = (ShortVector) ByteVector.fromMemorySegment(BS, w, w1 + o + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
            ShortVector p1 = q1.and((short) 0xF).mul(y0).add(q1.lanewise(VectorOperators.LSHR, 4).mul(y1)).sub(y8);
            ShortVector q2 = (ShortVector) ByteVector.fromMemorySegment(BS, w, w2 + o + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
            ShortVector p2 = q2.and((short) 0xF).mul(y0).add(q2.lanewise(VectorOperators.LSHR, 4).mul(y1)).sub(y8);
            ShortVector q3 = (ShortVector) ByteVector.fromMemorySegment(BS, w, w3 + o + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
            ShortVector p3 = q3.and((short) 0xF).mul(y0).add(q3.lanewise(VectorOperators.LSHR, 4).mul(y1)).sub(y8);
            IntVector s0 = (IntVector) p0.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s0 = s0.add((IntVector) p0.convertShape(VectorOperators.S2I, I, k));
            }
            IntVector s1 = (IntVector) p1.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s1 = s1.add((IntVector) p1.convertShape(VectorOperators.S2I, I, k));
            }
            IntVector s2 = (IntVector) p2.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s2 = s2.add((IntVector) p2.convertShape(VectorOperators.S2I, I, k));
            }
            IntVector s3 = (IntVector) p3.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s3 = s3.add((IntVector) p3.convertShape(VectorOperators.S2I, I, k));
            }
            for (int h = SL; h < 16; h += SL) { // 128-bit vectors only
                ShortVector y0h = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector y1h = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 18 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector y8h = y0h.add(y1h).lanewise(VectorOperators.LSHL, 3);
                ShortVector q0h = (ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2 + h, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                ShortVector p0h = q0h.and((short) 0xF).mul(y0h).add(q0h.lanewise(VectorOperators.LSHR, 4).mul(y1h)).sub(y8h);
                ShortVector q1h = (ShortVector) ByteVector.fromMemorySegment(BS, w, w1 + o + 2 + h, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                ShortVector p1h = q1h.and((short) 0xF).mul(y0h).add(q1h.lanewise(VectorOperators.LSHR, 4).mul(y1h)).sub(y8h);
                ShortVector q2h = (ShortVector) ByteVector.fromMemorySegment(BS, w, w2 + o + 2 + h, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                ShortVector p2h = q2h.and((short) 0xF).mul(y0h).add(q2h.lanewise(VectorOperators.LSHR, 4).mul(y1h)).sub(y8h);
                ShortVector q3h = (ShortVector) ByteVector.fromMemorySegment(BS, w, w3 + o + 2 + h, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                ShortVector p3h = q3h.and((short) 0xF).mul(y0h).add(q3h.lanewise(VectorOperators.LSHR, 4).mul(y1h)).sub(y8h);
                s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, k));
                }
                s1 = s1.add((IntVector) p1h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s1 = s1.add((IntVector) p1h.convertShape(VectorOperators.S2I, I, k));
                }
                s2 = s2.add((IntVector) p2h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s2 = s2.add((IntVector) p2h.convertShape(VectorOperators.S2I, I, k));
                }
                s3 = s3.add((IntVector) p3h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s3 = s3.add((IntVector) p3h.convertShape(VectorOperators.S2I, I, k));
                }
            }
            float da = f16(a, ab);
            FloatVector c0 = FloatVector.broadcast(F, f16(w, w0 + o) * da);
            FloatVector f0 = (FloatVector) s0.convert(VectorOperators.I2F, 0);
            acc0 = FMA ? f0.fma(c0, acc0) : f0.mul(c0).add(acc0);
            FloatVector c1 = FloatVector.broadcast(F, f16(w, w1 + o) * da);
            FloatVector f1 = (FloatVector) s1.convert(VectorOperators.I2F, 0);
            acc1 = FMA ? f1.fma(c1, acc1) : f1.mul(c1).add(acc1);
            FloatVector c2 = FloatVector.broadcast(F, f16(w, w2 + o) * da);
            FloatVector f2 = (FloatVector) s2.convert(VectorOperators.I2F, 0);
            acc2 = FMA ? f2.fma(c2, acc2) : f2.mul(c2).add(acc2);
            FloatVector c3 = FloatVector.broadcast(F, f16(w, w3 + o) * da);
            FloatVector f3 = (FloatVector) s3.convert(VectorOperators.I2F, 0);
            acc3 = FMA ? f3.fma(c3, acc3) : f3.mul(c3).add(acc3);
        }
        y[yOff + 0] = acc0.reduceLanes(VectorOperators.ADD);
        y[yOff + 1] = acc1.reduceLanes(VectorOperators.ADD);
        y[yOff + 2] = acc2.reduceLanes(VectorOperators.ADD);
        y[yOff + 3] = acc3.reduceLanes(VectorOperators.ADD);
    }

    /** 2 rows from {@code wOff} sharing each activation load; per row the same operations as the one-row dot. */
    private static void rows2Q4(MemorySegment w, long wOff, long rowStride, MemorySegment a, long aOff, int nBlocks,
            float[] y, int yOff) {
        long w0 = wOff, w1 = w0 + rowStride;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int b = 0; b < nBlocks; b++) {
            long o = 18L * b, ab = aOff + 34L * b;
            ShortVector y0 = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector y1 = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 18, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector y8 = y0.add(y1).lanewise(VectorOperators.LSHL, 3);
            ShortVector q0 = (ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
            ShortVector p0 = q0.and((short) 0xF).mul(y0).add(q0.lanewise(VectorOperators.LSHR, 4).mul(y1)).sub(y8);
            ShortVector q1 = (ShortVector) ByteVector.fromMemorySegment(BS, w, w1 + o + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
            ShortVector p1 = q1.and((short) 0xF).mul(y0).add(q1.lanewise(VectorOperators.LSHR, 4).mul(y1)).sub(y8);
            IntVector s0 = (IntVector) p0.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s0 = s0.add((IntVector) p0.convertShape(VectorOperators.S2I, I, k));
            }
            IntVector s1 = (IntVector) p1.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s1 = s1.add((IntVector) p1.convertShape(VectorOperators.S2I, I, k));
            }
            for (int h = SL; h < 16; h += SL) { // 128-bit vectors only
                ShortVector y0h = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector y1h = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 18 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector y8h = y0h.add(y1h).lanewise(VectorOperators.LSHL, 3);
                ShortVector q0h = (ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2 + h, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                ShortVector p0h = q0h.and((short) 0xF).mul(y0h).add(q0h.lanewise(VectorOperators.LSHR, 4).mul(y1h)).sub(y8h);
                ShortVector q1h = (ShortVector) ByteVector.fromMemorySegment(BS, w, w1 + o + 2 + h, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, SS, 0);
                ShortVector p1h = q1h.and((short) 0xF).mul(y0h).add(q1h.lanewise(VectorOperators.LSHR, 4).mul(y1h)).sub(y8h);
                s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, k));
                }
                s1 = s1.add((IntVector) p1h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s1 = s1.add((IntVector) p1h.convertShape(VectorOperators.S2I, I, k));
                }
            }
            float da = f16(a, ab);
            FloatVector c0 = FloatVector.broadcast(F, f16(w, w0 + o) * da);
            FloatVector f0 = (FloatVector) s0.convert(VectorOperators.I2F, 0);
            acc0 = FMA ? f0.fma(c0, acc0) : f0.mul(c0).add(acc0);
            FloatVector c1 = FloatVector.broadcast(F, f16(w, w1 + o) * da);
            FloatVector f1 = (FloatVector) s1.convert(VectorOperators.I2F, 0);
            acc1 = FMA ? f1.fma(c1, acc1) : f1.mul(c1).add(acc1);
        }
        y[yOff + 0] = acc0.reduceLanes(VectorOperators.ADD);
        y[yOff + 1] = acc1.reduceLanes(VectorOperators.ADD);
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
        long w0 = wOff;
        FloatVector acc0 = FloatVector.zero(F);
        for (int b = 0; b < nBlocks; b++) {
            long o = 34L * b, ab = aOff + 34L * b;
            ShortVector ya = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector p0 = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(ya);
            IntVector s0 = (IntVector) p0.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s0 = s0.add((IntVector) p0.convertShape(VectorOperators.S2I, I, k));
            }
            for (int h = SL; h < 32; h += SL) { // 128-bit vectors only
                ShortVector yah = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector p0h = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(yah);
                s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, k));
                }
            }
            float da = f16(a, ab);
            FloatVector c0 = FloatVector.broadcast(F, f16(w, w0 + o) * da);
            FloatVector f0 = (FloatVector) s0.convert(VectorOperators.I2F, 0);
            acc0 = FMA ? f0.fma(c0, acc0) : f0.mul(c0).add(acc0);
        }
        return acc0.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void dotRowsQ8_0Q8_0(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        int r = 0;
        if (GROUP == 4) {
            for (; r + 4 <= rows; r += 4) {
                rows4Q8(w, wOff + r * rowStride, rowStride, a, aOff, nBlocks, y, yOff + r);
            }
        }
        if (GROUP >= 2) {
            for (; r + 2 <= rows; r += 2) {
                rows2Q8(w, wOff + r * rowStride, rowStride, a, aOff, nBlocks, y, yOff + r);
            }
        }
        for (; r < rows; r++) {
            y[yOff + r] = dotQ8_0Q8_0(w, wOff + r * rowStride, a, aOff, nBlocks);
        }
    }

    /** 4 rows from {@code wOff} sharing each activation load; per row the same operations as the one-row dot. */
    private static void rows4Q8(MemorySegment w, long wOff, long rowStride, MemorySegment a, long aOff, int nBlocks,
            float[] y, int yOff) {
        long w0 = wOff, w1 = w0 + rowStride, w2 = w1 + rowStride, w3 = w2 + rowStride;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int b = 0; b < nBlocks; b++) {
            long o = 34L * b, ab = aOff + 34L * b;
            ShortVector ya = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector p0 = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(ya);
            ShortVector p1 = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w1 + o + 2, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(ya);
            ShortVector p2 = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w2 + o + 2, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(ya);
            ShortVector p3 = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w3 + o + 2, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(ya);
            IntVector s0 = (IntVector) p0.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s0 = s0.add((IntVector) p0.convertShape(VectorOperators.S2I, I, k));
            }
            IntVector s1 = (IntVector) p1.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s1 = s1.add((IntVector) p1.convertShape(VectorOperators.S2I, I, k));
            }
            IntVector s2 = (IntVector) p2.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s2 = s2.add((IntVector) p2.convertShape(VectorOperators.S2I, I, k));
            }
            IntVector s3 = (IntVector) p3.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s3 = s3.add((IntVector) p3.convertShape(VectorOperators.S2I, I, k));
            }
            for (int h = SL; h < 32; h += SL) { // 128-bit vectors only
                ShortVector yah = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector p0h = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(yah);
                ShortVector p1h = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w1 + o + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(yah);
                ShortVector p2h = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w2 + o + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(yah);
                ShortVector p3h = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w3 + o + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(yah);
                s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, k));
                }
                s1 = s1.add((IntVector) p1h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s1 = s1.add((IntVector) p1h.convertShape(VectorOperators.S2I, I, k));
                }
                s2 = s2.add((IntVector) p2h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s2 = s2.add((IntVector) p2h.convertShape(VectorOperators.S2I, I, k));
                }
                s3 = s3.add((IntVector) p3h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s3 = s3.add((IntVector) p3h.convertShape(VectorOperators.S2I, I, k));
                }
            }
            float da = f16(a, ab);
            FloatVector c0 = FloatVector.broadcast(F, f16(w, w0 + o) * da);
            FloatVector f0 = (FloatVector) s0.convert(VectorOperators.I2F, 0);
            acc0 = FMA ? f0.fma(c0, acc0) : f0.mul(c0).add(acc0);
            FloatVector c1 = FloatVector.broadcast(F, f16(w, w1 + o) * da);
            FloatVector f1 = (FloatVector) s1.convert(VectorOperators.I2F, 0);
            acc1 = FMA ? f1.fma(c1, acc1) : f1.mul(c1).add(acc1);
            FloatVector c2 = FloatVector.broadcast(F, f16(w, w2 + o) * da);
            FloatVector f2 = (FloatVector) s2.convert(VectorOperators.I2F, 0);
            acc2 = FMA ? f2.fma(c2, acc2) : f2.mul(c2).add(acc2);
            FloatVector c3 = FloatVector.broadcast(F, f16(w, w3 + o) * da);
            FloatVector f3 = (FloatVector) s3.convert(VectorOperators.I2F, 0);
            acc3 = FMA ? f3.fma(c3, acc3) : f3.mul(c3).add(acc3);
        }
        y[yOff + 0] = acc0.reduceLanes(VectorOperators.ADD);
        y[yOff + 1] = acc1.reduceLanes(VectorOperators.ADD);
        y[yOff + 2] = acc2.reduceLanes(VectorOperators.ADD);
        y[yOff + 3] = acc3.reduceLanes(VectorOperators.ADD);
    }

    /** 2 rows from {@code wOff} sharing each activation load; per row the same operations as the one-row dot. */
    private static void rows2Q8(MemorySegment w, long wOff, long rowStride, MemorySegment a, long aOff, int nBlocks,
            float[] y, int yOff) {
        long w0 = wOff, w1 = w0 + rowStride;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int b = 0; b < nBlocks; b++) {
            long o = 34L * b, ab = aOff + 34L * b;
            ShortVector ya = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2, LE).convertShape(VectorOperators.B2S, SS, 0);
            ShortVector p0 = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(ya);
            ShortVector p1 = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w1 + o + 2, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(ya);
            IntVector s0 = (IntVector) p0.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s0 = s0.add((IntVector) p0.convertShape(VectorOperators.S2I, I, k));
            }
            IntVector s1 = (IntVector) p1.convertShape(VectorOperators.S2I, I, 0);
            for (int k = 1; k < IPARTS; k++) {
                s1 = s1.add((IntVector) p1.convertShape(VectorOperators.S2I, I, k));
            }
            for (int h = SL; h < 32; h += SL) { // 128-bit vectors only
                ShortVector yah = (ShortVector) ByteVector.fromMemorySegment(BS, a, ab + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0);
                ShortVector p0h = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w0 + o + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(yah);
                ShortVector p1h = ((ShortVector) ByteVector.fromMemorySegment(BS, w, w1 + o + 2 + h, LE).convertShape(VectorOperators.B2S, SS, 0)).mul(yah);
                s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s0 = s0.add((IntVector) p0h.convertShape(VectorOperators.S2I, I, k));
                }
                s1 = s1.add((IntVector) p1h.convertShape(VectorOperators.S2I, I, 0));
                for (int k = 1; k < IPARTS; k++) {
                    s1 = s1.add((IntVector) p1h.convertShape(VectorOperators.S2I, I, k));
                }
            }
            float da = f16(a, ab);
            FloatVector c0 = FloatVector.broadcast(F, f16(w, w0 + o) * da);
            FloatVector f0 = (FloatVector) s0.convert(VectorOperators.I2F, 0);
            acc0 = FMA ? f0.fma(c0, acc0) : f0.mul(c0).add(acc0);
            FloatVector c1 = FloatVector.broadcast(F, f16(w, w1 + o) * da);
            FloatVector f1 = (FloatVector) s1.convert(VectorOperators.I2F, 0);
            acc1 = FMA ? f1.fma(c1, acc1) : f1.mul(c1).add(acc1);
        }
        y[yOff + 0] = acc0.reduceLanes(VectorOperators.ADD);
        y[yOff + 1] = acc1.reduceLanes(VectorOperators.ADD);
    }

    // ---------------------------------------------------------------- 16-row interleaved tiles (PanamaInterleaved)

    @Override
    public void quantizeQ8_0Pairs(float[] x, int xOff, int[] dst, int dstOff, int nBlocks) {
        PanamaGgmlEncoders.q8Pairs(x, xOff, dst, dstOff, nBlocks);
    }

    @Override
    public void gemvQ4_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, float[] y,
            int yOff, int rows) {
        PanamaInterleaved.gemvQ4(w, wOff, tiles, nBlocks, act, actOff, y, yOff, rows, false);
    }

    @Override
    public void gemmQ4_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, int actStride,
            int n, float[] y, int yOff, int yStride, int rows) {
        PanamaInterleaved.gemmQ4(w, wOff, tiles, nBlocks, act, actOff, actStride, n, y, yOff, yStride, rows);
    }

    @Override
    public void gemvQ8_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, float[] y,
            int yOff, int rows) {
        PanamaInterleaved.gemvQ8(w, wOff, tiles, nBlocks, act, actOff, y, yOff, rows, false);
    }

    @Override
    public void gemvFiniteScalesx16(boolean q4, MemorySegment w, long wOff, int tiles, int nBlocks, int[] act,
            int actOff, float[] y, int yOff, int rows) {
        if (q4) {
            PanamaInterleaved.gemvQ4(w, wOff, tiles, nBlocks, act, actOff, y, yOff, rows, true);
        } else {
            PanamaInterleaved.gemvQ8(w, wOff, tiles, nBlocks, act, actOff, y, yOff, rows, true);
        }
    }

    // ---------------------------------------------------------------- encoders (PanamaGgmlEncoders)

    @Override
    public void quantizeQ4_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        PanamaGgmlEncoders.q4_0(x, xOff, dst, dstOff, nBlocks);
    }

    @Override
    public void quantizeQ8_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        PanamaGgmlEncoders.q8(x, xOff, dst, dstOff, nBlocks, false);
    }

    @Override
    public void quantizeQ8_1(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        PanamaGgmlEncoders.q8(x, xOff, dst, dstOff, nBlocks, true);
    }
}

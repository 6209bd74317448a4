package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The 2:4 rows of {@link PanamaTwoFourKernels} with the x lanes chosen by two in-lane blends instead of a two-vector
 * permute: the form for CPUs without a one-instruction two-source permute (x86 with AVX2 only). Same blocks, same
 * lanes, same sums in the same order, so the same bits as the permute form.
 *
 * <p>Why it works: in a block of 2L columns, lane l holds kept value l of group l/2, and indices are strictly
 * increasing within a group, so an even lane (the group's first kept value) has in-group index c ∈ {0, 1, 2} and an
 * odd lane (the second) c ∈ {1, 2, 3}: three candidates per lane. {@link #prepare} writes, once per product, three
 * vectors per block, lane l holding the candidates x[4·(l/2) + c] of the block:
 * <pre>
 *   P = [X0 | X2]   Q = [X1 | X3]   R = [X2 | X1]      (even lanes | odd lanes; Xc = the column with index c)
 * </pre>
 * and a row picks {@code blend(blend(P, Q, bit0 of c), R, m1)} with m1 = bit 1 of c on even lanes and its complement
 * on odd ones: even c = 0, 1, 2 → P, Q, R; odd c = 1, 2, 3 → R, P, Q, i.e. the column with index c in every case.
 * Both masks come from the broadcast index word by an and and a compare with lane constants, all in-lane
 * operations: on AVX2 the permute form's {@code selectFrom(x0, x1)} became two vpermd, two compares and a byte blend,
 * and ran 2.5× slower on a Zen 1 host (4096×14336, 1 thread: 28.4 against 11.3 ms).
 *
 * <p>In the quantized loops the code decode and the select are written out, not called: as methods C2 compiled them
 * on their own first and then refused to inline them there ("callee is too large"), which ran 2.5–3× slower.
 * Their codes are decoded without a byte shuffle ({@link #affineBits}).
 *
 * <p>The prepared x is 1.5× the size of x (three vectors per two), read by every row from cache; only kept
 * candidates are ever multiplied, so an infinite x at a pruned column still does not enter the sum.
 */
final class PanamaTwoFourBlendKernels {
    private PanamaTwoFourBlendKernels() {
    }

    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final int L = F.length();
    private static final boolean FMA = Species.FMA;
    private static final int MAGIC = PanamaTwoFourKernels.MAGIC;
    private static final int WB = PanamaTwoFourKernels.WB;
    private static final int P = PanamaAffineKernels.P;
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(PanamaTwoFourKernels.LE);
    /** CODE_SHIFT[b], lane l: l·b, the shift of code l in a block's little-endian code word of L b-bit codes. */
    private static final IntVector[] CODE_SHIFT = new IntVector[9];

    static {
        for (int b = 1; b <= 8; b++) {
            int bits = b;
            CODE_SHIFT[b] = lanes(l -> l * bits);
        }
    }
    /** Whether the 2:4 kernels use this form: where a two-vector permute is not one instruction. */
    static final boolean USE = !Species.TWO_SOURCE_PERMUTE;
    /** Lane l: bit 0 of lane l's 2-bit code in the block's index word. */
    private static final IntVector BIT0 = lanes(l -> 1 << 2 * l);
    /** Lane l: bit 1 of lane l's code. */
    private static final IntVector BIT1 = lanes(l -> 2 << 2 * l);
    /** What (word & BIT1) equals when R is chosen: bit 1 set on even lanes, clear on odd ones. */
    private static final IntVector PICK_R = lanes(l -> l % 2 == 0 ? 2 << 2 * l : 0);

    private static IntVector lanes(java.util.function.IntUnaryOperator f) {
        int[] a = new int[L];
        for (int l = 0; l < L; l++) {
            a[l] = f.applyAsInt(l);
        }
        return IntVector.fromArray(I, a, 0);
    }

    /** Floats {@link #prepare} writes for a row of {@code cols} columns: 3L per whole block of 2L columns. */
    static int preparedLength(int cols) {
        return cols / (2 * L) * 3 * L;
    }

    /** x[xOff, xOff + cols) as the P, Q, R vectors of each whole block (see the class comment); plain copies. */
    static float[] prepare(float[] x, int xOff, int cols) {
        int blocks = cols / (2 * L);
        float[] xs = new float[preparedLength(cols)];
        for (int b = 0; b < blocks; b++) {
            int o = 3 * b * L;
            for (int l = 0; l < L; l++) {
                int c = xOff + 2 * b * L + 4 * (l / 2);
                boolean odd = (l & 1) != 0;
                xs[o + l] = x[c + (odd ? 2 : 0)];
                xs[o + L + l] = x[c + (odd ? 3 : 1)];
                xs[o + 2 * L + l] = x[c + (odd ? 1 : 2)];
            }
        }
        return xs;
    }

    /** The kept inputs of one block of one row: index word {@code w} (its low 2L bits), candidates p, q, r. */
    private static FloatVector select(int w, FloatVector p, FloatVector q, FloatVector r) {
        IntVector wv = IntVector.broadcast(I, w);
        VectorMask<Float> bit0 = wv.and(BIT0).compare(VectorOperators.EQ, BIT0).cast(F);
        VectorMask<Float> pickR = wv.and(BIT1).compare(VectorOperators.EQ, PICK_R).cast(F);
        return p.blend(q, bit0).blend(r, pickR);
    }

    private static int word(byte[] buf, int at) {
        return (int) PanamaTwoFourKernels.INT_AT.get(buf, at); // bits past the block's 2L are never tested
    }

    // ---- float values ----

    /** {@link PanamaTwoFourKernels#gemv} with x also given as {@code xs} = {@link #prepare}(x, xOff, cols). */
    static void gemv(int cols, float[] vals, int valOff, MemorySegment idx, long idxOff, long idxStride, float[] x,
            int xOff, float[] xs, float[] y, int yOff, int rows) {
        int kept = cols / 2;
        int blocks = cols / (2 * L);
        float[] tmp = new float[L];
        int st = (int) idxStride;
        byte[] buf = new byte[4 * st + 4];
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            long io = idxOff + r * idxStride;
            PanamaTwoFourKernels.copyIndices(idx, io, st, 4, buf);
            rows4(blocks, kept, vals, valOff + r * kept, idx, io, st, buf, x, xOff, xs, y, yOff + r, tmp);
        }
        for (; r < rows; r++) {
            long io = idxOff + r * idxStride;
            PanamaTwoFourKernels.copyIndices(idx, io, st, 1, buf);
            FloatVector acc = FloatVector.zero(F);
            int vo = valOff + r * kept;
            for (int b = 0; b < blocks; b++) {
                int o = 3 * b * L;
                FloatVector s = select(word(buf, b * WB), FloatVector.fromArray(F, xs, o),
                        FloatVector.fromArray(F, xs, o + L), FloatVector.fromArray(F, xs, o + 2 * L));
                FloatVector v = FloatVector.fromArray(F, vals, vo + b * L);
                acc = FMA ? v.fma(s, acc) : v.mul(s).add(acc);
            }
            y[yOff + r] = PanamaGemv.lanes(acc, tmp)
                    + PanamaTwoFourKernels.tail(blocks * L, kept, vals, vo, idx, io, x, xOff);
        }
    }

    /** Four rows, each computed exactly as a single row is; the candidate loads are shared. */
    private static void rows4(int blocks, int kept, float[] vals, int vo, MemorySegment idx, long io, int st,
            byte[] buf, float[] x, int xOff, float[] xs, float[] y, int yo, float[] tmp) {
        int vo1 = vo + kept, vo2 = vo1 + kept, vo3 = vo2 + kept;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < blocks; b++) {
            int k = b * L, o = 3 * k, wo = b * WB;
            FloatVector p = FloatVector.fromArray(F, xs, o);
            FloatVector q = FloatVector.fromArray(F, xs, o + L);
            FloatVector r = FloatVector.fromArray(F, xs, o + 2 * L);
            FloatVector s0 = select(word(buf, wo), p, q, r);
            FloatVector v0 = FloatVector.fromArray(F, vals, vo + k);
            a0 = FMA ? v0.fma(s0, a0) : v0.mul(s0).add(a0);
            FloatVector s1 = select(word(buf, st + wo), p, q, r);
            FloatVector v1 = FloatVector.fromArray(F, vals, vo1 + k);
            a1 = FMA ? v1.fma(s1, a1) : v1.mul(s1).add(a1);
            FloatVector s2 = select(word(buf, 2 * st + wo), p, q, r);
            FloatVector v2 = FloatVector.fromArray(F, vals, vo2 + k);
            a2 = FMA ? v2.fma(s2, a2) : v2.mul(s2).add(a2);
            FloatVector s3 = select(word(buf, 3 * st + wo), p, q, r);
            FloatVector v3 = FloatVector.fromArray(F, vals, vo3 + k);
            a3 = FMA ? v3.fma(s3, a3) : v3.mul(s3).add(a3);
        }
        int from = blocks * L;
        y[yo] = PanamaGemv.lanes(a0, tmp) + PanamaTwoFourKernels.tail(from, kept, vals, vo, idx, io, x, xOff);
        y[yo + 1] = PanamaGemv.lanes(a1, tmp)
                + PanamaTwoFourKernels.tail(from, kept, vals, vo1, idx, io + st, x, xOff);
        y[yo + 2] = PanamaGemv.lanes(a2, tmp)
                + PanamaTwoFourKernels.tail(from, kept, vals, vo2, idx, io + 2L * st, x, xOff);
        y[yo + 3] = PanamaGemv.lanes(a3, tmp)
                + PanamaTwoFourKernels.tail(from, kept, vals, vo3, idx, io + 3L * st, x, xOff);
    }

    // ---- quantized values ----

    /**
     * Whether {@link #gemvAffine} takes {@code bits}-bit codes: a block's L codes must fill whole bytes of one int
     * (L·bits a multiple of 8, at most 32), which it reads, broadcasts and shifts lane by lane. That decode has no
     * byte shuffle: the shuffle decode of the dense kernels costs a cross-lane permute and two vpshufb per vector with
     * AVX2, which left this loop 2.6× slower than the plain int4 GEMV (Zen 1, 4096×14336).
     */
    static boolean affineBits(int bits) {
        return bits >= 2 && bits <= 8 && L * bits % 8 == 0 && L * bits <= 32;
    }

    /**
     * {@link PanamaTwoFourKernels#gemvAffine} for {@link #affineBits} codes, with x given as {@code xs} =
     * {@link #prepare}(x, xOff, cols) and the row's blocks counted in groups of {@code blocksPerGroup}; the caller
     * leaves the rows whose last code word is not wholly inside the segment to the scalar twin.
     */
    static void gemvAffine(MemorySegment codes, long codeOff, long codeStride, int bits, int groups,
            int blocksPerGroup, float[] scales, int scaleOff, int scaleStride, byte[] zeros, int zero,
            MemorySegment idx, long idxOff, long idxStride, float[] xs, float[] y, int yOff, int rows) {
        float[] tmp = new float[L];
        int st = (int) idxStride;
        byte[] buf = new byte[4 * st + 4];
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            PanamaTwoFourKernels.copyIndices(idx, idxOff + r * idxStride, st, 4, buf);
            affineRows4(codes, codeOff + r * codeStride, codeStride, bits, groups, blocksPerGroup, scales,
                    scaleOff + r * scaleStride, scaleStride, zeros, zero, st, buf, xs, y, yOff + r, tmp);
        }
        for (; r < rows; r++) {
            PanamaTwoFourKernels.copyIndices(idx, idxOff + r * idxStride, st, 1, buf);
            y[yOff + r] = affineRow(codes, codeOff + r * codeStride, bits, groups, blocksPerGroup, scales,
                    scaleOff + r * scaleStride, zeros, zero, buf, xs, tmp);
        }
    }

    private static FloatVector zeroPoint(byte[] zeros, int zero, int at) {
        return FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[at] & 0xFF));
    }

    private static float affineRow(MemorySegment codes, long co, int bits, int groups, int perGroup, float[] scales,
            int so, byte[] zeros, int zero, byte[] buf, float[] xs, float[] tmp) {
        IntVector sf = CODE_SHIFT[bits];
        long blockBytes = (long) L * bits / 8;
        int mask = (1 << bits) - 1;
        FloatVector acc = FloatVector.zero(F);
        int blk = 0;
        for (int g = 0; g < groups; g++) {
            FloatVector zv = zeroPoint(zeros, zero, so + g);
            FloatVector ga = FloatVector.zero(F);
            for (int j = 0; j < perGroup; j++, blk++) {
                FloatVector d = IntVector.broadcast(I, codes.get(INT_LE, co + blk * blockBytes))
                        .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(zv);
                int o = 3 * blk * L;
                IntVector w = IntVector.broadcast(I, (int) PanamaTwoFourKernels.INT_AT.get(buf, blk * WB));
                FloatVector s = FloatVector.fromArray(F, xs, o).reinterpretAsInts()
                        .blend(FloatVector.fromArray(F, xs, o + L).reinterpretAsInts(),
                                w.and(BIT0).compare(VectorOperators.EQ, BIT0))
                        .blend(FloatVector.fromArray(F, xs, o + 2 * L).reinterpretAsInts(),
                                w.and(BIT1).compare(VectorOperators.EQ, PICK_R))
                        .reinterpretAsFloats();
                ga = FMA ? d.fma(s, ga) : d.mul(s).add(ga);
            }
            FloatVector sv = FloatVector.broadcast(F, scales[so + g]);
            acc = FMA ? sv.fma(ga, acc) : sv.mul(ga).add(acc);
        }
        return PanamaGemv.lanes(acc, tmp);
    }

    /**
     * Four rows, each computed exactly as {@link #affineRow} computes it; the candidate loads are shared, and the
     * blends are on int lanes (fewer nodes than float blends under cast masks: with those, C2 hit its inlining node
     * budget in this loop and left calls in it).
     */
    private static void affineRows4(MemorySegment codes, long co, long cs, int bits, int groups, int perGroup,
            float[] scales, int so, int ss, byte[] zeros, int zero, int st, byte[] buf, float[] xs, float[] y, int yo,
            float[] tmp) {
        IntVector sf = CODE_SHIFT[bits];
        long blockBytes = (long) L * bits / 8;
        int mask = (1 << bits) - 1;
        long co1 = co + cs, co2 = co1 + cs, co3 = co2 + cs;
        int so1 = so + ss, so2 = so1 + ss, so3 = so2 + ss;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int blk = 0;
        for (int g = 0; g < groups; g++) {
            FloatVector z0 = zeroPoint(zeros, zero, so + g);
            FloatVector z1 = zeroPoint(zeros, zero, so1 + g);
            FloatVector z2 = zeroPoint(zeros, zero, so2 + g);
            FloatVector z3 = zeroPoint(zeros, zero, so3 + g);
            FloatVector g0 = FloatVector.zero(F), g1 = g0, g2 = g0, g3 = g0;
            for (int j = 0; j < perGroup; j++, blk++) {
                int o = 3 * blk * L, wo = blk * WB;
                long bo = blk * blockBytes;
                IntVector p = FloatVector.fromArray(F, xs, o).reinterpretAsInts();
                IntVector pq = FloatVector.fromArray(F, xs, o + L).reinterpretAsInts();
                IntVector pr = FloatVector.fromArray(F, xs, o + 2 * L).reinterpretAsInts();
                FloatVector d0 = IntVector.broadcast(I, codes.get(INT_LE, co + bo))
                        .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z0);
                IntVector w0 = IntVector.broadcast(I, (int) PanamaTwoFourKernels.INT_AT.get(buf, wo));
                FloatVector s0 = p.blend(pq, w0.and(BIT0).compare(VectorOperators.EQ, BIT0))
                        .blend(pr, w0.and(BIT1).compare(VectorOperators.EQ, PICK_R)).reinterpretAsFloats();
                g0 = FMA ? d0.fma(s0, g0) : d0.mul(s0).add(g0);
                FloatVector d1 = IntVector.broadcast(I, codes.get(INT_LE, co1 + bo))
                        .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z1);
                IntVector w1 = IntVector.broadcast(I, (int) PanamaTwoFourKernels.INT_AT.get(buf, st + wo));
                FloatVector s1 = p.blend(pq, w1.and(BIT0).compare(VectorOperators.EQ, BIT0))
                        .blend(pr, w1.and(BIT1).compare(VectorOperators.EQ, PICK_R)).reinterpretAsFloats();
                g1 = FMA ? d1.fma(s1, g1) : d1.mul(s1).add(g1);
                FloatVector d2 = IntVector.broadcast(I, codes.get(INT_LE, co2 + bo))
                        .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z2);
                IntVector w2 = IntVector.broadcast(I, (int) PanamaTwoFourKernels.INT_AT.get(buf, 2 * st + wo));
                FloatVector s2 = p.blend(pq, w2.and(BIT0).compare(VectorOperators.EQ, BIT0))
                        .blend(pr, w2.and(BIT1).compare(VectorOperators.EQ, PICK_R)).reinterpretAsFloats();
                g2 = FMA ? d2.fma(s2, g2) : d2.mul(s2).add(g2);
                FloatVector d3 = IntVector.broadcast(I, codes.get(INT_LE, co3 + bo))
                        .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z3);
                IntVector w3 = IntVector.broadcast(I, (int) PanamaTwoFourKernels.INT_AT.get(buf, 3 * st + wo));
                FloatVector s3 = p.blend(pq, w3.and(BIT0).compare(VectorOperators.EQ, BIT0))
                        .blend(pr, w3.and(BIT1).compare(VectorOperators.EQ, PICK_R)).reinterpretAsFloats();
                g3 = FMA ? d3.fma(s3, g3) : d3.mul(s3).add(g3);
            }
            FloatVector b0 = FloatVector.broadcast(F, scales[so + g]);
            a0 = FMA ? b0.fma(g0, a0) : b0.mul(g0).add(a0);
            FloatVector b1 = FloatVector.broadcast(F, scales[so1 + g]);
            a1 = FMA ? b1.fma(g1, a1) : b1.mul(g1).add(a1);
            FloatVector b2 = FloatVector.broadcast(F, scales[so2 + g]);
            a2 = FMA ? b2.fma(g2, a2) : b2.mul(g2).add(a2);
            FloatVector b3 = FloatVector.broadcast(F, scales[so3 + g]);
            a3 = FMA ? b3.fma(g3, a3) : b3.mul(g3).add(a3);
        }
        y[yo] = PanamaGemv.lanes(a0, tmp);
        y[yo + 1] = PanamaGemv.lanes(a1, tmp);
        y[yo + 2] = PanamaGemv.lanes(a2, tmp);
        y[yo + 3] = PanamaGemv.lanes(a3, tmp);
    }
}

package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;
import static lowbit.tensor.simd.ScalarGgmlKernels.F16_LE;
import static lowbit.tensor.simd.ScalarGgmlKernels.I32_LE;
import static lowbit.tensor.simd.ScalarKQuantKernels.F32_LE;
import static lowbit.tensor.simd.ScalarKQuantKernels.I16_LE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.ScalarKQuantKernels;

/**
 * Vector API k-quant kernels at the chosen width.
 *
 * <p>Dot products: the Q8_K activation row is widened to shorts once per call ({@link Q8KRow}); weight codes are
 * widened from bytes to full-width 16-bit lanes, multiplied and added in 16-bit lanes within a sub-block (exact:
 * every partial stays below 2<sup>15</sup>, bounds at each kernel), folded pairwise into int lanes once per
 * sub-block, multiplied by the sub-block's integer scale and added into one int vector per super-block (exact),
 * which is converted to float and fused with d_w·d_a into a float accumulator; the minimum terms (from the
 * activation's block sums) are integer dot products of 8 or 16 values in scalar code. One lane reduction per row.
 * Measured on AVX-512 (2026-12): full-width shorts with the pairwise fold beat 256-bit shorts widened by S2I by ~20%,
 * and int32 products by ~30%; widening the activation once per call instead of per row saved ~40%.
 *
 * <p>Q8_K encoder: max-abs, scaling and ggml's {@code nearest_int} bit trick in vectors (the same float operations
 * per element as the scalar reference, so the same bytes); a block with a non-finite value is handed to
 * {@link ScalarKQuantKernels}.
 */
final class PanamaKQuantKernels implements KQuantKernels {
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final int FL = F.length();
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    /** Float (and int) vectors per 16 elements. */
    private static final int PER16 = 16 / FL;
    private static final boolean FMA = Species.FMA;
    /** Full-width short vectors for the 16-bit products of the k-quant dots, and their lane count. */
    private static final VectorSpecies<Short> SW = Species.S;
    private static final int SWL = SW.length();
    /** SWL bytes (half the width): loaded and zero-extended to SW. */
    private static final VectorSpecies<Byte> BW = VectorSpecies.of(byte.class, VectorShape.forBitSize(Species.BITS / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    // ---------------------------------------------------------------- Q8_K encoder

    @Override
    public void quantizeQ8_K(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ8_K(x, xOff + 256 * b, dst, dstOff + 292L * b);
        }
    }

    private static void quantizeBlockQ8_K(float[] x, int xo, MemorySegment dst, long off) {
        FloatVector m = FloatVector.zero(F);
        for (int j = 0; j < 256; j += FL) {
            m = m.max(FloatVector.fromArray(F, x, xo + j).abs());
        }
        float amax = m.reduceLanes(VectorOperators.MAX);
        if (!(amax > 0) || amax == Float.POSITIVE_INFINITY) { // all zero, NaN, or infinite: the reference's own path
            ScalarKQuantKernels.quantizeBlockQ8_K(x, xo, dst, off);
            return;
        }
        float max = 0;
        for (int j = 0; j < 256; j += FL) {
            VectorMask<Float> eq = FloatVector.fromArray(F, x, xo + j).abs().compare(VectorOperators.EQ, amax);
            if (eq.anyTrue()) {
                max = x[xo + j + eq.firstTrue()]; // the first of equal magnitudes, as the reference's strict '>'
                break;
            }
        }
        float iscale = -127.f / max;
        for (int g = 0; g < 16; g++) {
            ByteVector out = ByteVector.zero(B16);
            IntVector sum = IntVector.zero(I);
            for (int p = 0; p < PER16; p++) {
                // nearest_int: the float sum's low 23 bits minus 2^22; |iscale·x| <= 127·(1 + 2^-23) here
                IntVector q = FloatVector.fromArray(F, x, xo + 16 * g + p * FL).mul(iscale).add(12582912f)
                        .reinterpretAsInts().and(0x007fffff).sub(0x00400000).min(127);
                sum = sum.add(q);
                out = out.or((ByteVector) q.convertShape(VectorOperators.I2B, B16, -p));
            }
            out.intoMemorySegment(dst, off + 4 + 16 * g, LE);
            dst.set(I16_LE, off + 260 + 2L * g, (short) sum.reduceLanes(VectorOperators.ADD));
        }
        dst.set(F32_LE, off, 1 / iscale);
    }

    // ---------------------------------------------------------------- Q4_K

    // Q4_K · Q8_K per super-block, with the activation widened once per call to shorts (Q8KRow): per 64 elements g,
    // the 32 (or SL2) code bytes qs[32g..] are zero-extended to shorts; low nibbles times the activation of sub-block 2g,
    // high nibbles times that of 2g + 1, in 16-bit lanes (|q·a| <= 15·128; up to four vectors per lane at 128 bits:
    // <= 7680). Reinterpreted as int lanes, (v·0x10001) >> 16 is the sum of the two 16-bit halves (exact while below
    // 2^15), one int lane per pair of elements; times the six-bit scale into the super-block's int vector, whose lanes
    // stay below 8·63·2·7680 < 2^24, so the I2F conversion is exact. The 8 scales and mins come from the 12 scale bytes
    // read as three little-endian ints (ggml's utmp trick): scales 0..3 = u0 & 0x3f3f3f3f, 4..7 = (u2 & 0x0f0f0f0f) |
    // ((u0 >>> 6) & 0x03030303) << 4, mins 0..3 = u1 & 0x3f3f3f3f, 4..7 = ((u2 >>> 4) & 0x0f0f0f0f) | ((u1 >>> 6) &
    // 0x03030303) << 4 (byte k of each int is index k). The minimum term is &Sigma;_k m_k·(bsums[2k] + bsums[2k+1]).

    @Override
    public float dotQ4_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        Q8KRow x = Q8KRow.of(a, aOff, nBlocks);
        return rowQ4K(w, wOff, x.q, x.d, x.bs2, nBlocks);
    }

    @Override
    public void dotRowsQ4_KQ8_K(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        Q8KRow x = Q8KRow.of(a, aOff, nBlocks);
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = rowQ4K(w, wOff + r * rowStride, x.q, x.d, x.bs2, nBlocks);
        }
    }

    private static float rowQ4K(MemorySegment w, long wOff, short[] aq, float[] ad, int[] bs2, int nBlocks) {
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 144L * b;
            int ao = 256 * b, o8 = 8 * b;
            int u0 = w.get(I32_LE, wb + 4), u1 = w.get(I32_LE, wb + 8), u2 = w.get(I32_LE, wb + 12);
            int scLo = u0 & 0x3f3f3f3f;
            int scHi = (u2 & 0x0f0f0f0f) | (((u0 >>> 6) & 0x03030303) << 4);
            int mLo = u1 & 0x3f3f3f3f;
            int mHi = ((u2 >>> 4) & 0x0f0f0f0f) | (((u1 >>> 6) & 0x03030303) << 4);
            int sumi = (mLo & 0xFF) * bs2[o8] + ((mLo >>> 8) & 0xFF) * bs2[o8 + 1] + ((mLo >>> 16) & 0xFF) * bs2[o8 + 2]
                    + (mLo >>> 24) * bs2[o8 + 3] + (mHi & 0xFF) * bs2[o8 + 4] + ((mHi >>> 8) & 0xFF) * bs2[o8 + 5]
                    + ((mHi >>> 16) & 0xFF) * bs2[o8 + 6] + (mHi >>> 24) * bs2[o8 + 7];
            // the four 64-element groups written out (C2 left a loop over them rolled, with per-iteration overhead)
            IntVector isum = IntVector.zero(I);
            ShortVector p0, p1;
            p0 = ShortVector.zero(SW);
            p1 = p0;
            for (int h = 0; h < 32; h += SWL) {
                ShortVector q = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 16 + h, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                p0 = p0.add(q.and((short) 0xF).mul(ShortVector.fromArray(SW, aq, ao + h)));
                p1 = p1.add(q.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromArray(SW, aq, ao + 32 + h)));
            }
            isum = isum.add(p0.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16).mul(scLo & 0xFF))
                    .add(p1.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16).mul((scLo >>> 8) & 0xFF));
            p0 = ShortVector.zero(SW);
            p1 = p0;
            for (int h = 0; h < 32; h += SWL) {
                ShortVector q = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 48 + h, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                p0 = p0.add(q.and((short) 0xF).mul(ShortVector.fromArray(SW, aq, ao + 64 + h)));
                p1 = p1.add(q.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromArray(SW, aq, ao + 96 + h)));
            }
            isum = isum.add(p0.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16).mul((scLo >>> 16) & 0xFF))
                    .add(p1.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16).mul(scLo >>> 24));
            p0 = ShortVector.zero(SW);
            p1 = p0;
            for (int h = 0; h < 32; h += SWL) {
                ShortVector q = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 80 + h, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                p0 = p0.add(q.and((short) 0xF).mul(ShortVector.fromArray(SW, aq, ao + 128 + h)));
                p1 = p1.add(q.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromArray(SW, aq, ao + 160 + h)));
            }
            isum = isum.add(p0.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16).mul(scHi & 0xFF))
                    .add(p1.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16).mul((scHi >>> 8) & 0xFF));
            p0 = ShortVector.zero(SW);
            p1 = p0;
            for (int h = 0; h < 32; h += SWL) {
                ShortVector q = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 112 + h, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                p0 = p0.add(q.and((short) 0xF).mul(ShortVector.fromArray(SW, aq, ao + 192 + h)));
                p1 = p1.add(q.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromArray(SW, aq, ao + 224 + h)));
            }
            isum = isum.add(p0.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16).mul((scHi >>> 16) & 0xFF))
                    .add(p1.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16).mul(scHi >>> 24));
            FloatVector d = FloatVector.broadcast(F, f16(w, wb) * ad[b]);
            FloatVector f = (FloatVector) isum.convert(VectorOperators.I2F, 0);
            acc = FMA ? f.fma(d, acc) : f.mul(d).add(acc);
            mins -= (f16(w, wb + 2) * ad[b]) * sumi;
        }
        return acc.reduceLanes(VectorOperators.ADD) + mins;
    }

    // ---------------------------------------------------------------- interleaved Q4_K (KQuantInterleaved)

    // Per tile block and group of IL = I.length() rows (rg = their byte offset 2·IL·group in each 32-byte chunk): a
    // chunk zero-extended to 2·IL shorts holds, for each row, two adjacent elements (low nibbles: sub-block 2g, high:
    // 2g + 1); the activation pair (a_2i, a_2i+1) broadcast as one int multiplies both at once. 16 chunks per sub-block
    // add up in 16-bit lanes (|sum| <= 16·15·128 = 30720 < 2^15), folded once per sub-block into one int lane per row
    // by (v >> 16) + ((v << 16) >> 16) (exact in 32 bits), times that row's 6-bit scale. The scales and minimums of
    // the IL rows come from the 12 interleaved scale bytes (S_k: byte k of each row) by get_scale_min_k4's rule in int
    // lanes. The float steps are those of the scalar twin lane by lane (fma, then acc − macc): the same bits.

    private static final VectorSpecies<Byte> BSI = I.length() == 16 ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;

    @Override
    public void gemvQ4_Kx16(MemorySegment w, long wOff, int tiles, MemorySegment a, long aOff, int nBlocks, float[] y,
            int yOff, int rowCount) {
        Q8KRow x = Q8KRow.of(a, aOff, nBlocks);
        int il = I.length();
        int[] sc = new int[9 * il];
        float[] accs = new float[4 * il];
        float[] dd = new float[2 * il];
        int per = 16 / il;
        int units = Math.min(tiles * per, (rowCount + il - 1) / il); // units of IL rows holding a valid row
        long tileBytes = (long) nBlocks * 2304;
        for (int u = 0; u < units; u += 2) {
            int v = Math.min(u + 1, units - 1); // an odd last unit is computed twice and stored once
            int rowA = il * u, rowB = il * v;
            tileQ4K(w, wOff + (u / per) * tileBytes, il * (u % per), wOff + (v / per) * tileBytes, il * (v % per),
                    x.pairs, x.d, x.bs2, nBlocks, sc, dd, accs);
            store(accs, 0, y, yOff + rowA, Math.min(il, rowCount - rowA));
            if (v != u) {
                store(accs, 2 * il, y, yOff + rowB, Math.min(il, rowCount - rowB));
            }
        }
    }

    /** y[yOff + i] = acc[i] − macc[i] for i &lt; n, acc and macc at {@code accs[o]} and {@code accs[o + IL]}. */
    private static void store(float[] accs, int o, float[] y, int yOff, int n) {
        PanamaInterleaved.store(FloatVector.fromArray(F, accs, o).sub(FloatVector.fromArray(F, accs, o + I.length())),
                y, yOff, n);
    }

    /** The scale bytes of the IL rows at {@code off} (one per row), zero-extended to int lanes. */
    private static IntVector scaleBytes(MemorySegment w, long off) {
        return (IntVector) ByteVector.fromMemorySegment(BSI, w, off, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    /**
     * The 6-bit scales of the 8 sub-blocks of the IL rows at {@code r0} of the tile block at {@code blk} (by
     * get_scale_min_k4: j &lt; 4: S[j] &amp; 63; j &ge; 4: (S[j + 4] &amp; 0xF) | ((S[j − 4] &gt;&gt; 6) &lt;&lt; 4), S[k] at
     * byte 64 + 16k + row) into {@code sc[j·IL ..]}, and &Sigma;_j m_j·bs2_j (the minimums by the same rule on the
     * other halves, times the activation's pair sums) into {@code sc[8·IL ..]}. A method of its own: with these
     * vectors decoded inside the kernel, C2 stopped inlining the byte loads (a static call returning a boxed vector
     * per load; the kernel ran at about 3 GB/s). Written out, not as a loop over j: the four-iteration loop is small
     * enough (294 bytecodes) for C2 to inline the method into {@link #tileQ4K}, which then passes its node budget and
     * boxes the widening of d and dmin again (measured 2026-12-01 with {@code -XX:+PrintInlining}).
     */
    private static void scalesQ4K(MemorySegment w, long blk, int r0, int[] bs2, int o8, int[] sc) {
        int il = I.length();
        IntVector s0 = scaleBytes(w, blk + 64 + r0);
        IntVector s1 = scaleBytes(w, blk + 80 + r0);
        IntVector s2 = scaleBytes(w, blk + 96 + r0);
        IntVector s3 = scaleBytes(w, blk + 112 + r0);
        IntVector s4 = scaleBytes(w, blk + 128 + r0);
        IntVector s5 = scaleBytes(w, blk + 144 + r0);
        IntVector s6 = scaleBytes(w, blk + 160 + r0);
        IntVector s7 = scaleBytes(w, blk + 176 + r0);
        IntVector s8 = scaleBytes(w, blk + 192 + r0);
        IntVector s9 = scaleBytes(w, blk + 208 + r0);
        IntVector s10 = scaleBytes(w, blk + 224 + r0);
        IntVector s11 = scaleBytes(w, blk + 240 + r0);
        s0.and(63).intoArray(sc, 0);
        s1.and(63).intoArray(sc, il);
        s2.and(63).intoArray(sc, 2 * il);
        s3.and(63).intoArray(sc, 3 * il);
        s8.and(0xF).or(s0.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).intoArray(sc, 4 * il);
        s9.and(0xF).or(s1.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).intoArray(sc, 5 * il);
        s10.and(0xF).or(s2.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).intoArray(sc, 6 * il);
        s11.and(0xF).or(s3.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).intoArray(sc, 7 * il);
        s4.and(63).mul(bs2[o8])
                .add(s5.and(63).mul(bs2[o8 + 1]))
                .add(s6.and(63).mul(bs2[o8 + 2]))
                .add(s7.and(63).mul(bs2[o8 + 3]))
                .add(s8.lanewise(VectorOperators.LSHR, 4).or(s4.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).mul(bs2[o8 + 4]))
                .add(s9.lanewise(VectorOperators.LSHR, 4).or(s5.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).mul(bs2[o8 + 5]))
                .add(s10.lanewise(VectorOperators.LSHR, 4).or(s6.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).mul(bs2[o8 + 6]))
                .add(s11.lanewise(VectorOperators.LSHR, 4).or(s7.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).mul(bs2[o8 + 7]))
                .intoArray(sc, 8 * il);
    }

    /** The low-nibble mask as a vector constant (a scalar operand costs more of C2's inlining budget, see below). */
    private static final ShortVector LOW_NIBBLES = ShortVector.broadcast(SW, (short) 0xF);

    /** d and dmin when one of them is an infinity or a NaN, widened into {@code dd}: a cold path of its own. */
    private static void specialHalves(ShortVector hd, ShortVector hm, float[] dd) {
        HalfLanes.f16(hd).intoArray(dd, 0);
        HalfLanes.f16(hm).intoArray(dd, I.length());
    }

    /**
     * Two units of IL rows (rows {@code r0A} of the tile at {@code offA} and rows {@code r0B} of the tile at
     * {@code offB}) block by block in turn, A's block b then B's block b, so that the memory system sees two
     * sequential streams (against one unit at a time: 1.03 best / 1.07 median at 2 threads, 1.04 / 1.19 at 1 thread,
     * 4096×14336, same-JVM A/B in both orders). Each unit's float accumulators acc and macc live in {@code accs} (A
     * at 0 and IL, B at 2·IL and 3·IL), loaded and stored once per block, which keeps the loop body the single-unit
     * one: a body written out for two units passed C2's node budget and boxed its vectors. Per row the operations and
     * their order are those of one unit alone.
     *
     * <p>d and dmin are widened by {@link HalfLanes#f16Finite} after one test that neither holds an infinity or a NaN
     * ({@link HalfLanes#special}; else {@link #specialHalves}, out of line): the same bits as {@link HalfLanes#f16}.
     * With {@code f16} inline, and scalar operands for the nibble mask and d_a, the method was just past C2's node
     * budget (NodeCountInliningCutoff) and the dmin widening ran as a call returning a boxed vector, once per block;
     * without it the GEMV is 1.11–1.30× faster (median; 1.13–1.20× best) at 1 and 2 threads, 4096×14336.
     */
    private static void tileQ4K(MemorySegment w, long offA, int r0A, long offB, int r0B, int[] pairs, float[] ad,
            int[] bs2, int nBlocks, int[] sc, float[] dd, float[] accs) {
        int il = I.length();
        java.util.Arrays.fill(accs, 0f);
        for (int s = 0, steps = 2 * nBlocks; s < steps; s++) {
            int b = s >> 1;
            int second = s & 1;
            int r0 = second == 0 ? r0A : r0B;
            long blk = (second == 0 ? offA : offB) + 2304L * b;
            int ao = 2 * il * second;
            int rg = 2 * r0;
            int po = 128 * b;
            scalesQ4K(w, blk, r0, bs2, 8 * b, sc);
            IntVector isum = IntVector.zero(I);
            // the four 64-code groups as a loop (written out four times, the method was too large for C1's tier 3:
            // "out of virtual registers", so it never got the profile C2 needs and ran in C1 at ~1/100 the speed)
            for (int g = 0; g < 4; g++) {
                long co = blk + 256 + 512L * g + rg;
                int pl = po + 32 * g;
                ShortVector p0 = ShortVector.zero(SW);
                ShortVector p1 = p0;
                for (int c = 0; c < 16; c++) {
                    ShortVector q = (ShortVector) ByteVector.fromMemorySegment(BW, w, co + 32 * c, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                    p0 = p0.add(q.and(LOW_NIBBLES).mul(IntVector.broadcast(I, pairs[pl + c]).reinterpretAsShorts()));
                    p1 = p1.add(q.lanewise(VectorOperators.LSHR, 4)
                            .mul(IntVector.broadcast(I, pairs[pl + 16 + c]).reinterpretAsShorts()));
                }
                IntVector v0 = p0.reinterpretAsInts();
                IntVector v1 = p1.reinterpretAsInts();
                isum = isum.add(v0.lanewise(VectorOperators.ASHR, 16).add(v0.lanewise(VectorOperators.LSHL, 16)
                                .lanewise(VectorOperators.ASHR, 16)).mul(IntVector.fromArray(I, sc, 2 * g * il)))
                        .add(v1.lanewise(VectorOperators.ASHR, 16).add(v1.lanewise(VectorOperators.LSHL, 16)
                                .lanewise(VectorOperators.ASHR, 16)).mul(IntVector.fromArray(I, sc, (2 * g + 1) * il)));
            }
            IntVector msum = IntVector.fromArray(I, sc, 8 * il);
            ShortVector hd = ShortVector.fromMemorySegment(HalfLanes.H, w, blk + 2L * r0, LE);
            ShortVector hm = ShortVector.fromMemorySegment(HalfLanes.H, w, blk + 32 + 2L * r0, LE);
            FloatVector dv, dm;
            if (HalfLanes.special(hd, hm)) {
                specialHalves(hd, hm, dd);
                dv = FloatVector.fromArray(F, dd, 0);
                dm = FloatVector.fromArray(F, dd, il);
            } else {
                dv = HalfLanes.f16Finite(hd);
                dm = HalfLanes.f16Finite(hm);
            }
            FloatVector da = FloatVector.broadcast(F, ad[b]);
            ((FloatVector) isum.convert(VectorOperators.I2F, 0)).fma(dv.mul(da), FloatVector.fromArray(F, accs, ao))
                    .intoArray(accs, ao);
            ((FloatVector) msum.convert(VectorOperators.I2F, 0)).fma(dm.mul(da), FloatVector.fromArray(F, accs, ao + il))
                    .intoArray(accs, ao + il);
        }
    }


    // ---------------------------------------------------------------- Q5_K

    // As Q4_K with the fifth bit from qh[l] (bit 2g for the low nibble, 2g + 1 for the high one): codes <= 31,
    // |q·a| <= 31·128 = 3968, up to four product vectors per lane at 128 bits: <= 15872, folded pairs <= 31744 < 2^15;
    // int lanes <= 8·63·31744 < 2^24 (exact I2F).

    @Override
    public float dotQ5_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        Q8KRow x = Q8KRow.of(a, aOff, nBlocks);
        return rowQ5K(w, wOff, x.q, x.d, x.bs2, nBlocks);
    }

    private static float rowQ5K(MemorySegment w, long wOff, short[] aq, float[] ad, int[] bs2, int nBlocks) {
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 176L * b;
            int ao = 256 * b;
            int u0 = w.get(I32_LE, wb + 4), u1 = w.get(I32_LE, wb + 8), u2 = w.get(I32_LE, wb + 12);
            int scLo = u0 & 0x3f3f3f3f;
            int scHi = (u2 & 0x0f0f0f0f) | (((u0 >>> 6) & 0x03030303) << 4);
            int mLo = u1 & 0x3f3f3f3f;
            int mHi = ((u2 >>> 4) & 0x0f0f0f0f) | (((u1 >>> 6) & 0x03030303) << 4);
            int sumi = 0;
            for (int k = 0; k < 8; k++) {
                sumi += (((k < 4 ? mLo : mHi) >>> (8 * (k & 3))) & 0xFF) * bs2[8 * b + k];
            }
            IntVector isum = IntVector.zero(I);
            for (int g = 0; g < 4; g++) {
                int sw = g < 2 ? scLo : scHi;
                int sc0 = (sw >>> (16 * (g & 1))) & 0xFF, sc1 = (sw >>> (16 * (g & 1) + 8)) & 0xFF;
                ShortVector p0 = ShortVector.zero(SW), p1 = p0;
                for (int h = 0; h < 32; h += SWL) {
                    ShortVector q = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 48 + 32 * g + h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                    ShortVector hb = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 16 + h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                    ShortVector q0 = q.and((short) 0xF).or(hb.lanewise(VectorOperators.LSHR, 2 * g).and((short) 1)
                            .lanewise(VectorOperators.LSHL, 4));
                    ShortVector q1 = q.lanewise(VectorOperators.LSHR, 4).or(hb.lanewise(VectorOperators.LSHR, 2 * g + 1)
                            .and((short) 1).lanewise(VectorOperators.LSHL, 4));
                    p0 = p0.add(q0.mul(ShortVector.fromArray(SW, aq, ao + 64 * g + h)));
                    p1 = p1.add(q1.mul(ShortVector.fromArray(SW, aq, ao + 64 * g + 32 + h)));
                }
                IntVector s0 = p0.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16);
                IntVector s1 = p1.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16);
                isum = isum.add(s0.mul(sc0)).add(s1.mul(sc1));
            }
            FloatVector d = FloatVector.broadcast(F, f16(w, wb) * ad[b]);
            FloatVector f = (FloatVector) isum.convert(VectorOperators.I2F, 0);
            acc = FMA ? f.fma(d, acc) : f.mul(d).add(acc);
            mins -= (f16(w, wb + 2) * ad[b]) * sumi;
        }
        return acc.reduceLanes(VectorOperators.ADD) + mins;
    }

    // ---------------------------------------------------------------- Q2_K and Q3_K

    // Both have 16-element sub-blocks and 2-bit low codes: element 128h + 32s + l is bits 2s..2s+1 of qs[32h + l].
    // Q2_K: codes 0..3 with 4-bit scales (low nibbles of scales[16]); the minimums dmin·m_j go through the block sums.
    // Q3_K: codes u = low | hbit << 2 in 0..7 with hbit = bit 4h + s of hmask[l], value u − 4; the "−4" goes through
    // the block sums: −4·&Sigma;_j (sc_j − 32)·bsum_j. |u·a| <= 7·128; at 128 bits two vectors of a sub-block are
    // added first; the folds and int lanes stay far below 2^15 and 2^24. At 512 bits a product vector holds two
    // sub-blocks, their scales picked per int lane by the Q6_K shuffles.

    @Override
    public float dotQ2_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        Q8KRow x = Q8KRow.of(a, aOff, nBlocks);
        return rowQ23K(w, wOff, x.q, x.d, x.bsums, nBlocks, false);
    }

    @Override
    public float dotQ3_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        Q8KRow x = Q8KRow.of(a, aOff, nBlocks);
        return rowQ23K(w, wOff, x.q, x.d, x.bsums, nBlocks, true);
    }

    private static float rowQ23K(MemorySegment w, long wOff, short[] aq, float[] ad, int[] bsums, int nBlocks,
            boolean q3) {
        FloatVector acc = FloatVector.zero(F);
        float corr = 0;
        int[] sc = new int[16];
        long bytes = q3 ? 110 : 84, qsAt = q3 ? 32 : 16;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + bytes * b;
            int ao = 256 * b;
            int sbs = 0;
            if (q3) {
                // ggml's aux trick: the 12 bytes as three ints give 16 six-bit values (byte k of word k/4), biased by 32
                int a0 = w.get(I32_LE, wb + 96), a1 = w.get(I32_LE, wb + 100), t = w.get(I32_LE, wb + 104);
                for (int j = 0; j < 16; j++) {
                    int word = switch (j >> 2) {
                        case 0 -> (a0 & 0x0f0f0f0f) | ((t & 0x03030303) << 4);
                        case 1 -> (a1 & 0x0f0f0f0f) | (((t >>> 2) & 0x03030303) << 4);
                        case 2 -> ((a0 >>> 4) & 0x0f0f0f0f) | (((t >>> 4) & 0x03030303) << 4);
                        default -> ((a1 >>> 4) & 0x0f0f0f0f) | (((t >>> 6) & 0x03030303) << 4);
                    };
                    sc[j] = ((word >>> (8 * (j & 3))) & 0xFF) - 32;
                    sbs += sc[j] * bsums[16 * b + j];
                }
            } else {
                for (int j = 0; j < 16; j++) {
                    int v = w.get(ValueLayout.JAVA_BYTE, wb + j) & 0xFF;
                    sc[j] = v & 0xF;
                    sbs += (v >> 4) * bsums[16 * b + j];
                }
            }
            IntVector isum = IntVector.zero(I);
            if (SWL == 32) {
                IntVector sc16 = IntVector.fromArray(I, sc, 0);
                ShortVector hm = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0); // Q3_K's hmask (unused for Q2_K)
                for (int h = 0; h < 2; h++) {
                    ShortVector qv = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + qsAt + 32 * h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                    for (int sft = 0; sft < 4; sft++) {
                        ShortVector u = qv.lanewise(VectorOperators.LSHR, 2 * sft).and((short) 3);
                        if (q3) {
                            u = u.or(hm.lanewise(VectorOperators.LSHR, 4 * h + sft).and((short) 1)
                                    .lanewise(VectorOperators.LSHL, 2));
                        }
                        IntVector f = u.mul(ShortVector.fromArray(SW, aq, ao + 128 * h + 32 * sft)).reinterpretAsInts()
                                .mul(0x10001).lanewise(VectorOperators.ASHR, 16);
                        isum = isum.add(f.mul(sc16.rearrange(Q6_SCALE_SHUFFLE[4 * h + sft])));
                    }
                }
            } else {
                for (int h = 0; h < 2; h++) {
                    for (int sft = 0; sft < 4; sft++) {
                        for (int half = 0; half < 2; half++) {
                            ShortVector p = ShortVector.zero(SW);
                            for (int l = 16 * half; l < 16 * half + 16; l += SWL) {
                                ShortVector u = ((ShortVector) ByteVector.fromMemorySegment(BW, w, wb + qsAt + 32 * h + l, LE)
                                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0))
                                        .lanewise(VectorOperators.LSHR, 2 * sft).and((short) 3);
                                if (q3) {
                                    u = u.or(((ShortVector) ByteVector.fromMemorySegment(BW, w, wb + l, LE)
                                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0))
                                            .lanewise(VectorOperators.LSHR, 4 * h + sft).and((short) 1)
                                            .lanewise(VectorOperators.LSHL, 2));
                                }
                                p = p.add(u.mul(ShortVector.fromArray(SW, aq, ao + 128 * h + 32 * sft + l)));
                            }
                            isum = isum.add(p.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16)
                                    .mul(sc[8 * h + 2 * sft + half]));
                        }
                    }
                }
            }
            float d = q3 ? f16(w, wb + 108) * ad[b] : ad[b] * f16(w, wb + 80);
            FloatVector f = (FloatVector) isum.convert(VectorOperators.I2F, 0);
            acc = FMA ? f.fma(FloatVector.broadcast(F, d), acc) : f.mul(d).add(acc);
            corr -= q3 ? d * (4 * sbs) : (ad[b] * f16(w, wb + 82)) * sbs;
        }
        return acc.reduceLanes(VectorOperators.ADD) + corr;
    }

    // ---------------------------------------------------------------- Q6_K

    // Q6_K · Q8_K per super-block: codes q in [0, 63] (the "-32" is applied through the block sums: the minimum-like
    // term 32·&Sigma;_j sc_j·bsum_j), 16-bit products |q·a| <= 63·128 = 8064; at 128 bits two product vectors of one
    // sub-block are added first (<= 16128), and the pairwise fold gives <= 32256 < 2^15. Per half h and l < SWL-chunk:
    // ql[64h + l] low nibble -> k = 0, high -> k = 2; ql[64h + 32 + l] low -> k = 1, high -> k = 3; qh[32h + l] bits
    // 2k..2k+1 are the top bits of k; element 128h + 32k + l, sub-block 8h + 2k + l/16. At 512 bits one product vector
    // holds 32 elements (two sub-blocks): the folded int lanes 0..7 and 8..15 take the scales of the two sub-blocks,
    // picked from the 16 scales by a constant shuffle. Int lanes stay below 8·128·32256 < 2^25: the I2F conversion may
    // round (at most once per lane and block, covered by the summation bound).

    /** At 512 bits: for (h, k), int lane i takes scale 8h + 2k + i/8. */
    private static final VectorShuffle<Integer>[] Q6_SCALE_SHUFFLE = q6ScaleShuffles();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Integer>[] q6ScaleShuffles() {
        VectorShuffle<Integer>[] s = new VectorShuffle[8];
        if (I.length() == 16) {
            for (int hk = 0; hk < 8; hk++) {
                int base = 2 * hk;
                s[hk] = VectorShuffle.fromOp(I, i -> base + i / 8);
            }
        }
        return s;
    }

    @Override
    public float dotQ6_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        Q8KRow x = Q8KRow.of(a, aOff, nBlocks);
        return rowQ6K(w, wOff, x.q, x.d, x.bsums, nBlocks);
    }

    @Override
    public void dotRowsQ6_KQ8_K(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        Q8KRow x = Q8KRow.of(a, aOff, nBlocks);
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = rowQ6K(w, wOff + r * rowStride, x.q, x.d, x.bsums, nBlocks);
        }
    }

    private static float rowQ6K(MemorySegment w, long wOff, short[] aq, float[] ad, int[] bsums, int nBlocks) {
        FloatVector acc = FloatVector.zero(F);
        float offs = 0;
        FloatVector offv = FloatVector.zero(F); // 512 bits: the 16 scale·bsum products per lane, reduced at the end
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 210L * b;
            int ao = 256 * b;
            IntVector isum = IntVector.zero(I);
            if (SWL == 32) {
                IntVector sc16 = (IntVector) ByteVector.fromMemorySegment(B16, w, wb + 192, LE)
                        .convertShape(VectorOperators.B2I, I, 0);
                offv = ((FloatVector) sc16.mul(IntVector.fromArray(I, bsums, 16 * b)).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(F, -32 * (f16(w, wb + 208) * ad[b])), offv);
                for (int h = 0; h < 2; h++) {
                    ShortVector l0 = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 64 * h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                    ShortVector l1 = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 64 * h + 32, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                    ShortVector hb = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 128 + 32 * h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                    int o = ao + 128 * h;
                    ShortVector q0 = l0.and((short) 0xF).or(hb.and((short) 3).lanewise(VectorOperators.LSHL, 4));
                    ShortVector q1 = l1.and((short) 0xF).or(hb.lanewise(VectorOperators.LSHL, 2).and((short) 0x30));
                    ShortVector q2 = l0.lanewise(VectorOperators.LSHR, 4).or(hb.and((short) 0x30));
                    ShortVector q3 = l1.lanewise(VectorOperators.LSHR, 4).or(hb.lanewise(VectorOperators.LSHR, 2).and((short) 0x30));
                    IntVector s0 = q0.mul(ShortVector.fromArray(SW, aq, o)).reinterpretAsInts().mul(0x10001)
                            .lanewise(VectorOperators.ASHR, 16);
                    IntVector s1 = q1.mul(ShortVector.fromArray(SW, aq, o + 32)).reinterpretAsInts().mul(0x10001)
                            .lanewise(VectorOperators.ASHR, 16);
                    IntVector s2 = q2.mul(ShortVector.fromArray(SW, aq, o + 64)).reinterpretAsInts().mul(0x10001)
                            .lanewise(VectorOperators.ASHR, 16);
                    IntVector s3 = q3.mul(ShortVector.fromArray(SW, aq, o + 96)).reinterpretAsInts().mul(0x10001)
                            .lanewise(VectorOperators.ASHR, 16);
                    isum = isum.add(s0.mul(sc16.rearrange(Q6_SCALE_SHUFFLE[4 * h])))
                            .add(s1.mul(sc16.rearrange(Q6_SCALE_SHUFFLE[4 * h + 1])))
                            .add(s2.mul(sc16.rearrange(Q6_SCALE_SHUFFLE[4 * h + 2])))
                            .add(s3.mul(sc16.rearrange(Q6_SCALE_SHUFFLE[4 * h + 3])));
                }
            } else {
                int sbs = 0;
                for (int j = 0; j < 16; j++) {
                    sbs += w.get(ValueLayout.JAVA_BYTE, wb + 192 + j) * bsums[16 * b + j];
                }
                offs -= (f16(w, wb + 208) * ad[b]) * (32 * sbs);
                for (int h = 0; h < 2; h++) {
                    for (int half = 0; half < 2; half++) {
                        ShortVector p0 = ShortVector.zero(SW), p1 = p0, p2 = p0, p3 = p0;
                        for (int l = 16 * half; l < 16 * half + 16; l += SWL) {
                            ShortVector l0 = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 64 * h + l, LE)
                                    .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                            ShortVector l1 = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 64 * h + 32 + l, LE)
                                    .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                            ShortVector hb = (ShortVector) ByteVector.fromMemorySegment(BW, w, wb + 128 + 32 * h + l, LE)
                                    .convertShape(VectorOperators.ZERO_EXTEND_B2S, SW, 0);
                            int o = ao + 128 * h + l;
                            p0 = p0.add(l0.and((short) 0xF).or(hb.and((short) 3).lanewise(VectorOperators.LSHL, 4))
                                    .mul(ShortVector.fromArray(SW, aq, o)));
                            p1 = p1.add(l1.and((short) 0xF).or(hb.lanewise(VectorOperators.LSHL, 2).and((short) 0x30))
                                    .mul(ShortVector.fromArray(SW, aq, o + 32)));
                            p2 = p2.add(l0.lanewise(VectorOperators.LSHR, 4).or(hb.and((short) 0x30))
                                    .mul(ShortVector.fromArray(SW, aq, o + 64)));
                            p3 = p3.add(l1.lanewise(VectorOperators.LSHR, 4).or(hb.lanewise(VectorOperators.LSHR, 2)
                                    .and((short) 0x30)).mul(ShortVector.fromArray(SW, aq, o + 96)));
                        }
                        long sc = wb + 192 + 8 * h + half;
                        isum = isum.add(p0.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16)
                                        .mul(w.get(ValueLayout.JAVA_BYTE, sc)))
                                .add(p1.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16)
                                        .mul(w.get(ValueLayout.JAVA_BYTE, sc + 2)))
                                .add(p2.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16)
                                        .mul(w.get(ValueLayout.JAVA_BYTE, sc + 4)))
                                .add(p3.reinterpretAsInts().mul(0x10001).lanewise(VectorOperators.ASHR, 16)
                                        .mul(w.get(ValueLayout.JAVA_BYTE, sc + 6)));
                    }
                }
            }
            float d = f16(w, wb + 208) * ad[b];
            FloatVector f = (FloatVector) isum.convert(VectorOperators.I2F, 0);
            acc = FMA ? f.fma(FloatVector.broadcast(F, d), acc) : f.mul(d).add(acc);
        }
        return acc.add(offv).reduceLanes(VectorOperators.ADD) + offs;
    }
}

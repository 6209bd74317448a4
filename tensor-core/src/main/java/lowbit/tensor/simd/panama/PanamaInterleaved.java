package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector kernels over the 16-row interleaved Q4_0 / Q8_0 tiles ({@code lowbit.tensor.ggml.Interleaved}) with a
 * pair activation ({@code GgmlKernels.quantizeQ8_0Pairs}).
 *
 * <p>The layout puts row r's two codes of a pair of consecutive elements in short lanes 2r and 2r+1, so a whole
 * vector works on {@code FL} rows (a "part"; 16/FL parts per tile) with no horizontal work: a code vector times the
 * broadcast activation pair (an int broadcast read as two shorts) is added into a 16-bit accumulator, exact because
 * each lane sums at most 16 products for Q4_0 (|q·a| &le; 15·127, 16·1905 &lt; 2^15; the products of the unmasked
 * code byte with the {@code pairsForQ4_0} activation wrap, their sum does not) and 2 for Q8_0 (2·128·127 &lt; 2^15,
 * after which the pairs are added into an int accumulator). At the end of a block the two shorts of each int
 * lane are added (shift left 16 then arithmetic shift right 16, plus arithmetic shift right 16): one exact int per
 * row, converted to float and fused into the row's float accumulator with the vector of its 16 fp16 scales (widened
 * in lanes by {@link HalfLanes#f16}) times the activation's d. When the caller vouches that every scale is finite
 * ({@code GgmlKernels#gemvFiniteScalesx16}; {@code GgmlMatrix} checks once when it repacks), the GEMVs take the
 * three-operation widening {@link HalfLanes#f16Unbiased} times d·2^112 instead, the same product bit for bit:
 * 1.29–1.52× faster (4096×14336, 1 and 2 threads, same-JVM A/B). A check per block instead (an any-lane compare
 * and a branch) ate most of that: 1.03–1.07×. Q4_0 multiplies the unsigned codes and subtracts
 * 8·&Sigma;a once per block. Per row these are the operations of the scalar twin in the same order, so the results
 * are the same bits.
 */
final class PanamaInterleaved {
    private PanamaInterleaved() {
    }

    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final VectorSpecies<Short> S = Species.S;
    private static final VectorSpecies<Short> H = HalfLanes.H;
    /** Rows per part: float lanes. */
    private static final int FL = F.length();
    /** Two bytes per row of a part: half the vector width, widened to a full short vector. */
    private static final VectorSpecies<Byte> BH = VectorSpecies.of(byte.class, VectorShape.forBitSize(Species.BITS / 2));
    private static final int PARTS = 16 / FL;
    private static final boolean FMA = Species.FMA;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int PAIR_INTS = 18;

    /**
     * Q4_0 GEMV. Parts (FL rows of a tile) are taken two at a time, from consecutive tiles when a tile is one part:
     * the two share the activation broadcasts and give the memory system two sequential streams.
     */
    static void gemvQ4(MemorySegment w, long wOff, int tiles, int nb, int[] act, int actOff, float[] y, int yOff,
            int rows, boolean finite) {
        long tileBytes = 288L * nb;
        int units = Math.min(tiles * PARTS, (rows + FL - 1) / FL); // parts holding at least one valid row
        int u = 0;
        for (; u + 2 <= units; u += 2) {
            q4Parts2(w, wOff + partOffset(u, tileBytes), wOff + partOffset(u + 1, tileBytes), nb, act, actOff, y,
                    yOff + FL * u, rows - FL * u, finite);
        }
        if (u < units) { // an odd last part: computed twice in the pair kernel, stored once
            long wu = wOff + partOffset(u, tileBytes);
            q4Parts2(w, wu, wu, nb, act, actOff, y, yOff + FL * u, Math.min(FL, rows - FL * u), finite);
        }
    }

    /** Byte offset of part u (part u % PARTS of tile u / PARTS) in tiles of {@code tileBytes}. */
    static long partOffset(int u, long tileBytes) {
        return (u / PARTS) * tileBytes + 2L * FL * (u % PARTS);
    }

    private static void q4Parts2(MemorySegment w, long wa, long wb, int nb, int[] act, int actOff, float[] y, int y0,
            int valid, boolean finite) {
        FloatVector accA = FloatVector.zero(F), accB = accA;
        for (int b = 0; b < nb; b++) {
            long ba = wa + 288L * b, bb = wb + 288L * b;
            int ao = actOff + PAIR_INTS * b;
            ShortVector sa = ShortVector.zero(S), sb = sa;
            for (int c = 0; c < 8; c++) {
                ShortVector qa = (ShortVector) ByteVector.fromMemorySegment(BH, w, ba + 32 + 32 * c, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                ShortVector qb = (ShortVector) ByteVector.fromMemorySegment(BH, w, bb + 32 + 32 * c, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                ShortVector a0 = IntVector.broadcast(I, act[ao + 2 * c]).reinterpretAsShorts();
                ShortVector a1 = IntVector.broadcast(I, act[ao + 2 * c + 1]).reinterpretAsShorts();
                sa = sa.add(qa.mul(a0)).add(qa.lanewise(VectorOperators.LSHR, 4).mul(a1));
                sb = sb.add(qb.mul(a0)).add(qb.lanewise(VectorOperators.LSHR, 4).mul(a1));
            }
            int s8 = 8 * act[ao + 16];
            float da = Float.intBitsToFloat(act[ao + 17]);
            IntVector ia = sa.reinterpretAsInts();
            IntVector ib = sb.reinterpretAsInts();
            IntVector ua = ia.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(ia.lanewise(VectorOperators.ASHR, 16)).sub(s8);
            IntVector ub = ib.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(ib.lanewise(VectorOperators.ASHR, 16)).sub(s8);
            ShortVector ha = ShortVector.fromMemorySegment(H, w, ba, LE);
            ShortVector hb = ShortVector.fromMemorySegment(H, w, bb, LE);
            FloatVector ca = scales(ha, finite, da);
            FloatVector cb = scales(hb, finite, da);
            FloatVector fa = (FloatVector) ua.convert(VectorOperators.I2F, 0);
            FloatVector fb = (FloatVector) ub.convert(VectorOperators.I2F, 0);
            if (FMA) {
                accA = fa.fma(ca, accA);
                accB = fb.fma(cb, accB);
            } else {
                accA = accA.add(fa.mul(ca));
                accB = accB.add(fb.mul(cb));
            }
        }
        store(accA, y, y0, valid);
        store(accB, y, y0 + FL, valid - FL);
    }

    /**
     * The 16 fp16 scales {@code h} times {@code da}; {@code finite} (the caller's promise that no scale of the tiles
     * is Inf/NaN): by the three-operation widening, the same bits.
     */
    private static FloatVector scales(ShortVector h, boolean finite, float da) {
        return finite ? HalfLanes.f16Unbiased(h).mul(da * HalfLanes.UNBIAS) : HalfLanes.f16(h).mul(da);
    }

    /** Stores the first {@code valid} (at most FL) lanes of {@code acc} at {@code y[y0]} (nothing when valid &le; 0). */
    static void store(FloatVector acc, float[] y, int y0, int valid) {
        if (valid <= 0) {
            return;
        }
        if (valid >= FL) {
            acc.intoArray(y, y0);
        } else {
            acc.intoArray(y, y0, F.indexInRange(0, valid));
        }
    }

    /** Q8_0 GEMV, parts two at a time as in {@link #gemvQ4}. */
    static void gemvQ8(MemorySegment w, long wOff, int tiles, int nb, int[] act, int actOff, float[] y, int yOff,
            int rows, boolean finite) {
        long tileBytes = 544L * nb;
        int units = Math.min(tiles * PARTS, (rows + FL - 1) / FL);
        int u = 0;
        for (; u + 2 <= units; u += 2) {
            q8Parts2(w, wOff + partOffset(u, tileBytes), wOff + partOffset(u + 1, tileBytes), nb, act, actOff, y,
                    yOff + FL * u, rows - FL * u, finite);
        }
        if (u < units) { // an odd last part: computed twice in the pair kernel, stored once
            long wu = wOff + partOffset(u, tileBytes);
            q8Parts2(w, wu, wu, nb, act, actOff, y, yOff + FL * u, Math.min(FL, rows - FL * u), finite);
        }
    }

    private static void q8Parts2(MemorySegment w, long wa, long wb, int nb, int[] act, int actOff, float[] y, int y0,
            int valid, boolean finite) {
        FloatVector accA = FloatVector.zero(F), accB = accA;
        for (int b = 0; b < nb; b++) {
            long ba = wa + 544L * b, bb = wb + 544L * b;
            int ao = actOff + PAIR_INTS * b;
            IntVector sumA = IntVector.zero(I), sumB = sumA;
            for (int c = 0; c < 16; c += 2) {
                ShortVector a0 = IntVector.broadcast(I, act[ao + c]).reinterpretAsShorts();
                ShortVector a1 = IntVector.broadcast(I, act[ao + c + 1]).reinterpretAsShorts();
                ShortVector qa0 = (ShortVector) ByteVector.fromMemorySegment(BH, w, ba + 32 + 32 * c, LE)
                        .convertShape(VectorOperators.B2S, S, 0);
                ShortVector qa1 = (ShortVector) ByteVector.fromMemorySegment(BH, w, ba + 64 + 32 * c, LE)
                        .convertShape(VectorOperators.B2S, S, 0);
                IntVector ia = qa0.mul(a0).add(qa1.mul(a1)).reinterpretAsInts();
                sumA = sumA.add(ia.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .add(ia.lanewise(VectorOperators.ASHR, 16));
                ShortVector qb0 = (ShortVector) ByteVector.fromMemorySegment(BH, w, bb + 32 + 32 * c, LE)
                        .convertShape(VectorOperators.B2S, S, 0);
                ShortVector qb1 = (ShortVector) ByteVector.fromMemorySegment(BH, w, bb + 64 + 32 * c, LE)
                        .convertShape(VectorOperators.B2S, S, 0);
                IntVector ib = qb0.mul(a0).add(qb1.mul(a1)).reinterpretAsInts();
                sumB = sumB.add(ib.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .add(ib.lanewise(VectorOperators.ASHR, 16));
            }
            float da = Float.intBitsToFloat(act[ao + 17]);
            ShortVector ha = ShortVector.fromMemorySegment(H, w, ba, LE);
            ShortVector hb = ShortVector.fromMemorySegment(H, w, bb, LE);
            FloatVector ca = scales(ha, finite, da);
            FloatVector cb = scales(hb, finite, da);
            FloatVector fa = (FloatVector) sumA.convert(VectorOperators.I2F, 0);
            FloatVector fb = (FloatVector) sumB.convert(VectorOperators.I2F, 0);
            if (FMA) {
                accA = fa.fma(ca, accA);
                accB = fb.fma(cb, accB);
            } else {
                accA = accA.add(fa.mul(ca));
                accB = accB.add(fb.mul(cb));
            }
        }
        store(accA, y, y0, valid);
        store(accB, y, y0 + FL, valid - FL);
    }

    /** X rows whose activations are kept in cache while every tile of the range passes over them. */
    private static final int X_BLOCK = 16;

    /**
     * Q4_0 GEMM: 4 X rows at a time share each code load and unpack (the per-row work is then two multiplies and two
     * adds per 64 codes); X rows in blocks of {@value #X_BLOCK}, all tiles of the range over one block. Every output
     * has the operations of {@link #gemvQ4} in the same order.
     */
    static void gemmQ4(MemorySegment w, long wOff, int tiles, int nb, int[] act, int actOff, int actStride, int n,
            float[] y, int yOff, int yStride, int rows) {
        long tileBytes = 288L * nb;
        for (int xb = 0; xb < n; xb += X_BLOCK) {
            int xe = Math.min(n, xb + X_BLOCK);
            for (int t = 0; t < tiles; t++) {
                int i = xb;
                for (; i + 4 <= xe; i += 4) {
                    for (int p = 0; p < PARTS; p++) {
                        int r0 = 16 * t + FL * p;
                        if (r0 >= rows) {
                            break;
                        }
                        q4x4(w, wOff + t * tileBytes + 2L * FL * p, nb, act, actOff + i * actStride, actStride, y,
                                yOff + i * yStride + r0, yStride, rows - r0);
                    }
                }
                for (; i < xe; i++) {
                    gemvQ4(w, wOff + t * tileBytes, 1, nb, act, actOff + i * actStride, y, yOff + i * yStride + 16 * t,
                            rows - 16 * t, false);
                }
            }
        }
    }

    /** One part (FL rows) of a Q4_0 tile at {@code wp} times 4 activations; {@code valid} rows of it are written. */
    private static void q4x4(MemorySegment w, long wp, int nb, int[] act, int a0, int as, float[] y, int y0, int ys,
            int valid) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int a1 = a0 + as, a2 = a1 + as, a3 = a2 + as;
        for (int b = 0; b < nb; b++) {
            long blk = wp + 288L * b;
            int ao = PAIR_INTS * b;
            ShortVector s0 = ShortVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
            for (int c = 0; c < 8; c++) {
                ShortVector q = (ShortVector) ByteVector.fromMemorySegment(BH, w, blk + 32 + 32 * c, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                ShortVector lo = q; // the byte lo + 16 hi: the activation's odd pairs carry the -16 (pairsForQ4_0)
                ShortVector hi = q.lanewise(VectorOperators.LSHR, 4);
                int k0 = ao + 2 * c;
                s0 = s0.add(lo.mul(IntVector.broadcast(I, act[a0 + k0]).reinterpretAsShorts()))
                        .add(hi.mul(IntVector.broadcast(I, act[a0 + k0 + 1]).reinterpretAsShorts()));
                s1 = s1.add(lo.mul(IntVector.broadcast(I, act[a1 + k0]).reinterpretAsShorts()))
                        .add(hi.mul(IntVector.broadcast(I, act[a1 + k0 + 1]).reinterpretAsShorts()));
                s2 = s2.add(lo.mul(IntVector.broadcast(I, act[a2 + k0]).reinterpretAsShorts()))
                        .add(hi.mul(IntVector.broadcast(I, act[a2 + k0 + 1]).reinterpretAsShorts()));
                s3 = s3.add(lo.mul(IntVector.broadcast(I, act[a3 + k0]).reinterpretAsShorts()))
                        .add(hi.mul(IntVector.broadcast(I, act[a3 + k0 + 1]).reinterpretAsShorts()));
            }
            FloatVector d = HalfLanes.f16(ShortVector.fromMemorySegment(H, w, blk, LE));
            IntVector i0 = s0.reinterpretAsInts();
            IntVector i1 = s1.reinterpretAsInts();
            IntVector i2 = s2.reinterpretAsInts();
            IntVector i3 = s3.reinterpretAsInts();
            IntVector u0 = i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(i0.lanewise(VectorOperators.ASHR, 16)).sub(8 * act[a0 + ao + 16]);
            IntVector u1 = i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(i1.lanewise(VectorOperators.ASHR, 16)).sub(8 * act[a1 + ao + 16]);
            IntVector u2 = i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(i2.lanewise(VectorOperators.ASHR, 16)).sub(8 * act[a2 + ao + 16]);
            IntVector u3 = i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                    .add(i3.lanewise(VectorOperators.ASHR, 16)).sub(8 * act[a3 + ao + 16]);
            FloatVector c0 = d.mul(Float.intBitsToFloat(act[a0 + ao + 17]));
            FloatVector c1 = d.mul(Float.intBitsToFloat(act[a1 + ao + 17]));
            FloatVector c2 = d.mul(Float.intBitsToFloat(act[a2 + ao + 17]));
            FloatVector c3 = d.mul(Float.intBitsToFloat(act[a3 + ao + 17]));
            FloatVector f0 = (FloatVector) u0.convert(VectorOperators.I2F, 0);
            FloatVector f1 = (FloatVector) u1.convert(VectorOperators.I2F, 0);
            FloatVector f2 = (FloatVector) u2.convert(VectorOperators.I2F, 0);
            FloatVector f3 = (FloatVector) u3.convert(VectorOperators.I2F, 0);
            if (FMA) {
                acc0 = f0.fma(c0, acc0);
                acc1 = f1.fma(c1, acc1);
                acc2 = f2.fma(c2, acc2);
                acc3 = f3.fma(c3, acc3);
            } else {
                acc0 = acc0.add(f0.mul(c0));
                acc1 = acc1.add(f1.mul(c1));
                acc2 = acc2.add(f2.mul(c2));
                acc3 = acc3.add(f3.mul(c3));
            }
        }
        if (valid >= FL) {
            acc0.intoArray(y, y0);
            acc1.intoArray(y, y0 + ys);
            acc2.intoArray(y, y0 + 2 * ys);
            acc3.intoArray(y, y0 + 3 * ys);
        } else {
            var m = F.indexInRange(0, valid);
            acc0.intoArray(y, y0, m);
            acc1.intoArray(y, y0 + ys, m);
            acc2.intoArray(y, y0 + 2 * ys, m);
            acc3.intoArray(y, y0 + 3 * ys, m);
        }
    }
}

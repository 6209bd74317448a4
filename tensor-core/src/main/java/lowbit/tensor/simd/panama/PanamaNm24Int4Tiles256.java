package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.SparseKernels;

/**
 * {@link SparseKernels#gemvNm24Int4Tiles} at 256 bits (AVX2): {@link PanamaNm24Int4Tiles}'s kernel with one 16-lane
 * short vector per tile row set and kept position. A code chunk's two 16-byte halves (position p = 0 and 1 of the
 * tile's 16 rows) are widened separately; lane j of either is row j, so both add into one 16-bit accumulator (at
 * most 16 products of |q − z|·|a| &le; 15·127 per lane and block, below 2^15: exact). The index word broadcast to the
 * four 64-bit lanes and shifted by 2k in lane k (AVX2 has variable shifts of 64-bit lanes, not of 16-bit ones) puts
 * row j's index of half 0 in bits 0-1 of its 16-bit lane and half 1's in bits 8-9; each lane then takes its
 * activation code from the group's four, broadcast, by two bit masks and three blends. (A 16-lane short permute
 * and 16-bit variable shifts, as the 512-bit kernel uses, have no AVX2 instruction: C2 emulated both, and this
 * kernel ran at 22.4 ms against 14.6 now, 4096×14336 on the Zen 1 host.) Block sums are widened to two 8-lane int
 * vectors (rows 0-7 and 8-15) and carried in two float accumulators; per row the scalar twin's operations in its
 * order, hence the same bits.
 */
final class PanamaNm24Int4Tiles256 {
    private PanamaNm24Int4Tiles256() {
    }

    private static final VectorSpecies<Short> S = ShortVector.SPECIES_256;
    private static final VectorSpecies<Long> LS = LongVector.SPECIES_256;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final boolean FMA = Species.FMA;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int CODE_BYTES = SparseKernels.NM24_TILE_CODE_BYTES;
    private static final int WORDS = SparseKernels.NM24_TILE_INDEX_WORDS;
    /**
     * 64-bit lane k: 2k. The index word broadcast to the four 64-bit lanes and shifted by this puts row j's field of
     * half 0 (at bit 2·(j/4) of its 16-bit lane) in bits 0-1 of the lane and half 1's (8 bits higher) in bits 8-9:
     * AVX2 shifts 64-bit lanes by a vector, not 16-bit ones.
     */
    private static final LongVector SHIFT = LongVector.fromArray(LS, new long[] {0, 2, 4, 6}, 0);
    private static final ShortVector B0 = ShortVector.broadcast(S, (short) 1);
    private static final ShortVector B1 = ShortVector.broadcast(S, (short) 2);
    private static final ShortVector B8 = ShortVector.broadcast(S, (short) 0x100);
    private static final ShortVector B9 = ShortVector.broadcast(S, (short) 0x200);
    private static final ShortVector FIFTEEN = ShortVector.broadcast(S, (short) 15);

    static void gemv(MemorySegment codes, long codeOff, long[] idx, int idxOff, int tiles, int nb, int groupBlocks,
            float[] scales, int sOff, short[] zeros, int zOff, long[] act, int actOff, float[] d, int dOff, float[] y,
            int yOff, int rows) {
        int groups = nb / groupBlocks;
        for (int t = 0; t < tiles; t++) {
            tile(codes, codeOff + t * (long) nb * CODE_BYTES, idx, idxOff + t * nb * WORDS, nb, groupBlocks, groups,
                    scales, sOff + t * groups * 16, zeros, zOff + t * groups * 32, act, actOff, d, dOff, y,
                    yOff + 16 * t, Math.min(16, rows - 16 * t));
        }
    }

    /** One tile: its rows' sums into {@code y[yAt ..]} ({@code valid} of the 16), stored here (see the 512-bit twin). */
    private static void tile(MemorySegment codes, long co, long[] idx, int io, int nb, int groupBlocks, int groups,
            float[] scales, int so, short[] zeros, int zo, long[] act, int ao, float[] d, int dOff, float[] y, int yAt,
            int valid) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = acc0;
        for (int g = 0; g < groups; g++) {
            ShortVector z = ShortVector.fromArray(S, zeros, zo + 32 * g);
            FloatVector f0 = FloatVector.zero(F);
            FloatVector f1 = f0;
            for (int b = g * groupBlocks, e = b + groupBlocks; b < e; b++) {
                long blk = co + (long) CODE_BYTES * b;
                int wi = io + WORDS * b, ai = ao + 8 * b;
                ShortVector s = ShortVector.zero(S);
                for (int h = 0; h < 4; h++) {
                    long alo = act[ai + 2 * h], ahi = act[ai + 2 * h + 1];
                    // row j's index of half 0 in bits 0-1 of its 16-bit lane, of half 1 in bits 8-9
                    ShortVector wlo = LongVector.broadcast(LS, idx[wi + 2 * h]).lanewise(VectorOperators.LSHR, SHIFT)
                            .reinterpretAsShorts();
                    ShortVector whi = LongVector.broadcast(LS, idx[wi + 2 * h + 1])
                            .lanewise(VectorOperators.LSHR, SHIFT).reinterpretAsShorts();
                    ShortVector v0 = (ShortVector) ByteVector.fromMemorySegment(B, codes, blk + 32 * h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    ShortVector v1 = (ShortVector) ByteVector.fromMemorySegment(B, codes, blk + 32 * h + 16, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    ShortVector l0 = ShortVector.broadcast(S, (short) alo);
                    ShortVector l1 = ShortVector.broadcast(S, (short) (alo >>> 16));
                    ShortVector l2 = ShortVector.broadcast(S, (short) (alo >>> 32));
                    ShortVector l3 = ShortVector.broadcast(S, (short) (alo >>> 48));
                    // per 16-bit lane the activation its 2-bit index picks, by two masks and three blends (written
                    // out: as a method C2 sometimes compiled it alone and left calls here)
                    VectorMask<Short> wloB0 = wlo.and(B0).compare(VectorOperators.EQ, B0);
                    ShortVector first = l0.blend(l1, wloB0).blend(l2.blend(l3, wloB0),
                            wlo.and(B1).compare(VectorOperators.EQ, B1));
                    VectorMask<Short> wloB8 = wlo.and(B8).compare(VectorOperators.EQ, B8);
                    ShortVector second = l0.blend(l1, wloB8).blend(l2.blend(l3, wloB8),
                            wlo.and(B9).compare(VectorOperators.EQ, B9));
                    s = s.add(v0.and(FIFTEEN).sub(z).mul(first));
                    s = s.add(v1.and(FIFTEEN).sub(z).mul(second));
                    ShortVector h0 = ShortVector.broadcast(S, (short) ahi);
                    ShortVector h1 = ShortVector.broadcast(S, (short) (ahi >>> 16));
                    ShortVector h2 = ShortVector.broadcast(S, (short) (ahi >>> 32));
                    ShortVector h3 = ShortVector.broadcast(S, (short) (ahi >>> 48));
                    VectorMask<Short> whiB0 = whi.and(B0).compare(VectorOperators.EQ, B0);
                    first = h0.blend(h1, whiB0).blend(h2.blend(h3, whiB0),
                            whi.and(B1).compare(VectorOperators.EQ, B1));
                    VectorMask<Short> whiB8 = whi.and(B8).compare(VectorOperators.EQ, B8);
                    second = h0.blend(h1, whiB8).blend(h2.blend(h3, whiB8),
                            whi.and(B9).compare(VectorOperators.EQ, B9));
                    s = s.add(v0.lanewise(VectorOperators.LSHR, 4).sub(z).mul(first));
                    s = s.add(v1.lanewise(VectorOperators.LSHR, 4).sub(z).mul(second));
                }
                FloatVector s0 = (FloatVector) ((IntVector) s.convertShape(VectorOperators.S2I, I, 0))
                        .convert(VectorOperators.I2F, 0);
                FloatVector s1 = (FloatVector) ((IntVector) s.convertShape(VectorOperators.S2I, I, 1))
                        .convert(VectorOperators.I2F, 0);
                FloatVector dv = FloatVector.broadcast(F, d[dOff + b]);
                f0 = FMA ? s0.fma(dv, f0) : s0.mul(dv).add(f0);
                f1 = FMA ? s1.fma(dv, f1) : s1.mul(dv).add(f1);
            }
            FloatVector c0 = FloatVector.fromArray(F, scales, so + 16 * g);
            FloatVector c1 = FloatVector.fromArray(F, scales, so + 16 * g + 8);
            acc0 = FMA ? c0.fma(f0, acc0) : c0.mul(f0).add(acc0);
            acc1 = FMA ? c1.fma(f1, acc1) : c1.mul(f1).add(acc1);
        }
        if (valid == 16) {
            acc0.intoArray(y, yAt);
            acc1.intoArray(y, yAt + 8);
        } else {
            acc0.intoArray(y, yAt, VectorMask.fromLong(F, (1L << Math.min(valid, 8)) - 1));
            if (valid > 8) {
                acc1.intoArray(y, yAt + 8, VectorMask.fromLong(F, (1L << (valid - 8)) - 1));
            }
        }
    }
}

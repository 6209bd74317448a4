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
 * four 64-bit lanes puts row j's field of half p at bit 2·(4p + j/4) of its 16-bit lane, hence one shift vector per
 * half; the four broadcast activation codes fill the vector with four copies, so the permute's 4-bit wrap picks a
 * copy of the right code. Block sums are widened to two 8-lane int vectors (rows 0-7 and 8-15) and carried in two
 * float accumulators; per row the scalar twin's operations in its order, hence the same bits.
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
    /** Lane j of half p: 2·(4p + j/4), where row j's index of half p sits in its 16-bit lane of the word. */
    private static final ShortVector SHIFT0 = shifts(0);
    private static final ShortVector SHIFT1 = shifts(1);
    private static final ShortVector FIFTEEN = ShortVector.broadcast(S, (short) 15);

    private static ShortVector shifts(int p) {
        short[] s = new short[16];
        for (int j = 0; j < 16; j++) {
            s[j] = (short) (2 * (4 * p + (j >> 2)));
        }
        return ShortVector.fromArray(S, s, 0);
    }

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
                    long lo = idx[wi + 2 * h], hi = idx[wi + 2 * h + 1];
                    ShortVector alo = LongVector.broadcast(LS, act[ai + 2 * h]).reinterpretAsShorts();
                    ShortVector ahi = LongVector.broadcast(LS, act[ai + 2 * h + 1]).reinterpretAsShorts();
                    ShortVector wlo = LongVector.broadcast(LS, lo).reinterpretAsShorts();
                    ShortVector whi = LongVector.broadcast(LS, hi).reinterpretAsShorts();
                    ShortVector v0 = (ShortVector) ByteVector.fromMemorySegment(B, codes, blk + 32 * h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    ShortVector v1 = (ShortVector) ByteVector.fromMemorySegment(B, codes, blk + 32 * h + 16, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    s = s.add(v0.and(FIFTEEN).sub(z).mul(wlo.lanewise(VectorOperators.LSHR, SHIFT0).selectFrom(alo)));
                    s = s.add(v1.and(FIFTEEN).sub(z).mul(wlo.lanewise(VectorOperators.LSHR, SHIFT1).selectFrom(alo)));
                    s = s.add(v0.lanewise(VectorOperators.LSHR, 4).sub(z)
                            .mul(whi.lanewise(VectorOperators.LSHR, SHIFT0).selectFrom(ahi)));
                    s = s.add(v1.lanewise(VectorOperators.LSHR, 4).sub(z)
                            .mul(whi.lanewise(VectorOperators.LSHR, SHIFT1).selectFrom(ahi)));
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

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
 * {@link SparseKernels#gemvNm24Int4Tiles} at 128 bits (NEON, SSE): {@link PanamaNm24Int4Tiles256}'s kernel on half
 * tiles. An 8-lane short vector holds 8 of the tile's rows (rows 0-7 or 8-15) at one kept position; each 8-byte
 * quarter of a code chunk is widened on its own, and the quarter's rows and position fix which bits of the broadcast
 * index word hold its indices (bit 2·(4p + 2u + j/4) of 16-bit lane j, u the row half), so four shift vectors serve
 * the whole tile. The four activation codes fill the vector twice; the permute's 3-bit wrap picks a copy of the
 * right code. Per row half one exact 16-bit accumulator (16 products of at most 15·127 per block), then two 4-lane
 * int and float vectors per row half; per row the scalar twin's operations in its order, hence the same bits.
 */
final class PanamaNm24Int4Tiles128 {
    private PanamaNm24Int4Tiles128() {
    }

    private static final VectorSpecies<Short> S = ShortVector.SPECIES_128;
    private static final VectorSpecies<Long> LS = LongVector.SPECIES_128;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_128;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_128;
    private static final boolean FMA = Species.FMA;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int CODE_BYTES = SparseKernels.NM24_TILE_CODE_BYTES;
    private static final int WORDS = SparseKernels.NM24_TILE_INDEX_WORDS;
    /** Position p, row half u, lane j: 2·(4p + 2u + j/4). */
    private static final ShortVector SHIFT_P0_U0 = shifts(0, 0);
    private static final ShortVector SHIFT_P0_U1 = shifts(0, 1);
    private static final ShortVector SHIFT_P1_U0 = shifts(1, 0);
    private static final ShortVector SHIFT_P1_U1 = shifts(1, 1);
    private static final ShortVector FIFTEEN = ShortVector.broadcast(S, (short) 15);

    private static ShortVector shifts(int p, int u) {
        short[] s = new short[8];
        for (int j = 0; j < 8; j++) {
            s[j] = (short) (2 * (4 * p + 2 * u + (j >> 2)));
        }
        return ShortVector.fromArray(S, s, 0);
    }

    static void gemv(MemorySegment codes, long codeOff, long[] idx, int idxOff, int tiles, int nb, int groupBlocks,
            float[] scales, int sOff, short[] zeros, int zOff, long[] act, int actOff, float[] d, int dOff, float[] y,
            int yOff, int rows) {
        int groups = nb / groupBlocks;
        for (int t = 0; t < tiles; t++) {
            int valid = Math.min(16, rows - 16 * t);
            long co = codeOff + t * (long) nb * CODE_BYTES;
            int io = idxOff + t * nb * WORDS, so = sOff + t * groups * 16, zo = zOff + t * groups * 32;
            half(codes, co, idx, io, nb, groupBlocks, groups, scales, so, zeros, zo, act, actOff, d, dOff, y,
                    yOff + 16 * t, Math.min(valid, 8), 0, SHIFT_P0_U0, SHIFT_P1_U0);
            if (valid > 8) {
                half(codes, co, idx, io, nb, groupBlocks, groups, scales, so + 8, zeros, zo + 8, act, actOff, d, dOff,
                        y, yOff + 16 * t + 8, valid - 8, 8, SHIFT_P0_U1, SHIFT_P1_U1);
            }
        }
    }

    /**
     * Rows r0..r0+7 of one tile (r0 = 0 or 8; their scales at {@code scales[so + 16g ..]} and zero points at
     * {@code zeros[zo + 32g ..]} already offset by r0) into {@code y[yAt ..]} ({@code valid} of the 8).
     */
    private static void half(MemorySegment codes, long co, long[] idx, int io, int nb, int groupBlocks, int groups,
            float[] scales, int so, short[] zeros, int zo, long[] act, int ao, float[] d, int dOff, float[] y, int yAt,
            int valid, int r0, ShortVector shift0, ShortVector shift1) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = acc0;
        for (int g = 0; g < groups; g++) {
            ShortVector z = ShortVector.fromArray(S, zeros, zo + 32 * g);
            FloatVector f0 = FloatVector.zero(F);
            FloatVector f1 = f0;
            for (int b = g * groupBlocks, e = b + groupBlocks; b < e; b++) {
                long blk = co + (long) CODE_BYTES * b + r0;
                int wi = io + WORDS * b, ai = ao + 8 * b;
                ShortVector s = ShortVector.zero(S);
                for (int h = 0; h < 4; h++) {
                    ShortVector alo = LongVector.broadcast(LS, act[ai + 2 * h]).reinterpretAsShorts();
                    ShortVector ahi = LongVector.broadcast(LS, act[ai + 2 * h + 1]).reinterpretAsShorts();
                    ShortVector wlo = LongVector.broadcast(LS, idx[wi + 2 * h]).reinterpretAsShorts();
                    ShortVector whi = LongVector.broadcast(LS, idx[wi + 2 * h + 1]).reinterpretAsShorts();
                    ShortVector v0 = (ShortVector) ByteVector.fromMemorySegment(B, codes, blk + 32 * h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    ShortVector v1 = (ShortVector) ByteVector.fromMemorySegment(B, codes, blk + 32 * h + 16, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    s = s.add(v0.and(FIFTEEN).sub(z).mul(wlo.lanewise(VectorOperators.LSHR, shift0).selectFrom(alo)));
                    s = s.add(v1.and(FIFTEEN).sub(z).mul(wlo.lanewise(VectorOperators.LSHR, shift1).selectFrom(alo)));
                    s = s.add(v0.lanewise(VectorOperators.LSHR, 4).sub(z)
                            .mul(whi.lanewise(VectorOperators.LSHR, shift0).selectFrom(ahi)));
                    s = s.add(v1.lanewise(VectorOperators.LSHR, 4).sub(z)
                            .mul(whi.lanewise(VectorOperators.LSHR, shift1).selectFrom(ahi)));
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
            FloatVector c1 = FloatVector.fromArray(F, scales, so + 16 * g + 4);
            acc0 = FMA ? c0.fma(f0, acc0) : c0.mul(f0).add(acc0);
            acc1 = FMA ? c1.fma(f1, acc1) : c1.mul(f1).add(acc1);
        }
        if (valid == 8) {
            acc0.intoArray(y, yAt);
            acc1.intoArray(y, yAt + 4);
        } else {
            acc0.intoArray(y, yAt, VectorMask.fromLong(F, (1L << Math.min(valid, 4)) - 1));
            if (valid > 4) {
                acc1.intoArray(y, yAt + 4, VectorMask.fromLong(F, (1L << (valid - 4)) - 1));
            }
        }
    }
}

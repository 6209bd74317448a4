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
 * {@link SparseKernels#gemvNm24Int4Tiles} at 512 bits ({@link PanamaNm24Int4Tiles256} at 256,
 * {@link PanamaNm24Int4Tiles128} at 128): one 32-lane short vector is a tile's 16 rows × the two kept values of a
 * group of four columns, so a 32-byte code chunk widened to shorts gives two groups (low and high nibbles) and no
 * lane ever moves between rows.
 *
 * <p>Per group: the index word broadcast to every 64-bit lane and shifted right by 2·(l/4) in lane l (one variable
 * 16-bit shift) leaves the lane's 2-bit index in its low bits; the group's four activation codes broadcast the same
 * way fill the vector with 8 copies of themselves, so the permute's own wrap of the index to 5 bits picks a copy of
 * the right code whatever the bits above the index hold. Then (q − z)·a is added into a 16-bit accumulator: at most
 * 8 products of |q − z|·|a| &le; 15·127 per lane and block, below 2^15, so the sum is exact. At the end of a block
 * the two lanes of each row are widened and added (the exact S_b per row, as an int lane), converted and fused with
 * d_b into the group's float accumulator; at the end of a group, acc = fma(s, f, acc) with the tile's 16 scales.
 * Per lane these are the scalar twin's operations in the same order, hence the same bits. Per two groups of a tile
 * block (64 kept weights): one widening load, an AND, a shift, and per group a variable shift, a permute (each with
 * the wrap AND C2 adds), a subtract, a multiply and an add.
 */
final class PanamaNm24Int4Tiles {
    private PanamaNm24Int4Tiles() {
    }

    private static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    private static final VectorSpecies<Long> LS = LongVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_256;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final boolean FMA = Species.FMA;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int CODE_BYTES = SparseKernels.NM24_TILE_CODE_BYTES;
    private static final int WORDS = SparseKernels.NM24_TILE_INDEX_WORDS;
    /** Lane l: 2·(l/4), the position of lane l's index within its 16-bit part of the broadcast word. */
    private static final ShortVector SHIFT;
    private static final ShortVector FIFTEEN = ShortVector.broadcast(S, (short) 15);

    static {
        short[] s = new short[32];
        for (int l = 0; l < 32; l++) {
            s[l] = (short) (2 * (l >> 2));
        }
        SHIFT = ShortVector.fromArray(S, s, 0);
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

    /**
     * One tile: its rows' sums into {@code y[yAt ..]} ({@code valid} of the 16). The result is stored here, not
     * returned: a vector returned by a method C2 does not inline is boxed.
     */
    private static void tile(MemorySegment codes, long co, long[] idx, int io, int nb, int groupBlocks, int groups,
            float[] scales, int so, short[] zeros, int zo, long[] act, int ao, float[] d, int dOff, float[] y, int yAt,
            int valid) {
        FloatVector acc = FloatVector.zero(F);
        for (int g = 0; g < groups; g++) {
            ShortVector z = ShortVector.fromArray(S, zeros, zo + 32 * g);
            FloatVector f = FloatVector.zero(F);
            for (int b = g * groupBlocks, e = b + groupBlocks; b < e; b++) {
                // the block's 16-bit lane sums of (q − z)·a (lanes r and r + 16 are row r's two halves), written
                // here rather than in a method of its own: C2 compiled such a method first, then would not inline
                // it ("already compiled into a big method") and boxed the vector it returned (8 ms instead of ~2)
                long blk = co + (long) CODE_BYTES * b;
                int wi = io + WORDS * b, ai = ao + 8 * b;
                ShortVector s = ShortVector.zero(S);
                for (int h = 0; h < 4; h++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, codes, blk + 32 * h, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    s = s.add(v.and(FIFTEEN).sub(z).mul(codesOf(idx[wi + 2 * h], act[ai + 2 * h])));
                    s = s.add(v.lanewise(VectorOperators.LSHR, 4).sub(z).mul(codesOf(idx[wi + 2 * h + 1],
                            act[ai + 2 * h + 1])));
                }
                IntVector sum = ((IntVector) s.convertShape(VectorOperators.S2I, I, 0))
                        .add((IntVector) s.convertShape(VectorOperators.S2I, I, 1));
                FloatVector sf = (FloatVector) sum.convert(VectorOperators.I2F, 0);
                FloatVector dv = FloatVector.broadcast(F, d[dOff + b]);
                f = FMA ? sf.fma(dv, f) : sf.mul(dv).add(f);
            }
            FloatVector sc = FloatVector.fromArray(F, scales, so + 16 * g);
            acc = FMA ? sc.fma(f, acc) : sc.mul(f).add(acc);
        }
        if (valid == 16) {
            acc.intoArray(y, yAt);
        } else {
            acc.intoArray(y, yAt, VectorMask.fromLong(F, (1L << valid) - 1));
        }
    }

    /** Lane l: the activation code that lane l's index (in {@code word}) picks from the group's four ({@code a}). */
    private static ShortVector codesOf(long word, long a) {
        return LongVector.broadcast(LS, word).reinterpretAsShorts().lanewise(VectorOperators.LSHR, SHIFT)
                .selectFrom(LongVector.broadcast(LS, a).reinterpretAsShorts());
    }
}

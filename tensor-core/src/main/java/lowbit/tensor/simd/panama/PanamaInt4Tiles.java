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
import lowbit.tensor.simd.AffineKernels;
import lowbit.tensor.simd.GgmlKernels;

/**
 * {@link AffineKernels#gemvInt4Tiles}: group-wise int4 codes in 16-row tiles times a Q8_0 pair activation, the inner
 * loop of the interleaved Q4_0 kernel ({@link PanamaInterleaved}) with the group's scale and zero point applied once
 * per group instead of a scale per block.
 *
 * <p>A vector covers {@code FL} rows of a tile (a "part"): per chunk of 4 elements one zero-extending load of the
 * part's code bytes into short lanes, two multiplies by the broadcast activation pairs (the low nibble is not masked:
 * the activation's odd pairs carry the −16·a correction, {@code GgmlKernels#pairsForQ4_0}) and two adds into a 16-bit
 * accumulator, exact because a lane adds at most 16 products of |q·a| &le; 15·127 (the wrapped products of the
 * unmasked byte cancel mod 2^16). At the end of a block the two shorts of each int lane are added: one exact int
 * S_b per row, converted to float and fused into the group's float accumulator with the activation's d_b. At the end
 * of a group: u = fma(z, −X̂_g, f), acc = fma(s, u, acc) with the part's 16 scales and zero points as vectors. Per
 * row these are the scalar twin's operations in the same order, so every vector width gives the same bits.
 *
 * <p>Parts are taken two at a time (from consecutive tiles when a tile is one part, i.e. at 512 bits) so that they
 * share the activation broadcasts and the memory system sees two sequential streams.
 */
final class PanamaInt4Tiles {
    private PanamaInt4Tiles() {
    }

    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final VectorSpecies<Short> S = Species.S;
    /** Rows per part: float lanes. */
    private static final int FL = F.length();
    /** Two code bytes per row of a part: half the vector width, widened to a full short vector. */
    private static final VectorSpecies<Byte> BH = VectorSpecies.of(byte.class, VectorShape.forBitSize(Species.BITS / 2));
    private static final int PARTS = 16 / FL;
    private static final boolean FMA = Species.FMA;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int PAIR_INTS = GgmlKernels.PAIR_INTS;
    private static final int BLOCK = AffineKernels.INT4_TILE_BLOCK_BYTES;

    static void gemv(MemorySegment w, long wOff, int tiles, int nb, int gb, float[] scales, float[] zeros, int sOff,
            int[] act, int actOff, float[] groupSums, int gOff, float[] y, int yOff, int rows) {
        long tileBytes = (long) BLOCK * nb;
        int groups = nb / gb;
        int units = Math.min(tiles * PARTS, (rows + FL - 1) / FL); // parts holding at least one valid row
        int u = 0;
        for (; u + 2 <= units; u += 2) {
            parts2(w, wOff + PanamaInterleaved.partOffset(u, tileBytes),
                    wOff + PanamaInterleaved.partOffset(u + 1, tileBytes), nb, gb,
                    scales, sOff + scaleOffset(u, groups), sOff + scaleOffset(u + 1, groups), zeros, act, actOff,
                    groupSums, gOff, y, yOff + FL * u, rows - FL * u);
        }
        if (u < units) { // an odd last part: computed twice in the pair kernel, stored once
            long wu = wOff + PanamaInterleaved.partOffset(u, tileBytes);
            int su = sOff + scaleOffset(u, groups);
            parts2(w, wu, wu, nb, gb, scales, su, su, zeros, act, actOff, groupSums, gOff, y, yOff + FL * u,
                    Math.min(FL, rows - FL * u));
        }
    }

    /** Index of part u's first scale (group 0) relative to the first tile's. */
    private static int scaleOffset(int u, int groups) {
        return (u / PARTS) * groups * 16 + FL * (u % PARTS);
    }

    private static void parts2(MemorySegment w, long wa, long wb, int nb, int gb, float[] scales, int sa, int sb,
            float[] zeros, int[] act, int actOff, float[] groupSums, int gOff, float[] y, int y0, int valid) {
        FloatVector accA = FloatVector.zero(F), accB = accA;
        for (int g = 0, groups = nb / gb; g < groups; g++) {
            FloatVector fa = FloatVector.zero(F), fb = fa;
            for (int b = g * gb, be = b + gb; b < be; b++) {
                long ba = wa + (long) BLOCK * b, bb = wb + (long) BLOCK * b;
                int ao = actOff + PAIR_INTS * b;
                ShortVector qsa = ShortVector.zero(S), qsb = qsa;
                for (int c = 0; c < 8; c++) {
                    ShortVector qa = (ShortVector) ByteVector.fromMemorySegment(BH, w, ba + 32 * c, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    ShortVector qb = (ShortVector) ByteVector.fromMemorySegment(BH, w, bb + 32 * c, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                    ShortVector a0 = IntVector.broadcast(I, act[ao + 2 * c]).reinterpretAsShorts();
                    ShortVector a1 = IntVector.broadcast(I, act[ao + 2 * c + 1]).reinterpretAsShorts();
                    qsa = qsa.add(qa.mul(a0)).add(qa.lanewise(VectorOperators.LSHR, 4).mul(a1));
                    qsb = qsb.add(qb.mul(a0)).add(qb.lanewise(VectorOperators.LSHR, 4).mul(a1));
                }
                FloatVector d = FloatVector.broadcast(F, Float.intBitsToFloat(act[ao + PAIR_INTS - 1]));
                FloatVector ia = blockSum(qsa);
                FloatVector ib = blockSum(qsb);
                fa = FMA ? ia.fma(d, fa) : fa.add(ia.mul(d));
                fb = FMA ? ib.fma(d, fb) : fb.add(ib.mul(d));
            }
            FloatVector nx = FloatVector.broadcast(F, -groupSums[gOff + g]);
            int ga = sa + 16 * g, gbi = sb + 16 * g;
            FloatVector za = FloatVector.fromArray(F, zeros, ga);
            FloatVector zb = FloatVector.fromArray(F, zeros, gbi);
            FloatVector ua = FMA ? za.fma(nx, fa) : fa.add(za.mul(nx));
            FloatVector ub = FMA ? zb.fma(nx, fb) : fb.add(zb.mul(nx));
            FloatVector va = FloatVector.fromArray(F, scales, ga);
            FloatVector vb = FloatVector.fromArray(F, scales, gbi);
            accA = FMA ? va.fma(ua, accA) : accA.add(va.mul(ua));
            accB = FMA ? vb.fma(ub, accB) : accB.add(vb.mul(ub));
        }
        PanamaInterleaved.store(accA, y, y0, valid);
        PanamaInterleaved.store(accB, y, y0 + FL, valid - FL);
    }

    /** The exact int sum of the two 16-bit partial sums of each row's int lane, as floats. */
    private static FloatVector blockSum(ShortVector s) {
        IntVector i = s.reinterpretAsInts();
        return (FloatVector) i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                .add(i.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0);
    }
}

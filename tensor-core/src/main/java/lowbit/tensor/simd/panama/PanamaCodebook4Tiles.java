package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.CodebookKernels;
import lowbit.tensor.simd.ScalarCodebookKernels;

/**
 * {@link CodebookKernels#gemvTiles} with the Vector API: a float lane is a row. One L-lane int load holds 8 codes of
 * each of L rows; per column of the chunk, a shift (none for the first) brings that column's nibbles to the bottom,
 * the 16-entry table lookup is a lane permutation of the table's bits (one vector at 512 bits, two at 256, two
 * two-vector lookups and a blend on bit 3 at 128) and one multiply-add with x[c] broadcast from memory updates the
 * row partials. No horizontal sums: the accumulators hold the rows' results. Every lane does the operations of the
 * scalar twin in its order, so the bits are those of {@link ScalarCodebookKernels#gemvTiles} at every width.
 *
 * <p>Two "slots" of L rows run side by side (two independent memory streams and four multiply-add chains): at 512
 * bits two tiles, at 256 bits the two halves of a tile, at 128 bits the two halves of each half of a tile.
 */
final class PanamaCodebook4Tiles {
    private static final ScalarCodebookKernels SCALAR = new ScalarCodebookKernels();
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int L = F.length();
    private static final int T = CodebookKernels.TILE_ROWS;
    private static final int CHUNK = CodebookKernels.TILE_CHUNK_BYTES;
    private static final boolean FMA = Species.FMA;

    private PanamaCodebook4Tiles() {
    }

    /** Whether {@link #gemv} runs vector code: 4 to 16 float lanes. */
    static boolean vectorized() {
        return L >= 4 && L <= T;
    }

    static void gemv(MemorySegment tiles, float[] table, int cols, int blockSize, float[] absmax, int tileFrom,
            int tileTo, int rows, float[] x, int xOff, float[] y, int yOff, boolean fma) {
        if (!vectorized() || fma != FMA) {
            SCALAR.gemvTiles(tiles, table, cols, blockSize, absmax, tileFrom, tileTo, rows, x, xOff, y, yOff, fma);
            return;
        }
        int[] bits = PanamaCodebookKernels.tableBits(table);
        int blocks = cols / blockSize;
        long tileBytes = 8L * cols;
        float[] out = new float[2 * L];
        int r0 = tileFrom * T;
        if (L == T) {
            for (int t = tileFrom; t < tileTo; t += 2) {
                int u = Math.min(t + 1, tileTo - 1);
                pair(tiles, t * tileBytes, u * tileBytes, absmax, t * blocks * T, u * blocks * T, blocks, blockSize,
                        x, xOff, bits, out);
                store(out, 0, t * T, rows, y, yOff - r0);
                if (u != t) {
                    store(out, L, u * T, rows, y, yOff - r0);
                }
            }
            return;
        }
        for (int t = tileFrom; t < tileTo; t++) {
            for (int h = 0; h < T; h += 2 * L) {
                long cb = t * tileBytes + 4L * h;
                int ab = t * blocks * T + h;
                pair(tiles, cb, cb + 4L * L, absmax, ab, ab + L, blocks, blockSize, x, xOff, bits, out);
                store(out, 0, t * T + h, rows, y, yOff - r0);
                store(out, L, t * T + h + L, rows, y, yOff - r0);
            }
        }
    }

    /** y[yBase + r] = out[o + r − r0] for the rows r of [r0, r0 + L) below {@code rows}. */
    private static void store(float[] out, int o, int r0, int rows, float[] y, int yBase) {
        for (int i = 0, n = Math.min(L, rows - r0); i < n; i++) {
            y[yBase + r0 + i] = out[o + i];
        }
    }

    /**
     * Two slots of L rows, their codes from bytes cb0 and cb1 (64-byte chunks, the slot's words at the start of each)
     * and absmax from indices ab0 and ab1 (16 per block): the rows' results to out[0, L) and out[L, 2L).
     */
    private static void pair(MemorySegment w, long cb0, long cb1, float[] absmax, int ab0, int ab1, int blocks,
            int blockSize, float[] x, int xOff, int[] bits, float[] out) {
        // the table is made here, not passed in: a vector argument of a method C2 does not inline arrives boxed
        IntVector t0 = PanamaCodebookKernels.table(bits, 0);
        IntVector t1 = PanamaCodebookKernels.table(bits, 1);
        IntVector t2 = PanamaCodebookKernels.table(bits, 2);
        IntVector t3 = PanamaCodebookKernels.table(bits, 3);
        FloatVector zero = FloatVector.zero(F);
        FloatVector ev0 = zero;
        FloatVector od0 = zero;
        FloatVector ev1 = zero;
        FloatVector od1 = zero;
        int chunks = blockSize / 8;
        long off = 0;
        for (int b = 0; b < blocks; b++) {
            FloatVector e0 = zero;
            FloatVector o0 = zero;
            FloatVector e1 = zero;
            FloatVector o1 = zero;
            int c = xOff + b * blockSize;
            for (int j = 0; j < chunks; j++, c += 8, off += CHUNK) {
                IntVector v0 = IntVector.fromMemorySegment(I, w, cb0 + off, LE);
                IntVector v1 = IntVector.fromMemorySegment(I, w, cb1 + off, LE);
                for (int k = 0; k < 8; k += 2) {
                    FloatVector xe = FloatVector.broadcast(F, x[c + k]);
                    FloatVector xo = FloatVector.broadcast(F, x[c + k + 1]);
                    e0 = madd(lookup(v0, 4 * k, t0, t1, t2, t3), xe, e0);
                    e1 = madd(lookup(v1, 4 * k, t0, t1, t2, t3), xe, e1);
                    o0 = madd(lookup(v0, 4 * k + 4, t0, t1, t2, t3), xo, o0);
                    o1 = madd(lookup(v1, 4 * k + 4, t0, t1, t2, t3), xo, o1);
                }
            }
            FloatVector m0 = FloatVector.fromArray(F, absmax, ab0 + b * T);
            FloatVector m1 = FloatVector.fromArray(F, absmax, ab1 + b * T);
            ev0 = madd(e0, m0, ev0);
            od0 = madd(o0, m0, od0);
            ev1 = madd(e1, m1, ev1);
            od1 = madd(o1, m1, od1);
        }
        ev0.add(od0).intoArray(out, 0);
        ev1.add(od1).intoArray(out, L);
    }

    private static FloatVector madd(FloatVector a, FloatVector b, FloatVector c) {
        return FMA ? a.fma(b, c) : a.mul(b).add(c);
    }

    /** table[(v >>> s) &amp; 15] per lane ({@link PanamaCodebookKernels#lookup}). */
    private static FloatVector lookup(IntVector v, int s, IntVector t0, IntVector t1, IntVector t2, IntVector t3) {
        return PanamaCodebookKernels.lookup(s == 0 ? v : v.lanewise(VectorOperators.LSHR, s), t0, t1, t2, t3);
    }
}

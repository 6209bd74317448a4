package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.CodebookKernels;
import lowbit.tensor.simd.ScalarCodebookKernels;

/**
 * Vector API kernels of the 4-bit codebook layouts (NF4, FP4).
 *
 * <p>Decoding follows {@link PanamaAffineKernels}: per unit of U = max(L, 8) codes (U/2 bytes), a full-width byte
 * load, a constant byte shuffle putting byte ⌊j/2⌋ into int lane j, a lane-wise right shift by 4 for even j (the high
 * nibble comes first in bitsandbytes' packing) or 0, an AND with 15; then the 16-entry table lookup as a lane
 * permutation of the table's bits: one vector at 512 bits ({@code selectFrom}), two at 256 bits (the two-vector
 * {@code selectFrom}), four at 128 bits (two two-vector lookups and a blend on bit 3).
 *
 * <p>GEMV has the structure of the affine groups kernel (four rows sharing x loads from 256 bits up, one row at a
 * time at 128, one accumulator per block folded in with absmax·g + acc, a scalar sum for a block's last blockSize
 * mod U codes, the last rows whose loads would pass the segment's end on the scalar twin), and applies when blocks
 * lie within rows and start on a byte
 * (cols a multiple of an even block size of at least U); other shapes use {@link ScalarCodebookKernels}.
 */
final class PanamaCodebookKernels implements CodebookKernels {
    private static final ScalarCodebookKernels SCALAR = new ScalarCodebookKernels();
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final VectorSpecies<Byte> B = Species.B;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int L = F.length();
    private static final int U = Math.max(L, 8);
    private static final int P = U / L;
    private static final int LOAD = B.length();
    private static final boolean FMA = Species.FMA;
    private static final VectorShuffle<Byte>[] SHUFFLE;
    private static final IntVector[] SHIFT;

    static {
        @SuppressWarnings("unchecked")
        VectorShuffle<Byte>[] sh = new VectorShuffle[P];
        IntVector[] sv = new IntVector[P];
        for (int p = 0; p < P; p++) {
            int[] idx = new int[LOAD];
            int[] shifts = new int[L];
            for (int i = 0; i < L; i++) {
                int j = p * L + i;
                for (int k = 0; k < 4; k++) {
                    idx[4 * i + k] = j / 2;
                }
                shifts[i] = (j & 1) == 0 ? 4 : 0;
            }
            sh[p] = VectorShuffle.fromArray(B, idx, 0);
            sv[p] = IntVector.fromArray(I, shifts, 0);
        }
        SHUFFLE = sh;
        SHIFT = sv;
    }

    /** The 16 table values' float bits, the source of {@link #table} (and of the tile kernel's tables). */
    static int[] tableBits(float[] table) {
        int[] bits = new int[16];
        for (int i = 0; i < 16; i++) {
            bits[i] = Float.floatToRawIntBits(table[i]);
        }
        return bits;
    }

    /** Table vector k (0..3) of {@link #lookup}: lanes from entry min(k·L, 16 − L) of the bits. */
    static IntVector table(int[] bits, int k) {
        return IntVector.fromArray(I, bits, Math.min(k * L, 16 - L));
    }

    /** The four table vectors of {@link #lookup} (the same vector repeated where fewer are needed). */
    private static IntVector[] tables(float[] table) {
        int[] bits = tableBits(table);
        return new IntVector[] {table(bits, 0), table(bits, 1), table(bits, 2), table(bits, 3)};
    }

    /**
     * table[q &amp; 15] per lane, the table in t0..t3 ({@link #table}): one permute at 16 lanes, a two-vector permute
     * at 8, two of those and a blend on bit 3 at 4. The permutes wrap their indices, so bits of q above the nibble
     * need no mask.
     */
    static FloatVector lookup(IntVector q, IntVector t0, IntVector t1, IntVector t2, IntVector t3) {
        IntVector v;
        if (L >= 16) {
            v = q.selectFrom(t0);
        } else if (L == 8) {
            v = q.selectFrom(t0, t1);
        } else {
            v = q.selectFrom(t0, t1).blend(q.selectFrom(t2, t3), q.and(8).compare(VectorOperators.NE, 0));
        }
        return v.reinterpretAsFloats();
    }

    /** The unit's vector p (shuffle {@code sh}, shifts {@code h}) as table values. */
    private static FloatVector decode(MemorySegment codes, long off, VectorShuffle<Byte> sh, IntVector h, IntVector t0,
            IntVector t1, IntVector t2, IntVector t3) {
        IntVector q = ByteVector.fromMemorySegment(B, codes, off, LE).rearrange(sh).reinterpretAsInts()
                .lanewise(VectorOperators.LSHR, h).and(15);
        return lookup(q, t0, t1, t2, t3);
    }

    private static boolean vectorShape(int cols, int blockSize) {
        return blockSize >= U && blockSize % 2 == 0 && cols % blockSize == 0;
    }

    @Override
    public void dequantize(MemorySegment codes, float[] table, int blockSize, float[] absmax, long blockOff,
            long first, int count, float[] dst, int dstOff) {
        // whole blocks in the middle, starting on a byte, go through the vector loop
        long bStart = (first + blockSize - 1) / blockSize;
        long bEnd = (first + count) / blockSize;
        if (blockSize < U || blockSize % 2 != 0 || bStart >= bEnd) {
            SCALAR.dequantize(codes, table, blockSize, absmax, blockOff, first, count, dst, dstOff);
            return;
        }
        int units = blockSize / U;
        long unitBytes = U / 2;
        long lastByte = codes.byteSize() - LOAD;
        long head = bStart * blockSize - first;
        SCALAR.dequantize(codes, table, blockSize, absmax, blockOff, first, (int) head, dst, dstOff);
        IntVector[] t = tables(table);
        IntVector t0 = t[0];
        IntVector t1 = t[1];
        IntVector t2 = t[2];
        IntVector t3 = t[3];
        VectorShuffle<Byte> s0 = SHUFFLE[0];
        VectorShuffle<Byte> s1 = SHUFFLE[P - 1];
        IntVector h0 = SHIFT[0];
        IntVector h1 = SHIFT[P - 1];
        long b = bStart;
        for (; b < bEnd; b++) {
            long e0 = b * blockSize;
            long off = e0 / 2;
            if (off + (units - 1) * unitBytes > lastByte) {
                break;
            }
            FloatVector a = FloatVector.broadcast(F, absmax[(int) (b - blockOff)]);
            int o = dstOff + (int) (e0 - first);
            int c = 0;
            for (int u = 0; u < units; u++, off += unitBytes, c += U) {
                decode(codes, off, s0, h0, t0, t1, t2, t3).mul(a).intoArray(dst, o + c);
                if (P == 2) {
                    decode(codes, off, s1, h1, t0, t1, t2, t3).mul(a).intoArray(dst, o + c + L);
                }
            }
            if (c < blockSize) {
                SCALAR.dequantize(codes, table, blockSize, absmax, blockOff, e0 + c, blockSize - c, dst, o + c);
            }
        }
        long done = b * blockSize - first;
        SCALAR.dequantize(codes, table, blockSize, absmax, blockOff, first + done, (int) (count - done), dst,
                dstOff + (int) done);
    }

    @Override
    public void gemv(MemorySegment codes, float[] table, int cols, int blockSize, float[] absmax, long blockOff,
            float[] x, int xOff, int rowFrom, int rowTo, float[] y, int yOff) {
        if (!vectorShape(cols, blockSize)) {
            SCALAR.gemv(codes, table, cols, blockSize, absmax, blockOff, x, xOff, rowFrom, rowTo, y, yOff);
            return;
        }
        int blocks = cols / blockSize;
        int units = blockSize / U;
        long rowBytes = cols / 2;
        long blockBytes = blockSize / 2;
        long unitBytes = U / 2;
        long lastLoad = (blocks - 1) * blockBytes + (units - 1) * unitBytes;
        int safe = PanamaAffineKernels.safeEnd(codes, rowBytes, lastLoad, rowFrom, rowTo);
        IntVector[] t = tables(table);
        float[] tmp = new float[L];
        int r = rowFrom;
        // four rows at a time from 8 lanes up; at 128 bits a four-row body (eight four-table lookups per unit) passes
        // C2's inlining budget, its lookups were boxed and the GEMV ran 3.5x slower than row by row (73 vs 21 ms on
        // 4096x14336)
        for (; L >= 8 && r + 4 <= safe; r += 4) {
            gemvRows4(codes, r * rowBytes, rowBytes, table, t[0], t[1], t[2], t[3], blockSize, blocks, units,
                    absmax, (int) ((long) r * blocks - blockOff), blocks, x, xOff, y, yOff + r, tmp);
        }
        for (; r < safe; r++) {
            y[yOff + r] = gemvRow(codes, r * rowBytes, table, t[0], t[1], t[2], t[3], blockSize, blocks, units, absmax,
                    (int) ((long) r * blocks - blockOff), x, xOff, tmp);
        }
        if (safe < rowTo) {
            SCALAR.gemv(codes, table, cols, blockSize, absmax, blockOff, x, xOff, safe, rowTo, y, yOff);
        }
    }

    /** Σ_{c ∈ [from, to)} table[q]·x[xOff + c] for the row at element {@code e0}, left to right. */
    private static float tail(MemorySegment codes, long e0, float[] table, int from, int to, float[] x, int xOff) {
        float s = 0;
        for (int c = from; c < to; c++) {
            s += table[ScalarCodebookKernels.code(codes, e0 + c)] * x[xOff + c];
        }
        return s;
    }

    private static float gemvRow(MemorySegment codes, long rowOff, float[] table, IntVector t0, IntVector t1,
            IntVector t2, IntVector t3, int blockSize, int blocks, int units, float[] absmax, int ai, float[] x,
            int xOff, float[] tmp) {
        VectorShuffle<Byte> s0 = SHUFFLE[0];
        VectorShuffle<Byte> s1 = SHUFFLE[P - 1];
        IntVector h0 = SHIFT[0];
        IntVector h1 = SHIFT[P - 1];
        long unitBytes = U / 2;
        FloatVector acc = FloatVector.zero(F);
        float tail = 0;
        for (int k = 0; k < blocks; k++) {
            FloatVector g = FloatVector.zero(F);
            long off = rowOff + (long) k * blockSize / 2;
            int c = k * blockSize;
            for (int u = 0; u < units; u++, off += unitBytes, c += U) {
                FloatVector d = decode(codes, off, s0, h0, t0, t1, t2, t3);
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                g = FMA ? d.fma(xv, g) : d.mul(xv).add(g);
                if (P == 2) {
                    FloatVector e = decode(codes, off, s1, h1, t0, t1, t2, t3);
                    FloatVector xw = FloatVector.fromArray(F, x, xOff + c + L);
                    g = FMA ? e.fma(xw, g) : e.mul(xw).add(g);
                }
            }
            float a = absmax[ai + k];
            FloatVector av = FloatVector.broadcast(F, a);
            acc = FMA ? av.fma(g, acc) : av.mul(g).add(acc);
            int end = (k + 1) * blockSize;
            if (c < end) {
                tail += a * tail(codes, rowOff * 2, table, c, end, x, xOff);
            }
        }
        return PanamaGemv.lanes(acc, tmp) + tail;
    }

    /** Rows r..r+3, each exactly as {@link #gemvRow} computes it. */
    private static void gemvRows4(MemorySegment codes, long off0, long rowBytes, float[] table, IntVector t0,
            IntVector t1, IntVector t2, IntVector t3, int blockSize, int blocks, int units, float[] absmax, int ai,
            int stride, float[] x, int xOff, float[] y, int yo, float[] tmp) {
        VectorShuffle<Byte> s0 = SHUFFLE[0];
        VectorShuffle<Byte> s1 = SHUFFLE[P - 1];
        IntVector h0 = SHIFT[0];
        IntVector h1 = SHIFT[P - 1];
        long unitBytes = U / 2;
        long off1 = off0 + rowBytes;
        long off2 = off1 + rowBytes;
        long off3 = off2 + rowBytes;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        float t0s = 0;
        float t1s = 0;
        float t2s = 0;
        float t3s = 0;
        for (int k = 0; k < blocks; k++) {
            FloatVector g0 = FloatVector.zero(F);
            FloatVector g1 = g0;
            FloatVector g2 = g0;
            FloatVector g3 = g0;
            long o = (long) k * blockSize / 2;
            int c = k * blockSize;
            for (int u = 0; u < units; u++, o += unitBytes, c += U) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                FloatVector d0 = decode(codes, off0 + o, s0, h0, t0, t1, t2, t3);
                g0 = FMA ? d0.fma(xv, g0) : d0.mul(xv).add(g0);
                FloatVector d1 = decode(codes, off1 + o, s0, h0, t0, t1, t2, t3);
                g1 = FMA ? d1.fma(xv, g1) : d1.mul(xv).add(g1);
                FloatVector d2 = decode(codes, off2 + o, s0, h0, t0, t1, t2, t3);
                g2 = FMA ? d2.fma(xv, g2) : d2.mul(xv).add(g2);
                FloatVector d3 = decode(codes, off3 + o, s0, h0, t0, t1, t2, t3);
                g3 = FMA ? d3.fma(xv, g3) : d3.mul(xv).add(g3);
                if (P == 2) {
                    FloatVector xw = FloatVector.fromArray(F, x, xOff + c + L);
                    FloatVector e0 = decode(codes, off0 + o, s1, h1, t0, t1, t2, t3);
                    g0 = FMA ? e0.fma(xw, g0) : e0.mul(xw).add(g0);
                    FloatVector e1 = decode(codes, off1 + o, s1, h1, t0, t1, t2, t3);
                    g1 = FMA ? e1.fma(xw, g1) : e1.mul(xw).add(g1);
                    FloatVector e2 = decode(codes, off2 + o, s1, h1, t0, t1, t2, t3);
                    g2 = FMA ? e2.fma(xw, g2) : e2.mul(xw).add(g2);
                    FloatVector e3 = decode(codes, off3 + o, s1, h1, t0, t1, t2, t3);
                    g3 = FMA ? e3.fma(xw, g3) : e3.mul(xw).add(g3);
                }
            }
            int i0 = ai + k;
            float s0v = absmax[i0];
            float s1v = absmax[i0 + stride];
            float s2v = absmax[i0 + 2 * stride];
            float s3v = absmax[i0 + 3 * stride];
            FloatVector v0 = FloatVector.broadcast(F, s0v);
            a0 = FMA ? v0.fma(g0, a0) : v0.mul(g0).add(a0);
            FloatVector v1 = FloatVector.broadcast(F, s1v);
            a1 = FMA ? v1.fma(g1, a1) : v1.mul(g1).add(a1);
            FloatVector v2 = FloatVector.broadcast(F, s2v);
            a2 = FMA ? v2.fma(g2, a2) : v2.mul(g2).add(a2);
            FloatVector v3 = FloatVector.broadcast(F, s3v);
            a3 = FMA ? v3.fma(g3, a3) : v3.mul(g3).add(a3);
            int end = (k + 1) * blockSize;
            if (c < end) {
                t0s += s0v * tail(codes, off0 * 2, table, c, end, x, xOff);
                t1s += s1v * tail(codes, off1 * 2, table, c, end, x, xOff);
                t2s += s2v * tail(codes, off2 * 2, table, c, end, x, xOff);
                t3s += s3v * tail(codes, off3 * 2, table, c, end, x, xOff);
            }
        }
        y[yo] = PanamaGemv.lanes(a0, tmp) + t0s;
        y[yo + 1] = PanamaGemv.lanes(a1, tmp) + t1s;
        y[yo + 2] = PanamaGemv.lanes(a2, tmp) + t2s;
        y[yo + 3] = PanamaGemv.lanes(a3, tmp) + t3s;
    }

    @Override
    public boolean prefersPrepared(int cols, int blockSize) {
        return PanamaNibbleKernels.codebookPrepared() && CodebookKernels.preparedShape(cols, blockSize);
    }

    @Override
    public void gemvPrepared(MemorySegment codes, float[] table, int cols, int blockSize, float[] absmax,
            long blockOff, float[] xp, int xpOff, int rowFrom, int rowTo, float[] y, int yOff) {
        PanamaNibbleKernels.codebookGemv(codes, table, cols, blockSize, absmax, blockOff, xp, xpOff, rowFrom, rowTo, y,
                yOff, this);
    }

    @Override
    public void gemvTiles(MemorySegment tiles, float[] table, int cols, int blockSize, float[] absmax, int tileFrom,
            int tileTo, int rows, float[] x, int xOff, float[] y, int yOff, boolean fma) {
        PanamaCodebook4Tiles.gemv(tiles, table, cols, blockSize, absmax, tileFrom, tileTo, rows, x, xOff, y, yOff, fma);
    }

    @Override
    public boolean tilesVectorized() {
        return PanamaCodebook4Tiles.vectorized();
    }
}

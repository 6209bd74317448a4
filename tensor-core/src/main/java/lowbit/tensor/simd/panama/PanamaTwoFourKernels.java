package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.ScalarSparseKernels;

/**
 * The 2:4 rows of {@link PanamaSparseKernels}, by a two-vector permute instead of compress.
 *
 * <p>A <em>block</em> is 2L consecutive columns (L float lanes): 2L/4 groups, L kept values, whose 2-bit in-group
 * indices are the 2L bits of the row's index stream at byte {@code blk·L/4} (4, 2 or 1 byte at L = 16, 8, 4). Kept
 * value k of the block sits at column (k/2)·4 + i_k of the block, so the lane index vector
 * {@code ((word >>> 2k) & 3) | 4·(k/2)} (a broadcast, a variable shift, an and-or) selects the block's kept
 * inputs from its two x vectors with one {@code selectFrom(x0, x1)} (vpermt2d on AVX-512), lane k against value k:
 * one permute and one full-width FMA per L kept values, no column bitmask pass. Only kept inputs are read into the
 * sum, so an infinite x at a pruned column does not poison it (as in the scalar twin). Four rows share each block's x
 * loads; a row's columns after its last whole block go through the scalar loop, left to right, whatever the row
 * range, so a row's bits never depend on the rows computed with it.
 *
 * <p>The quantized form decodes L kept codes per step (the affine kernels' byte-shuffle decode with the exact 2^23
 * trick, written inline for the reason {@link PanamaSparseKernels} gives) and meets them with the same permuted x.
 * Measured against the compress form it replaces (1 thread, thread CPU time, 4096×14336, 512-bit): see the README's
 * sparsity section.
 */
final class PanamaTwoFourKernels {
    private PanamaTwoFourKernels() {
    }

    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final VectorSpecies<Byte> B = Species.B;
    private static final int L = F.length();
    private static final boolean FMA = Species.FMA;
    static final int MAGIC = 0x4B00_0000;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Reads a little-endian int from a byte array (a block's index word, masked to its 2L bits by {@link #WMASK}). */
    static final VarHandle INT_AT = MethodHandles.byteArrayViewVarHandle(int[].class, LE);
    /** The low 2L bits. */
    private static final int WMASK = L >= 16 ? -1 : (1 << 2 * L) - 1;
    /** Index bytes per block. */
    static final int WB = L / 4;
    /** Lane k: 2k, the shift of kept value k's index in the block's index word. */
    private static final IntVector SHIFT = IntVector.fromArray(I, lanes(k -> 2 * k), 0);
    /**
     * Lane k: 4·(k/2), the block column of kept value k's group; its bits 0-1 are clear, so it is OR-ed onto the
     * in-group index (C2 can fuse the and and the or into one vpternlogd).
     */
    private static final IntVector BASE = IntVector.fromArray(I, lanes(k -> 4 * (k / 2)), 0);

    private static int[] lanes(java.util.function.IntUnaryOperator f) {
        int[] a = new int[L];
        for (int k = 0; k < L; k++) {
            a[k] = f.applyAsInt(k);
        }
        return a;
    }

    /** Whether this width has the fast 2:4 path (L ≥ 4: a block's index word is a whole number of bytes). */
    static boolean supported() {
        return L >= 4 && L <= 16;
    }

    /**
     * Copies {@code rows} index rows (stride bytes each, contiguous) to {@code buf}: the kernels read the block words
     * from the heap copy with a plain array access (segment reads inside the hot loops pushed C2 past its inlining
     * node budget in the four-row quantized loop: the reads became calls, every live vector spilled).
     */
    static void copyIndices(MemorySegment idx, long io, int stride, int rows, byte[] buf) {
        MemorySegment.copy(idx, ValueLayout.JAVA_BYTE, io, buf, 0, rows * stride);
    }

    // ---- float values ----

    static void gemv(int cols, float[] vals, int valOff, MemorySegment idx, long idxOff, long idxStride, float[] x,
            int xOff, float[] y, int yOff, int rows) {
        int kept = cols / 2;
        int blocks = cols / (2 * L);
        float[] tmp = new float[L];
        int st = (int) idxStride;
        byte[] buf = new byte[4 * st + 4];
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            long io = idxOff + r * idxStride;
            copyIndices(idx, io, st, 4, buf);
            rows4(blocks, kept, vals, valOff + r * kept, idx, io, st, buf, x, xOff, y, yOff + r, tmp);
        }
        for (; r < rows; r++) {
            long io = idxOff + r * idxStride;
            copyIndices(idx, io, st, 1, buf);
            y[yOff + r] = row(blocks, kept, vals, valOff + r * kept, idx, io, buf, x, xOff, tmp);
        }
    }

    private static float row(int blocks, int kept, float[] vals, int vo, MemorySegment idx, long io, byte[] buf,
            float[] x, int xOff, float[] tmp) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            int c = xOff + 2 * b * L;
            IntVector x0 = FloatVector.fromArray(F, x, c).reinterpretAsInts();
            IntVector x1 = FloatVector.fromArray(F, x, c + L).reinterpretAsInts();
            FloatVector xs = IntVector.broadcast(I, (int) INT_AT.get(buf, b * WB) & WMASK)
                    .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
            FloatVector v = FloatVector.fromArray(F, vals, vo + b * L);
            acc = FMA ? v.fma(xs, acc) : v.mul(xs).add(acc);
        }
        return PanamaGemv.lanes(acc, tmp) + tail(blocks * L, kept, vals, vo, idx, io, x, xOff);
    }

    /** Σ of kept values [from, kept) of one row, left to right. */
    static float tail(int from, int kept, float[] vals, int vo, MemorySegment idx, long io, float[] x,
            int xOff) {
        float t = 0;
        for (int k = from; k < kept; k++) {
            t += vals[vo + k] * x[xOff + (k / 2) * 4 + ScalarSparseKernels.code(idx, io, k, 2)];
        }
        return t;
    }

    /** Four rows, each computed exactly as {@link #row}; x loads are shared. */
    private static void rows4(int blocks, int kept, float[] vals, int vo, MemorySegment idx, long io, int st,
            byte[] buf, float[] x, int xOff, float[] y, int yo, float[] tmp) {
        int vo1 = vo + kept, vo2 = vo1 + kept, vo3 = vo2 + kept;
        long io1 = io + st, io2 = io1 + st, io3 = io2 + st;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < blocks; b++) {
            int c = xOff + 2 * b * L;
            int k = b * L;
            IntVector x0 = FloatVector.fromArray(F, x, c).reinterpretAsInts();
            IntVector x1 = FloatVector.fromArray(F, x, c + L).reinterpretAsInts();
            FloatVector s0 = IntVector.broadcast(I, (int) INT_AT.get(buf, b * WB) & WMASK)
                    .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
            FloatVector v0 = FloatVector.fromArray(F, vals, vo + k);
            a0 = FMA ? v0.fma(s0, a0) : v0.mul(s0).add(a0);
            FloatVector s1 = IntVector.broadcast(I, (int) INT_AT.get(buf, st + b * WB) & WMASK)
                    .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
            FloatVector v1 = FloatVector.fromArray(F, vals, vo1 + k);
            a1 = FMA ? v1.fma(s1, a1) : v1.mul(s1).add(a1);
            FloatVector s2 = IntVector.broadcast(I, (int) INT_AT.get(buf, 2 * st + b * WB) & WMASK)
                    .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
            FloatVector v2 = FloatVector.fromArray(F, vals, vo2 + k);
            a2 = FMA ? v2.fma(s2, a2) : v2.mul(s2).add(a2);
            FloatVector s3 = IntVector.broadcast(I, (int) INT_AT.get(buf, 3 * st + b * WB) & WMASK)
                    .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
            FloatVector v3 = FloatVector.fromArray(F, vals, vo3 + k);
            a3 = FMA ? v3.fma(s3, a3) : v3.mul(s3).add(a3);
        }
        int from = blocks * L;
        y[yo] = PanamaGemv.lanes(a0, tmp) + tail(from, kept, vals, vo, idx, io, x, xOff);
        y[yo + 1] = PanamaGemv.lanes(a1, tmp) + tail(from, kept, vals, vo1, idx, io1, x, xOff);
        y[yo + 2] = PanamaGemv.lanes(a2, tmp) + tail(from, kept, vals, vo2, idx, io2, x, xOff);
        y[yo + 3] = PanamaGemv.lanes(a3, tmp) + tail(from, kept, vals, vo3, idx, io3, x, xOff);
    }

    // ---- quantized values (groups of whole decode units, checked by the caller) ----

    /** Rows [0, rows) whose code loads stay inside the segment (the caller gives the rest to the scalar twin). */
    static void gemvAffine(MemorySegment codes, long codeOff, long codeStride, int bits, int groups, int units,
            long unitBytes, float[] scales, int scaleOff, int scaleStride, byte[] zeros, int zero, MemorySegment idx,
            long idxOff, long idxStride, float[] x, int xOff, float[] y, int yOff, int rows) {
        float[] tmp = new float[L];
        int st = (int) idxStride;
        byte[] buf = new byte[4 * st + 4];
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            copyIndices(idx, idxOff + r * idxStride, st, 4, buf);
            affineRows4(codes, codeOff + r * codeStride, codeStride, bits, groups, units, unitBytes, scales,
                    scaleOff + r * scaleStride, scaleStride, zeros, zero, st, buf, x, xOff, y, yOff + r, tmp);
        }
        for (; r < rows; r++) {
            copyIndices(idx, idxOff + r * idxStride, st, 1, buf);
            y[yOff + r] = affineRow(codes, codeOff + r * codeStride, bits, groups, units, unitBytes, scales,
                    scaleOff + r * scaleStride, zeros, zero, buf, x, xOff, tmp);
        }
    }

    private static float affineRow(MemorySegment codes, long co, int bits, int groups, int units, long unitBytes,
            float[] scales, int so, byte[] zeros, int zero, byte[] buf, float[] x, int xOff, float[] tmp) {
        int mask = (1 << bits) - 1;
        FloatVector acc = FloatVector.zero(F);
        int blk = 0;
        long off = co;
        for (int g = 0; g < groups; g++) {
            FloatVector zv = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so + g] & 0xFF));
            FloatVector ga = FloatVector.zero(F);
            for (int u = 0; u < units; u++, off += unitBytes) {
                for (int q = 0; q < PanamaAffineKernels.P; q++, blk++) {
                    FloatVector d = ByteVector.fromMemorySegment(B, codes, off, LE)
                            .rearrange(PanamaAffineKernels.SHUFFLE[bits][q]).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, PanamaAffineKernels.SHIFT[bits][q]).and(mask).or(MAGIC)
                            .reinterpretAsFloats().sub(zv);
                    int c = xOff + 2 * blk * L;
                    IntVector x0 = FloatVector.fromArray(F, x, c).reinterpretAsInts();
                    IntVector x1 = FloatVector.fromArray(F, x, c + L).reinterpretAsInts();
                    FloatVector xs = IntVector.broadcast(I, (int) INT_AT.get(buf, blk * WB) & WMASK)
                            .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
                    ga = FMA ? d.fma(xs, ga) : d.mul(xs).add(ga);
                }
            }
            FloatVector sv = FloatVector.broadcast(F, scales[so + g]);
            acc = FMA ? sv.fma(ga, acc) : sv.mul(ga).add(acc);
        }
        return PanamaGemv.lanes(acc, tmp);
    }

    /** Four rows, each computed exactly as {@link #affineRow} computes it; x loads are shared. */
    private static void affineRows4(MemorySegment codes, long co, long cs, int bits, int groups, int units,
            long unitBytes, float[] scales, int so, int ss, byte[] zeros, int zero, int st, byte[] buf, float[] x,
            int xOff, float[] y, int yo, float[] tmp) {
        int mask = (1 << bits) - 1;
        long co1 = co + cs, co2 = co1 + cs, co3 = co2 + cs;
        int so1 = so + ss, so2 = so1 + ss, so3 = so2 + ss;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int blk = 0;
        long off = 0;
        for (int g = 0; g < groups; g++) {
            FloatVector z0 = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so + g] & 0xFF));
            FloatVector z1 = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so1 + g] & 0xFF));
            FloatVector z2 = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so2 + g] & 0xFF));
            FloatVector z3 = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so3 + g] & 0xFF));
            FloatVector g0 = FloatVector.zero(F), g1 = g0, g2 = g0, g3 = g0;
            for (int u = 0; u < units; u++, off += unitBytes) {
                for (int q = 0; q < PanamaAffineKernels.P; q++, blk++) {
                    VectorShuffle<Byte> sh = PanamaAffineKernels.SHUFFLE[bits][q];
                    IntVector sf = PanamaAffineKernels.SHIFT[bits][q];
                    int c = xOff + 2 * blk * L;
                    IntVector x0 = FloatVector.fromArray(F, x, c).reinterpretAsInts();
                    IntVector x1 = FloatVector.fromArray(F, x, c + L).reinterpretAsInts();
                    FloatVector s0 = IntVector.broadcast(I, (int) INT_AT.get(buf, blk * WB) & WMASK)
                            .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
                    FloatVector d0 = ByteVector.fromMemorySegment(B, codes, co + off, LE).rearrange(sh).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z0);
                    g0 = FMA ? d0.fma(s0, g0) : d0.mul(s0).add(g0);
                    FloatVector s1 = IntVector.broadcast(I, (int) INT_AT.get(buf, st + blk * WB) & WMASK)
                            .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
                    FloatVector d1 = ByteVector.fromMemorySegment(B, codes, co1 + off, LE).rearrange(sh).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z1);
                    g1 = FMA ? d1.fma(s1, g1) : d1.mul(s1).add(g1);
                    FloatVector s2 = IntVector.broadcast(I, (int) INT_AT.get(buf, 2 * st + blk * WB) & WMASK)
                            .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
                    FloatVector d2 = ByteVector.fromMemorySegment(B, codes, co2 + off, LE).rearrange(sh).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z2);
                    g2 = FMA ? d2.fma(s2, g2) : d2.mul(s2).add(g2);
                    FloatVector s3 = IntVector.broadcast(I, (int) INT_AT.get(buf, 3 * st + blk * WB) & WMASK)
                            .lanewise(VectorOperators.LSHR, SHIFT).and(3).or(BASE).selectFrom(x0, x1).reinterpretAsFloats();
                    FloatVector d3 = ByteVector.fromMemorySegment(B, codes, co3 + off, LE).rearrange(sh).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z3);
                    g3 = FMA ? d3.fma(s3, g3) : d3.mul(s3).add(g3);
                }
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

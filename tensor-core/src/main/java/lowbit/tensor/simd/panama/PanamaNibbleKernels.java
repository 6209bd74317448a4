package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.AffineKernels;
import lowbit.tensor.simd.ScalarAffineKernels;
import lowbit.tensor.simd.ScalarCodebookKernels;

/**
 * The 4-bit groups GEMV of {@link AffineKernels#gemvNibbleGroups} (GPTQ/AWQ-style int4 with groups of a multiple of
 * 32 along the row), the fast path of {@link PanamaAffineKernels}.
 *
 * <p>Per L code bytes (L = float lanes; 2L codes) one load zero-extends the bytes into int lanes
 * ({@code vpmovzxbd}); the low nibbles (AND 15) are the even codes and the high ones (shift right 4, no mask
 * needed after the zero extension) the odd codes, so they pair with the even and odd halves of the prepared x
 * chunk (no permutation of codes or x in the loop). Each half is converted to float and fused into the group
 * accumulator: per 2L codes and row one load, 1 AND, 1 shift, 2 conversions, 2 FMAs. The zero point is applied
 * per group outside the loop, as s·z·X_k with the prepared group sum X_k, instead of per code (the general kernel's
 * exact (q − z) decode costs a byte shuffle, a variable shift, a mask, an OR and a subtraction per L codes).
 * Measured in thread CPU time on one thread of the shared 2-core AVX-512 machine (2026-12-01, load average 9-11,
 * layout GEMV against the general kernel alternately in one JVM): int4 g128 1.07x faster at 4096×14336 (DRAM), 1.22x
 * at 64×14336 (L2; its first author noted 1.6x there, 8.3 against 5.1 GB/s of codes, not reproduced). The NF4/FP4
 * kernel below (a table lookup per half instead of the conversion) measured 1.49x (4096×14336) and 1.97x (64×14336).
 *
 * <p>Four rows at a time share the x loads; a row's result is its accumulator's lanes added in lane order minus
 * the scalar sum of s·z·X_k over the groups in order, and the single-row loop computes a row the same way, so a row's
 * bits never depend on the row range. Rows whose last load would pass the end of the segment (only at 128 bits,
 * where a load is 8 bytes for 4 used) use the scalar twin.
 */
final class PanamaNibbleKernels {
    private PanamaNibbleKernels() {
    }

    private static final ScalarAffineKernels SCALAR = new ScalarAffineKernels();
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final int L = F.length();
    /** L code bytes per load (at least the 8 of the smallest byte species). */
    private static final VectorSpecies<Byte> BL = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, 8 * L)));
    private static final int LOAD = BL.length();
    /** Loads per 32-column chunk. */
    private static final int HALVES = AffineKernels.NIBBLE_CHUNK / 2 / L;
    private static final boolean FMA = Species.FMA;
    /**
     * 1 and {@link AffineKernels#NIBBLE_CHUNK}, the steps of the per-group chunk loops, read from non-final fields
     * (never written) so that C2 cannot fold them to constants and does not unroll those loops. Unrolled, the int4
     * four-row loop ran 1.27–1.42× slower and the NF4 two-row loop 1.06–1.08× slower (4096×14336, one thread,
     * thread CPU time, both versions alternating in one JVM, 2026-12-01).
     */
    private static int unitStep = 1;
    private static int chunkStep = AffineKernels.NIBBLE_CHUNK;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private static IntVector load(MemorySegment codes, long off) {
        return (IntVector) ByteVector.fromMemorySegment(BL, codes, off, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    private static FloatVector lo(IntVector v) {
        return (FloatVector) v.and(FIFTEEN).convert(VectorOperators.I2F, 0);
    }

    /**
     * The low-nibble mask as a vector constant, not {@code and(15)}: a scalar operand is broadcast through more of
     * the Vector API's Java code, and those nodes count against C2's inlining budget. With the scalar, the four-row
     * int4 loop sat just under that budget; once another kernel (the interleaved Q4_0 GEMV) had widened the type
     * profile of the API's shared conversion method, the last nibble lookup passed it, ran as a call returning a
     * boxed vector, and the int4 GEMV took 8–12 ms instead of 2.4–2.7 ms (4096×14336, 2 threads). With the constant
     * it keeps its speed either way (same-JVM A/B with nothing run before: 0.98–0.99×, unchanged).
     */
    private static final IntVector FIFTEEN = IntVector.broadcast(Species.I, 15);

    private static FloatVector hi(IntVector v) {
        return (FloatVector) v.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0);
    }

    /** Lane indices 0, 2, .., 2L−2 and 1, 3, .., 2L−1 (as floats) of the two-vector selection. */
    private static final FloatVector EVEN;
    private static final FloatVector ODD;

    static {
        float[] e = new float[L];
        float[] o = new float[L];
        for (int i = 0; i < L; i++) {
            e[i] = 2 * i;
            o[i] = 2 * i + 1;
        }
        EVEN = FloatVector.fromArray(F, e, 0);
        ODD = FloatVector.fromArray(F, o, 0);
    }

    /**
     * {@link AffineKernels#prepareNibbleInput}: per 2L columns two loads and two two-vector selections (even and
     * odd lanes); a group's sum X_k as a vector sum of its loads, then the lanes added in lane order.
     */
    static void prepare(float[] x, int xOff, int cols, int group, float[] dst, int dstOff, float[] tmp) {
        int half = AffineKernels.NIBBLE_CHUNK / 2;
        for (int k = 0, groups = cols / group; k < groups; k++) {
            FloatVector sum = FloatVector.zero(F);
            for (int c = k * group, e = c + group; c < e; c += AffineKernels.NIBBLE_CHUNK) {
                for (int h = 0; h < HALVES; h++) {
                    FloatVector a = FloatVector.fromArray(F, x, xOff + c + 2 * h * L);
                    FloatVector b = FloatVector.fromArray(F, x, xOff + c + 2 * h * L + L);
                    EVEN.selectFrom(a, b).intoArray(dst, dstOff + c + h * L);
                    ODD.selectFrom(a, b).intoArray(dst, dstOff + c + half + h * L);
                    sum = sum.add(a).add(b);
                }
            }
            dst[dstOff + cols + k] = PanamaGemv.lanes(sum, tmp);
        }
    }

    static void gemv(MemorySegment codes, long rowBytes, int cols, int group, float[] scales, byte[] zeros, int zero,
            int stride, float[] xp, int xpOff, int rowFrom, int rowTo, float[] y, int yOff) {
        // the last load of a row starts at byte rowBytes − L and reads LOAD bytes
        long room = codes.byteSize() - (rowBytes - L + LOAD);
        int safe = room < 0 ? rowFrom : (int) Math.max(rowFrom, Math.min(rowTo, room / rowBytes + 1));
        float[] tmp = new float[L];
        int r = rowFrom;
        for (; r + 4 <= safe; r += 4) {
            rows4(codes, r * rowBytes, rowBytes, cols, group, scales, zeros, zero, r * stride, stride, xp, xpOff, y,
                    yOff + r, tmp);
        }
        for (; r < safe; r++) {
            y[yOff + r] = row(codes, r * rowBytes, cols, group, scales, zeros, zero, r * stride, xp, xpOff, tmp);
        }
        if (safe < rowTo) {
            SCALAR.gemvNibbleGroups(codes, rowBytes, cols, group, scales, zeros, zero, stride, xp, xpOff, safe, rowTo, y,
                    yOff);
        }
    }

    private static float row(MemorySegment codes, long off, int cols, int group, float[] scales, byte[] zeros,
            int zero, int si, float[] xp, int xpOff, float[] tmp) {
        int groups = cols / group;
        int chunks = group / AffineKernels.NIBBLE_CHUNK;
        FloatVector acc = FloatVector.zero(F);
        float t = 0;
        for (int k = 0; k < groups; k++) {
            FloatVector g = FloatVector.zero(F);
            int c = xpOff + k * group;
            long b = off + (long) k * group / 2;
            for (int j = 0, one = unitStep; j < chunks; j += one, c += AffineKernels.NIBBLE_CHUNK, b += AffineKernels.NIBBLE_CHUNK / 2) {
                for (int h = 0; h < HALVES; h++) {
                    FloatVector xe = FloatVector.fromArray(F, xp, c + h * L);
                    FloatVector xo = FloatVector.fromArray(F, xp, c + 16 + h * L);
                    IntVector v = load(codes, b + h * L);
                    g = FMA ? lo(v).fma(xe, g) : lo(v).mul(xe).add(g);
                    g = FMA ? hi(v).fma(xo, g) : hi(v).mul(xo).add(g);
                }
            }
            float s = scales[si + k];
            int z = zeros == null ? zero : zeros[si + k] & 0xFF;
            FloatVector sv = FloatVector.broadcast(F, s);
            acc = FMA ? sv.fma(g, acc) : sv.mul(g).add(acc);
            t += s * z * xp[xpOff + cols + k];
        }
        return PanamaGemv.lanes(acc, tmp) - t;
    }

    /** Rows r..r+3 (r at byte {@code off0}), each computed exactly as {@link #row} computes it. */
    private static void rows4(MemorySegment codes, long off0, long rowBytes, int cols, int group, float[] scales,
            byte[] zeros, int zero, int si, int stride, float[] xp, int xpOff, float[] y, int yo, float[] tmp) {
        int groups = cols / group;
        int chunks = group / AffineKernels.NIBBLE_CHUNK;
        long off1 = off0 + rowBytes;
        long off2 = off1 + rowBytes;
        long off3 = off2 + rowBytes;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        float t0 = 0;
        float t1 = 0;
        float t2 = 0;
        float t3 = 0;
        for (int k = 0; k < groups; k++) {
            FloatVector g0 = FloatVector.zero(F);
            FloatVector g1 = g0;
            FloatVector g2 = g0;
            FloatVector g3 = g0;
            int c = xpOff + k * group;
            long b = (long) k * group / 2;
            for (int j = 0, one = unitStep; j < chunks; j += one, c += AffineKernels.NIBBLE_CHUNK, b += AffineKernels.NIBBLE_CHUNK / 2) {
                for (int h = 0; h < HALVES; h++) {
                    FloatVector xe = FloatVector.fromArray(F, xp, c + h * L);
                    FloatVector xo = FloatVector.fromArray(F, xp, c + 16 + h * L);
                    long bh = b + h * L;
                    IntVector v0 = load(codes, off0 + bh);
                    IntVector v1 = load(codes, off1 + bh);
                    IntVector v2 = load(codes, off2 + bh);
                    IntVector v3 = load(codes, off3 + bh);
                    if (FMA) {
                        g0 = lo(v0).fma(xe, g0);
                        g1 = lo(v1).fma(xe, g1);
                        g2 = lo(v2).fma(xe, g2);
                        g3 = lo(v3).fma(xe, g3);
                        g0 = hi(v0).fma(xo, g0);
                        g1 = hi(v1).fma(xo, g1);
                        g2 = hi(v2).fma(xo, g2);
                        g3 = hi(v3).fma(xo, g3);
                    } else {
                        g0 = lo(v0).mul(xe).add(g0);
                        g1 = lo(v1).mul(xe).add(g1);
                        g2 = lo(v2).mul(xe).add(g2);
                        g3 = lo(v3).mul(xe).add(g3);
                        g0 = hi(v0).mul(xo).add(g0);
                        g1 = hi(v1).mul(xo).add(g1);
                        g2 = hi(v2).mul(xo).add(g2);
                        g3 = hi(v3).mul(xo).add(g3);
                    }
                }
            }
            int i0 = si + k;
            int i1 = i0 + stride;
            int i2 = i1 + stride;
            int i3 = i2 + stride;
            float s0 = scales[i0];
            float s1 = scales[i1];
            float s2 = scales[i2];
            float s3 = scales[i3];
            FloatVector v0 = FloatVector.broadcast(F, s0);
            FloatVector v1 = FloatVector.broadcast(F, s1);
            FloatVector v2 = FloatVector.broadcast(F, s2);
            FloatVector v3 = FloatVector.broadcast(F, s3);
            a0 = FMA ? v0.fma(g0, a0) : v0.mul(g0).add(a0);
            a1 = FMA ? v1.fma(g1, a1) : v1.mul(g1).add(a1);
            a2 = FMA ? v2.fma(g2, a2) : v2.mul(g2).add(a2);
            a3 = FMA ? v3.fma(g3, a3) : v3.mul(g3).add(a3);
            float xk = xp[xpOff + cols + k];
            t0 += s0 * (zeros == null ? zero : zeros[i0] & 0xFF) * xk;
            t1 += s1 * (zeros == null ? zero : zeros[i1] & 0xFF) * xk;
            t2 += s2 * (zeros == null ? zero : zeros[i2] & 0xFF) * xk;
            t3 += s3 * (zeros == null ? zero : zeros[i3] & 0xFF) * xk;
        }
        y[yo] = PanamaGemv.lanes(a0, tmp) - t0;
        y[yo + 1] = PanamaGemv.lanes(a1, tmp) - t1;
        y[yo + 2] = PanamaGemv.lanes(a2, tmp) - t2;
        y[yo + 3] = PanamaGemv.lanes(a3, tmp) - t3;
    }

    // ---- codebook (NF4, FP4) ----

    private static final ScalarCodebookKernels SCALAR4 = new ScalarCodebookKernels();

    /** table[q] for codes q in 0..15: a lane permutation of the scaled table's bits (one vector at L = 16, two at 8). */
    private static FloatVector lookup(IntVector q, IntVector ta, IntVector tb) {
        return (L >= 16 ? q.selectFrom(ta) : q.selectFrom(ta, tb)).reinterpretAsFloats();
    }

    /** Whether {@link #codebookGemv} runs its own kernel (at least 8 float lanes, a table in one or two vectors). */
    static boolean codebookPrepared() {
        return L >= 8;
    }

    /**
     * {@link lowbit.tensor.simd.CodebookKernels#gemvPrepared}: per block and row the table is scaled by the block's
     * absmax once (fl(table[q]·absmax), the dequantized values), then per L code bytes one zero-extending load, the
     * high nibbles (even elements in bitsandbytes' packing, shift right 4) and the low ones (odd, AND 15) looked up
     * by lane permutation and fused with the even and odd halves of x. Two rows at a time share the x loads; a row's
     * result is its accumulator's lanes added in lane order, the same in the single-row loop. At 128 bits (a table
     * needs four vectors) x is put back in column order and the general kernel runs.
     */
    static void codebookGemv(MemorySegment codes, float[] table, int cols, int blockSize, float[] absmax,
            long blockOff, float[] xp, int xpOff, int rowFrom, int rowTo, float[] y, int yOff,
            PanamaCodebookKernels general) {
        if (L < 8) {
            float[] x = new float[cols];
            int half = AffineKernels.NIBBLE_CHUNK / 2;
            for (int c = 0; c < cols; c += AffineKernels.NIBBLE_CHUNK) {
                for (int i = 0; i < half; i++) {
                    x[c + 2 * i] = xp[xpOff + c + i];
                    x[c + 2 * i + 1] = xp[xpOff + c + half + i];
                }
            }
            general.gemv(codes, table, cols, blockSize, absmax, blockOff, x, 0, rowFrom, rowTo, y, yOff);
            return;
        }
        long rowBytes = cols / 2;
        long room = codes.byteSize() - (rowBytes - L + LOAD);
        int safe = room < 0 ? rowFrom : (int) Math.max(rowFrom, Math.min(rowTo, room / rowBytes + 1));
        float[] tmp = new float[L];
        int blocks = cols / blockSize;
        int r = rowFrom;
        for (; r + 2 <= safe; r += 2) {
            if (blockSize == 64) {
                codebookRows2B64(codes, r * rowBytes, rowBytes, cols, table, absmax,
                        (int) ((long) r * blocks - blockOff), blocks, xp, xpOff, y, yOff + r, tmp);
            } else {
                codebookRows2(codes, r * rowBytes, rowBytes, cols, blockSize, table, absmax,
                        (int) ((long) r * blocks - blockOff), blocks, xp, xpOff, y, yOff + r, tmp);
            }
        }
        for (; r < safe; r++) {
            y[yOff + r] = codebookRow(codes, r * rowBytes, cols, blockSize, table, absmax,
                    (int) ((long) r * blocks - blockOff), xp, xpOff, tmp);
        }
        if (safe < rowTo) {
            SCALAR4.gemvPrepared(codes, table, cols, blockSize, absmax, blockOff, xp, xpOff, safe, rowTo, y, yOff);
        }
    }

    private static float codebookRow(MemorySegment codes, long off, int cols, int blockSize, float[] table,
            float[] absmax, int ai, float[] xp, int xpOff, float[] tmp) {
        FloatVector ta = FloatVector.fromArray(F, table, 0);
        FloatVector tb = FloatVector.fromArray(F, table, 16 - L);
        FloatVector acc = FloatVector.zero(F);
        int half = AffineKernels.NIBBLE_CHUNK / 2;
        for (int k = 0, blocks = cols / blockSize; k < blocks; k++) {
            float a = absmax[ai + k];
            IntVector sa = ta.mul(a).reinterpretAsInts();
            IntVector sb = tb.mul(a).reinterpretAsInts();
            int c = xpOff + k * blockSize;
            long b = off + (long) k * blockSize / 2;
            for (int e = c + blockSize, step = chunkStep; c < e; c += step, b += half) {
                for (int h = 0; h < HALVES; h++) {
                    FloatVector xe = FloatVector.fromArray(F, xp, c + h * L);
                    FloatVector xo = FloatVector.fromArray(F, xp, c + half + h * L);
                    IntVector v = load(codes, b + h * L);
                    FloatVector we = lookup(v.lanewise(VectorOperators.LSHR, 4), sa, sb);
                    FloatVector wo = lookup(v.and(15), sa, sb);
                    acc = FMA ? wo.fma(xo, we.fma(xe, acc)) : wo.mul(xo).add(we.mul(xe).add(acc));
                }
            }
        }
        return PanamaGemv.lanes(acc, tmp);
    }

    /**
     * Rows r and r+1 (r at byte {@code off0}), each computed exactly as {@link #codebookRow} computes it. Two rows,
     * not four: a four-row body (8 table lookups per step) passes C2's node budget for inlining
     * (NodeCountInliningCutoff), the lookups left out are then boxed and the kernel ran 20x slower than this.
     */
    private static void codebookRows2(MemorySegment codes, long off0, long rowBytes, int cols, int blockSize,
            float[] table, float[] absmax, int ai, int stride, float[] xp, int xpOff, float[] y, int yo, float[] tmp) {
        // the table is loaded here, not passed in: a vector argument of a method C2 does not inline arrives as an
        // object of the abstract type
        FloatVector ta = FloatVector.fromArray(F, table, 0);
        FloatVector tb = FloatVector.fromArray(F, table, 16 - L);
        long off1 = off0 + rowBytes;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        int half = AffineKernels.NIBBLE_CHUNK / 2;
        for (int k = 0, blocks = cols / blockSize; k < blocks; k++) {
            float m0 = absmax[ai + k];
            float m1 = absmax[ai + stride + k];
            IntVector s0a = ta.mul(m0).reinterpretAsInts();
            IntVector s0b = tb.mul(m0).reinterpretAsInts();
            IntVector s1a = ta.mul(m1).reinterpretAsInts();
            IntVector s1b = tb.mul(m1).reinterpretAsInts();
            int c = xpOff + k * blockSize;
            long b = (long) k * blockSize / 2;
            for (int e = c + blockSize, step = chunkStep; c < e; c += step, b += half) {
                for (int h = 0; h < HALVES; h++) {
                    FloatVector xe = FloatVector.fromArray(F, xp, c + h * L);
                    FloatVector xo = FloatVector.fromArray(F, xp, c + half + h * L);
                    long bh = b + h * L;
                    IntVector v0 = load(codes, off0 + bh);
                    IntVector v1 = load(codes, off1 + bh);
                    FloatVector e0 = lookup(v0.lanewise(VectorOperators.LSHR, 4), s0a, s0b);
                    FloatVector e1 = lookup(v1.lanewise(VectorOperators.LSHR, 4), s1a, s1b);
                    FloatVector o0 = lookup(v0.and(15), s0a, s0b);
                    FloatVector o1 = lookup(v1.and(15), s1a, s1b);
                    if (FMA) {
                        a0 = o0.fma(xo, e0.fma(xe, a0));
                        a1 = o1.fma(xo, e1.fma(xe, a1));
                    } else {
                        a0 = o0.mul(xo).add(e0.mul(xe).add(a0));
                        a1 = o1.mul(xo).add(e1.mul(xe).add(a1));
                    }
                }
            }
        }
        y[yo] = PanamaGemv.lanes(a0, tmp);
        y[yo + 1] = PanamaGemv.lanes(a1, tmp);
    }

    /**
     * {@link #codebookRows2} for blocks of 64 (bitsandbytes' default), the two 32-code chunks of a block written out:
     * the same operations in the same order, without the inner loop's control and index checks, which cost about as
     * much as the vector work at two chunks per block.
     */
    private static void codebookRows2B64(MemorySegment codes, long off0, long rowBytes, int cols, float[] table,
            float[] absmax, int ai, int stride, float[] xp, int xpOff, float[] y, int yo, float[] tmp) {
        FloatVector ta = FloatVector.fromArray(F, table, 0);
        FloatVector tb = FloatVector.fromArray(F, table, 16 - L);
        long off1 = off0 + rowBytes;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        for (int k = 0, blocks = cols / 64; k < blocks; k++) {
            float m0 = absmax[ai + k];
            float m1 = absmax[ai + stride + k];
            IntVector s0a = ta.mul(m0).reinterpretAsInts();
            IntVector s0b = tb.mul(m0).reinterpretAsInts();
            IntVector s1a = ta.mul(m1).reinterpretAsInts();
            IntVector s1b = tb.mul(m1).reinterpretAsInts();
            int c = xpOff + 64 * k;
            long b = 32L * k;
            for (int step = 0; step < 2; step++) {
                for (int h = 0; h < HALVES; h++) {
                    int xc = c + 32 * step + h * L;
                    FloatVector xe = FloatVector.fromArray(F, xp, xc);
                    FloatVector xo = FloatVector.fromArray(F, xp, xc + 16);
                    long bh = b + 16 * step + h * L;
                    IntVector v0 = load(codes, off0 + bh);
                    IntVector v1 = load(codes, off1 + bh);
                    FloatVector e0 = lookup(v0.lanewise(VectorOperators.LSHR, 4), s0a, s0b);
                    FloatVector e1 = lookup(v1.lanewise(VectorOperators.LSHR, 4), s1a, s1b);
                    FloatVector o0 = lookup(v0.and(15), s0a, s0b);
                    FloatVector o1 = lookup(v1.and(15), s1a, s1b);
                    if (FMA) {
                        a0 = o0.fma(xo, e0.fma(xe, a0));
                        a1 = o1.fma(xo, e1.fma(xe, a1));
                    } else {
                        a0 = o0.mul(xo).add(e0.mul(xe).add(a0));
                        a1 = o1.mul(xo).add(e1.mul(xe).add(a1));
                    }
                }
            }
        }
        y[yo] = PanamaGemv.lanes(a0, tmp);
        y[yo + 1] = PanamaGemv.lanes(a1, tmp);
    }
}

package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.ScalarSparseKernels;
import lowbit.tensor.simd.SparseKernels;

/**
 * Vector API kernels of the sparse layouts.
 *
 * <p><b>2:4</b> (float and quantized values) goes to {@link PanamaTwoFourKernels}: one two-vector permute of x per L
 * kept values, lane indices straight from the 2-bit index stream.
 *
 * <p><b>Other N:M rows</b> run in two passes per block of (up to four) rows. First the rows' in-group indices are
 * turned into a column bitmask (1 bit per column, in a small scratch array) through a scalar table of e groups'
 * index bits (e·N·⌈log₂M⌉ ≤ 8 bits per entry). Then,
 * chunk by chunk (a chunk is L consecutive columns, L/M whole groups, kc = L·N/M kept values), the chunk's L mask
 * bits select x's kept inputs with {@code compress} (they land in lanes 0..kc−1 in column order) and one FMA with the
 * chunk's values (a whole vector loaded at the chunk's first value: lanes from kc on meet compress's zeros) adds
 * them. No gather and no index array; pruned inputs are skipped exactly as the scalar twin skips them (an infinite x
 * at a pruned column does not poison the sum). Four rows share each x load. A row's columns after the last whole
 * chunk (whole groups) and patterns with M not dividing L or N·⌈log₂M⌉ &gt; 12 use plain loops; a row's bits never
 * depend on the row range.
 *
 * <p><b>N:M quantized rows</b> (M = 2N, groups of whole decode units): a decoded vector of L kept codes (the affine
 * kernels' byte-shuffle decode with the exact 2^23 trick, q − z in float) covers two chunks; the second chunk's compressed x is rotated up by
 * kc lanes with a constant shuffle and added to the first's (their non-zero lanes are disjoint), so one decode and
 * one FMA serve 2L columns; each group's vector sum is scaled once. The decode expression is written out here rather
 * than calling {@code PanamaAffineKernels.decode}: once that helper is hot (compiled on its own for the affine
 * kernels) C2 declines to inline it ("already compiled into a big method"), and a vector-returning call that is not
 * inlined boxes every vector — measured 5x slower than the int4 GEMV; the same held for a small helper that joined the
 * two compressed chunks. Everything vector-valued in these loops is inline.
 *
 * <p><b>Column subset</b>: y stays in L1 while the listed columns of Wᵀ stream through, four columns per pass over
 * y, each y element updated as fma(w, x_j, y) in list order (a scalar {@link Math#fma} for the last rows, so an
 * element's bits do not depend on the row range).
 */
final class PanamaSparseKernels implements SparseKernels {
    private static final ScalarSparseKernels SCALAR = new ScalarSparseKernels();
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final VectorSpecies<Byte> B = Species.B;
    private static final int L = F.length();
    private static final boolean FMA = Species.FMA;
    /** The float bits of 2^23: OR-ed with a code they give 2^23 + q exactly ((2^23 + q) − (2^23 + z) = q − z). */
    private static final int MAGIC = 0x4B00_0000;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    /** Reads a little-endian short from a byte array (one load for a 16-lane chunk mask). */
    private static final java.lang.invoke.VarHandle SHORT_AT =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(short[].class, LE);
    private static final ConcurrentHashMap<Integer, Plan> PLANS = new ConcurrentHashMap<>();
    private static final Plan NONE = new Plan(0, 0, 0, 0, 0, null);
    /** Lane i ← lane (i + L/2) mod L: moves the low half of a vector to the high half (and back). */
    private static final VectorShuffle<Float> HALF_ROTATE = VectorShuffle.fromOp(F, i -> (i + L / 2) % L);

    /**
     * How an N:M pattern is decoded at this width.
     *
     * @param kc kept values per chunk of L columns
     * @param chunkBits index bits per chunk
     * @param entryBits index bits per table entry (e groups)
     * @param entryLanes lanes covered by one entry (e·M)
     * @param entries table lookups per chunk
     * @param table lane mask (e·M bits) of each entry value
     */
    private record Plan(int kc, int chunkBits, int entryBits, int entryLanes, int entries, int[] table) {
    }

    private static Plan plan(int n, int m, int b) {
        Plan p = PLANS.computeIfAbsent((n << 16) | (m << 8) | b, k -> build(n, m, b));
        return p == NONE ? null : p;
    }

    private static Plan build(int n, int m, int b) {
        int groupBits = n * b;
        if (m > L || L % m != 0 || groupBits > 12) {
            return NONE;
        }
        int groupsPerChunk = L / m;
        int e = 1;
        while (e * 2 <= groupsPerChunk && e * 2 * groupBits <= 8) {
            e *= 2;
        }
        int entryBits = e * groupBits;
        int[] table = new int[1 << entryBits];
        for (int w = 0; w < table.length; w++) {
            int mask = 0;
            for (int j = 0; j < e; j++) {
                for (int i = 0; i < n; i++) {
                    int idx = (w >>> ((j * n + i) * b)) & ((1 << b) - 1);
                    mask |= 1 << (j * m + idx);
                }
            }
            table[w] = mask;
        }
        return new Plan(groupsPerChunk * n, groupsPerChunk * groupBits, entryBits, e * m, groupsPerChunk / e, table);
    }

    /** Whether a pattern goes to {@link PanamaTwoFourKernels}. */
    private static boolean twoFour(int n, int m, int idxBits) {
        return n == 2 && m == 4 && idxBits == 2 && PanamaTwoFourKernels.supported();
    }

    /** Bytes of column bitmask per row for {@code chunks} whole chunks. */
    private static int maskBytes(int chunks) {
        return (chunks * L + 7) >>> 3;
    }

    /**
     * Writes the column bitmask of the row's first {@code chunks} chunks (bit c = column c kept) to
     * {@code mb[mo ..]}, from the row's index stream at byte {@code io}.
     */
    private static void decodeMasks(Plan p, MemorySegment idx, long io, int chunks, byte[] mb, int mo) {
        int nbytes = maskBytes(chunks);
        Arrays.fill(mb, mo, mo + nbytes, (byte) 0);
        for (int ch = 0; ch < chunks; ch++) {
            long m = chunkMask(p, idx, io, ch);
            int bit = ch * L;
            for (int k = 0; k < L; k += 8) {
                mb[mo + ((bit + k) >>> 3)] |= (byte) (m >>> k) << ((bit + k) & 7);
            }
        }
    }

    /** {@link #decodeMasks} for four consecutive rows, row i's bitmask at mb[i·mbRow]. */
    private static void decodeMasks4(Plan p, MemorySegment idx, long io, long stride, int chunks, byte[] mb,
            int mbRow) {
        for (int i = 0; i < 4; i++) {
            decodeMasks(p, idx, io + i * stride, chunks, mb, i * mbRow);
        }
    }

    /** The L mask bits of chunk ch from the bitmask at mb[mo]. */
    private static long maskAt(byte[] mb, int mo, int ch) {
        if (L == 16) {
            return (short) SHORT_AT.get(mb, mo + 2 * ch) & 0xFFFF;
        } else if (L == 8) {
            return mb[mo + ch] & 0xFF;
        } else {
            return (mb[mo + (ch >>> 1)] >>> ((ch & 1) * 4)) & 0xF;
        }
    }

    /** The lane mask of chunk {@code ch} of the row whose index stream starts at byte {@code off}. */
    private static long chunkMask(Plan p, MemorySegment idx, long off, int ch) {
        long bitPos = (long) ch * p.chunkBits;
        int nbits = p.chunkBits;
        long at = off + (bitPos >>> 3);
        int word;
        if (nbits == 16) {
            word = idx.get(SHORT_LE, at) & 0xFFFF;
        } else if (nbits == 8) {
            word = idx.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
        } else {
            int sh = (int) (bitPos & 7);
            int need = (sh + nbits + 7) >>> 3;
            int w = 0;
            for (int i = 0; i < need; i++) {
                w |= (idx.get(ValueLayout.JAVA_BYTE, at + i) & 0xFF) << (8 * i);
            }
            word = (w >>> sh) & ((1 << nbits) - 1);
        }
        int[] t = p.table;
        if (p.entries == 1) {
            return t[word];
        }
        long mask = 0;
        int eb = p.entryBits;
        int em = (1 << eb) - 1;
        for (int j = 0; j < p.entries; j++) {
            mask |= (long) t[(word >>> (j * eb)) & em] << (j * p.entryLanes);
        }
        return mask;
    }

    // ---- N:M, float values ----

    @Override
    public void gemvNm(int n, int m, int idxBits, int cols, float[] vals, int valOff, MemorySegment idx, long idxOff,
            long idxStride, float[] x, int xOff, float[] y, int yOff, int rows) {
        gemvNm(n, m, idxBits, cols, vals, valOff, idx, idxOff, idxStride, x, xOff, null, y, yOff, rows);
    }

    @Override
    public float[] prepareTwoFour(float[] x, int xOff, int cols) {
        return PanamaTwoFourBlendKernels.USE && PanamaTwoFourKernels.supported()
                ? PanamaTwoFourBlendKernels.prepare(x, xOff, cols) : null;
    }

    /**
     * The caller's xs, or (blend form, none given) x prepared here; null for the permute form, which also takes calls
     * of fewer than four rows without a prepared x (preparing costs about what the blends save on three rows).
     */
    private float[] twoFourInput(float[] x, int xOff, int cols, float[] xs, int rows) {
        if (!PanamaTwoFourBlendKernels.USE) {
            return null;
        }
        if (xs == null) {
            return rows < 4 ? null : PanamaTwoFourBlendKernels.prepare(x, xOff, cols);
        }
        if (xs.length != PanamaTwoFourBlendKernels.preparedLength(cols)) {
            throw new IllegalArgumentException("2:4 GEMV: the prepared x has " + xs.length + " floats, "
                    + PanamaTwoFourBlendKernels.preparedLength(cols) + " expected for " + cols + " columns");
        }
        return xs;
    }

    @Override
    public void gemvNm(int n, int m, int idxBits, int cols, float[] vals, int valOff, MemorySegment idx, long idxOff,
            long idxStride, float[] x, int xOff, float[] xs, float[] y, int yOff, int rows) {
        if (twoFour(n, m, idxBits)) {
            float[] p = twoFourInput(x, xOff, cols, xs, rows);
            if (p != null) {
                PanamaTwoFourBlendKernels.gemv(cols, vals, valOff, idx, idxOff, idxStride, x, xOff, p, y, yOff, rows);
            } else {
                PanamaTwoFourKernels.gemv(cols, vals, valOff, idx, idxOff, idxStride, x, xOff, y, yOff, rows);
            }
            return;
        }
        Plan p = plan(n, m, idxBits);
        if (p == null || cols < L) {
            SCALAR.gemvNm(n, m, idxBits, cols, vals, valOff, idx, idxOff, idxStride, x, xOff, y, yOff, rows);
            return;
        }
        int kept = cols / m * n;
        int chunks = cols / L;
        int mbRow = maskBytes(chunks);
        byte[] mb = new byte[4 * mbRow];
        float[] tmp = new float[L];
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            long io = idxOff + r * idxStride;
            decodeMasks4(p, idx, io, idxStride, chunks, mb, mbRow);
            rows4(n, m, idxBits, chunks, p.kc, kept, vals, valOff + r * kept, idx, io, idxStride, mb, mbRow, x, xOff, y,
                    yOff + r, tmp);
        }
        for (; r < rows; r++) {
            long io = idxOff + r * idxStride;
            decodeMasks(p, idx, io, chunks, mb, 0);
            y[yOff + r] = row(n, m, idxBits, chunks, p.kc, kept, vals, valOff + r * kept, idx, io, mb, x, xOff, tmp);
        }
    }

    private static float row(int n, int m, int b, int chunks, int kc, int kept, float[] vals, int vo,
            MemorySegment idx, long io, byte[] mb, float[] x, int xOff, float[] tmp) {
        FloatVector acc = FloatVector.zero(F);
        for (int ch = 0; ch < chunks; ch++) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + ch * L).compress(VectorMask.fromLong(F, maskAt(mb, 0, ch)));
            FloatVector v = FloatVector.fromArray(F, vals, vo + ch * kc);
            acc = FMA ? v.fma(xv, acc) : v.mul(xv).add(acc);
        }
        return PanamaGemv.lanes(acc, tmp) + tail(n, m, b, chunks * kc, kept, vals, vo, idx, io, x, xOff);
    }

    /** Σ of kept values [from, kept) of one row, left to right (the columns after the last whole chunk). */
    private static float tail(int n, int m, int b, int from, int kept, float[] vals, int vo, MemorySegment idx, long io,
            float[] x, int xOff) {
        float t = 0;
        for (int k = from; k < kept; k++) {
            t += vals[vo + k] * x[xOff + (k / n) * m + ScalarSparseKernels.code(idx, io, k, b)];
        }
        return t;
    }

    /** Four rows (values at vo, vo + kept, ...; masks at mb[i·mbRow]), each computed exactly as {@link #row}. */
    private static void rows4(int n, int m, int b, int chunks, int kc, int kept, float[] vals, int vo,
            MemorySegment idx, long io, long stride, byte[] mb, int mbRow, float[] x, int xOff, float[] y, int yo,
            float[] tmp) {
        int vo1 = vo + kept, vo2 = vo1 + kept, vo3 = vo2 + kept;
        int m1 = mbRow, m2 = 2 * mbRow, m3 = 3 * mbRow;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int ch = 0; ch < chunks; ch++) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + ch * L);
            int k = ch * kc;
            FloatVector c0 = xv.compress(VectorMask.fromLong(F, maskAt(mb, 0, ch)));
            FloatVector v0 = FloatVector.fromArray(F, vals, vo + k);
            a0 = FMA ? v0.fma(c0, a0) : v0.mul(c0).add(a0);
            FloatVector c1 = xv.compress(VectorMask.fromLong(F, maskAt(mb, m1, ch)));
            FloatVector v1 = FloatVector.fromArray(F, vals, vo1 + k);
            a1 = FMA ? v1.fma(c1, a1) : v1.mul(c1).add(a1);
            FloatVector c2 = xv.compress(VectorMask.fromLong(F, maskAt(mb, m2, ch)));
            FloatVector v2 = FloatVector.fromArray(F, vals, vo2 + k);
            a2 = FMA ? v2.fma(c2, a2) : v2.mul(c2).add(a2);
            FloatVector c3 = xv.compress(VectorMask.fromLong(F, maskAt(mb, m3, ch)));
            FloatVector v3 = FloatVector.fromArray(F, vals, vo3 + k);
            a3 = FMA ? v3.fma(c3, a3) : v3.mul(c3).add(a3);
        }
        int from = chunks * kc;
        y[yo] = PanamaGemv.lanes(a0, tmp) + tail(n, m, b, from, kept, vals, vo, idx, io, x, xOff);
        y[yo + 1] = PanamaGemv.lanes(a1, tmp) + tail(n, m, b, from, kept, vals, vo1, idx, io + stride, x, xOff);
        y[yo + 2] = PanamaGemv.lanes(a2, tmp) + tail(n, m, b, from, kept, vals, vo2, idx, io + 2 * stride, x, xOff);
        y[yo + 3] = PanamaGemv.lanes(a3, tmp) + tail(n, m, b, from, kept, vals, vo3, idx, io + 3 * stride, x, xOff);
    }

    // ---- N:M, quantized values ----

    @Override
    public void gemvNmAffine(int n, int m, int idxBits, int cols, MemorySegment codes, long codeOff, long codeStride,
            int bits, int group, float[] scales, int scaleOff, int scaleStride, byte[] zeros, int zero,
            MemorySegment idx, long idxOff, long idxStride, float[] x, int xOff, float[] y, int yOff, int rows) {
        gemvNmAffine(n, m, idxBits, cols, codes, codeOff, codeStride, bits, group, scales, scaleOff, scaleStride, zeros,
                zero, idx, idxOff, idxStride, x, xOff, null, y, yOff, rows);
    }

    @Override
    public void gemvNmAffine(int n, int m, int idxBits, int cols, MemorySegment codes, long codeOff, long codeStride,
            int bits, int group, float[] scales, int scaleOff, int scaleStride, byte[] zeros, int zero,
            MemorySegment idx, long idxOff, long idxStride, float[] x, int xOff, float[] xs, float[] y, int yOff,
            int rows) {
        Plan p = plan(n, m, idxBits);
        int U = PanamaAffineKernels.U;
        int perGroup = group / m * n;
        if (p == null || m != 2 * n || group % (2 * L) != 0 || perGroup % U != 0) {
            SCALAR.gemvNmAffine(n, m, idxBits, cols, codes, codeOff, codeStride, bits, group, scales, scaleOff,
                    scaleStride, zeros, zero, idx, idxOff, idxStride, x, xOff, y, yOff, rows);
            return;
        }
        int groups = cols / group;
        int units = perGroup / U;
        long unitBytes = (long) U * bits / 8;
        long lastLoad = ((long) groups * units - 1) * unitBytes;
        // rows whose last code load would pass the end of the segment go to the scalar twin (always the same rows)
        int safe = PanamaAffineKernels.safeEnd(codes.asSlice(codeOff), codeStride, lastLoad, 0, rows);
        float[] prepared = twoFour(n, m, idxBits) && PanamaTwoFourBlendKernels.affineBits(bits)
                ? twoFourInput(x, xOff, cols, xs, safe) : null;
        if (prepared != null) {
            // the blend form reads one int per block of L codes: the last one ends within the last unit's load
            PanamaTwoFourBlendKernels.gemvAffine(codes, codeOff, codeStride, bits, groups, units * PanamaAffineKernels.P,
                    scales, scaleOff, scaleStride, zeros, zero, idx, idxOff, idxStride, prepared, y, yOff, safe);
        } else if (twoFour(n, m, idxBits)) {
            PanamaTwoFourKernels.gemvAffine(codes, codeOff, codeStride, bits, groups, units, unitBytes, scales,
                    scaleOff, scaleStride, zeros, zero, idx, idxOff, idxStride, x, xOff, y, yOff, safe);
        } else {
            affine(p, codes, codeOff, codeStride, bits, groups, units, unitBytes, scales, scaleOff, scaleStride, zeros,
                    zero, idx, idxOff, idxStride, cols, x, xOff, y, yOff, safe);
        }
        if (safe < rows) {
            SCALAR.gemvNmAffine(n, m, idxBits, cols, codes, codeOff + safe * codeStride, codeStride, bits, group,
                    scales, scaleOff + safe * scaleStride, scaleStride, zeros, zero, idx, idxOff + safe * idxStride,
                    idxStride, x, xOff, y, yOff + safe, rows - safe);
        }
    }

    /** Rows [0, safe) of a pattern other than 2:4, by column bitmask and compress. */
    private static void affine(Plan p, MemorySegment codes, long codeOff, long codeStride, int bits, int groups,
            int units, long unitBytes, float[] scales, int scaleOff, int scaleStride, byte[] zeros, int zero,
            MemorySegment idx, long idxOff, long idxStride, int cols, float[] x, int xOff, float[] y, int yOff,
            int safe) {
        int chunks = cols / L;
        int mbRow = maskBytes(chunks);
        byte[] mb = new byte[4 * mbRow];
        float[] tmp = new float[L];
        int r = 0;
        for (; r + 4 <= safe; r += 4) {
            decodeMasks4(p, idx, idxOff + r * idxStride, idxStride, chunks, mb, mbRow);
            affineRows4(codes, codeOff + r * codeStride, codeStride, bits, groups, units, unitBytes, scales,
                    scaleOff + r * scaleStride, scaleStride, zeros, zero, mb, mbRow, x, xOff, y, yOff + r, tmp);
        }
        for (; r < safe; r++) {
            decodeMasks(p, idx, idxOff + r * idxStride, chunks, mb, 0);
            y[yOff + r] = affineRow(codes, codeOff + r * codeStride, bits, groups, units, unitBytes, scales,
                    scaleOff + r * scaleStride, zeros, zero, mb, x, xOff, tmp);
        }
    }

    private static float affineRow(MemorySegment codes, long co, int bits, int groups, int units, long unitBytes,
            float[] scales, int so, byte[] zeros, int zero, byte[] mb, float[] x, int xOff, float[] tmp) {
        int mask = (1 << bits) - 1;
        FloatVector acc = FloatVector.zero(F);
        int ch = 0;
        long off = co;
        for (int g = 0; g < groups; g++) {
            FloatVector zv = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so + g] & 0xFF));
            FloatVector ga = FloatVector.zero(F);
            for (int u = 0; u < units; u++, off += unitBytes) {
                for (int q = 0; q < PanamaAffineKernels.P; q++, ch += 2) {
                    FloatVector d = ByteVector.fromMemorySegment(B, codes, off, LE)
                            .rearrange(PanamaAffineKernels.SHUFFLE[bits][q]).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, PanamaAffineKernels.SHIFT[bits][q]).and(mask).or(MAGIC)
                            .reinterpretAsFloats().sub(zv);
                    int c = xOff + ch * L;
                    FloatVector lo = FloatVector.fromArray(F, x, c).compress(VectorMask.fromLong(F, maskAt(mb, 0, ch)));
                    FloatVector hi = FloatVector.fromArray(F, x, c + L)
                            .compress(VectorMask.fromLong(F, maskAt(mb, 0, ch + 1))).rearrange(HALF_ROTATE);
                    FloatVector xs = lo.add(hi);
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
            long unitBytes, float[] scales, int so, int ss, byte[] zeros, int zero, byte[] mb, int mbRow, float[] x,
            int xOff, float[] y, int yo, float[] tmp) {
        int mask = (1 << bits) - 1;
        long co1 = co + cs, co2 = co1 + cs, co3 = co2 + cs;
        int so1 = so + ss, so2 = so1 + ss, so3 = so2 + ss;
        int m1 = mbRow, m2 = 2 * mbRow, m3 = 3 * mbRow;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int ch = 0;
        long off = 0;
        for (int g = 0; g < groups; g++) {
            FloatVector z0 = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so + g] & 0xFF));
            FloatVector z1 = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so1 + g] & 0xFF));
            FloatVector z2 = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so2 + g] & 0xFF));
            FloatVector z3 = FloatVector.broadcast(F, 0x1p23f + (zeros == null ? zero : zeros[so3 + g] & 0xFF));
            FloatVector g0 = FloatVector.zero(F), g1 = g0, g2 = g0, g3 = g0;
            for (int u = 0; u < units; u++, off += unitBytes) {
                for (int q = 0; q < PanamaAffineKernels.P; q++, ch += 2) {
                    VectorShuffle<Byte> sh = PanamaAffineKernels.SHUFFLE[bits][q];
                    IntVector sf = PanamaAffineKernels.SHIFT[bits][q];
                    int c = xOff + ch * L;
                    FloatVector xa = FloatVector.fromArray(F, x, c);
                    FloatVector xb = FloatVector.fromArray(F, x, c + L);
                    FloatVector s0 = xa.compress(VectorMask.fromLong(F, maskAt(mb, 0, ch)))
                            .add(xb.compress(VectorMask.fromLong(F, maskAt(mb, 0, ch + 1))).rearrange(HALF_ROTATE));
                    FloatVector d0 = ByteVector.fromMemorySegment(B, codes, co + off, LE).rearrange(sh).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z0);
                    g0 = FMA ? d0.fma(s0, g0) : d0.mul(s0).add(g0);
                    FloatVector s1 = xa.compress(VectorMask.fromLong(F, maskAt(mb, m1, ch)))
                            .add(xb.compress(VectorMask.fromLong(F, maskAt(mb, m1, ch + 1))).rearrange(HALF_ROTATE));
                    FloatVector d1 = ByteVector.fromMemorySegment(B, codes, co1 + off, LE).rearrange(sh).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z1);
                    g1 = FMA ? d1.fma(s1, g1) : d1.mul(s1).add(g1);
                    FloatVector s2 = xa.compress(VectorMask.fromLong(F, maskAt(mb, m2, ch)))
                            .add(xb.compress(VectorMask.fromLong(F, maskAt(mb, m2, ch + 1))).rearrange(HALF_ROTATE));
                    FloatVector d2 = ByteVector.fromMemorySegment(B, codes, co2 + off, LE).rearrange(sh).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, sf).and(mask).or(MAGIC).reinterpretAsFloats().sub(z2);
                    g2 = FMA ? d2.fma(s2, g2) : d2.mul(s2).add(g2);
                    FloatVector s3 = xa.compress(VectorMask.fromLong(F, maskAt(mb, m3, ch)))
                            .add(xb.compress(VectorMask.fromLong(F, maskAt(mb, m3, ch + 1))).rearrange(HALF_ROTATE));
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

    // ---- column subset ----

    @Override
    public void gemvColumns(float[] wt, int ldw, int[] cols, int count, float[] x, int xOff, float[] y, int yOff,
            int rowFrom, int rowTo) {
        int len = rowTo - rowFrom;
        int bound = F.loopBound(len);
        int yo = yOff + rowFrom;
        Arrays.fill(y, yo, yo + len, 0f);
        int j = 0;
        for (; j + 4 <= count; j += 4) {
            int w0 = cols[j] * ldw + rowFrom, w1 = cols[j + 1] * ldw + rowFrom;
            int w2 = cols[j + 2] * ldw + rowFrom, w3 = cols[j + 3] * ldw + rowFrom;
            float e0 = x[xOff + cols[j]], e1 = x[xOff + cols[j + 1]];
            float e2 = x[xOff + cols[j + 2]], e3 = x[xOff + cols[j + 3]];
            FloatVector x0 = FloatVector.broadcast(F, e0), x1 = FloatVector.broadcast(F, e1);
            FloatVector x2 = FloatVector.broadcast(F, e2), x3 = FloatVector.broadcast(F, e3);
            for (int i = 0; i < bound; i += L) {
                FloatVector a = FloatVector.fromArray(F, y, yo + i);
                FloatVector v0 = FloatVector.fromArray(F, wt, w0 + i);
                a = FMA ? v0.fma(x0, a) : v0.mul(x0).add(a);
                FloatVector v1 = FloatVector.fromArray(F, wt, w1 + i);
                a = FMA ? v1.fma(x1, a) : v1.mul(x1).add(a);
                FloatVector v2 = FloatVector.fromArray(F, wt, w2 + i);
                a = FMA ? v2.fma(x2, a) : v2.mul(x2).add(a);
                FloatVector v3 = FloatVector.fromArray(F, wt, w3 + i);
                a = FMA ? v3.fma(x3, a) : v3.mul(x3).add(a);
                a.intoArray(y, yo + i);
            }
            for (int i = bound; i < len; i++) {
                float a = y[yo + i];
                a = step(wt[w0 + i], e0, a);
                a = step(wt[w1 + i], e1, a);
                a = step(wt[w2 + i], e2, a);
                y[yo + i] = step(wt[w3 + i], e3, a);
            }
        }
        for (; j < count; j++) {
            int w0 = cols[j] * ldw + rowFrom;
            float e0 = x[xOff + cols[j]];
            FloatVector x0 = FloatVector.broadcast(F, e0);
            for (int i = 0; i < bound; i += L) {
                FloatVector a = FloatVector.fromArray(F, y, yo + i);
                FloatVector v0 = FloatVector.fromArray(F, wt, w0 + i);
                (FMA ? v0.fma(x0, a) : v0.mul(x0).add(a)).intoArray(y, yo + i);
            }
            for (int i = bound; i < len; i++) {
                y[yo + i] = step(wt[w0 + i], e0, y[yo + i]);
            }
        }
    }

    /** One lane's update, with the vector loop's rounding. */
    private static float step(float w, float x, float acc) {
        return FMA ? Math.fma(w, x, acc) : w * x + acc;
    }

    @Override
    public void gemvNm24Int4Tiles(MemorySegment codes, long codeOff, long[] idx, int idxOff, int tiles, int nBlocks,
            int groupBlocks, float[] scales, int sOff, short[] zeros, int zOff, long[] act, int actOff, float[] d,
            int dOff, float[] y, int yOff, int rows) {
        if (Species.BITS == 512) {
            PanamaNm24Int4Tiles.gemv(codes, codeOff, idx, idxOff, tiles, nBlocks, groupBlocks, scales, sOff, zeros, zOff,
                    act, actOff, d, dOff, y, yOff, rows);
        } else if (Species.BITS == 256) {
            PanamaNm24Int4Tiles256.gemv(codes, codeOff, idx, idxOff, tiles, nBlocks, groupBlocks, scales, sOff, zeros,
                    zOff, act, actOff, d, dOff, y, yOff, rows);
        } else if (Species.BITS == 128) {
            PanamaNm24Int4Tiles128.gemv(codes, codeOff, idx, idxOff, tiles, nBlocks, groupBlocks, scales, sOff, zeros,
                    zOff, act, actOff, d, dOff, y, yOff, rows);
        } else {
            SCALAR.gemvNm24Int4Tiles(codes, codeOff, idx, idxOff, tiles, nBlocks, groupBlocks, scales, sOff, zeros,
                    zOff, act, actOff, d, dOff, y, yOff, rows);
        }
    }
}

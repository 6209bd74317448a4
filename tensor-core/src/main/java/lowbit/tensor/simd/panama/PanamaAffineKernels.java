package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.AffineKernels;
import lowbit.tensor.simd.ScalarAffineKernels;

/**
 * Vector API kernels of the group-wise affine layout, for every code width 2..8 with one code path.
 *
 * <p><b>Decoding.</b> A <em>unit</em> is U = max(L, 8) consecutive codes (L = float lanes), which start on a byte
 * boundary and fill U·n/8 whole bytes; it becomes U/L float vectors. For each vector one byte vector of the full
 * width is loaded at the unit's first byte, a constant byte shuffle puts, into int lane i, the two bytes that hold
 * the lane's code (byte ⌊i·n/8⌋ and the next), a lane-wise variable right shift by (i·n mod 8) and an AND with
 * 2^n − 1 isolate the code, then the zero point is subtracted in the int domain (exact) and the result converted
 * to float. So no code needs unpacking to memory first, 3/5/6/7-bit codes that straddle bytes cost the same as 4-bit
 * ones, and x stays in its natural order. (Tried against this on Zen 4: see the README's benchmark notes.)
 *
 * <p><b>GEMV</b> runs four rows at a time sharing the x loads; each row keeps one vector accumulator per group
 * (Σ (q − z)·x over the group's whole units), folded into the row's accumulator as acc = s·g + acc (one FMA per
 * group); a group's last group·n mod U codes, if any, go to a scalar sum per row (s·Σ (q − z)·x per group, added in
 * group order). The row result is the accumulator's lanes added in lane order plus that scalar sum. The single-row
 * loop does exactly the same per row, so bits never depend on the row range. The last rows, whose loads would pass
 * the end of the segment, use {@link ScalarAffineKernels} (always those rows, so results stay reproducible), and so
 * do shapes with groups shorter than a unit or groups that do not start on a byte boundary.
 *
 * <p>Pass native segments (off-heap or mapped): a vector load whose call site has seen both heap and native
 * segments is no longer intrinsified by C2 (measured: 5-10x slower), which is why the layouts keep their codes
 * off-heap.
 */
final class PanamaAffineKernels implements AffineKernels {
    private static final ScalarAffineKernels SCALAR = new ScalarAffineKernels();
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final VectorSpecies<Byte> B = Species.B;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int L = F.length();
    /** Codes per unit. */
    static final int U = Math.max(L, 8);
    /** Float vectors per unit: 1, or 2 at 128 bits. */
    static final int P = U / L;
    /** Bytes of one load. */
    private static final int LOAD = B.length();
    /**
     * Fused multiply-add when the hardware has it (written out at every use: passing vectors through a small static
     * helper made C2 stop intrinsifying the FMA inside the 4-row loop, measured 7x slower).
     */
    private static final boolean FMA = Species.FMA;

    /** SHUFFLE[n][p]: the byte shuffle of vector p of a unit of n-bit codes. */
    static final VectorShuffle<Byte>[][] SHUFFLE;
    /** SHIFT[n][p]: the per-lane right shifts. */
    static final IntVector[][] SHIFT;

    static {
        @SuppressWarnings("unchecked")
        VectorShuffle<Byte>[][] sh = new VectorShuffle[9][P];
        IntVector[][] sv = new IntVector[9][P];
        for (int n = 2; n <= 8; n++) {
            for (int p = 0; p < P; p++) {
                int[] idx = new int[LOAD];
                int[] shifts = new int[L];
                for (int i = 0; i < L; i++) {
                    int bit = (p * L + i) * n;
                    int b = bit >>> 3;
                    idx[4 * i] = b;
                    idx[4 * i + 1] = b + 1;
                    idx[4 * i + 2] = b + 1;
                    idx[4 * i + 3] = b + 1;
                    shifts[i] = bit & 7;
                }
                sh[n][p] = VectorShuffle.fromArray(B, idx, 0);
                sv[n][p] = IntVector.fromArray(I, shifts, 0);
            }
        }
        SHUFFLE = sh;
        SHIFT = sv;
    }

    /** The float bits of 2^23: OR-ed with a code q &lt; 2^23 they give the float 2^23 + q exactly. */
    private static final int MAGIC = 0x4B00_0000;
    /** 2^23. */
    private static final float MAGIC_F = 0x1p23f;

    /**
     * The unit's vector p as floats q − z, given {@code zf} = 2^23 + z: (2^23 + q) − (2^23 + z) is exact, and the
     * OR with the exponent bits replaces an integer subtraction and an int→float conversion (measured 6-9 % faster).
     */
    static FloatVector decode(MemorySegment codes, long off, VectorShuffle<Byte> shuffle, IntVector shift,
            int mask, FloatVector zf) {
        return ByteVector.fromMemorySegment(B, codes, off, LE).rearrange(shuffle).reinterpretAsInts()
                .lanewise(VectorOperators.LSHR, shift).and(mask).or(MAGIC).reinterpretAsFloats().sub(zf);
    }

    /** 2^23 + z_c for the columns of a unit, from int zero points. */
    private static FloatVector zeroBias(int[] colZeros, int off) {
        return IntVector.fromArray(I, colZeros, off).add(MAGIC).reinterpretAsFloats();
    }

    /**
     * First row index in [from, to) whose loads (the last at byte {@code lastLoad} of the row) would pass the end of
     * the segment (one full-width byte load of slack is needed); rows before it are read in place.
     */
    static int safeEnd(MemorySegment codes, long rowBytes, long lastLoad, int from, int to) {
        long room = codes.byteSize() - LOAD - lastLoad;
        if (room < 0) {
            return from;
        }
        long r = room / rowBytes + 1;
        return (int) Math.max(from, Math.min(to, r));
    }

    // ---- groups family ----

    /** Whether the vector kernels apply: whole units in every group, every group starting on a byte. */
    private static boolean vectorGroups(int cols, int group, int bits) {
        return group >= U && (cols / group == 1 || (group * bits) % 8 == 0);
    }

    @Override
    public void dequantizeGroups(MemorySegment codes, long rowBytes, int bits, int cols, int group, float[] scales,
            byte[] zeros, int zero, int scaleStride, int rowFrom, int rowTo, float[] dst, int dstOff) {
        if (!vectorGroups(cols, group, bits)) {
            SCALAR.dequantizeGroups(codes, rowBytes, bits, cols, group, scales, zeros, zero, scaleStride, rowFrom, rowTo,
                    dst, dstOff);
            return;
        }
        int groups = cols / group;
        int units = group / U;
        long groupBytes = (long) group * bits / 8;
        long unitBytes = (long) U * bits / 8;
        long lastLoad = (groups - 1) * groupBytes + (units - 1) * unitBytes;
        int safe = safeEnd(codes, rowBytes, lastLoad, rowFrom, rowTo);
        for (int r = rowFrom; r < safe; r++) {
            dequantizeGroupRow(codes, r * rowBytes, bits, group, groups, units, groupBytes, unitBytes, scales, zeros,
                    zero, r * scaleStride, dst, dstOff + (r - rowFrom) * cols);
        }
        if (safe < rowTo) {
            SCALAR.dequantizeGroups(codes, rowBytes, bits, cols, group, scales, zeros, zero, scaleStride, safe, rowTo,
                    dst, dstOff + (safe - rowFrom) * cols);
        }
    }

    private static void dequantizeGroupRow(MemorySegment codes, long rowOff, int bits, int group, int groups,
            int units, long groupBytes, long unitBytes, float[] scales, byte[] zeros, int zero, int si, float[] dst,
            int o) {
        VectorShuffle<Byte> s0 = SHUFFLE[bits][0];
        VectorShuffle<Byte> s1 = SHUFFLE[bits][P - 1];
        IntVector h0 = SHIFT[bits][0];
        IntVector h1 = SHIFT[bits][P - 1];
        int mask = (1 << bits) - 1;
        for (int k = 0; k < groups; k++) {
            float s = scales[si + k];
            int z = zeros == null ? zero : zeros[si + k] & 0xFF;
            FloatVector zv = FloatVector.broadcast(F, MAGIC_F + z);
            FloatVector sv = FloatVector.broadcast(F, s);
            long off = rowOff + k * groupBytes;
            int c = k * group;
            for (int u = 0; u < units; u++, off += unitBytes, c += U) {
                decode(codes, off, s0, h0, mask, zv).mul(sv).intoArray(dst, o + c);
                if (P == 2) {
                    decode(codes, off, s1, h1, mask, zv).mul(sv).intoArray(dst, o + c + L);
                }
            }
            for (int e = (k + 1) * group; c < e; c++) {
                dst[o + c] = s * (ScalarAffineKernels.code(codes, rowOff, c, bits) - z);
            }
        }
    }

    @Override
    public void gemvGroups(MemorySegment codes, long rowBytes, int bits, int cols, int group, float[] scales,
            byte[] zeros, int zero, int scaleStride, float[] x, int xOff, int rowFrom, int rowTo, float[] y, int yOff) {
        if (!vectorGroups(cols, group, bits)) {
            SCALAR.gemvGroups(codes, rowBytes, bits, cols, group, scales, zeros, zero, scaleStride, x, xOff, rowFrom,
                    rowTo, y, yOff);
            return;
        }
        int groups = cols / group;
        int units = group / U;
        long groupBytes = (long) group * bits / 8;
        long unitBytes = (long) U * bits / 8;
        long lastLoad = (groups - 1) * groupBytes + (units - 1) * unitBytes;
        int safe = safeEnd(codes, rowBytes, lastLoad, rowFrom, rowTo);
        float[] tmp = new float[L];
        int r = rowFrom;
        for (; r + 4 <= safe; r += 4) {
            gemvGroupRows4(codes, r * rowBytes, rowBytes, bits, group, groups, units, groupBytes, unitBytes, scales,
                    zeros, zero, r * scaleStride, scaleStride, x, xOff, y, yOff + r, tmp);
        }
        for (; r < safe; r++) {
            y[yOff + r] = gemvGroupRow(codes, r * rowBytes, bits, group, groups, units, groupBytes, unitBytes, scales,
                    zeros, zero, r * scaleStride, x, xOff, tmp);
        }
        if (safe < rowTo) {
            SCALAR.gemvGroups(codes, rowBytes, bits, cols, group, scales, zeros, zero, scaleStride, x, xOff, safe, rowTo,
                    y, yOff);
        }
    }

    private static float gemvGroupRow(MemorySegment codes, long rowOff, int bits, int group, int groups, int units,
            long groupBytes, long unitBytes, float[] scales, byte[] zeros, int zero, int si, float[] x, int xOff,
            float[] tmp) {
        VectorShuffle<Byte> s0 = SHUFFLE[bits][0];
        VectorShuffle<Byte> s1 = SHUFFLE[bits][P - 1];
        IntVector h0 = SHIFT[bits][0];
        IntVector h1 = SHIFT[bits][P - 1];
        int mask = (1 << bits) - 1;
        FloatVector acc = FloatVector.zero(F);
        float tail = 0;
        for (int k = 0; k < groups; k++) {
            float s = scales[si + k];
            int z = zeros == null ? zero : zeros[si + k] & 0xFF;
            FloatVector zv = FloatVector.broadcast(F, MAGIC_F + z);
            FloatVector g = FloatVector.zero(F);
            long off = rowOff + k * groupBytes;
            int c = k * group;
            for (int u = 0; u < units; u++, off += unitBytes, c += U) {
                FloatVector d = decode(codes, off, s0, h0, mask, zv);
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                g = FMA ? d.fma(xv, g) : d.mul(xv).add(g);
                if (P == 2) {
                    FloatVector e = decode(codes, off, s1, h1, mask, zv);
                    FloatVector xw = FloatVector.fromArray(F, x, xOff + c + L);
                    g = FMA ? e.fma(xw, g) : e.mul(xw).add(g);
                }
            }
            FloatVector sv = FloatVector.broadcast(F, s);
            acc = FMA ? sv.fma(g, acc) : sv.mul(g).add(acc);
            int e = (k + 1) * group;
            if (c < e) {
                tail += s * tail(codes, rowOff, c, e, bits, z, x, xOff);
            }
        }
        return PanamaGemv.lanes(acc, tmp) + tail;
    }

    /** Σ_{c ∈ [from, to)} (q_c − z)·x[xOff + c], left to right (a group's codes after its last whole unit). */
    private static float tail(MemorySegment codes, long rowOff, int from, int to, int bits, int z, float[] x, int xOff) {
        float t = 0;
        for (int c = from; c < to; c++) {
            t += (ScalarAffineKernels.code(codes, rowOff, c, bits) - z) * x[xOff + c];
        }
        return t;
    }

    /** Rows r..r+3 (r at byte {@code off0}), each computed exactly as {@link #gemvGroupRow} computes it. */
    private static void gemvGroupRows4(MemorySegment codes, long off0, long rowBytes, int bits, int group, int groups,
            int units, long groupBytes, long unitBytes, float[] scales, byte[] zeros, int zero, int si, int stride,
            float[] x, int xOff, float[] y, int yo, float[] tmp) {
        VectorShuffle<Byte> s0 = SHUFFLE[bits][0];
        VectorShuffle<Byte> s1 = SHUFFLE[bits][P - 1];
        IntVector h0 = SHIFT[bits][0];
        IntVector h1 = SHIFT[bits][P - 1];
        int mask = (1 << bits) - 1;
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
            int i0 = si + k;
            int i1 = i0 + stride;
            int i2 = i1 + stride;
            int i3 = i2 + stride;
            int z0 = zeros == null ? zero : zeros[i0] & 0xFF;
            int z1 = zeros == null ? zero : zeros[i1] & 0xFF;
            int z2 = zeros == null ? zero : zeros[i2] & 0xFF;
            int z3 = zeros == null ? zero : zeros[i3] & 0xFF;
            FloatVector zv0 = FloatVector.broadcast(F, MAGIC_F + z0);
            FloatVector zv1 = FloatVector.broadcast(F, MAGIC_F + z1);
            FloatVector zv2 = FloatVector.broadcast(F, MAGIC_F + z2);
            FloatVector zv3 = FloatVector.broadcast(F, MAGIC_F + z3);
            FloatVector g0 = FloatVector.zero(F);
            FloatVector g1 = g0;
            FloatVector g2 = g0;
            FloatVector g3 = g0;
            long o = k * groupBytes;
            int c = k * group;
            for (int u = 0; u < units; u++, o += unitBytes, c += U) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                FloatVector d0 = decode(codes, off0 + o, s0, h0, mask, zv0);
                g0 = FMA ? d0.fma(xv, g0) : d0.mul(xv).add(g0);
                FloatVector d1 = decode(codes, off1 + o, s0, h0, mask, zv1);
                g1 = FMA ? d1.fma(xv, g1) : d1.mul(xv).add(g1);
                FloatVector d2 = decode(codes, off2 + o, s0, h0, mask, zv2);
                g2 = FMA ? d2.fma(xv, g2) : d2.mul(xv).add(g2);
                FloatVector d3 = decode(codes, off3 + o, s0, h0, mask, zv3);
                g3 = FMA ? d3.fma(xv, g3) : d3.mul(xv).add(g3);
                if (P == 2) {
                    FloatVector xw = FloatVector.fromArray(F, x, xOff + c + L);
                    FloatVector e0 = decode(codes, off0 + o, s1, h1, mask, zv0);
                    g0 = FMA ? e0.fma(xw, g0) : e0.mul(xw).add(g0);
                    FloatVector e1 = decode(codes, off1 + o, s1, h1, mask, zv1);
                    g1 = FMA ? e1.fma(xw, g1) : e1.mul(xw).add(g1);
                    FloatVector e2 = decode(codes, off2 + o, s1, h1, mask, zv2);
                    g2 = FMA ? e2.fma(xw, g2) : e2.mul(xw).add(g2);
                    FloatVector e3 = decode(codes, off3 + o, s1, h1, mask, zv3);
                    g3 = FMA ? e3.fma(xw, g3) : e3.mul(xw).add(g3);
                }
            }
            FloatVector a0s = FloatVector.broadcast(F, scales[i0]);
            a0 = FMA ? a0s.fma(g0, a0) : a0s.mul(g0).add(a0);
            FloatVector a1s = FloatVector.broadcast(F, scales[i1]);
            a1 = FMA ? a1s.fma(g1, a1) : a1s.mul(g1).add(a1);
            FloatVector a2s = FloatVector.broadcast(F, scales[i2]);
            a2 = FMA ? a2s.fma(g2, a2) : a2s.mul(g2).add(a2);
            FloatVector a3s = FloatVector.broadcast(F, scales[i3]);
            a3 = FMA ? a3s.fma(g3, a3) : a3s.mul(g3).add(a3);
            int e = (k + 1) * group;
            if (c < e) {
                t0 += scales[i0] * tail(codes, off0, c, e, bits, z0, x, xOff);
                t1 += scales[i1] * tail(codes, off1, c, e, bits, z1, x, xOff);
                t2 += scales[i2] * tail(codes, off2, c, e, bits, z2, x, xOff);
                t3 += scales[i3] * tail(codes, off3, c, e, bits, z3, x, xOff);
            }
        }
        y[yo] = PanamaGemv.lanes(a0, tmp) + t0;
        y[yo + 1] = PanamaGemv.lanes(a1, tmp) + t1;
        y[yo + 2] = PanamaGemv.lanes(a2, tmp) + t2;
        y[yo + 3] = PanamaGemv.lanes(a3, tmp) + t3;
    }

    // ---- columns family ----

    @Override
    public void dequantizeColumns(MemorySegment codes, long rowBytes, int bits, int cols, float[] colScales,
            int[] colZeros, int colOff, int zero, int rowFrom, int rowTo, float[] dst, int dstOff) {
        int units = cols / U;
        if (units == 0) {
            SCALAR.dequantizeColumns(codes, rowBytes, bits, cols, colScales, colZeros, colOff, zero, rowFrom, rowTo,
                    dst, dstOff);
            return;
        }
        long unitBytes = (long) U * bits / 8;
        int safe = safeEnd(codes, rowBytes, (units - 1) * unitBytes, rowFrom, rowTo);
        VectorShuffle<Byte> s0 = SHUFFLE[bits][0];
        VectorShuffle<Byte> s1 = SHUFFLE[bits][P - 1];
        IntVector h0 = SHIFT[bits][0];
        IntVector h1 = SHIFT[bits][P - 1];
        int mask = (1 << bits) - 1;
        FloatVector zc = FloatVector.broadcast(F, MAGIC_F + zero);
        for (int r = rowFrom; r < safe; r++) {
            MemorySegment seg = codes;
            long rowOff = r * rowBytes;
            int o = dstOff + (r - rowFrom) * cols;
            long off = rowOff;
            int c = 0;
            for (int u = 0; u < units; u++, off += unitBytes, c += U) {
                FloatVector z = colZeros == null ? zc : zeroBias(colZeros, colOff + c);
                decode(seg, off, s0, h0, mask, z).mul(FloatVector.fromArray(F, colScales, colOff + c)).intoArray(dst, o + c);
                if (P == 2) {
                    FloatVector zw = colZeros == null ? zc : zeroBias(colZeros, colOff + c + L);
                    decode(seg, off, s1, h1, mask, zw).mul(FloatVector.fromArray(F, colScales, colOff + c + L))
                            .intoArray(dst, o + c + L);
                }
            }
            for (; c < cols; c++) {
                int z = colZeros == null ? zero : colZeros[colOff + c];
                dst[o + c] = colScales[colOff + c] * (ScalarAffineKernels.code(seg, rowOff, c, bits) - z);
            }
        }
        if (safe < rowTo) {
            SCALAR.dequantizeColumns(codes, rowBytes, bits, cols, colScales, colZeros, colOff, zero, safe, rowTo, dst,
                    dstOff + (safe - rowFrom) * cols);
        }
    }

    @Override
    public void gemvColumns(MemorySegment codes, long rowBytes, int bits, int cols, float[] xs, int[] colZeros,
            int zOff, int zero, int rowFrom, int rowTo, float[] y, int yOff) {
        int units = cols / U;
        if (units == 0) {
            SCALAR.gemvColumns(codes, rowBytes, bits, cols, xs, colZeros, zOff, zero, rowFrom, rowTo, y, yOff);
            return;
        }
        long unitBytes = (long) U * bits / 8;
        int safe = safeEnd(codes, rowBytes, (units - 1) * unitBytes, rowFrom, rowTo);
        float[] tmp = new float[L];
        int r = rowFrom;
        for (; r + 4 <= safe; r += 4) {
            gemvColumnRows4(codes, r * rowBytes, rowBytes, bits, cols, units, unitBytes, xs, colZeros, zOff, zero, y,
                    yOff + r, tmp);
        }
        for (; r < safe; r++) {
            y[yOff + r] = gemvColumnRow(codes, r * rowBytes, bits, cols, units, unitBytes, xs, colZeros, zOff, zero, tmp);
        }
        if (safe < rowTo) {
            SCALAR.gemvColumns(codes, rowBytes, bits, cols, xs, colZeros, zOff, zero, safe, rowTo, y, yOff);
        }
    }

    private static float gemvColumnRow(MemorySegment codes, long rowOff, int bits, int cols, int units,
            long unitBytes, float[] xs, int[] colZeros, int zOff, int zero, float[] tmp) {
        VectorShuffle<Byte> s0 = SHUFFLE[bits][0];
        VectorShuffle<Byte> s1 = SHUFFLE[bits][P - 1];
        IntVector h0 = SHIFT[bits][0];
        IntVector h1 = SHIFT[bits][P - 1];
        int mask = (1 << bits) - 1;
        FloatVector zc = FloatVector.broadcast(F, MAGIC_F + zero);
        FloatVector acc = FloatVector.zero(F);
        long off = rowOff;
        int c = 0;
        for (int u = 0; u < units; u++, off += unitBytes, c += U) {
            FloatVector z = colZeros == null ? zc : zeroBias(colZeros, zOff + c);
            FloatVector d = decode(codes, off, s0, h0, mask, z);
            FloatVector xv = FloatVector.fromArray(F, xs, c);
            acc = FMA ? d.fma(xv, acc) : d.mul(xv).add(acc);
            if (P == 2) {
                FloatVector zw = colZeros == null ? zc : zeroBias(colZeros, zOff + c + L);
                FloatVector e = decode(codes, off, s1, h1, mask, zw);
                FloatVector xw = FloatVector.fromArray(F, xs, c + L);
                acc = FMA ? e.fma(xw, acc) : e.mul(xw).add(acc);
            }
        }
        float t = 0;
        for (; c < cols; c++) {
            t += (ScalarAffineKernels.code(codes, rowOff, c, bits) - (colZeros == null ? zero : colZeros[zOff + c])) * xs[c];
        }
        return PanamaGemv.lanes(acc, tmp) + t;
    }

    private static void gemvColumnRows4(MemorySegment codes, long off0, long rowBytes, int bits, int cols, int units,
            long unitBytes, float[] xs, int[] colZeros, int zOff, int zero, float[] y, int yo, float[] tmp) {
        VectorShuffle<Byte> s0 = SHUFFLE[bits][0];
        VectorShuffle<Byte> s1 = SHUFFLE[bits][P - 1];
        IntVector h0 = SHIFT[bits][0];
        IntVector h1 = SHIFT[bits][P - 1];
        int mask = (1 << bits) - 1;
        FloatVector zc = FloatVector.broadcast(F, MAGIC_F + zero);
        long off1 = off0 + rowBytes;
        long off2 = off1 + rowBytes;
        long off3 = off2 + rowBytes;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        long o = 0;
        int c = 0;
        for (int u = 0; u < units; u++, o += unitBytes, c += U) {
            FloatVector z = colZeros == null ? zc : zeroBias(colZeros, zOff + c);
            FloatVector xv = FloatVector.fromArray(F, xs, c);
            FloatVector d0 = decode(codes, off0 + o, s0, h0, mask, z);
            a0 = FMA ? d0.fma(xv, a0) : d0.mul(xv).add(a0);
            FloatVector d1 = decode(codes, off1 + o, s0, h0, mask, z);
            a1 = FMA ? d1.fma(xv, a1) : d1.mul(xv).add(a1);
            FloatVector d2 = decode(codes, off2 + o, s0, h0, mask, z);
            a2 = FMA ? d2.fma(xv, a2) : d2.mul(xv).add(a2);
            FloatVector d3 = decode(codes, off3 + o, s0, h0, mask, z);
            a3 = FMA ? d3.fma(xv, a3) : d3.mul(xv).add(a3);
            if (P == 2) {
                FloatVector zw = colZeros == null ? zc : zeroBias(colZeros, zOff + c + L);
                FloatVector xw = FloatVector.fromArray(F, xs, c + L);
                FloatVector e0 = decode(codes, off0 + o, s1, h1, mask, zw);
                a0 = FMA ? e0.fma(xw, a0) : e0.mul(xw).add(a0);
                FloatVector e1 = decode(codes, off1 + o, s1, h1, mask, zw);
                a1 = FMA ? e1.fma(xw, a1) : e1.mul(xw).add(a1);
                FloatVector e2 = decode(codes, off2 + o, s1, h1, mask, zw);
                a2 = FMA ? e2.fma(xw, a2) : e2.mul(xw).add(a2);
                FloatVector e3 = decode(codes, off3 + o, s1, h1, mask, zw);
                a3 = FMA ? e3.fma(xw, a3) : e3.mul(xw).add(a3);
            }
        }
        float t0 = 0;
        float t1 = 0;
        float t2 = 0;
        float t3 = 0;
        for (; c < cols; c++) {
            int z = colZeros == null ? zero : colZeros[zOff + c];
            float xc = xs[c];
            t0 += (ScalarAffineKernels.code(codes, off0, c, bits) - z) * xc;
            t1 += (ScalarAffineKernels.code(codes, off1, c, bits) - z) * xc;
            t2 += (ScalarAffineKernels.code(codes, off2, c, bits) - z) * xc;
            t3 += (ScalarAffineKernels.code(codes, off3, c, bits) - z) * xc;
        }
        y[yo] = PanamaGemv.lanes(a0, tmp) + t0;
        y[yo + 1] = PanamaGemv.lanes(a1, tmp) + t1;
        y[yo + 2] = PanamaGemv.lanes(a2, tmp) + t2;
        y[yo + 3] = PanamaGemv.lanes(a3, tmp) + t3;
    }

    // ---- 4-bit groups with a prepared input ----

    @Override
    public void prepareNibbleInput(float[] x, int xOff, int cols, int group, float[] dst, int dstOff) {
        PanamaNibbleKernels.prepare(x, xOff, cols, group, dst, dstOff, new float[L]);
    }

    @Override
    public void gemvNibbleGroups(MemorySegment codes, long rowBytes, int cols, int group, float[] scales, byte[] zeros,
            int zero, int scaleStride, float[] xp, int xpOff, int rowFrom, int rowTo, float[] y, int yOff) {
        PanamaNibbleKernels.gemv(codes, rowBytes, cols, group, scales, zeros, zero, scaleStride, xp, xpOff, rowFrom,
                rowTo, y, yOff);
    }

    @Override
    public void gemvInt4Tiles(MemorySegment w, long wOff, int tiles, int nBlocks, int groupBlocks, float[] scales,
            float[] zeros, int sOff, int[] act, int actOff, float[] groupSums, int gOff, float[] y, int yOff,
            int rows) {
        PanamaInt4Tiles.gemv(w, wOff, tiles, nBlocks, groupBlocks, scales, zeros, sOff, act, actOff, groupSums, gOff,
                y, yOff, rows);
    }
}

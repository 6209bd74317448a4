package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarDenseKernels.HALF_LE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API GEMV over a range of rows for F16 and BF16 weights in arrays and little-endian segments, widening each
 * weight vector in registers. Same per-row summation order as {@link PanamaGemv}: one vector accumulator per row over
 * the first {@code loopBound(cols)} columns, its lanes added in lane order, then the scalar tail left to right.
 *
 * <p><b>F16, fast path.</b> A half's sign and exponent-and-mantissa bits shifted left by 13 read as a float {@code f}
 * equal to {@code value·2^-112} exactly, for every finite half (subnormal halves land on float subnormals, which
 * still hold their 11 significant bits). Instead of re-biasing each weight (the multiply by 2^112 and the
 * Inf/NaN blend of {@link HalfLanes#f16}), x is scaled once per call into a per-thread scratch,
 * {@code xs = x·2^112}, and the loop computes {@code fma(f, xs, acc)}. The product {@code f·xs} has the same exact
 * value as {@code weight·x}, so each fused (or separately rounded) step, hence the whole row, has the same bits as
 * widening the weight first: this path is bit-identical to the exact path below. Per 16 weights this is a
 * short-to-int widening, a shift, an AND and the FMA (plus two half-width ops, next paragraph), against about eight
 * vector operations before (F16 GEMV at 512 bits was compute-bound at 0.8–1.1× the F32 speed).
 *
 * <p>It is valid when every finite {@code |x|} is at most {@code Float.MAX_VALUE·2^-112} (about 65536), checked
 * while scaling x, and when the row has no Inf or NaN weight: the loop keeps a running max of the weights'
 * magnitude bits per row, and a row that saw exponent 31 is recomputed by the exact path. (A NaN x needs no care:
 * it makes every row NaN on either path.) Otherwise the exact path runs: {@link HalfLanes#f16}, two rows at a time.
 *
 * <p>(Tried and rejected: converting L1-sized tiles of W with a plain {@link Float#float16ToFloat} loop, which C2
 * auto-vectorizes into vcvtph2ps, then a FloatVector dot with x. The conversion is fast from cache, but streaming W
 * from DRAM that way ran at 14 ms for 4096×14336 on one thread, slower than F32, for any tile of 128–2048 columns
 * and 1 or 4 rows per group.)
 *
 * <p><b>BF16</b> is the upper half of an F32: a short-to-int widening and a shift ({@link HalfLanes#bf16}), four
 * rows per group.
 *
 * <p>Code shape matters to C2 here: F16 and BF16 have separate loops (no flag), and each group of rows, each single
 * row and each scalar tail is its own method, compiled with its own inlining budget: with everything in one method
 * the graph hit NodeCountInliningCutoff, the widening was left out of line and every vector was boxed (190 MB
 * allocated per 4096×4096 GEMV, 5× slower than BF16).
 */
final class PanamaHalfGemv {
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Short> H = HalfLanes.H;
    private static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** The magnitude bits of a half in every lane. */
    private static final ShortVector MAGNITUDES = ShortVector.broadcast(H, HalfLanes.MAGNITUDE);
    /** x is scaled by this so that the unbiased half bits ({@link HalfLanes#f16Unbiased}) need no re-biasing. */
    private static final float X_SCALE = HalfLanes.UNBIAS;
    /** Largest |x| whose scaled value is finite. */
    private static final float X_LIMIT = Float.MAX_VALUE / X_SCALE;

    /** Per-thread scratch, taken once per call (not in the loops). */
    private static final class Scratch {
        float[] xs = new float[0];
        /** Lane sums, and the eight accumulators of {@link #f16Loop8}. */
        final float[] tmp = new float[8 * L];
        /** The magnitude maxima of {@link #f16Loop8}. */
        final short[] magnitudes = new short[L];
    }

    /**
     * L, read from a non-final field by the F16 fast-path loops: a stride C2 cannot fold to a constant keeps it from
     * unrolling them. Unrolled 8×, the four-row F16 loop ran out of vector registers (accumulators and operands
     * spilled to the stack every step, the 0x7FFF mask was re-broadcast from memory per use); not unrolled it keeps
     * everything in registers and ran 1.05–1.09× faster (4096×14336, one thread, thread CPU time, both versions
     * alternating in one JVM; the unchanged BF16 loop measured 1.01–1.04× in the same runs, the method's noise).
     * The four-row BF16 loops too since 2026-12-02: on a Zen 1 core C2 unrolled them 4× and spilled the widened
     * weights; not unrolled, 11.6 against 12.6 ms (4096×14336, one thread, three alternating pairs of runs).
     * Never written.
     */
    private static int columnStep = L;

    /**
     * Whether the fast loops take eight rows per group (then four, then one) rather than four: with 32 vector
     * registers the eight accumulators, x and the widened weights all stay in registers. A memory-bound GEMV on one
     * core is limited by how many cache lines are in flight, and four rows of halves touch only two lines per
     * iteration where four rows of F32 touch four: eight rows of halves touch four again. On a Zen 4 core
     * (4096×14336, one thread, best of 20 alternating with the four-row loop in one JVM) BF16 went from 6.5–6.7 to
     * 5.4–5.7 ms, F16 from 8.0–8.7 to 7.0–7.1 ms. With 16 registers (AVX2) eight accumulators would spill, so the
     * four-row loops stay; without fast FMA too (the F16 eight-row loop calls {@code fma} directly, see
     * {@link #f16Loop8}).
     */
    private static final boolean EIGHT_ROWS = Species.VECTOR_REGISTERS >= 32 && Species.FMA;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private PanamaHalfGemv() {
    }

    static void rows(short[] w, boolean bf16, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int r0, int r1) {
        Scratch s = SCRATCH.get();
        float[] tmp = s.tmp;
        int r = r0;
        if (bf16) {
            for (; EIGHT_ROWS && r + 8 <= r1; r += 8) {
                bf16Group8(w, wOff + r * ldw, ldw, x, xOff, cols, y, yOff + r, tmp);
            }
            for (; r + 4 <= r1; r += 4) {
                bf16Group(w, wOff + r * ldw, ldw, x, xOff, cols, y, yOff + r, tmp);
            }
            for (; r < r1; r++) {
                y[yOff + r] = bf16Row(w, wOff + r * ldw, x, xOff, cols, tmp);
            }
            return;
        }
        float[] xs = scaledX(s, x, xOff, cols);
        if (xs != null) {
            for (; EIGHT_ROWS && r + 8 <= r1; r += 8) {
                f16Group8(w, wOff + r * ldw, ldw, xs, x, xOff, cols, y, yOff + r, tmp, s.magnitudes);
            }
            for (; r + 4 <= r1; r += 4) {
                f16Group(w, wOff + r * ldw, ldw, xs, x, xOff, cols, y, yOff + r, tmp);
            }
            for (; r < r1; r++) {
                y[yOff + r] = f16FastRow(w, wOff + r * ldw, xs, x, xOff, cols, tmp);
            }
            return;
        }
        for (; r + 2 <= r1; r += 2) {
            f16Pair(w, wOff + r * ldw, ldw, x, xOff, cols, y, yOff + r, tmp);
        }
        for (; r < r1; r++) {
            y[yOff + r] = f16Row(w, wOff + r * ldw, x, xOff, cols, tmp);
        }
    }

    static void rows(MemorySegment w, boolean bf16, long wOff, long ldw, float[] x, int xOff, int cols, float[] y,
            int yOff, int r0, int r1) {
        Scratch s = SCRATCH.get();
        float[] tmp = s.tmp;
        int r = r0;
        if (bf16) {
            for (; EIGHT_ROWS && r + 8 <= r1; r += 8) {
                bf16Group8(w, wOff + r * ldw, ldw, x, xOff, cols, y, yOff + r, tmp);
            }
            for (; r + 4 <= r1; r += 4) {
                bf16Group(w, wOff + r * ldw, ldw, x, xOff, cols, y, yOff + r, tmp);
            }
            for (; r < r1; r++) {
                y[yOff + r] = bf16Row(w, wOff + r * ldw, x, xOff, cols, tmp);
            }
            return;
        }
        float[] xs = scaledX(s, x, xOff, cols);
        if (xs != null) {
            for (; EIGHT_ROWS && r + 8 <= r1; r += 8) {
                f16Group8(w, wOff + r * ldw, ldw, xs, x, xOff, cols, y, yOff + r, tmp, s.magnitudes);
            }
            for (; r + 4 <= r1; r += 4) {
                f16Group(w, wOff + r * ldw, ldw, xs, x, xOff, cols, y, yOff + r, tmp);
            }
            for (; r < r1; r++) {
                y[yOff + r] = f16FastRow(w, wOff + r * ldw, xs, x, xOff, cols, tmp);
            }
            return;
        }
        for (; r + 2 <= r1; r += 2) {
            f16Pair(w, wOff + r * ldw, ldw, x, xOff, cols, y, yOff + r, tmp);
        }
        for (; r < r1; r++) {
            y[yOff + r] = f16Row(w, wOff + r * ldw, x, xOff, cols, tmp);
        }
    }

    /**
     * {@code x[xOff ..]·2^112} over the vector part of the row ({@code loopBound(cols)} columns) in the thread's
     * scratch, or null when some |x| there exceeds {@link #X_LIMIT} (an infinite x included: the exact path then
     * runs). A NaN may hide a large value from the max, but then every row is NaN on either path.
     */
    private static float[] scaledX(Scratch s, float[] x, int xOff, int cols) {
        int bound = F.loopBound(cols);
        if (s.xs.length < bound) {
            s.xs = new float[bound];
        }
        float[] xs = s.xs;
        FloatVector big = FloatVector.zero(F);
        for (int c = 0; c < bound; c += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + c);
            big = big.max(v.abs());
            v.mul(X_SCALE).intoArray(xs, c);
        }
        return big.compare(VectorOperators.GT, X_LIMIT).anyTrue() ? null : xs;
    }

    /**
     * m lane-wise max the magnitude bits of h0 | h1 | h2 | h3: at least the largest magnitude of the four (an OR of
     * non-negative integers is at least their max), in three operations where four maxima take eight. It can only
     * err towards a false alarm (bits of different rows that OR to exponent 31, e.g. a weight in [2, 4) and one in
     * [0.5, 1) at the same column), which {@link #anySpecial} settles with an exact pass over the four rows.
     */
    private static ShortVector magnitudes4(ShortVector m, ShortVector h0, ShortVector h1, ShortVector h2,
            ShortVector h3) {
        return m.max(h0.or(h1).or(h2).or(h3).and(MAGNITUDES));
    }

    /** Whether one of rows o0, o0 + ld, .. o0 + 3·ld holds an Inf or NaN half in its first {@code bound} columns. */
    private static boolean anySpecial(short[] w, int o0, int ld, int bound) {
        ShortVector m = ShortVector.zero(H);
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < bound; c += L) {
                m = magnitudes(m, ShortVector.fromArray(H, w, o0 + r * ld + c));
            }
        }
        return special(m);
    }

    /** {@link #anySpecial(short[], int, int, int)} for a segment (element offsets). */
    private static boolean anySpecial(MemorySegment w, long o0, long ld, int bound) {
        ShortVector m = ShortVector.zero(H);
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < bound; c += L) {
                m = magnitudes(m, load(w, o0 + r * ld + c));
            }
        }
        return special(m);
    }

    /**
     * {@link HalfLanes#f16Unbiased} spelled out with Vector API calls only (which C2 always inlines): in the
     * eight-row loops C2 refused to inline that helper ("callee is too large"), left each conversion out of line
     * and boxed the vectors (33 ms instead of 6 for 4096×14336).
     */
    private static FloatVector unbiased(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, Species.I, 0)).lanewise(VectorOperators.LSHL, 13)
                .and(HalfLanes.SIGN_EM).reinterpretAsFloats();
    }

    /** Whether some a[i] is at least v. */
    private static boolean anyAtLeast(short[] a, short v) {
        for (short e : a) {
            if (e >= v) {
                return true;
            }
        }
        return false;
    }

    /** a[from .. from + L) added in lane order, as {@link PanamaGemv#lanes} adds a vector's lanes. */
    private static float laneSum(float[] a, int from) {
        float s = a[from];
        for (int i = 1; i < L; i++) {
            s += a[from + i];
        }
        return s;
    }

    /** m lane-wise max the magnitude bits of h. */
    private static ShortVector magnitudes(ShortVector m, ShortVector h) {
        return m.max(h.and(MAGNITUDES));
    }

    /** The halves at element index e of a little-endian segment. */
    private static ShortVector load(MemorySegment w, long e) {
        return ShortVector.fromMemorySegment(H, w, e * Short.BYTES, LE);
    }

    private static boolean special(ShortVector m) {
        return m.compare(VectorOperators.GE, HalfLanes.SPECIAL).anyTrue();
    }

    private static float f16(short h) {
        return Float.float16ToFloat(h);
    }

    private static float bf16(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    /**
     * Fast path: rows o, o + ld, .. o + 7·ld (element offsets) into y[yAt .. yAt + 8), each row summed exactly as by
     * {@link #f16Group}. When the magnitude check raises an alarm the two halves are redone by {@link #f16Group},
     * which settles it row group by row group.
     */
    private static void f16Group8(short[] w, int o0, int ld, float[] xs, float[] x, int xOff, int cols, float[] y,
            int yAt, float[] tmp, short[] mags) {
        int bound = F.loopBound(cols);
        f16Loop8(w, o0, ld, xs, bound, tmp, mags);
        if (anyAtLeast(mags, HalfLanes.SPECIAL)) {
            f16Group(w, o0, ld, xs, x, xOff, cols, y, yAt, tmp);
            f16Group(w, o0 + 4 * ld, ld, xs, x, xOff, cols, y, yAt + 4, tmp);
            return;
        }
        for (int r = 0; r < 8; r++) {
            y[yAt + r] = f16Tail(w, o0 + r * ld, x, xOff, bound, cols, laneSum(tmp, r * L));
        }
    }

    /**
     * The vector loop of {@link #f16Group8}, alone in its method: row r's accumulator into acc[r·L .. (r + 1)·L),
     * the lane-wise maximum of the eight rows' OR-ed magnitude bits into {@code magnitudes}. This loop sits at the
     * edge of C2's node-count inlining cutoff (past it C2 leaves vector calls out of line and boxes every vector:
     * 20–33 ms instead of 7 for 4096×14336), so it is kept bare: the tails, the alarm test and the fallback live in
     * the caller, the FMA is called directly (the eight-row loops run only where {@link Species#FMA} holds, see
     * {@link #EIGHT_ROWS}), one eight-way OR per step feeds the check and the conversion is {@link #unbiased}.
     */
    private static void f16Loop8(short[] w, int o0, int ld, float[] xs, int bound, float[] acc,
            short[] magnitudes) {
        int o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld, o4 = o3 + ld, o5 = o4 + ld, o6 = o5 + ld, o7 = o6 + ld;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        ShortVector m = ShortVector.zero(H);
        for (int c = 0, step = columnStep; c < bound; c += step) {
            FloatVector xv = FloatVector.fromArray(F, xs, c);
            ShortVector h0 = ShortVector.fromArray(H, w, o0 + c), h1 = ShortVector.fromArray(H, w, o1 + c);
            ShortVector h2 = ShortVector.fromArray(H, w, o2 + c), h3 = ShortVector.fromArray(H, w, o3 + c);
            ShortVector h4 = ShortVector.fromArray(H, w, o4 + c), h5 = ShortVector.fromArray(H, w, o5 + c);
            ShortVector h6 = ShortVector.fromArray(H, w, o6 + c), h7 = ShortVector.fromArray(H, w, o7 + c);
            a0 = unbiased(h0).fma(xv, a0);
            a1 = unbiased(h1).fma(xv, a1);
            a2 = unbiased(h2).fma(xv, a2);
            a3 = unbiased(h3).fma(xv, a3);
            a4 = unbiased(h4).fma(xv, a4);
            a5 = unbiased(h5).fma(xv, a5);
            a6 = unbiased(h6).fma(xv, a6);
            a7 = unbiased(h7).fma(xv, a7);
            m = m.max(h0.or(h1).or(h2).or(h3).or(h4).or(h5).or(h6).or(h7).and(MAGNITUDES));
        }
        a0.intoArray(acc, 0 * L);
        a1.intoArray(acc, 1 * L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
        a4.intoArray(acc, 4 * L);
        a5.intoArray(acc, 5 * L);
        a6.intoArray(acc, 6 * L);
        a7.intoArray(acc, 7 * L);
        m.intoArray(magnitudes, 0);
    }

    /** Fast path: rows o, o + ld, o + 2·ld, o + 3·ld (element offsets) into y[yAt .. yAt + 4). */
    private static void f16Group(short[] w, int o0, int ld, float[] xs, float[] x, int xOff, int cols, float[] y,
            int yAt, float[] tmp) {
        int o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        ShortVector m = ShortVector.zero(H);
        for (int c = 0, step = columnStep; c < bound; c += step) {
            FloatVector xv = FloatVector.fromArray(F, xs, c);
            ShortVector h0 = ShortVector.fromArray(H, w, o0 + c), h1 = ShortVector.fromArray(H, w, o1 + c);
            ShortVector h2 = ShortVector.fromArray(H, w, o2 + c), h3 = ShortVector.fromArray(H, w, o3 + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h0), xv, a0);
            a1 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h1), xv, a1);
            a2 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h2), xv, a2);
            a3 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h3), xv, a3);
            m = magnitudes4(m, h0, h1, h2, h3);
        }
        if (special(m) && anySpecial(w, o0, ld, bound)) { // an Inf or NaN weight in a row: all four by the exact path
            f16Pair(w, o0, ld, x, xOff, cols, y, yAt, tmp);
            f16Pair(w, o2, ld, x, xOff, cols, y, yAt + 2, tmp);
            return;
        }
        y[yAt] = f16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
        y[yAt + 1] = f16Tail(w, o1, x, xOff, bound, cols, PanamaGemv.lanes(a1, tmp));
        y[yAt + 2] = f16Tail(w, o2, x, xOff, bound, cols, PanamaGemv.lanes(a2, tmp));
        y[yAt + 3] = f16Tail(w, o3, x, xOff, bound, cols, PanamaGemv.lanes(a3, tmp));
    }

    /** Fast path: one row at element offset o. */
    private static float f16FastRow(short[] w, int o0, float[] xs, float[] x, int xOff, int cols, float[] tmp) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        ShortVector m = ShortVector.zero(H);
        for (int c = 0, step = columnStep; c < bound; c += step) {
            ShortVector h0 = ShortVector.fromArray(H, w, o0 + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h0), FloatVector.fromArray(F, xs, c), a0);
            m = magnitudes(m, h0);
        }
        if (special(m)) {
            return f16Row(w, o0, x, xOff, cols, tmp);
        }
        return f16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
    }

    /** Exact path: rows o and o + ld (element offsets) into y[yAt .. yAt + 2), two rows per group. */
    private static void f16Pair(short[] w, int o0, int ld, float[] x, int xOff, int cols, float[] y, int yAt,
            float[] tmp) {
        int o1 = o0 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        for (int c = 0; c < bound; c += L) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromArray(H, w, o0 + c)), xv, a0);
            a1 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromArray(H, w, o1 + c)), xv, a1);
        }
        y[yAt] = f16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
        y[yAt + 1] = f16Tail(w, o1, x, xOff, bound, cols, PanamaGemv.lanes(a1, tmp));
    }

    /** Exact path: one row at element offset o. */
    private static float f16Row(short[] w, int o0, float[] x, int xOff, int cols, float[] tmp) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        for (int c = 0; c < bound; c += L) {
            a0 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromArray(H, w, o0 + c)), FloatVector.fromArray(F, x, xOff + c), a0);
        }
        return f16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
    }

    /** s plus the columns [from, cols) of the row at o, left to right. */
    private static float f16Tail(short[] w, int o0, float[] x, int xOff, int from, int cols, float s) {
        for (int c = from; c < cols; c++) {
            s += f16(w[o0 + c]) * x[xOff + c];
        }
        return s;
    }

    /** Rows o, o + ld, .. o + 7·ld (element offsets) into y[yAt .. yAt + 8), each row summed as by {@link #bf16Group}. */
    private static void bf16Group8(short[] w, int o0, int ld, float[] x, int xOff, int cols, float[] y, int yAt,
            float[] tmp) {
        int o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld, o4 = o3 + ld, o5 = o4 + ld, o6 = o5 + ld, o7 = o6 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int c = 0, step = columnStep; c < bound; c += step) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o0 + c)), xv, a0);
            a1 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o1 + c)), xv, a1);
            a2 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o2 + c)), xv, a2);
            a3 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o3 + c)), xv, a3);
            a4 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o4 + c)), xv, a4);
            a5 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o5 + c)), xv, a5);
            a6 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o6 + c)), xv, a6);
            a7 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o7 + c)), xv, a7);
        }
        y[yAt] = bf16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
        y[yAt + 1] = bf16Tail(w, o1, x, xOff, bound, cols, PanamaGemv.lanes(a1, tmp));
        y[yAt + 2] = bf16Tail(w, o2, x, xOff, bound, cols, PanamaGemv.lanes(a2, tmp));
        y[yAt + 3] = bf16Tail(w, o3, x, xOff, bound, cols, PanamaGemv.lanes(a3, tmp));
        y[yAt + 4] = bf16Tail(w, o4, x, xOff, bound, cols, PanamaGemv.lanes(a4, tmp));
        y[yAt + 5] = bf16Tail(w, o5, x, xOff, bound, cols, PanamaGemv.lanes(a5, tmp));
        y[yAt + 6] = bf16Tail(w, o6, x, xOff, bound, cols, PanamaGemv.lanes(a6, tmp));
        y[yAt + 7] = bf16Tail(w, o7, x, xOff, bound, cols, PanamaGemv.lanes(a7, tmp));
    }

    /** Rows o, o + ld, o + 2·ld, o + 3·ld (element offsets) into y[yAt .. yAt + 4). */
    private static void bf16Group(short[] w, int o0, int ld, float[] x, int xOff, int cols, float[] y, int yAt,
            float[] tmp) {
        int o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0, step = columnStep; c < bound; c += step) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o0 + c)), xv, a0);
            a1 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o1 + c)), xv, a1);
            a2 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o2 + c)), xv, a2);
            a3 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o3 + c)), xv, a3);
        }
        y[yAt] = bf16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
        y[yAt + 1] = bf16Tail(w, o1, x, xOff, bound, cols, PanamaGemv.lanes(a1, tmp));
        y[yAt + 2] = bf16Tail(w, o2, x, xOff, bound, cols, PanamaGemv.lanes(a2, tmp));
        y[yAt + 3] = bf16Tail(w, o3, x, xOff, bound, cols, PanamaGemv.lanes(a3, tmp));
    }

    /** One row at element offset o. */
    private static float bf16Row(short[] w, int o0, float[] x, int xOff, int cols, float[] tmp) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        for (int c = 0; c < bound; c += L) {
            a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o0 + c)), FloatVector.fromArray(F, x, xOff + c), a0);
        }
        return bf16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
    }

    /** s plus the columns [from, cols) of the row at o, left to right. */
    private static float bf16Tail(short[] w, int o0, float[] x, int xOff, int from, int cols, float s) {
        for (int c = from; c < cols; c++) {
            s += bf16(w[o0 + c]) * x[xOff + c];
        }
        return s;
    }

    /**
     * Fast path: rows o, o + ld, .. o + 7·ld (element offsets) into y[yAt .. yAt + 8), each row summed exactly as by
     * {@link #f16Group}. When the magnitude check raises an alarm the two halves are redone by {@link #f16Group},
     * which settles it row group by row group.
     */
    private static void f16Group8(MemorySegment w, long o0, long ld, float[] xs, float[] x, int xOff, int cols, float[] y,
            int yAt, float[] tmp, short[] mags) {
        int bound = F.loopBound(cols);
        f16Loop8(w, o0, ld, xs, bound, tmp, mags);
        if (anyAtLeast(mags, HalfLanes.SPECIAL)) {
            f16Group(w, o0, ld, xs, x, xOff, cols, y, yAt, tmp);
            f16Group(w, o0 + 4 * ld, ld, xs, x, xOff, cols, y, yAt + 4, tmp);
            return;
        }
        for (int r = 0; r < 8; r++) {
            y[yAt + r] = f16Tail(w, o0 + r * ld, x, xOff, bound, cols, laneSum(tmp, r * L));
        }
    }

    /**
     * The vector loop of {@link #f16Group8}, alone in its method: row r's accumulator into acc[r·L .. (r + 1)·L),
     * the lane-wise maximum of the eight rows' OR-ed magnitude bits into {@code magnitudes}. This loop sits at the
     * edge of C2's node-count inlining cutoff (past it C2 leaves vector calls out of line and boxes every vector:
     * 20–33 ms instead of 7 for 4096×14336), so it is kept bare: the tails, the alarm test and the fallback live in
     * the caller, the FMA is called directly (the eight-row loops run only where {@link Species#FMA} holds, see
     * {@link #EIGHT_ROWS}), one eight-way OR per step feeds the check and the conversion is {@link #unbiased}.
     */
    private static void f16Loop8(MemorySegment w, long o0, long ld, float[] xs, int bound, float[] acc,
            short[] magnitudes) {
        long o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld, o4 = o3 + ld, o5 = o4 + ld, o6 = o5 + ld, o7 = o6 + ld;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        ShortVector m = ShortVector.zero(H);
        for (int c = 0, step = columnStep; c < bound; c += step) {
            FloatVector xv = FloatVector.fromArray(F, xs, c);
            ShortVector h0 = load(w, o0 + c), h1 = load(w, o1 + c);
            ShortVector h2 = load(w, o2 + c), h3 = load(w, o3 + c);
            ShortVector h4 = load(w, o4 + c), h5 = load(w, o5 + c);
            ShortVector h6 = load(w, o6 + c), h7 = load(w, o7 + c);
            a0 = unbiased(h0).fma(xv, a0);
            a1 = unbiased(h1).fma(xv, a1);
            a2 = unbiased(h2).fma(xv, a2);
            a3 = unbiased(h3).fma(xv, a3);
            a4 = unbiased(h4).fma(xv, a4);
            a5 = unbiased(h5).fma(xv, a5);
            a6 = unbiased(h6).fma(xv, a6);
            a7 = unbiased(h7).fma(xv, a7);
            m = m.max(h0.or(h1).or(h2).or(h3).or(h4).or(h5).or(h6).or(h7).and(MAGNITUDES));
        }
        a0.intoArray(acc, 0 * L);
        a1.intoArray(acc, 1 * L);
        a2.intoArray(acc, 2 * L);
        a3.intoArray(acc, 3 * L);
        a4.intoArray(acc, 4 * L);
        a5.intoArray(acc, 5 * L);
        a6.intoArray(acc, 6 * L);
        a7.intoArray(acc, 7 * L);
        m.intoArray(magnitudes, 0);
    }

    /** Fast path: rows o, o + ld, o + 2·ld, o + 3·ld (element offsets) into y[yAt .. yAt + 4). */
    private static void f16Group(MemorySegment w, long o0, long ld, float[] xs, float[] x, int xOff, int cols, float[] y,
            int yAt, float[] tmp) {
        long o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        ShortVector m = ShortVector.zero(H);
        for (int c = 0, step = columnStep; c < bound; c += step) {
            FloatVector xv = FloatVector.fromArray(F, xs, c);
            ShortVector h0 = load(w, o0 + c), h1 = load(w, o1 + c);
            ShortVector h2 = load(w, o2 + c), h3 = load(w, o3 + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h0), xv, a0);
            a1 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h1), xv, a1);
            a2 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h2), xv, a2);
            a3 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h3), xv, a3);
            m = magnitudes4(m, h0, h1, h2, h3);
        }
        if (special(m) && anySpecial(w, o0, ld, bound)) { // an Inf or NaN weight in a row: all four by the exact path
            f16Pair(w, o0, ld, x, xOff, cols, y, yAt, tmp);
            f16Pair(w, o2, ld, x, xOff, cols, y, yAt + 2, tmp);
            return;
        }
        y[yAt] = f16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
        y[yAt + 1] = f16Tail(w, o1, x, xOff, bound, cols, PanamaGemv.lanes(a1, tmp));
        y[yAt + 2] = f16Tail(w, o2, x, xOff, bound, cols, PanamaGemv.lanes(a2, tmp));
        y[yAt + 3] = f16Tail(w, o3, x, xOff, bound, cols, PanamaGemv.lanes(a3, tmp));
    }

    /** Fast path: one row at element offset o. */
    private static float f16FastRow(MemorySegment w, long o0, float[] xs, float[] x, int xOff, int cols, float[] tmp) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        ShortVector m = ShortVector.zero(H);
        for (int c = 0, step = columnStep; c < bound; c += step) {
            ShortVector h0 = load(w, o0 + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.f16Unbiased(h0), FloatVector.fromArray(F, xs, c), a0);
            m = magnitudes(m, h0);
        }
        if (special(m)) {
            return f16Row(w, o0, x, xOff, cols, tmp);
        }
        return f16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
    }

    /** Exact path: rows o and o + ld (element offsets) into y[yAt .. yAt + 2), two rows per group. */
    private static void f16Pair(MemorySegment w, long o0, long ld, float[] x, int xOff, int cols, float[] y, int yAt,
            float[] tmp) {
        long o1 = o0 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        for (int c = 0; c < bound; c += L) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromMemorySegment(H, w, (o0 + c) * Short.BYTES, LE)), xv, a0);
            a1 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromMemorySegment(H, w, (o1 + c) * Short.BYTES, LE)), xv, a1);
        }
        y[yAt] = f16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
        y[yAt + 1] = f16Tail(w, o1, x, xOff, bound, cols, PanamaGemv.lanes(a1, tmp));
    }

    /** Exact path: one row at element offset o. */
    private static float f16Row(MemorySegment w, long o0, float[] x, int xOff, int cols, float[] tmp) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        for (int c = 0; c < bound; c += L) {
            a0 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromMemorySegment(H, w, (o0 + c) * Short.BYTES, LE)), FloatVector.fromArray(F, x, xOff + c), a0);
        }
        return f16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
    }

    /** s plus the columns [from, cols) of the row at o, left to right. */
    private static float f16Tail(MemorySegment w, long o0, float[] x, int xOff, int from, int cols, float s) {
        for (int c = from; c < cols; c++) {
            s += f16(w.getAtIndex(HALF_LE, o0 + c)) * x[xOff + c];
        }
        return s;
    }

    /** Rows o, o + ld, .. o + 7·ld (element offsets) into y[yAt .. yAt + 8), each row summed as by {@link #bf16Group}. */
    private static void bf16Group8(MemorySegment w, long o0, long ld, float[] x, int xOff, int cols, float[] y, int yAt,
            float[] tmp) {
        long o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld, o4 = o3 + ld, o5 = o4 + ld, o6 = o5 + ld, o7 = o6 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int c = 0, step = columnStep; c < bound; c += step) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o0 + c) * Short.BYTES, LE)), xv, a0);
            a1 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o1 + c) * Short.BYTES, LE)), xv, a1);
            a2 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o2 + c) * Short.BYTES, LE)), xv, a2);
            a3 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o3 + c) * Short.BYTES, LE)), xv, a3);
            a4 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o4 + c) * Short.BYTES, LE)), xv, a4);
            a5 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o5 + c) * Short.BYTES, LE)), xv, a5);
            a6 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o6 + c) * Short.BYTES, LE)), xv, a6);
            a7 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o7 + c) * Short.BYTES, LE)), xv, a7);
        }
        y[yAt] = bf16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
        y[yAt + 1] = bf16Tail(w, o1, x, xOff, bound, cols, PanamaGemv.lanes(a1, tmp));
        y[yAt + 2] = bf16Tail(w, o2, x, xOff, bound, cols, PanamaGemv.lanes(a2, tmp));
        y[yAt + 3] = bf16Tail(w, o3, x, xOff, bound, cols, PanamaGemv.lanes(a3, tmp));
        y[yAt + 4] = bf16Tail(w, o4, x, xOff, bound, cols, PanamaGemv.lanes(a4, tmp));
        y[yAt + 5] = bf16Tail(w, o5, x, xOff, bound, cols, PanamaGemv.lanes(a5, tmp));
        y[yAt + 6] = bf16Tail(w, o6, x, xOff, bound, cols, PanamaGemv.lanes(a6, tmp));
        y[yAt + 7] = bf16Tail(w, o7, x, xOff, bound, cols, PanamaGemv.lanes(a7, tmp));
    }

    /** Rows o, o + ld, o + 2·ld, o + 3·ld (element offsets) into y[yAt .. yAt + 4). */
    private static void bf16Group(MemorySegment w, long o0, long ld, float[] x, int xOff, int cols, float[] y, int yAt,
            float[] tmp) {
        long o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0, step = columnStep; c < bound; c += step) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
            a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o0 + c) * Short.BYTES, LE)), xv, a0);
            a1 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o1 + c) * Short.BYTES, LE)), xv, a1);
            a2 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o2 + c) * Short.BYTES, LE)), xv, a2);
            a3 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o3 + c) * Short.BYTES, LE)), xv, a3);
        }
        y[yAt] = bf16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
        y[yAt + 1] = bf16Tail(w, o1, x, xOff, bound, cols, PanamaGemv.lanes(a1, tmp));
        y[yAt + 2] = bf16Tail(w, o2, x, xOff, bound, cols, PanamaGemv.lanes(a2, tmp));
        y[yAt + 3] = bf16Tail(w, o3, x, xOff, bound, cols, PanamaGemv.lanes(a3, tmp));
    }

    /** One row at element offset o. */
    private static float bf16Row(MemorySegment w, long o0, float[] x, int xOff, int cols, float[] tmp) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        for (int c = 0; c < bound; c += L) {
            a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, (o0 + c) * Short.BYTES, LE)), FloatVector.fromArray(F, x, xOff + c), a0);
        }
        return bf16Tail(w, o0, x, xOff, bound, cols, PanamaGemv.lanes(a0, tmp));
    }

    /** s plus the columns [from, cols) of the row at o, left to right. */
    private static float bf16Tail(MemorySegment w, long o0, float[] x, int xOff, int from, int cols, float s) {
        for (int c = from; c < cols; c++) {
            s += bf16(w.getAtIndex(HALF_LE, o0 + c)) * x[xOff + c];
        }
        return s;
    }
}

package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarDenseKernels.HALF_LE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API GEMV over a range of rows for F16 and BF16 weights in arrays and little-endian segments, widening each
 * weight vector in registers ({@link HalfLanes}). Same per-row summation order as {@link PanamaGemv}: one vector
 * accumulator per row, lanes added in order, then the scalar tail.
 *
 * <p>Code shape matters to C2 here. F16 and BF16 have separate loops (no flag), and each group of rows (four for BF16, two for
 * the larger F16 widening), each single row and each scalar tail is its own method, compiled with its own inlining budget: with everything in one
 * method the graph hit NodeCountInliningCutoff, the widening was left out of line and every vector was boxed
 * (190 MB allocated per 4096×4096 GEMV, 5× slower than BF16).
 */
final class PanamaHalfGemv {
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Short> H = HalfLanes.H;
    private static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private PanamaHalfGemv() {
    }

    static void rows(short[] w, boolean bf16, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int r0, int r1) {
        float[] tmp = new float[L];
        int r = r0;
        int g = bf16 ? 4 : 2;
        for (; r + g <= r1; r += g) {
            int o = wOff + r * ldw;
            if (bf16) {
                bf16Group(w, o, ldw, x, xOff, cols, y, yOff + r, tmp);
            } else {
                f16Pair(w, o, ldw, x, xOff, cols, y, yOff + r, tmp);
            }
        }
        for (; r < r1; r++) {
            int o = wOff + r * ldw;
            y[yOff + r] = bf16 ? bf16Row(w, o, x, xOff, cols, tmp) : f16Row(w, o, x, xOff, cols, tmp);
        }
    }

    static void rows(MemorySegment w, boolean bf16, long wOff, long ldw, float[] x, int xOff, int cols, float[] y,
            int yOff, int r0, int r1) {
        float[] tmp = new float[L];
        int r = r0;
        int g = bf16 ? 4 : 2;
        for (; r + g <= r1; r += g) {
            long o = wOff + r * ldw;
            if (bf16) {
                bf16Group(w, o, ldw, x, xOff, cols, y, yOff + r, tmp);
            } else {
                f16Pair(w, o, ldw, x, xOff, cols, y, yOff + r, tmp);
            }
        }
        for (; r < r1; r++) {
            long o = wOff + r * ldw;
            y[yOff + r] = bf16 ? bf16Row(w, o, x, xOff, cols, tmp) : f16Row(w, o, x, xOff, cols, tmp);
        }
    }

    private static float f16(short h) {
        return Float.float16ToFloat(h);
    }

    private static float bf16(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    /** Rows o and o + ld (element offsets) into y[yAt .. yAt + 2): F16 widening is larger, so two rows per group. */
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

    /** One row at element offset o. */
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

    /** Rows o, o + ld, o + 2·ld, o + 3·ld (element offsets) into y[yAt .. yAt + 4). */
    private static void bf16Group(short[] w, int o0, int ld, float[] x, int xOff, int cols, float[] y, int yAt,
            float[] tmp) {
        int o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < bound; c += L) {
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

    /** Rows o and o + ld (element offsets) into y[yAt .. yAt + 2): F16 widening is larger, so two rows per group. */
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

    /** One row at element offset o. */
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

    /** Rows o, o + ld, o + 2·ld, o + 3·ld (element offsets) into y[yAt .. yAt + 4). */
    private static void bf16Group(MemorySegment w, long o0, long ld, float[] x, int xOff, int cols, float[] y, int yAt,
            float[] tmp) {
        long o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < bound; c += L) {
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

package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarDenseKernels.HALF_LE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API GEMV over a range of rows for F16 and BF16 weights in arrays and little-endian segments, widening each
 * weight vector in registers ({@link HalfLanes}). Same structure and same per-row summation order as
 * {@link PanamaGemv}. F16 and BF16 have separate loops (not one loop with a flag) so that C2 inlines the widening:
 * with both conversions in one method the compiled graph outgrew the inlining limits and the F16 path ran 5× slower.
 */
final class PanamaHalfGemv {
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Short> H = HalfLanes.H;
    private static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private PanamaHalfGemv() {
    }

    private static float f16(short h) {
        return Float.float16ToFloat(h);
    }

    private static float bf16(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    static void rows(short[] w, boolean bf16, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int r0, int r1) {
        if (bf16) {
            bf16(w, wOff, ldw, x, xOff, cols, y, yOff, r0, r1);
        } else {
            f16(w, wOff, ldw, x, xOff, cols, y, yOff, r0, r1);
        }
    }

    static void rows(MemorySegment w, boolean bf16, long wOff, long ldw, float[] x, int xOff, int cols, float[] y,
            int yOff, int r0, int r1) {
        if (bf16) {
            bf16(w, wOff, ldw, x, xOff, cols, y, yOff, r0, r1);
        } else {
            f16(w, wOff, ldw, x, xOff, cols, y, yOff, r0, r1);
        }
    }

    private static void f16(short[] w, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int r0, int r1) {
        float[] tmp = new float[L];
        int bound = F.loopBound(cols);
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int o0 = wOff + r * ldw, o1 = o0 + ldw, o2 = o1 + ldw, o3 = o2 + ldw;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < bound; c += L) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                a0 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromArray(H, w, o0 + c)), xv, a0);
                a1 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromArray(H, w, o1 + c)), xv, a1);
                a2 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromArray(H, w, o2 + c)), xv, a2);
                a3 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromArray(H, w, o3 + c)), xv, a3);
            }
            float s0 = PanamaGemv.lanes(a0, tmp), s1 = PanamaGemv.lanes(a1, tmp), s2 = PanamaGemv.lanes(a2, tmp), s3 = PanamaGemv.lanes(a3, tmp);
            for (int c = bound; c < cols; c++) {
                float xc = x[xOff + c];
                s0 += f16(w[o0 + c]) * xc;
                s1 += f16(w[o1 + c]) * xc;
                s2 += f16(w[o2 + c]) * xc;
                s3 += f16(w[o3 + c]) * xc;
            }
            y[yOff + r] = s0;
            y[yOff + r + 1] = s1;
            y[yOff + r + 2] = s2;
            y[yOff + r + 3] = s3;
        }
        for (; r < r1; r++) {
            int o0 = wOff + r * ldw;
            FloatVector a0 = FloatVector.zero(F);
            for (int c = 0; c < bound; c += L) {
                a0 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromArray(H, w, o0 + c)), FloatVector.fromArray(F, x, xOff + c), a0);
            }
            float s0 = PanamaGemv.lanes(a0, tmp);
            for (int c = bound; c < cols; c++) {
                s0 += f16(w[o0 + c]) * x[xOff + c];
            }
            y[yOff + r] = s0;
        }
    }

    private static void bf16(short[] w, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int r0, int r1) {
        float[] tmp = new float[L];
        int bound = F.loopBound(cols);
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int o0 = wOff + r * ldw, o1 = o0 + ldw, o2 = o1 + ldw, o3 = o2 + ldw;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < bound; c += L) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o0 + c)), xv, a0);
                a1 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o1 + c)), xv, a1);
                a2 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o2 + c)), xv, a2);
                a3 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o3 + c)), xv, a3);
            }
            float s0 = PanamaGemv.lanes(a0, tmp), s1 = PanamaGemv.lanes(a1, tmp), s2 = PanamaGemv.lanes(a2, tmp), s3 = PanamaGemv.lanes(a3, tmp);
            for (int c = bound; c < cols; c++) {
                float xc = x[xOff + c];
                s0 += bf16(w[o0 + c]) * xc;
                s1 += bf16(w[o1 + c]) * xc;
                s2 += bf16(w[o2 + c]) * xc;
                s3 += bf16(w[o3 + c]) * xc;
            }
            y[yOff + r] = s0;
            y[yOff + r + 1] = s1;
            y[yOff + r + 2] = s2;
            y[yOff + r + 3] = s3;
        }
        for (; r < r1; r++) {
            int o0 = wOff + r * ldw;
            FloatVector a0 = FloatVector.zero(F);
            for (int c = 0; c < bound; c += L) {
                a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromArray(H, w, o0 + c)), FloatVector.fromArray(F, x, xOff + c), a0);
            }
            float s0 = PanamaGemv.lanes(a0, tmp);
            for (int c = bound; c < cols; c++) {
                s0 += bf16(w[o0 + c]) * x[xOff + c];
            }
            y[yOff + r] = s0;
        }
    }

    private static void f16(MemorySegment w, long wOff, long ldw, float[] x, int xOff, int cols, float[] y,
            int yOff, int r0, int r1) {
        float[] tmp = new float[L];
        int bound = F.loopBound(cols);
        long ld = ldw * Short.BYTES;
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            long o0 = (wOff + r * ldw) * Short.BYTES, o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < bound; c += L) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                long b = (long) c * Short.BYTES;
                a0 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromMemorySegment(H, w, o0 + b, LE)), xv, a0);
                a1 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromMemorySegment(H, w, o1 + b, LE)), xv, a1);
                a2 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromMemorySegment(H, w, o2 + b, LE)), xv, a2);
                a3 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromMemorySegment(H, w, o3 + b, LE)), xv, a3);
            }
            float s0 = PanamaGemv.lanes(a0, tmp), s1 = PanamaGemv.lanes(a1, tmp), s2 = PanamaGemv.lanes(a2, tmp), s3 = PanamaGemv.lanes(a3, tmp);
            long e0 = wOff + r * ldw;
            for (int c = bound; c < cols; c++) {
                float xc = x[xOff + c];
                s0 += f16(w.getAtIndex(HALF_LE, e0 + c)) * xc;
                s1 += f16(w.getAtIndex(HALF_LE, e0 + ldw + c)) * xc;
                s2 += f16(w.getAtIndex(HALF_LE, e0 + 2 * ldw + c)) * xc;
                s3 += f16(w.getAtIndex(HALF_LE, e0 + 3 * ldw + c)) * xc;
            }
            y[yOff + r] = s0;
            y[yOff + r + 1] = s1;
            y[yOff + r + 2] = s2;
            y[yOff + r + 3] = s3;
        }
        for (; r < r1; r++) {
            long e0 = wOff + r * ldw;
            long o0 = e0 * Short.BYTES;
            FloatVector a0 = FloatVector.zero(F);
            for (int c = 0; c < bound; c += L) {
                a0 = PanamaGemv.mulAdd(HalfLanes.f16(ShortVector.fromMemorySegment(H, w, o0 + (long) c * Short.BYTES, LE)),
                        FloatVector.fromArray(F, x, xOff + c), a0);
            }
            float s0 = PanamaGemv.lanes(a0, tmp);
            for (int c = bound; c < cols; c++) {
                s0 += f16(w.getAtIndex(HALF_LE, e0 + c)) * x[xOff + c];
            }
            y[yOff + r] = s0;
        }
    }
    private static void bf16(MemorySegment w, long wOff, long ldw, float[] x, int xOff, int cols, float[] y,
            int yOff, int r0, int r1) {
        float[] tmp = new float[L];
        int bound = F.loopBound(cols);
        long ld = ldw * Short.BYTES;
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            long o0 = (wOff + r * ldw) * Short.BYTES, o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < bound; c += L) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                long b = (long) c * Short.BYTES;
                a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, o0 + b, LE)), xv, a0);
                a1 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, o1 + b, LE)), xv, a1);
                a2 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, o2 + b, LE)), xv, a2);
                a3 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, o3 + b, LE)), xv, a3);
            }
            float s0 = PanamaGemv.lanes(a0, tmp), s1 = PanamaGemv.lanes(a1, tmp), s2 = PanamaGemv.lanes(a2, tmp), s3 = PanamaGemv.lanes(a3, tmp);
            long e0 = wOff + r * ldw;
            for (int c = bound; c < cols; c++) {
                float xc = x[xOff + c];
                s0 += bf16(w.getAtIndex(HALF_LE, e0 + c)) * xc;
                s1 += bf16(w.getAtIndex(HALF_LE, e0 + ldw + c)) * xc;
                s2 += bf16(w.getAtIndex(HALF_LE, e0 + 2 * ldw + c)) * xc;
                s3 += bf16(w.getAtIndex(HALF_LE, e0 + 3 * ldw + c)) * xc;
            }
            y[yOff + r] = s0;
            y[yOff + r + 1] = s1;
            y[yOff + r + 2] = s2;
            y[yOff + r + 3] = s3;
        }
        for (; r < r1; r++) {
            long e0 = wOff + r * ldw;
            long o0 = e0 * Short.BYTES;
            FloatVector a0 = FloatVector.zero(F);
            for (int c = 0; c < bound; c += L) {
                a0 = PanamaGemv.mulAdd(HalfLanes.bf16(ShortVector.fromMemorySegment(H, w, o0 + (long) c * Short.BYTES, LE)),
                        FloatVector.fromArray(F, x, xOff + c), a0);
            }
            float s0 = PanamaGemv.lanes(a0, tmp);
            for (int c = bound; c < cols; c++) {
                s0 += bf16(w.getAtIndex(HALF_LE, e0 + c)) * x[xOff + c];
            }
            y[yOff + r] = s0;
        }
    }
}

package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarFloatKernels.F32_LE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API GEMV over a range of rows, for F32 weights in arrays and little-endian segments (halves: {@link
 * PanamaHalfGemv}).
 *
 * <p>Four rows are processed together so that each vector of x is loaded once for four weight rows. Every row has
 * its own single vector accumulator over the first {@code loopBound(cols)} columns; the accumulator's lanes are then
 * added in lane order (through a scratch array, not {@code reduceLanes}, whose order the Vector API leaves open and
 * which could differ between interpreted and compiled code), then the scalar tail is added left to right. The
 * single-row loop for leftover rows computes exactly the same sequence, so a row's bits never depend on which call,
 * group or thread computed it.
 */
final class PanamaGemv {
    private static final VectorSpecies<Float> F = Species.F;
    private static final int L = F.length();
    private static final boolean FMA = Species.FMA;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private PanamaGemv() {
    }

    static FloatVector mulAdd(FloatVector a, FloatVector b, FloatVector acc) {
        return FMA ? a.fma(b, acc) : a.mul(b).add(acc);
    }

    /** Lanes of v added in lane order. */
    static float lanes(FloatVector v, float[] tmp) {
        v.intoArray(tmp, 0);
        float s = tmp[0];
        for (int i = 1; i < L; i++) {
            s += tmp[i];
        }
        return s;
    }

    static void f32(float[] w, int wOff, int ldw, float[] x, int xOff, int cols, float[] y, int yOff, int r0, int r1) {
        float[] tmp = new float[L];
        int bound = F.loopBound(cols);
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int o0 = wOff + r * ldw, o1 = o0 + ldw, o2 = o1 + ldw, o3 = o2 + ldw;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < bound; c += L) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                a0 = mulAdd(FloatVector.fromArray(F, w, o0 + c), xv, a0);
                a1 = mulAdd(FloatVector.fromArray(F, w, o1 + c), xv, a1);
                a2 = mulAdd(FloatVector.fromArray(F, w, o2 + c), xv, a2);
                a3 = mulAdd(FloatVector.fromArray(F, w, o3 + c), xv, a3);
            }
            float s0 = lanes(a0, tmp), s1 = lanes(a1, tmp), s2 = lanes(a2, tmp), s3 = lanes(a3, tmp);
            for (int c = bound; c < cols; c++) {
                float xc = x[xOff + c];
                s0 += w[o0 + c] * xc;
                s1 += w[o1 + c] * xc;
                s2 += w[o2 + c] * xc;
                s3 += w[o3 + c] * xc;
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
                a0 = mulAdd(FloatVector.fromArray(F, w, o0 + c), FloatVector.fromArray(F, x, xOff + c), a0);
            }
            float s0 = lanes(a0, tmp);
            for (int c = bound; c < cols; c++) {
                s0 += w[o0 + c] * x[xOff + c];
            }
            y[yOff + r] = s0;
        }
    }

    static void f32(MemorySegment w, long wOff, long ldw, float[] x, int xOff, int cols, float[] y, int yOff,
            int r0, int r1) {
        float[] tmp = new float[L];
        int bound = F.loopBound(cols);
        long ld = ldw * Float.BYTES;
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            long o0 = (wOff + r * ldw) * Float.BYTES, o1 = o0 + ld, o2 = o1 + ld, o3 = o2 + ld;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < bound; c += L) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + c);
                long b = (long) c * Float.BYTES;
                a0 = mulAdd(FloatVector.fromMemorySegment(F, w, o0 + b, LE), xv, a0);
                a1 = mulAdd(FloatVector.fromMemorySegment(F, w, o1 + b, LE), xv, a1);
                a2 = mulAdd(FloatVector.fromMemorySegment(F, w, o2 + b, LE), xv, a2);
                a3 = mulAdd(FloatVector.fromMemorySegment(F, w, o3 + b, LE), xv, a3);
            }
            float s0 = lanes(a0, tmp), s1 = lanes(a1, tmp), s2 = lanes(a2, tmp), s3 = lanes(a3, tmp);
            long e0 = wOff + r * ldw;
            for (int c = bound; c < cols; c++) {
                float xc = x[xOff + c];
                s0 += w.getAtIndex(F32_LE, e0 + c) * xc;
                s1 += w.getAtIndex(F32_LE, e0 + ldw + c) * xc;
                s2 += w.getAtIndex(F32_LE, e0 + 2 * ldw + c) * xc;
                s3 += w.getAtIndex(F32_LE, e0 + 3 * ldw + c) * xc;
            }
            y[yOff + r] = s0;
            y[yOff + r + 1] = s1;
            y[yOff + r + 2] = s2;
            y[yOff + r + 3] = s3;
        }
        for (; r < r1; r++) {
            long e0 = wOff + r * ldw;
            long o0 = e0 * Float.BYTES;
            FloatVector a0 = FloatVector.zero(F);
            for (int c = 0; c < bound; c += L) {
                a0 = mulAdd(FloatVector.fromMemorySegment(F, w, o0 + (long) c * Float.BYTES, LE),
                        FloatVector.fromArray(F, x, xOff + c), a0);
            }
            float s0 = lanes(a0, tmp);
            for (int c = bound; c < cols; c++) {
                s0 += w.getAtIndex(F32_LE, e0 + c) * x[xOff + c];
            }
            y[yOff + r] = s0;
        }
    }
}

package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The scalar reference for {@link FloatKernels}: one plain loop per method, left to right. It is the fallback
 * implementation and the twin every SIMD kernel is tested against.
 */
public final class ScalarFloatKernels implements FloatKernels {
    /** Little-endian, unaligned F32: how lowbit stores floats in segments. */
    public static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    @Override
    public void scale(float alpha, float[] x, int off, int n) {
        for (int i = 0; i < n; i++) {
            x[off + i] *= alpha;
        }
    }

    @Override
    public float sum(float[] x, int off, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) {
            s += x[off + i];
        }
        return s;
    }

    @Override
    public float sumOfSquares(float[] x, int off, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            s += v * v;
        }
        return s;
    }

    @Override
    public float maxAbs(float[] x, int off, int n) {
        float m = 0f;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, Math.abs(x[off + i]));
        }
        return m;
    }

    @Override
    public float min(float[] x, int off, int n) {
        float m = Float.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.min(m, x[off + i]);
        }
        return m;
    }

    @Override
    public float max(float[] x, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    @Override
    public float dot(MemorySegment a, long aOff, MemorySegment b, long bOff, long n) {
        float s = 0f;
        for (long i = 0; i < n; i++) {
            s += a.getAtIndex(F32_LE, aOff + i) * b.getAtIndex(F32_LE, bOff + i);
        }
        return s;
    }

    @Override
    public void axpy(float alpha, MemorySegment x, long xOff, MemorySegment y, long yOff, long n) {
        for (long i = 0; i < n; i++) {
            y.setAtIndex(F32_LE, yOff + i, y.getAtIndex(F32_LE, yOff + i) + alpha * x.getAtIndex(F32_LE, xOff + i));
        }
    }

    @Override
    public void scale(float alpha, MemorySegment x, long off, long n) {
        for (long i = 0; i < n; i++) {
            x.setAtIndex(F32_LE, off + i, x.getAtIndex(F32_LE, off + i) * alpha);
        }
    }

    @Override
    public float sum(MemorySegment x, long off, long n) {
        float s = 0f;
        for (long i = 0; i < n; i++) {
            s += x.getAtIndex(F32_LE, off + i);
        }
        return s;
    }

    @Override
    public float sumOfSquares(MemorySegment x, long off, long n) {
        float s = 0f;
        for (long i = 0; i < n; i++) {
            float v = x.getAtIndex(F32_LE, off + i);
            s += v * v;
        }
        return s;
    }

    @Override
    public float maxAbs(MemorySegment x, long off, long n) {
        float m = 0f;
        for (long i = 0; i < n; i++) {
            m = Math.max(m, Math.abs(x.getAtIndex(F32_LE, off + i)));
        }
        return m;
    }

    @Override
    public float min(MemorySegment x, long off, long n) {
        float m = Float.POSITIVE_INFINITY;
        for (long i = 0; i < n; i++) {
            m = Math.min(m, x.getAtIndex(F32_LE, off + i));
        }
        return m;
    }

    @Override
    public float max(MemorySegment x, long off, long n) {
        float m = Float.NEGATIVE_INFINITY;
        for (long i = 0; i < n; i++) {
            m = Math.max(m, x.getAtIndex(F32_LE, off + i));
        }
        return m;
    }

    @Override
    public void expShifted(float[] x, int xOff, float shift, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] = ElementwiseMath.exp(x[xOff + i] - shift);
        }
    }

    @Override
    public void geluErf(float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] = ElementwiseMath.geluErf(x[xOff + i]);
        }
    }

    @Override
    public void addScalar(float[] x, int xOff, float c, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] = x[xOff + i] + c;
        }
    }

    @Override
    public void scaleMulAdd(float[] x, int xOff, float s, float[] g, int gOff, float[] b, int bOff, float[] y, int yOff,
            int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] = x[xOff + i] * s * g[gOff + i] + b[bOff + i];
        }
    }
}

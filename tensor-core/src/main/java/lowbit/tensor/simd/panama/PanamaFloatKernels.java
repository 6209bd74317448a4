package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarFloatKernels.F32_LE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.ElementwiseMath;
import lowbit.tensor.simd.FloatKernels;

/**
 * Vector API float kernels. Sums use four independent accumulators (to hide FMA/add latency) and a scalar tail;
 * ranges shorter than two vectors go straight to the scalar loop.
 */
final class PanamaFloatKernels implements FloatKernels {
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final int L = F.length();
    private static final int ABS_MASK = 0x7FFF_FFFF;
    private static final boolean FMA = Species.FMA;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private static FloatVector mulAdd(FloatVector a, FloatVector b, FloatVector acc) {
        return FMA ? a.fma(b, acc) : a.mul(b).add(acc);
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        float s = 0f;
        if (n >= 2 * L) {
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            int bound4 = n - n % (4 * L);
            for (; i < bound4; i += 4 * L) {
                s0 = mulAdd(FloatVector.fromArray(F, a, aOff + i), FloatVector.fromArray(F, b, bOff + i), s0);
                s1 = mulAdd(FloatVector.fromArray(F, a, aOff + i + L), FloatVector.fromArray(F, b, bOff + i + L), s1);
                s2 = mulAdd(FloatVector.fromArray(F, a, aOff + i + 2 * L), FloatVector.fromArray(F, b, bOff + i + 2 * L), s2);
                s3 = mulAdd(FloatVector.fromArray(F, a, aOff + i + 3 * L), FloatVector.fromArray(F, b, bOff + i + 3 * L), s3);
            }
            int bound = F.loopBound(n);
            for (; i < bound; i += L) {
                s0 = mulAdd(FloatVector.fromArray(F, a, aOff + i), FloatVector.fromArray(F, b, bOff + i), s0);
            }
            s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        FloatVector va = FloatVector.broadcast(F, alpha);
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector vy = FloatVector.fromArray(F, y, yOff + i);
            mulAdd(FloatVector.fromArray(F, x, xOff + i), va, vy).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    @Override
    public void scale(float alpha, float[] x, int off, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F, x, off + i).mul(alpha).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= alpha;
        }
    }

    @Override
    public float sum(float[] x, int off, int n) {
        int i = 0;
        float s = 0f;
        if (n >= 2 * L) {
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            int bound4 = n - n % (4 * L);
            for (; i < bound4; i += 4 * L) {
                s0 = s0.add(FloatVector.fromArray(F, x, off + i));
                s1 = s1.add(FloatVector.fromArray(F, x, off + i + L));
                s2 = s2.add(FloatVector.fromArray(F, x, off + i + 2 * L));
                s3 = s3.add(FloatVector.fromArray(F, x, off + i + 3 * L));
            }
            for (int bound = F.loopBound(n); i < bound; i += L) {
                s0 = s0.add(FloatVector.fromArray(F, x, off + i));
            }
            s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            s += x[off + i];
        }
        return s;
    }

    @Override
    public float sumOfSquares(float[] x, int off, int n) {
        return dot(x, off, x, off, n);
    }

    /**
     * max |x| as an integer max over the bit patterns with the sign cleared: for non-negative floats the IEEE
     * patterns order like the values, and every NaN pattern lies above +&infin;, so a NaN wins as in
     * {@code Math.max}. One AND and one integer max per vector, where a float max needs extra NaN/−0 fix-ups.
     */
    @Override
    public float maxAbs(float[] x, int off, int n) {
        int i = 0;
        int m = 0;
        if (n >= 2 * L) {
            IntVector m0 = IntVector.zero(I), m1 = m0;
            int bound2 = n - n % (2 * L);
            for (; i < bound2; i += 2 * L) {
                m0 = m0.max(FloatVector.fromArray(F, x, off + i).reinterpretAsInts().and(ABS_MASK));
                m1 = m1.max(FloatVector.fromArray(F, x, off + i + L).reinterpretAsInts().and(ABS_MASK));
            }
            for (int bound = F.loopBound(n); i < bound; i += L) {
                m0 = m0.max(FloatVector.fromArray(F, x, off + i).reinterpretAsInts().and(ABS_MASK));
            }
            m = m0.max(m1).reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, Float.floatToRawIntBits(x[off + i]) & ABS_MASK);
        }
        return Float.intBitsToFloat(m);
    }

    @Override
    public float min(float[] x, int off, int n) {
        int i = 0;
        float m = Float.POSITIVE_INFINITY;
        if (n >= L) {
            FloatVector m0 = FloatVector.broadcast(F, Float.POSITIVE_INFINITY);
            for (int bound = F.loopBound(n); i < bound; i += L) {
                m0 = m0.min(FloatVector.fromArray(F, x, off + i));
            }
            m = m0.reduceLanes(VectorOperators.MIN);
        }
        for (; i < n; i++) {
            m = Math.min(m, x[off + i]);
        }
        return m;
    }

    @Override
    public float max(float[] x, int off, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (int bound = F.loopBound(n); i < bound; i += L) {
                m0 = m0.max(FloatVector.fromArray(F, x, off + i));
            }
            m = m0.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    // ---- segments: the same loops over little-endian F32 memory; offsets in elements ----

    private static FloatVector load(MemorySegment s, long index) {
        return FloatVector.fromMemorySegment(F, s, index * Float.BYTES, LE);
    }

    private static long loopBound(long n) {
        return n - (n & (L - 1));
    }

    @Override
    public float dot(MemorySegment a, long aOff, MemorySegment b, long bOff, long n) {
        long i = 0;
        float s = 0f;
        if (n >= 2 * L) {
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            long bound4 = n - n % (4 * L);
            for (; i < bound4; i += 4 * L) {
                s0 = mulAdd(load(a, aOff + i), load(b, bOff + i), s0);
                s1 = mulAdd(load(a, aOff + i + L), load(b, bOff + i + L), s1);
                s2 = mulAdd(load(a, aOff + i + 2 * L), load(b, bOff + i + 2 * L), s2);
                s3 = mulAdd(load(a, aOff + i + 3 * L), load(b, bOff + i + 3 * L), s3);
            }
            for (long bound = loopBound(n); i < bound; i += L) {
                s0 = mulAdd(load(a, aOff + i), load(b, bOff + i), s0);
            }
            s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            s += a.getAtIndex(F32_LE, aOff + i) * b.getAtIndex(F32_LE, bOff + i);
        }
        return s;
    }

    @Override
    public void axpy(float alpha, MemorySegment x, long xOff, MemorySegment y, long yOff, long n) {
        long i = 0;
        FloatVector va = FloatVector.broadcast(F, alpha);
        for (long bound = loopBound(n); i < bound; i += L) {
            mulAdd(load(x, xOff + i), va, load(y, yOff + i)).intoMemorySegment(y, (yOff + i) * Float.BYTES, LE);
        }
        for (; i < n; i++) {
            y.setAtIndex(F32_LE, yOff + i, y.getAtIndex(F32_LE, yOff + i) + alpha * x.getAtIndex(F32_LE, xOff + i));
        }
    }

    @Override
    public void scale(float alpha, MemorySegment x, long off, long n) {
        long i = 0;
        for (long bound = loopBound(n); i < bound; i += L) {
            load(x, off + i).mul(alpha).intoMemorySegment(x, (off + i) * Float.BYTES, LE);
        }
        for (; i < n; i++) {
            x.setAtIndex(F32_LE, off + i, x.getAtIndex(F32_LE, off + i) * alpha);
        }
    }

    @Override
    public float sum(MemorySegment x, long off, long n) {
        long i = 0;
        float s = 0f;
        if (n >= 2 * L) {
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            long bound4 = n - n % (4 * L);
            for (; i < bound4; i += 4 * L) {
                s0 = s0.add(load(x, off + i));
                s1 = s1.add(load(x, off + i + L));
                s2 = s2.add(load(x, off + i + 2 * L));
                s3 = s3.add(load(x, off + i + 3 * L));
            }
            for (long bound = loopBound(n); i < bound; i += L) {
                s0 = s0.add(load(x, off + i));
            }
            s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            s += x.getAtIndex(F32_LE, off + i);
        }
        return s;
    }

    @Override
    public float sumOfSquares(MemorySegment x, long off, long n) {
        return dot(x, off, x, off, n);
    }

    @Override
    public float maxAbs(MemorySegment x, long off, long n) {
        long i = 0;
        int m = 0;
        if (n >= L) {
            IntVector m0 = IntVector.zero(I);
            for (long bound = loopBound(n); i < bound; i += L) {
                m0 = m0.max(IntVector.fromMemorySegment(I, x, (off + i) * Float.BYTES, LE).and(ABS_MASK));
            }
            m = m0.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, Float.floatToRawIntBits(x.getAtIndex(F32_LE, off + i)) & ABS_MASK);
        }
        return Float.intBitsToFloat(m);
    }

    @Override
    public float min(MemorySegment x, long off, long n) {
        long i = 0;
        float m = Float.POSITIVE_INFINITY;
        if (n >= L) {
            FloatVector m0 = FloatVector.broadcast(F, Float.POSITIVE_INFINITY);
            for (long bound = loopBound(n); i < bound; i += L) {
                m0 = m0.min(load(x, off + i));
            }
            m = m0.reduceLanes(VectorOperators.MIN);
        }
        for (; i < n; i++) {
            m = Math.min(m, x.getAtIndex(F32_LE, off + i));
        }
        return m;
    }

    @Override
    public float max(MemorySegment x, long off, long n) {
        long i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (long bound = loopBound(n); i < bound; i += L) {
                m0 = m0.max(load(x, off + i));
            }
            m = m0.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, x.getAtIndex(F32_LE, off + i));
        }
        return m;
    }

    // ---- element-wise functions: the lanes compute ElementwiseMath's scalar code operation by operation ----

    /** {@link ElementwiseMath#exp} of x − shift per lane, then the scalar definition for the tail. */
    @Override
    public void expShifted(float[] x, int xOff, float shift, float[] y, int yOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            expStep(x, xOff + i, shift, y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = ElementwiseMath.exp(x[xOff + i] - shift);
        }
    }

    /**
     * y[yi .. yi + L) = {@link ElementwiseMath#exp}(x[xi ..] − shift) per lane, operation by operation (so bit for
     * bit). The helpers here take arrays, never vectors: a helper C2 compiles on its own (not inlined) sees a
     * parameter of the abstract type FloatVector, cannot intrinsify its operations and runs the Java fallback on
     * boxed vectors (measured 2.5× slower for GELU).
     */
    static void expStep(float[] x, int xi, float shift, float[] y, int yi) {
        FloatVector v = FloatVector.fromArray(F, x, xi).sub(shift);
        // clamps as compare + blend, written out (see geluStep)
        VectorMask<Float> under = v.compare(VectorOperators.LT, ElementwiseMath.EXP_MIN);
        FloatVector c = v.blend(ElementwiseMath.EXP_MIN, under);
        c = c.blend(ElementwiseMath.EXP_HI, c.compare(VectorOperators.GT, ElementwiseMath.EXP_HI));
        FloatVector nf = c.mul(ElementwiseMath.LOG2E).add(ElementwiseMath.ROUND).sub(ElementwiseMath.ROUND);
        FloatVector r = c.sub(nf.mul(ElementwiseMath.LN2_HI)).sub(nf.mul(ElementwiseMath.LN2_LO));
        FloatVector p = r.mul(ElementwiseMath.E5).add(ElementwiseMath.E4).mul(r).add(ElementwiseMath.E3).mul(r)
                .add(ElementwiseMath.E2).mul(r).add(ElementwiseMath.E1).mul(r).add(ElementwiseMath.E0);
        FloatVector e = p.mul(r.mul(r)).add(r).add(1f);
        IntVector k = (IntVector) nf.convert(VectorOperators.F2I, 0);
        IntVector k1 = k.lanewise(VectorOperators.ASHR, 1);
        IntVector k2 = k.sub(k1);
        e.mul(k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                .mul(k2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                .blend(0f, under)
                .intoArray(y, yi);
    }

    /** {@link ElementwiseMath#geluErf} per lane ({@link #geluStep}), then the scalar definition for the tail. */
    @Override
    public void geluErf(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            geluStep(x, xOff + i, y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = ElementwiseMath.geluErf(x[xOff + i]);
        }
    }

    /** y[yi .. yi + L) = {@link ElementwiseMath#geluErf}(x[xi ..]) per lane, operation by operation. */
    static void geluStep(float[] x, int xi, float[] y, int yi) {
        FloatVector xv = FloatVector.fromArray(F, x, xi);
        FloatVector u = xv.mul(ElementwiseMath.INV_SQRT2);
        // Clamps are a compare and a blend (v > hi ? hi : v, as in ElementwiseMath), written out here: v.min(hi)
        // costs about five operations at 512 bits (C2 adds Java's NaN and signed-zero rules to vminps), and GELU ran
        // 2x faster without its nine min/max (2026-12-02). Not in a helper taking vectors: where the caller is at its
        // inlining budget (expStep inside the attention head) such a helper is compiled alone and boxes.
        FloatVector c = u.blend(ElementwiseMath.ERF_CLAMP, u.compare(VectorOperators.GT, ElementwiseMath.ERF_CLAMP));
        c = c.blend(-ElementwiseMath.ERF_CLAMP, c.compare(VectorOperators.LT, -ElementwiseMath.ERF_CLAMP));
        FloatVector t = c.mul(c);
        FloatVector p = t.mul(ElementwiseMath.P6).add(ElementwiseMath.P5).mul(t).add(ElementwiseMath.P4).mul(t)
                .add(ElementwiseMath.P3).mul(t).add(ElementwiseMath.P2).mul(t).add(ElementwiseMath.P1).mul(t)
                .add(ElementwiseMath.P0);
        FloatVector q = t.mul(ElementwiseMath.Q5).add(ElementwiseMath.Q4).mul(t).add(ElementwiseMath.Q3).mul(t)
                .add(ElementwiseMath.Q2).mul(t).add(ElementwiseMath.Q1).mul(t).add(1f);
        FloatVector e = c.mul(p).div(q);
        e = e.blend(1f, e.compare(VectorOperators.GT, 1f));
        e = e.blend(-1f, e.compare(VectorOperators.LT, -1f));
        FloatVector phi = e.add(1f).mul(0.5f)
                .blend(0f, u.compare(VectorOperators.LE, -ElementwiseMath.ERF_CLAMP))
                .blend(1f, u.compare(VectorOperators.GT, ElementwiseMath.ERF_CLAMP));
        xv.mul(phi).intoArray(y, yi);
    }

    @Override
    public void addScalar(float[] x, int xOff, float c, float[] y, int yOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F, x, xOff + i).add(c).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = x[xOff + i] + c;
        }
    }

    @Override
    public void scaleMulAdd(float[] x, int xOff, float s, float[] g, int gOff, float[] b, int bOff, float[] y, int yOff,
            int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F, x, xOff + i).mul(s).mul(FloatVector.fromArray(F, g, gOff + i))
                    .add(FloatVector.fromArray(F, b, bOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = x[xOff + i] * s * g[gOff + i] + b[bOff + i];
        }
    }
}

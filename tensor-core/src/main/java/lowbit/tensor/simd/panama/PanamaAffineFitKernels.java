package lowbit.tensor.simd.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.AffineFitKernels;
import lowbit.tensor.simd.ScalarAffineFitKernels;

/**
 * Vector API kernels of {@link AffineFitKernels}. Every group is processed on its own: whole vectors of the group
 * (one accumulator vector per sum, its lanes added by a fixed pairwise tree at the end of the group), then the
 * group's last {@code group mod L} elements through the scalar twin, added after the reduction. Groups shorter than
 * one vector run the scalar twin. Codes use the same operations as the scalar twin lane by lane (IEEE division,
 * clamp, the 1.5·2²³ rounding trick), so they are identical; HQQ's shrink calls {@link Math#pow} per lane in the
 * (rare) vectors where some |e| exceeds the threshold, so its terms are identical too and only the summation order
 * differs.
 */
final class PanamaAffineFitKernels implements AffineFitKernels {
    private static final ScalarAffineFitKernels SCALAR = new ScalarAffineFitKernels();
    private static final VectorSpecies<Float> F = Species.F;
    private static final VectorSpecies<Integer> I = Species.I;
    private static final int L = F.length();
    private static final boolean FMA = Species.FMA;
    private static final float MAGIC = 12582912f;

    /** Shuffles taking lane (i + h) mod L to lane i, for the pairwise tree of {@link #sum}. */
    private static final VectorShuffle<Float> H8 = rotation(8);
    private static final VectorShuffle<Float> H4 = rotation(4);
    private static final VectorShuffle<Float> H2 = rotation(2);
    private static final VectorShuffle<Float> H1 = rotation(1);

    private static VectorShuffle<Float> rotation(int h) {
        int[] idx = new int[L];
        for (int i = 0; i < L; i++) {
            idx[i] = (i + h) % L;
        }
        return VectorShuffle.fromArray(F, idx, 0);
    }

    /**
     * The lanes' sum by a fixed pairwise tree (lane i + lane i + L/2, then + L/4, ...). Not {@code reduceLanes(ADD)}:
     * the Vector API leaves its order open, and it does differ between interpreted and C2-compiled code, which would
     * make a quantizer's choices depend on JIT timing (and so on the thread count).
     */
    private static float sum(FloatVector v) {
        if (L >= 16) {
            v = v.add(v.rearrange(H8));
        }
        if (L >= 8) {
            v = v.add(v.rearrange(H4));
        }
        v = v.add(v.rearrange(H2));
        v = v.add(v.rearrange(H1));
        return v.lane(0);
    }

    /**
     * min(max(t, lo), hi) for non-NaN bounds by compare and blend: the same value as Math's min/max wherever they can
     * differ in a way that matters here (a NaN t stays NaN; −0.0 against a bound 0.0 may stay −0.0, which rounds to
     * the same integer), and much cheaper than the Vector API's MIN/MAX, which must order −0.0 and NaN as Math does.
     */
    private static FloatVector clamp(FloatVector t, FloatVector lo, FloatVector hi) {
        FloatVector a = t.blend(lo, t.compare(VectorOperators.LT, lo));
        return a.blend(hi, a.compare(VectorOperators.GT, hi));
    }

    /** A float's bits as an int whose signed order is the float order (−0.0 below +0.0); an involution. */
    private static int key(int bits) {
        return bits ^ ((bits >> 31) & 0x7FFF_FFFF);
    }

    private static IntVector key(IntVector bits) {
        return bits.lanewise(VectorOperators.ASHR, 31).and(0x7FFF_FFFF).lanewise(VectorOperators.XOR, bits);
    }

    /**
     * Min and max in the integer domain of {@link #key}: one integer MIN and MAX per vector, where float MIN/MAX need
     * NaN and −0.0 fix-ups. Equal to Math.min/max for every non-NaN input; a NaN (its key lies beyond ±∞'s) comes out
     * as lo or hi (or both), which is all the contract promises.
     */
    @Override
    public void groupMinMax(float[] w, int off, int n, int group, float[] lo, float[] hi, int gOff) {
        if (group < L) {
            SCALAR.groupMinMax(w, off, n, group, lo, hi, gOff);
            return;
        }
        int bound = F.loopBound(group);
        for (int k = 0, groups = n / group; k < groups; k++) {
            int base = off + k * group;
            IntVector k0 = key(FloatVector.fromArray(F, w, base).reinterpretAsInts());
            IntVector mn = k0;
            IntVector mx = k0;
            int i = L;
            for (; i < bound; i += L) {
                IntVector x = key(FloatVector.fromArray(F, w, base + i).reinterpretAsInts());
                mn = mn.min(x);
                mx = mx.max(x);
            }
            int a = mn.reduceLanes(VectorOperators.MIN);
            int b = mx.reduceLanes(VectorOperators.MAX);
            for (; i < group; i++) {
                int x = key(Float.floatToRawIntBits(w[base + i]));
                a = Math.min(a, x);
                b = Math.max(b, x);
            }
            lo[gOff + k] = Float.intBitsToFloat(key(a));
            hi[gOff + k] = Float.intBitsToFloat(key(b));
        }
    }

    @Override
    public void quantizeGroups(float[] w, int off, int n, int group, float[] scales, int[] zeros, int zero, int gOff,
            int bits, int[] codes, int cOff, float[] err) {
        if (group < L) {
            SCALAR.quantizeGroups(w, off, n, group, scales, zeros, zero, gOff, bits, codes, cOff, err);
            return;
        }
        int maxq = (1 << bits) - 1;
        int bound = F.loopBound(group);
        float[] tailScale = new float[1];
        float[] tailErr = new float[1];
        for (int k = 0, groups = n / group; k < groups; k++) {
            float s = scales[gOff + k];
            int z = zeros == null ? zero : zeros[gOff + k];
            float lo = -z;
            float hi = maxq - z;
            FloatVector vs = FloatVector.broadcast(F, s);
            FloatVector vlo = FloatVector.broadcast(F, lo);
            FloatVector vhi = FloatVector.broadcast(F, hi);
            IntVector vz = IntVector.broadcast(I, z);
            FloatVector acc = FloatVector.zero(F);
            int base = off + k * group;
            int cb = cOff + k * group;
            int i = 0;
            for (; i < bound; i += L) {
                FloatVector x = FloatVector.fromArray(F, w, base + i);
                FloatVector r = clamp(x.div(vs), vlo, vhi).add(MAGIC).sub(MAGIC);
                FloatVector d = x.sub(vs.mul(r));
                acc = FMA ? d.fma(d, acc) : d.mul(d).add(acc);
                ((IntVector) r.convert(VectorOperators.F2I, 0)).add(vz).intoArray(codes, cb + i);
            }
            float sum = sum(acc);
            if (i < group) { // the tail: the scalar twin's loop on the last group·mod·L elements, added after
                tailScale[0] = s;
                SCALAR.quantizeGroups(w, base + i, group - i, group - i, tailScale, null, z, 0, bits, codes, cb + i,
                        tailErr);
                sum += tailErr[0];
            }
            err[gOff + k] = sum;
        }
    }

    @Override
    public float squaredError(float[] w, int off, int n, float s, int z, int bits) {
        if (n < L) {
            return SCALAR.squaredError(w, off, n, s, z, bits);
        }
        float lo = -z;
        float hi = ((1 << bits) - 1) - z;
        FloatVector vs = FloatVector.broadcast(F, s);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(F, w, off + i);
            FloatVector d = x.sub(vs.mul(clamp(x.div(vs), vlo, vhi).add(MAGIC).sub(MAGIC)));
            acc = FMA ? d.fma(d, acc) : d.mul(d).add(acc);
        }
        return i < n ? sum(acc) + SCALAR.squaredError(w, off + i, n - i, s, z, bits) : sum(acc);
    }

    @Override
    public float weightedSquaredError(float[] w, int off, int n, float s, int z, int bits, float[] h, int hOff) {
        if (n < L) {
            return SCALAR.weightedSquaredError(w, off, n, s, z, bits, h, hOff);
        }
        float lo = -z;
        float hi = ((1 << bits) - 1) - z;
        FloatVector vs = FloatVector.broadcast(F, s);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(F, w, off + i);
            FloatVector d = x.sub(vs.mul(clamp(x.div(vs), vlo, vhi).add(MAGIC).sub(MAGIC)));
            FloatVector hv = FloatVector.fromArray(F, h, hOff + i);
            acc = FMA ? hv.fma(d.mul(d), acc) : hv.mul(d.mul(d)).add(acc);
        }
        return i < n ? sum(acc) + SCALAR.weightedSquaredError(w, off + i, n - i, s, z, bits, h, hOff + i) : sum(acc);
    }

    @Override
    public void steGradient(float[] w, int off, int n, float s, int z, int bits, float[] out) {
        if (n < L) {
            SCALAR.steGradient(w, off, n, s, z, bits, out);
            return;
        }
        float lo = -z;
        float hi = ((1 << bits) - 1) - z;
        FloatVector vs = FloatVector.broadcast(F, s);
        FloatVector vlo = FloatVector.broadcast(F, lo);
        FloatVector vhi = FloatVector.broadcast(F, hi);
        FloatVector ae = FloatVector.zero(F);
        FloatVector ag = FloatVector.zero(F);
        FloatVector az = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(F, w, off + i);
            FloatVector t = x.div(vs);
            // one pair of masks serves the clamp, ∂r and the clamped sum (lo ≤ hi, so t > hi is the same test
            // before and after raising t to lo)
            VectorMask<Float> below = t.compare(VectorOperators.LT, vlo);
            VectorMask<Float> above = t.compare(VectorOperators.GT, vhi);
            FloatVector r = t.blend(vlo, below).blend(vhi, above).add(MAGIC).sub(MAGIC);
            FloatVector e = vs.mul(r).sub(x);
            FloatVector dq = r.sub(t).blend(vlo, below).blend(vhi, above);
            if (FMA) {
                ae = e.fma(e, ae);
                ag = e.fma(dq, ag);
            } else {
                ae = e.mul(e).add(ae);
                ag = e.mul(dq).add(ag);
            }
            az = az.add(FloatVector.zero(F).blend(e, below.or(above)));
        }
        float err = sum(ae);
        float gs = sum(ag);
        float gz = sum(az);
        if (i < n) {
            SCALAR.steGradient(w, off + i, n - i, s, z, bits, out);
            err += out[0];
            gs += out[1];
            gz += out[2];
        }
        out[0] = err;
        out[1] = gs;
        out[2] = gz;
    }

    /** W_e of a vector of errors e (|e| = a) in which some lane exceeds thr: the scalar shrink per lane. */
    private static FloatVector shrink(FloatVector e, FloatVector a, float p, float invBeta, float thr) {
        float[] ev = e.toArray();
        float[] av = a.toArray();
        for (int j = 0; j < L; j++) {
            float aj = av[j];
            float m = aj > thr ? aj - (float) Math.pow(aj, p - 1) * invBeta : 0;
            ev[j] = m > 0 ? Math.copySign(m, ev[j]) : 0;
        }
        return FloatVector.fromArray(F, ev, 0);
    }

    @Override
    public void hqqZeroStep(float[] w, int off, int n, float s, float z, int maxq, float p, float invBeta, float thr,
            float[] out) {
        if (n < L) {
            SCALAR.hqqZeroStep(w, off, n, s, z, maxq, p, invBeta, thr, out);
            return;
        }
        FloatVector vs = FloatVector.broadcast(F, s);
        FloatVector vz = FloatVector.broadcast(F, z);
        FloatVector vmax = FloatVector.broadcast(F, (float) maxq);
        FloatVector vzero = FloatVector.zero(F);
        FloatVector vthr = FloatVector.broadcast(F, thr);
        FloatVector aa = FloatVector.zero(F);
        FloatVector aq = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(F, w, off + i);
            FloatVector q = clamp(x.div(vs).add(vz).add(MAGIC).sub(MAGIC), vzero, vmax);
            FloatVector e = x.sub(vs.mul(q.sub(vz)));
            FloatVector a = e.abs();
            aa = aa.add(a);
            FloatVector target = x;
            if (a.compare(VectorOperators.GT, vthr).anyTrue()) {
                target = x.sub(shrink(e, a, p, invBeta, thr));
            }
            aq = aq.add(q.sub(target.div(vs)));
        }
        float abs = sum(aa);
        float acc = sum(aq);
        if (i < n) {
            SCALAR.hqqZeroStep(w, off + i, n - i, s, z, maxq, p, invBeta, thr, out);
            abs += out[0];
            acc += out[1];
        }
        out[0] = abs;
        out[1] = acc;
    }

    @Override
    public void hqqScaleStep(float[] w, int off, int n, float s, int z, int maxq, float p, float invBeta, float thr,
            float[] out) {
        if (n < L) {
            SCALAR.hqqScaleStep(w, off, n, s, z, maxq, p, invBeta, thr, out);
            return;
        }
        FloatVector vs = FloatVector.broadcast(F, s);
        FloatVector vz = FloatVector.broadcast(F, (float) z);
        FloatVector vmax = FloatVector.broadcast(F, (float) maxq);
        FloatVector vzero = FloatVector.zero(F);
        FloatVector vthr = FloatVector.broadcast(F, thr);
        FloatVector an = FloatVector.zero(F);
        FloatVector ad = FloatVector.zero(F);
        FloatVector aa = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(F, w, off + i);
            FloatVector d = clamp(x.div(vs).add(vz).add(MAGIC).sub(MAGIC), vzero, vmax).sub(vz);
            FloatVector e = x.sub(vs.mul(d));
            FloatVector a = e.abs();
            aa = aa.add(a);
            FloatVector target = x;
            if (a.compare(VectorOperators.GT, vthr).anyTrue()) {
                target = x.sub(shrink(e, a, p, invBeta, thr));
            }
            if (FMA) {
                an = target.fma(d, an);
                ad = d.fma(d, ad);
            } else {
                an = target.mul(d).add(an);
                ad = d.mul(d).add(ad);
            }
        }
        float num = sum(an);
        float den = sum(ad);
        float abs = sum(aa);
        if (i < n) {
            SCALAR.hqqScaleStep(w, off + i, n - i, s, z, maxq, p, invBeta, thr, out);
            num += out[0];
            den += out[1];
            abs += out[2];
        }
        out[0] = num;
        out[1] = den;
        out[2] = abs;
    }

    @Override
    public float absError(float[] w, int off, int n, float s, float z, int maxq) {
        if (n < L) {
            return SCALAR.absError(w, off, n, s, z, maxq);
        }
        FloatVector vs = FloatVector.broadcast(F, s);
        FloatVector vz = FloatVector.broadcast(F, z);
        FloatVector vmax = FloatVector.broadcast(F, (float) maxq);
        FloatVector vzero = FloatVector.zero(F);
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(F, w, off + i);
            FloatVector q = clamp(x.div(vs).add(vz).add(MAGIC).sub(MAGIC), vzero, vmax);
            acc = acc.add(x.sub(vs.mul(q.sub(vz))).abs());
        }
        return i < n ? sum(acc) + SCALAR.absError(w, off + i, n - i, s, z, maxq) : sum(acc);
    }
}

package lowbit.tensor.simd;

/**
 * The scalar reference for {@link AffineFitKernels}: plain loops, one accumulator, elements in order. The fallback
 * implementation and the twin the Vector API kernels are tested against.
 */
public final class ScalarAffineFitKernels implements AffineFitKernels {
    /** 1.5·2²³: (t + M) − M rounds a float of magnitude &lt; 2²² to an integer, half to even. */
    static final float ROUND_MAGIC = 12582912f;

    /** Creates the (stateless) scalar kernels. */
    public ScalarAffineFitKernels() {
    }

    /** rint(t) for |t| &lt; 2²² (half to even), as (t + 1.5·2²³) − 1.5·2²³. */
    static float rint(float t) {
        return (t + ROUND_MAGIC) - ROUND_MAGIC;
    }

    @Override
    public void groupMinMax(float[] w, int off, int n, int group, float[] lo, float[] hi, int gOff) {
        for (int k = 0, groups = n / group; k < groups; k++) {
            float mn = Float.POSITIVE_INFINITY;
            float mx = Float.NEGATIVE_INFINITY;
            for (int i = off + k * group, e = i + group; i < e; i++) {
                mn = Math.min(mn, w[i]);
                mx = Math.max(mx, w[i]);
            }
            lo[gOff + k] = mn;
            hi[gOff + k] = mx;
        }
    }

    @Override
    public void quantizeGroups(float[] w, int off, int n, int group, float[] scales, int[] zeros, int zero, int gOff,
            int bits, int[] codes, int cOff, float[] err) {
        int maxq = (1 << bits) - 1;
        for (int k = 0, groups = n / group; k < groups; k++) {
            float s = scales[gOff + k];
            int z = zeros == null ? zero : zeros[gOff + k];
            float lo = -z;
            float hi = maxq - z;
            float acc = 0;
            for (int i = k * group, e = i + group; i < e; i++) {
                float x = w[off + i];
                float r = rint(Math.min(Math.max(x / s, lo), hi));
                codes[cOff + i] = (int) r + z;
                float d = x - s * r;
                acc += d * d;
            }
            err[gOff + k] = acc;
        }
    }

    @Override
    public float squaredError(float[] w, int off, int n, float s, int z, int bits) {
        float lo = -z;
        float hi = ((1 << bits) - 1) - z;
        float acc = 0;
        for (int i = off, e = off + n; i < e; i++) {
            float x = w[i];
            float d = x - s * rint(Math.min(Math.max(x / s, lo), hi));
            acc += d * d;
        }
        return acc;
    }

    @Override
    public float weightedSquaredError(float[] w, int off, int n, float s, int z, int bits, float[] h, int hOff) {
        float lo = -z;
        float hi = ((1 << bits) - 1) - z;
        float acc = 0;
        for (int i = 0; i < n; i++) {
            float x = w[off + i];
            float d = x - s * rint(Math.min(Math.max(x / s, lo), hi));
            acc += h[hOff + i] * (d * d);
        }
        return acc;
    }

    @Override
    public void steGradient(float[] w, int off, int n, float s, int z, int bits, float[] out) {
        float lo = -z;
        float hi = ((1 << bits) - 1) - z;
        float err = 0;
        float gs = 0;
        float gz = 0;
        for (int i = off, end = off + n; i < end; i++) {
            float x = w[i];
            float t = x / s;
            float r = rint(Math.min(Math.max(t, lo), hi));
            float e = s * r - x;
            err += e * e;
            if (t < lo) {
                gs += e * lo;
                gz += e;
            } else if (t > hi) {
                gs += e * hi;
                gz += e;
            } else {
                gs += e * (r - t);
            }
        }
        out[0] = err;
        out[1] = gs;
        out[2] = gz;
    }

    /** HQQ's generalized soft threshold of e (|e| = a), 0 at or below thr. */
    static float shrink(float e, float a, float p, float invBeta, float thr) {
        if (!(a > thr)) {
            return 0;
        }
        float m = a - (float) Math.pow(a, p - 1) * invBeta;
        return m > 0 ? Math.copySign(m, e) : 0;
    }

    @Override
    public void hqqZeroStep(float[] w, int off, int n, float s, float z, int maxq, float p, float invBeta, float thr,
            float[] out) {
        float abs = 0;
        float acc = 0;
        for (int i = off, end = off + n; i < end; i++) {
            float x = w[i];
            float q = Math.min(Math.max(rint(x / s + z), 0), maxq);
            float e = x - s * (q - z);
            float a = Math.abs(e);
            abs += a;
            acc += q - (x - shrink(e, a, p, invBeta, thr)) / s;
        }
        out[0] = abs;
        out[1] = acc;
    }

    @Override
    public void hqqScaleStep(float[] w, int off, int n, float s, int z, int maxq, float p, float invBeta, float thr,
            float[] out) {
        float num = 0;
        float den = 0;
        float abs = 0;
        for (int i = off, end = off + n; i < end; i++) {
            float x = w[i];
            float d = Math.min(Math.max(rint(x / s + z), 0), maxq) - z;
            float e = x - s * d;
            float a = Math.abs(e);
            num += (x - shrink(e, a, p, invBeta, thr)) * d;
            den += d * d;
            abs += a;
        }
        out[0] = num;
        out[1] = den;
        out[2] = abs;
    }

    @Override
    public float absError(float[] w, int off, int n, float s, float z, int maxq) {
        float acc = 0;
        for (int i = off, end = off + n; i < end; i++) {
            float x = w[i];
            float q = Math.min(Math.max(rint(x / s + z), 0), maxq);
            acc += Math.abs(x - s * (q - z));
        }
        return acc;
    }
}

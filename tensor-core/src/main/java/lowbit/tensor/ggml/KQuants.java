package lowbit.tensor.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import lowbit.tensor.simd.ScalarGgmlKernels;
import lowbit.tensor.simd.ScalarKQuantKernels;

/**
 * The pieces ggml's k-quant reference encoders share ({@code ggml-quants.c}): the {@code nearest_int} rounding, the
 * scale searches {@code make_qkx2_quants} (Q2_K, Q4_K, Q5_K), {@code make_qx_quants} (Q6_K) and
 * {@code make_q3_quants} (Q3_K), and the 6-bit scale/minimum packing of Q4_K/Q5_K ({@code get_scale_min_k4}).
 *
 * <p>Every float operation is written in the reference's source order with float (binary32) intermediates, and
 * nothing is fused: that is ggml's {@code ggml-base} as compiled for x86-64 (SSE2, no FMA contraction), so the bytes
 * match it for every input. Code arrays hold ints; callers pack them.
 */
final class KQuants {
    /** ggml's {@code GROUP_MAX_EPS}: a group with max |x| below it counts as all zero. */
    static final float GROUP_MAX_EPS = 1e-15f;

    private KQuants() {
    }

    /** ggml's {@code nearest_int} (see {@link ScalarKQuantKernels#nearestInt}). */
    static int nearestInt(float f) {
        return ScalarKQuantKernels.nearestInt(f);
    }

    /** fp16 bits of {@code f} as ggml's {@code GGML_FP32_TO_FP16}: round to nearest even, NaN becomes sign|0x7E00. */
    static short fp16(float f) {
        if (Float.isNaN(f)) {
            return (short) ((Float.floatToRawIntBits(f) >>> 16 & 0x8000) | 0x7E00);
        }
        return Float.floatToFloat16(f);
    }

    /** Stores {@code f} as fp16 at byte {@code off} of {@code dst} (ggml's rounding) and returns the stored value. */
    static float putF16(MemorySegment dst, long off, float f) {
        short h = fp16(f);
        dst.set(ScalarGgmlKernels.F16_LE, off, h);
        return Float.float16ToFloat(h);
    }

    static void putByte(MemorySegment dst, long off, int v) {
        dst.set(ValueLayout.JAVA_BYTE, off, (byte) v);
    }

    static int getByte(MemorySegment src, long off) {
        return src.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    /**
     * {@code make_qkx2_quants}: an asymmetric n-element group x ≈ scale·L − min with 0 &le; L &le; nmax and the
     * minimum clipped to &le; 0. Starts from the range (min, max), then tries nstep + 1 inverse scales
     * (rmin + rdelta·is + nmax)/(max − min), is = 0..nstep, solving the weighted least-squares scale and offset for each
     * code assignment and keeping the one of least weighted error (|diff| with {@code useMad}, else diff²).
     *
     * @param x     the group, {@code x[xo, xo+n)}
     * @param w     the weights, {@code w[0, n)}
     * @param codes receives the codes at {@code codes[co, co+n)}
     * @param aux   scratch of at least n ints
     * @param minOut receives −min (&ge; 0 up to its sign) at {@code minOut[mo]}
     * @return the scale
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] w, int[] codes, int co, float[] minOut,
            int mo, int[] aux, float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[xo];
        float max = x[xo];
        float sumW = w[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float xi = x[xo + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float wi = w[i];
            sumW += wi;
            sumX += wi * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; i++) {
                codes[co + i] = 0;
            }
            minOut[mo] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = nearestInt(iscale * (x[xo + i] - min));
            int c = Math.max(0, Math.min(nmax, l));
            codes[co + i] = c;
            float diff = scale * c + min - x[xo + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += w[i] * diff;
        }
        if (nstep < 1) {
            minOut[mo] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; i++) {
                int l = nearestInt(iscale * (x[xo + i] - min));
                l = Math.max(0, Math.min(nmax, l));
                aux[i] = l;
                float wi = w[i];
                sumL += wi * l;
                sumL2 += wi * l * l;
                sumXl += wi * l * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * aux[i] + thisMin - x[xo + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += w[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(aux, 0, codes, co, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        minOut[mo] = -min;
        return scale;
    }

    /**
     * {@code make_qx_quants} with {@code rmse_type = 1} and no importance weights (what Q6_K's reference uses): a
     * symmetric group x ≈ scale·(L − nmax), L in [0, 2·nmax), from the signed value of largest |x| (first on ties).
     * Tries inverse scales −(nmax + 0.1·is)/max for is = −9..9 with weights x², keeping the least-squares scale of the
     * best one. A group with max |x| &lt; {@link #GROUP_MAX_EPS} gets codes 0 (not nmax) and scale 0.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, int[] codes, int co) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) {
                codes[co + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            codes[co + i] = l + nmax;
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) {
                    int l = nearestInt(iscale * x[xo + i]);
                    codes[co + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /**
     * {@code make_q3_quants} with {@code do_rmse = true} (Q3_K's reference): codes l in [−nmax, nmax) from
     * −nmax/max, then up to 5 passes that move single codes to x·Σ'l²/Σ'lx (Σ' without the element) when that
     * raises (Σlx)²/Σl², weights x². Returns Σlx/Σl² and stores l + nmax; an all-zero group stores 0 and returns 0.
     */
    static float makeQ3Quants(int n, int nmax, float[] x, int xo, int[] codes, int co) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) {
                codes[co + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            codes[co + i] = l;
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; itry++) {
            int changed = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                float w = xi * xi;
                int li = codes[co + i];
                float slx = sumlx - w * xi * li;
                if (slx > 0) {
                    float sl2 = suml2 - w * li * li;
                    int nl = nearestInt(xi * sl2 / slx);
                    nl = Math.max(-nmax, Math.min(nmax - 1, nl));
                    if (nl != li) {
                        slx += w * xi * nl;
                        sl2 += w * nl * nl;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                            codes[co + i] = nl;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) {
                break;
            }
        }
        for (int i = 0; i < n; i++) {
            codes[co + i] += nmax;
        }
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }

    /**
     * Q4_K/Q5_K's 12 scale bytes from 8 six-bit scales and mins: for j &lt; 4, byte j = sc_j and byte j+4 = m_j (low 6
     * bits); for j &ge; 4, byte j+4 = (sc_j &amp; 15) | (m_j &amp; 15) &lt;&lt; 4, and the top two bits of sc_j and
     * m_j go to bits 6..7 of bytes j−4 and j.
     */
    static void packScaleMinK4(int[] sc, int[] m, MemorySegment dst, long off) {
        int[] s = new int[12];
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                s[j] = sc[j];
                s[j + 4] = m[j];
            } else {
                s[j + 4] = (sc[j] & 0xF) | ((m[j] & 0xF) << 4);
                s[j - 4] |= (sc[j] >> 4) << 6;
                s[j] |= (m[j] >> 4) << 6;
            }
        }
        for (int i = 0; i < 12; i++) {
            putByte(dst, off + i, s[i]);
        }
    }
}

package lowbit.quant;

/**
 * A plain, slow float64 GPTQ written from the published algorithm (Frantar et al. 2022, Algorithm 1, and the
 * reference implementation's {@code fasterquant}): every matrix in double, textbook triple loops, H⁻¹ formed
 * explicitly by Cholesky, triangular inversion and the product L⁻ᵀL⁻¹ ({@code torch.cholesky_inverse}), then its upper
 * Cholesky factor, and the lazy block updates. The group quantizer is the reference's {@code find_params}: asymmetric
 * min/max with 0 forced into the range (or symmetric s = 2·max|w|/maxq), z = round(−lo/s), q = clamp(round(w/s) + z,
 * 0, maxq), round half to even. Groups are fitted, as in the reference, to W's columns as they stand (the block's
 * columns hold their values from the start of the block).
 *
 * <p>Used by the tests (lowbit's GPTQ must match its output error) and by the JMH benchmark as the baseline. Not part
 * of the library.
 */
public final class GptqReference {
    private GptqReference() {
    }

    /**
     * Ŵ (dequantized, natural column order) of GPTQ on W [rows, cols] with proxy Hessian H [cols, cols].
     *
     * @param groupSize g, or −1 for one group per row (fitted to the original row)
     */
    public static float[] quantize(float[] w0, int rows, int cols, double[] h0, int bits, int groupSize, boolean sym,
            boolean actOrder, double percDamp, int blockSize) {
        int n = cols;
        int maxq = (1 << bits) - 1;
        double[] w = new double[rows * n];
        for (int i = 0; i < w.length; i++) {
            w[i] = w0[i];
        }
        double[] h = h0.clone();
        double[][] rowParams = null;
        if (groupSize == -1) {
            rowParams = new double[rows][];
            for (int r = 0; r < rows; r++) {
                rowParams[r] = findParams(w, r * n, n, maxq, sym);
            }
        }
        for (int j = 0; j < n; j++) {
            if (h[j * n + j] == 0) {
                h[j * n + j] = 1;
                for (int r = 0; r < rows; r++) {
                    w[r * n + j] = 0;
                }
            }
        }
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        if (actOrder) {
            Integer[] idx = new Integer[n];
            for (int i = 0; i < n; i++) {
                idx[i] = i;
            }
            double[] d = new double[n];
            for (int i = 0; i < n; i++) {
                d[i] = h[i * n + i];
            }
            java.util.Arrays.sort(idx, (a, b) -> Double.compare(d[b], d[a])); // stable: ties keep index order
            for (int i = 0; i < n; i++) {
                perm[i] = idx[i];
            }
            double[] wp = new double[w.length];
            double[] hp = new double[h.length];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < n; i++) {
                    wp[r * n + i] = w[r * n + perm[i]];
                }
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    hp[i * n + j] = h[perm[i] * n + perm[j]];
                }
            }
            w = wp;
            h = hp;
        }
        double mean = 0;
        for (int i = 0; i < n; i++) {
            mean += h[i * n + i];
        }
        double damp = percDamp * mean / n;
        for (int i = 0; i < n; i++) {
            h[i * n + i] += damp;
        }
        double[] l = cholesky(h, n);
        double[] linv = invertLower(l, n);
        double[] hinv = new double[n * n]; // L⁻ᵀ·L⁻¹
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = Math.max(i, j); k < n; k++) {
                    s += linv[k * n + i] * linv[k * n + j];
                }
                hinv[i * n + j] = s;
            }
        }
        double[] lu = cholesky(hinv, n); // Hinv = lu·luᵀ, U = luᵀ
        double[] u = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                u[i * n + j] = lu[j * n + i];
            }
        }
        double[] q = new double[rows * n];
        double[][] params = new double[rows][];
        for (int i1 = 0; i1 < n; i1 += blockSize) {
            int i2 = Math.min(n, i1 + blockSize);
            int count = i2 - i1;
            double[] w1 = new double[rows * count];
            double[] err1 = new double[rows * count];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(w, r * n + i1, w1, r * count, count);
            }
            for (int i = 0; i < count; i++) {
                double d = u[(i1 + i) * n + i1 + i];
                if (groupSize != -1 && (i1 + i) % groupSize == 0) {
                    for (int r = 0; r < rows; r++) {
                        params[r] = findParams(w, r * n + i1 + i, Math.min(groupSize, n - i1 - i), maxq, sym);
                    }
                }
                for (int r = 0; r < rows; r++) {
                    double[] p = groupSize == -1 ? rowParams[r] : params[r];
                    double x = w1[r * count + i];
                    double qq = Math.min(Math.max(Math.rint(x / p[0]) + p[1], 0), maxq);
                    double deq = p[0] * (qq - p[1]);
                    q[r * n + i1 + i] = deq;
                    double e = (x - deq) / d;
                    for (int j = i; j < count; j++) {
                        w1[r * count + j] -= e * u[(i1 + i) * n + i1 + j];
                    }
                    err1[r * count + i] = e;
                }
            }
            for (int r = 0; r < rows; r++) {
                for (int j = i2; j < n; j++) {
                    double s = 0;
                    for (int k = 0; k < count; k++) {
                        s += err1[r * count + k] * u[(i1 + k) * n + j];
                    }
                    w[r * n + j] -= s;
                }
            }
        }
        float[] out = new float[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < n; i++) {
                out[r * n + perm[i]] = (float) q[r * n + i];
            }
        }
        return out;
    }

    /** The reference's find_params for one row segment: {scale, zero}. */
    static double[] findParams(double[] w, int off, int len, int maxq, boolean sym) {
        double lo = 0;
        double hi = 0;
        for (int i = 0; i < len; i++) {
            lo = Math.min(lo, w[off + i]);
            hi = Math.max(hi, w[off + i]);
        }
        if (sym) {
            hi = Math.max(Math.abs(lo), hi);
            if (lo < 0) {
                lo = -hi;
            }
        }
        if (lo == 0 && hi == 0) {
            lo = -1;
            hi = 1;
        }
        double scale = (hi - lo) / maxq;
        double zero = sym ? (maxq + 1) / 2.0 : Math.rint(-lo / scale);
        return new double[] {scale, zero};
    }

    /** Lower L with A = L·Lᵀ (textbook, row by row). */
    static double[] cholesky(double[] a, int n) {
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = a[i * n + j];
                for (int k = 0; k < j; k++) {
                    s -= l[i * n + k] * l[j * n + k];
                }
                if (i == j) {
                    if (!(s > 0)) {
                        throw new ArithmeticException("reference Cholesky: pivot " + i + " = " + s);
                    }
                    l[i * n + i] = Math.sqrt(s);
                } else {
                    l[i * n + j] = s / l[j * n + j];
                }
            }
        }
        return l;
    }

    /** L⁻¹ for lower L (forward substitution per column). */
    static double[] invertLower(double[] l, int n) {
        double[] x = new double[n * n];
        for (int j = 0; j < n; j++) {
            x[j * n + j] = 1 / l[j * n + j];
            for (int i = j + 1; i < n; i++) {
                double s = 0;
                for (int k = j; k < i; k++) {
                    s += l[i * n + k] * x[k * n + j];
                }
                x[i * n + j] = -s / l[i * n + i];
            }
        }
        return x;
    }

    /** ‖X·(W − Ŵ)ᵀ‖² / N = ½·Σ_r Δ_r·H·Δ_rᵀ, in double. */
    public static double outputError(float[] w, float[] wq, int rows, int cols, double[] h) {
        double total = 0;
        double[] d = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                d[c] = (double) w[r * cols + c] - wq[r * cols + c];
            }
            for (int i = 0; i < cols; i++) {
                if (d[i] == 0) {
                    continue;
                }
                double s = 0;
                for (int j = 0; j < cols; j++) {
                    s += h[i * cols + j] * d[j];
                }
                total += d[i] * s;
            }
        }
        return total / 2;
    }

    /** ‖X·Wᵀ‖² / N = ½·Σ_r w_r·H·w_rᵀ (the denominator of the relative output error). */
    public static double outputEnergy(float[] w, int rows, int cols, double[] h) {
        return outputError(w, new float[w.length], rows, cols, h);
    }
}

package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.simd.AffineKernels;

/**
 * Random {@link GroupwiseAffine} instances and the reference computed from the definition Ŵ[r, c] = s·(q − z) with
 * the scale/zero grid of {@link AffineSpec} (indices worked out here, independently of the layout's own code).
 */
final class AffineTesting {
    private AffineTesting() {
    }

    /** A random instance: codes uniform, scales of both signs over a few binades, zero points uniform. */
    record Instance(int rows, int cols, AffineSpec spec, int[] codes, float[] scales, int[] zeros, int[] gIdx) {
        GroupwiseAffine build() {
            return GroupwiseAffine.of(rows, cols, spec, codes, scales, zeros, gIdx, null);
        }

        /** Grid index of W[r, c], from the table in AffineSpec's javadoc. */
        int grid(int r, int c) {
            return switch (spec.granularity()) {
                case PER_TENSOR -> 0;
                case PER_OUTPUT_CHANNEL -> r;
                case PER_INPUT_CHANNEL -> c;
                case GROUP_ALONG_IN -> r * (cols / spec.groupSize()) + (gIdx != null ? gIdx[c] : c / spec.groupSize());
                case GROUP_ALONG_OUT -> (r / spec.groupSize()) * cols + c;
            };
        }

        /** The stored scale of W[r, c]: the given one, F16-rounded for F16 specs. */
        float scale(int r, int c) {
            float s = scales[grid(r, c)];
            return spec.scaleType() == DType.F16 ? Float.float16ToFloat(Float.floatToFloat16(s)) : s;
        }

        int zero(int r, int c) {
            return zeros == null ? 1 << (spec.bits() - 1) : zeros[grid(r, c)];
        }

        /** Ŵ in float, fl(s·(q − z)). */
        float[] weights() {
            float[] w = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    w[r * cols + c] = scale(r, c) * (codes[r * cols + c] - zero(r, c));
                }
            }
            return w;
        }

        /** Groups per row as the layout's error bound counts them (the scale grid's columns). */
        int groupsPerRow() {
            return spec.scaleCols(cols);
        }
    }

    static Instance random(Random rnd, int rows, int cols, AffineSpec spec, boolean actOrder) {
        int sr = spec.scaleRows(rows);
        int sc = spec.scaleCols(cols);
        int[] codes = new int[rows * cols];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = rnd.nextInt(spec.maxCode() + 1);
        }
        float[] scales = new float[sr * sc];
        for (int i = 0; i < scales.length; i++) {
            float s = (rnd.nextFloat() + 0.05f) * (float) Math.pow(2, rnd.nextInt(7) - 9);
            scales[i] = rnd.nextInt(8) == 0 ? -s : s;
        }
        int[] zeros = null;
        if (!spec.symmetric()) {
            zeros = new int[sr * sc];
            for (int i = 0; i < zeros.length; i++) {
                zeros[i] = rnd.nextInt(spec.maxCode() + 1);
            }
        }
        int[] gIdx = null;
        if (actOrder) {
            int g = spec.groupSize();
            int[] perm = new int[cols];
            for (int i = 0; i < cols; i++) {
                perm[i] = i;
            }
            for (int i = cols - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            gIdx = new int[cols];
            for (int i = 0; i < cols; i++) {
                gIdx[perm[i]] = i / g; // GPTQ's desc_act: the i-th column in quantization order is in group i / g
            }
        }
        return new Instance(rows, cols, spec, codes, scales, zeros, gIdx);
    }

    static float[] gaussian(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /**
     * Asserts {@code y[i·rows + r] ≈ Σ_c W[r, c]·x[i·cols + c]} (+ bias) for every X row i, within γ_m·Σ|terms| with
     * m = cols + groups + 3 (the bound GroupwiseAffine documents; a dense product of the float Ŵ has the smaller
     * γ_(cols+1)), against an exact double evaluation of s·(q − z)·x; for the 4-bit groups path (zero point out of the
     * code sum) the terms are |s·x|·(q + z), as documented there.
     */
    static void assertProduct(Instance in, float[] x, int n, float[] bias, float[] y, String what) {
        int rows = in.rows();
        int cols = in.cols();
        int m = cols + in.groupsPerRow() + 3 + (bias == null ? 0 : 1);
        double gamma = m * 0x1p-24 / (1 - m * 0x1p-24);
        AffineSpec.Granularity g = in.spec().granularity();
        int group = g == AffineSpec.Granularity.GROUP_ALONG_IN ? in.spec().groupSize() : cols;
        // 4-bit groups of 32k columns (GEMV, GEMM of <= 8 rows): the zero point leaves the code sum, bound with q + z
        boolean nibble = n <= 8 && in.gIdx() == null && AffineKernels.nibbleGroups(in.spec().bits(), cols, group)
                && (g == AffineSpec.Granularity.GROUP_ALONG_IN || g == AffineSpec.Granularity.PER_TENSOR
                        || g == AffineSpec.Granularity.PER_OUTPUT_CHANNEL);
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < rows; r++) {
                double exact = bias == null ? 0 : bias[r];
                double abs = Math.abs(exact);
                for (int c = 0; c < cols; c++) {
                    int q = in.codes()[r * cols + c];
                    double t = (double) in.scale(r, c) * (q - in.zero(r, c)) * x[i * cols + c];
                    exact += t;
                    abs += nibble ? Math.abs((double) in.scale(r, c) * x[i * cols + c]) * (q + in.zero(r, c))
                            : Math.abs(t);
                }
                assertThat((double) y[i * rows + r]).as("%s: Y[%d, %d]", what, i, r)
                        .isCloseTo(exact, org.assertj.core.data.Offset.offset(gamma * abs + Float.MIN_NORMAL));
            }
        }
    }
}

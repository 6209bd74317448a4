package lowbit.quant;

import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.ggml.Q8_0;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;

/**
 * ggml blocks as targets of the group-wise quantizers (GPTQ above all). ggml's Q4_0 and Q8_0 are group-wise affine
 * grids with one fp16 scale per 32 consecutive weights of a row and a fixed zero point:
 * <ul>
 *   <li>Q4_0: w = d·(q − 8), q ∈ [0, 15] — the 4-bit symmetric spec with groups of 32 and F16 scales
 *       ({@link #Q4_0_SPEC}); ggml's own scale rule is d = max/−8 for the block's signed value of largest |w|,
 *       {@link Gptq.Range#Q4_0};</li>
 *   <li>Q8_0: w = d·q', q' ∈ [−127, 127] (int8) — the 8-bit symmetric spec, q = q' + 128 ({@link #Q8_0_SPEC}); ggml's
 *       scale rule d = amax/127 is {@link Gptq.Range#MAX_ABS}.</li>
 * </ul>
 * <b>What "the scale rule allows" means.</b> The block's scale is a function of the block's 32 weights only and the
 * codes are free given the scale, so a quantizer that visits a row's columns in order can fix d when the block starts
 * — GPTQ computes it from the already error-compensated weights, exactly as for any group — and then choose every
 * code with error feedback. The result is a valid Q4_0/Q8_0 tensor (any ggml reader decodes it; {@link #toQ4_0} and
 * {@link #toQ8_0} write the block bytes), but not what ggml's own quantizer makes from W: GPTQ's codes differ by
 * design. Act-order with dynamic groups is not allowed (ggml has no g_idx: a block is 32 consecutive columns), nor
 * are outliers; act-order with static groups is. Q4_1/Q5_x follow the same pattern (d and m per block) but are not
 * wired; the K-quants choose quantized sub-block scales by a search over a 256-weight super-block, which this
 * per-group scheme does not reproduce.
 */
public final class GgmlTargets {
    /** Q4_0's grid: u4 symmetric (z = 8), groups of 32 along in, F16 scales. */
    public static final AffineSpec Q4_0_SPEC = new AffineSpec(4, true, AffineSpec.Granularity.GROUP_ALONG_IN, 32,
            DType.F16);
    /** Q8_0's grid: u8 symmetric (z = 128), groups of 32 along in, F16 scales. */
    public static final AffineSpec Q8_0_SPEC = new AffineSpec(8, true, AffineSpec.Granularity.GROUP_ALONG_IN, 32,
            DType.F16);

    private GgmlTargets() {
    }

    /** GPTQ options that produce Q4_0 blocks: {@code base} with ggml's Q4_0 scale rule. */
    public static Gptq.Options q4_0(Gptq.Options base) {
        return base.withRange(Gptq.Range.Q4_0);
    }

    /** GPTQ options that produce Q8_0 blocks: {@code base} with d = amax/127. */
    public static Gptq.Options q8_0(Gptq.Options base) {
        return base.withRange(Gptq.Range.MAX_ABS);
    }

    private static void check(GroupwiseAffine m, AffineSpec expected, String format) {
        Objects.requireNonNull(m, "matrix");
        if (!m.spec().equals(expected)) {
            throw new IllegalArgumentException(format + " needs " + expected.describe() + ", got " + m.spec().describe());
        }
        if (m.gIdx() != null) {
            throw new IllegalArgumentException(format + " has no g_idx: use static groups with act-order");
        }
        if (!m.outliers().isEmpty()) {
            throw new IllegalArgumentException(format + " cannot hold " + m.outliers().count() + " exact outliers");
        }
    }

    /**
     * The Q4_0 bytes of m (rows·cols/32 blocks of 18 bytes, row by row: fp16 d, then element j in the low nibble of
     * byte j and element j + 16 in its high nibble).
     *
     * @throws IllegalArgumentException when m is not {@link #Q4_0_SPEC}, has g_idx or outliers
     */
    public static byte[] toQ4_0(GroupwiseAffine m) {
        check(m, Q4_0_SPEC, "Q4_0");
        int rows = m.rows();
        int cols = m.cols();
        int blocks = cols / Q4_0.BLOCK_SIZE;
        byte[] out = new byte[Math.toIntExact((long) rows * Q4_0.rowBytes(cols))];
        int[] q = m.codes();
        float[] s = m.scales();
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                int o = (r * blocks + b) * Q4_0.BLOCK_BYTES;
                short d = Fp16.fromFloat(s[r * blocks + b]);
                out[o] = (byte) d;
                out[o + 1] = (byte) (d >> 8);
                int c = r * cols + b * 32;
                for (int j = 0; j < 16; j++) {
                    out[o + 2 + j] = (byte) (q[c + j] | q[c + j + 16] << 4);
                }
            }
        }
        return out;
    }

    /**
     * The Q8_0 bytes of m (rows·cols/32 blocks of 34 bytes: fp16 d, then 32 int8 codes q − 128).
     *
     * @throws IllegalArgumentException when m is not {@link #Q8_0_SPEC}, has g_idx or outliers
     */
    public static byte[] toQ8_0(GroupwiseAffine m) {
        check(m, Q8_0_SPEC, "Q8_0");
        int rows = m.rows();
        int cols = m.cols();
        int blocks = cols / Q8_0.BLOCK_SIZE;
        byte[] out = new byte[Math.toIntExact((long) rows * Q8_0.rowBytes(cols))];
        int[] q = m.codes();
        float[] s = m.scales();
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                int o = (r * blocks + b) * Q8_0.BLOCK_BYTES;
                short d = Fp16.fromFloat(s[r * blocks + b]);
                out[o] = (byte) d;
                out[o + 1] = (byte) (d >> 8);
                int c = r * cols + b * 32;
                for (int j = 0; j < 32; j++) {
                    out[o + 2 + j] = (byte) (q[c + j] - 128);
                }
            }
        }
        return out;
    }
}

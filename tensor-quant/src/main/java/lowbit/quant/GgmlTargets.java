package lowbit.quant;

import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.ggml.Q4_0;
import lowbit.tensor.ggml.Q4_1;
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
 * are outliers; act-order with static groups is. Groups larger than a block (g = 128: GPTQ's usual setting) are
 * written as g/32 blocks that repeat the group's scale. An asymmetric 4-bit grid is written as Q4_1 (d·q + m with
 * m = −s·z, {@link #toQ4_1}); Q5_x follow the same pattern but are not wired; the K-quants choose quantized
 * sub-block scales by a search over a 256-weight super-block, which this per-group scheme does not reproduce.
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

    /**
     * Whether {@code spec} can be written as blocks of a 32-weight ggml type with {@code bits} bits: the right width
     * and symmetry, F16 scales, and every 32-weight block inside one group (groups along in of a multiple of 32, or
     * one scale per row). A group of g = 32k is written as k blocks that repeat its scale (and minimum), so the
     * blocks decode to the same weights while the file costs the type's 32-block size.
     *
     * @return null when it fits, else why not
     */
    public static String misfit(AffineSpec spec, int bits, boolean symmetric, String format) {
        Objects.requireNonNull(spec, "spec");
        if (spec.bits() != bits || spec.symmetric() != symmetric) {
            return format + " needs " + bits + "-bit " + (symmetric ? "symmetric" : "asymmetric") + " codes, got "
                    + spec.describe();
        }
        if (spec.scaleType() != DType.F16) {
            return format + " stores F16 scales, got " + spec.describe();
        }
        boolean grouped = spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN
                && spec.groupSize() % BLOCK == 0;
        if (!grouped && spec.granularity() != AffineSpec.Granularity.PER_OUTPUT_CHANNEL) {
            return format + " blocks are 32 consecutive weights of a row: the groups must run along in with a size "
                    + "that is a multiple of 32 (or one scale per row), got " + spec.describe();
        }
        return null;
    }

    private static final int BLOCK = 32;

    private static void check(GroupwiseAffine m, int bits, boolean symmetric, String format) {
        Objects.requireNonNull(m, "matrix");
        String why = misfit(m.spec(), bits, symmetric, format);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
        if (m.cols() % BLOCK != 0) {
            throw new IllegalArgumentException(format + " needs a multiple of 32 columns, got " + m.cols());
        }
        if (m.gIdx() != null) {
            throw new IllegalArgumentException(format + " has no g_idx: use static groups with act-order");
        }
        if (!m.outliers().isEmpty()) {
            throw new IllegalArgumentException(format + " cannot hold " + m.outliers().count() + " exact outliers");
        }
    }

    private static void putF16(byte[] out, int o, short h) {
        out[o] = (byte) h;
        out[o + 1] = (byte) (h >> 8);
    }

    /** Writes block b of row r at byte o; its first weight is element c of the row-major codes. */
    private interface BlockWriter {
        void write(int r, int b, byte[] out, int o, int c);
    }

    /** The rows·cols/32 blocks of {@code blockBytes} bytes of m, row by row. */
    private static byte[] blocks(GroupwiseAffine m, int blockBytes, BlockWriter w) {
        int rows = m.rows();
        int cols = m.cols();
        int blocks = cols / BLOCK;
        byte[] out = new byte[Math.toIntExact((long) rows * blocks * blockBytes)];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                w.write(r, b, out, (r * blocks + b) * blockBytes, r * cols + b * BLOCK);
            }
        }
        return out;
    }

    /** ggml's 4-bit block payload: codes c + j in the low and c + j + 16 in the high nibble of byte o + j. */
    private static void putNibbles(int[] q, int c, byte[] out, int o) {
        for (int j = 0; j < 16; j++) {
            out[o + j] = (byte) (q[c + j] | q[c + j + 16] << 4);
        }
    }

    /**
     * The Q4_0 bytes of m (rows·cols/32 blocks of 18 bytes, row by row: fp16 d, then element j in the low nibble of
     * byte j and element j + 16 in its high nibble). Block b of row r takes d = the scale of W[r, 32b] and the codes
     * unchanged (z = 8 on both sides), so it decodes to exactly m's weights.
     *
     * @throws IllegalArgumentException when m is not 4-bit symmetric with F16 scales and groups of a multiple of 32
     *     (or per row), has g_idx or outliers
     */
    public static byte[] toQ4_0(GroupwiseAffine m) {
        check(m, 4, true, "Q4_0");
        int[] q = m.codes();
        return blocks(m, Q4_0.BLOCK_BYTES, (r, b, out, o, c) -> {
            putF16(out, o, Fp16.fromFloat(m.scaleAt(r, b * BLOCK)));
            putNibbles(q, c, out, o + 2);
        });
    }

    /**
     * The Q4_1 bytes of m (rows·cols/32 blocks of 20 bytes: fp16 d, fp16 m, then the nibbles as in Q4_0), for an
     * asymmetric 4-bit m: w = s·(q − z) = d·q + m with d = s and m = −s·z, the codes unchanged. d is exact (s is
     * already F16); m = fp16(−s·z) is rounded to nearest, so each weight moves by at most 2^−11·s·z ≤ 0.0074·s,
     * well under the grid step s.
     *
     * @throws IllegalArgumentException when m is not 4-bit asymmetric with F16 scales and groups of a multiple of
     *     32 (or per row), has g_idx or outliers
     */
    public static byte[] toQ4_1(GroupwiseAffine m) {
        check(m, 4, false, "Q4_1");
        int[] q = m.codes();
        return blocks(m, Q4_1.BLOCK_BYTES, (r, b, out, o, c) -> {
            float s = m.scaleAt(r, b * BLOCK);
            putF16(out, o, Fp16.fromFloat(s));
            putF16(out, o + 2, Fp16.fromFloat(-s * m.zeroAt(r, b * BLOCK)));
            putNibbles(q, c, out, o + 4);
        });
    }

    /**
     * The Q8_0 bytes of m (rows·cols/32 blocks of 34 bytes: fp16 d, then 32 int8 codes q − 128); d is the scale of
     * the block's group, as in {@link #toQ4_0}.
     *
     * @throws IllegalArgumentException when m is not 8-bit symmetric with F16 scales and groups of a multiple of 32
     *     (or per row), has g_idx or outliers
     */
    public static byte[] toQ8_0(GroupwiseAffine m) {
        check(m, 8, true, "Q8_0");
        int[] q = m.codes();
        return blocks(m, Q8_0.BLOCK_BYTES, (r, b, out, o, c) -> {
            putF16(out, o, Fp16.fromFloat(m.scaleAt(r, b * BLOCK)));
            for (int j = 0; j < BLOCK; j++) {
                out[o + 2 + j] = (byte) (q[c + j] - 128);
            }
        });
    }
}

package lowbit.tensor.layout;

import java.util.Objects;
import lowbit.tensor.DType;

/**
 * What a {@link GroupwiseAffine} layout stores: code width, symmetric or asymmetric grid, which weights share a scale
 * (the granularity), and the scale's storage type. Ŵ = s·(q − z) with unsigned codes q in [0, 2^bits − 1].
 *
 * <p><b>Symmetric</b> specs store no zero points: z = 2^(bits−1) everywhere, the grid of GPTQ's {@code sym=True}
 * (zero = (maxq + 1)/2) and of ggml's Q4_0/Q8_0. A signed two's-complement code q' in [−2^(bits−1), 2^(bits−1) − 1]
 * is the same grid: q' = q − 2^(bits−1), so Ŵ = s·q' (use {@link GroupwiseAffine#unsignedCode} to convert).
 * <b>Asymmetric</b> specs store one integer zero point z in [0, 2^bits − 1] per scale, packed at the code width.
 *
 * <p><b>Granularity</b> (W is [rows = out, cols = in]): the scales form a grid of {@link #scaleRows} × {@link #scaleCols}
 * stored row-major; the scale (and zero point) of W[r, c] is entry {@code (r / rowBlock, c / colBlock)}:
 * <table>
 *   <caption>scale grid per granularity</caption>
 *   <tr><th>granularity</th><th>grid</th><th>block of weights sharing a scale</th></tr>
 *   <tr><td>{@link Granularity#PER_TENSOR}</td><td>1 × 1</td><td>all</td></tr>
 *   <tr><td>{@link Granularity#PER_OUTPUT_CHANNEL}</td><td>rows × 1</td><td>one row</td></tr>
 *   <tr><td>{@link Granularity#PER_INPUT_CHANNEL}</td><td>1 × cols</td><td>one column</td></tr>
 *   <tr><td>{@link Granularity#GROUP_ALONG_IN}</td><td>rows × cols/g</td><td>g consecutive columns of one row (GPTQ,
 *   AWQ, RTN g128)</td></tr>
 *   <tr><td>{@link Granularity#GROUP_ALONG_OUT}</td><td>rows/g × cols</td><td>g consecutive rows of one column
 *   (AdaDim's per-input-channel groups)</td></tr>
 * </table>
 * The group size g must divide the grouped dimension. Note that GPTQ/AWQ checkpoints store their scales transposed,
 * as [in/g, out]; lowbit's grid is [out, in/g].
 *
 * @param bits code width, 2..8
 * @param symmetric true for the implicit zero point 2^(bits−1)
 * @param granularity which weights share a scale
 * @param groupSize g for the two {@code GROUP_*} granularities (&ge; 1); 0 for the others
 * @param scaleType {@link DType#F32} or {@link DType#F16} (scales are rounded to nearest-even F16 when stored)
 */
public record AffineSpec(int bits, boolean symmetric, Granularity granularity, int groupSize, DType scaleType) {

    /** Which weights share one scale (and zero point); see the class comment. */
    public enum Granularity {
        /** One scale for the whole matrix. */
        PER_TENSOR,
        /** One scale per row (output channel). */
        PER_OUTPUT_CHANNEL,
        /** One scale per column (input channel). */
        PER_INPUT_CHANNEL,
        /** One scale per g consecutive columns of a row. */
        GROUP_ALONG_IN,
        /** One scale per g consecutive rows of a column. */
        GROUP_ALONG_OUT
    }

    /** Smallest supported code width. */
    public static final int MIN_BITS = 2;
    /** Largest supported code width. */
    public static final int MAX_BITS = 8;

    /**
     * Validates the combination.
     *
     * @throws IllegalArgumentException for bits outside 2..8, a null granularity, a group size that is not positive
     *     for a {@code GROUP_*} granularity or not 0 for the others, or a scale type other than F32/F16
     */
    public AffineSpec {
        if (bits < MIN_BITS || bits > MAX_BITS) {
            throw new IllegalArgumentException("affine spec: bits must be " + MIN_BITS + ".." + MAX_BITS + ", got " + bits);
        }
        Objects.requireNonNull(granularity, "affine spec: granularity is null");
        Objects.requireNonNull(scaleType, "affine spec: scaleType is null");
        if (grouped(granularity)) {
            if (groupSize < 1) {
                throw new IllegalArgumentException("affine spec: " + granularity + " needs a group size >= 1, got "
                        + groupSize);
            }
        } else if (groupSize != 0) {
            throw new IllegalArgumentException("affine spec: " + granularity + " takes no group size (use 0), got "
                    + groupSize);
        }
        if (scaleType != DType.F32 && scaleType != DType.F16) {
            throw new IllegalArgumentException("affine spec: scale type must be F32 or F16, got " + scaleType);
        }
    }

    private static boolean grouped(Granularity g) {
        return g == Granularity.GROUP_ALONG_IN || g == Granularity.GROUP_ALONG_OUT;
    }

    /** One scale for the matrix, F32 scales. */
    public static AffineSpec perTensor(int bits, boolean symmetric) {
        return new AffineSpec(bits, symmetric, Granularity.PER_TENSOR, 0, DType.F32);
    }

    /** One scale per row (output channel), F32 scales. */
    public static AffineSpec perOutputChannel(int bits, boolean symmetric) {
        return new AffineSpec(bits, symmetric, Granularity.PER_OUTPUT_CHANNEL, 0, DType.F32);
    }

    /** One scale per column (input channel), F32 scales. */
    public static AffineSpec perInputChannel(int bits, boolean symmetric) {
        return new AffineSpec(bits, symmetric, Granularity.PER_INPUT_CHANNEL, 0, DType.F32);
    }

    /** Groups of {@code groupSize} consecutive columns within a row (GPTQ/AWQ style), F32 scales. */
    public static AffineSpec groupsAlongIn(int bits, int groupSize, boolean symmetric) {
        return new AffineSpec(bits, symmetric, Granularity.GROUP_ALONG_IN, groupSize, DType.F32);
    }

    /** Groups of {@code groupSize} consecutive rows within a column (AdaDim's per-input-channel groups), F32 scales. */
    public static AffineSpec groupsAlongOut(int bits, int groupSize, boolean symmetric) {
        return new AffineSpec(bits, symmetric, Granularity.GROUP_ALONG_OUT, groupSize, DType.F32);
    }

    /** This spec with scales stored as {@code type} (F32 or F16). */
    public AffineSpec withScaleType(DType type) {
        return new AffineSpec(bits, symmetric, granularity, groupSize, type);
    }

    /** The largest code, 2^bits − 1. */
    public int maxCode() {
        return (1 << bits) - 1;
    }

    /** The implicit zero point of a symmetric spec, 2^(bits−1). */
    public int symmetricZero() {
        return 1 << (bits - 1);
    }

    /**
     * Checks that this spec fits a [rows, cols] matrix.
     *
     * @throws IllegalArgumentException for a negative shape or a group size that does not divide its dimension
     */
    public void checkShape(int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        }
        if (granularity == Granularity.GROUP_ALONG_IN && cols % groupSize != 0) {
            throw new IllegalArgumentException("affine spec: group size " + groupSize + " along in does not divide the "
                    + cols + " columns of a [" + rows + ", " + cols + "] matrix");
        }
        if (granularity == Granularity.GROUP_ALONG_OUT && rows % groupSize != 0) {
            throw new IllegalArgumentException("affine spec: group size " + groupSize + " along out does not divide the "
                    + rows + " rows of a [" + rows + ", " + cols + "] matrix");
        }
    }

    /** Rows of the scale grid for a matrix of {@code rows} rows. */
    public int scaleRows(int rows) {
        return switch (granularity) {
            case PER_TENSOR, PER_INPUT_CHANNEL -> 1;
            case PER_OUTPUT_CHANNEL, GROUP_ALONG_IN -> rows;
            case GROUP_ALONG_OUT -> rows / groupSize;
        };
    }

    /** Columns of the scale grid for a matrix of {@code cols} columns. */
    public int scaleCols(int cols) {
        return switch (granularity) {
            case PER_TENSOR, PER_OUTPUT_CHANNEL -> 1;
            case PER_INPUT_CHANNEL, GROUP_ALONG_OUT -> cols;
            case GROUP_ALONG_IN -> cols / groupSize;
        };
    }

    /** Rows sharing one scale-grid row (the matrix's row count for per-tensor and per-input-channel). */
    int rowBlock(int rows) {
        return switch (granularity) {
            case PER_TENSOR, PER_INPUT_CHANNEL -> Math.max(1, rows);
            case PER_OUTPUT_CHANNEL, GROUP_ALONG_IN -> 1;
            case GROUP_ALONG_OUT -> groupSize;
        };
    }

    /** Columns sharing one scale-grid column. */
    int colBlock(int cols) {
        return switch (granularity) {
            case PER_TENSOR, PER_OUTPUT_CHANNEL -> Math.max(1, cols);
            case PER_INPUT_CHANNEL, GROUP_ALONG_OUT -> 1;
            case GROUP_ALONG_IN -> groupSize;
        };
    }

    /** Short form, e.g. {@code "u4 asym g128(in) F16"}. */
    public String describe() {
        String g = switch (granularity) {
            case PER_TENSOR -> "per-tensor";
            case PER_OUTPUT_CHANNEL -> "per-row";
            case PER_INPUT_CHANNEL -> "per-column";
            case GROUP_ALONG_IN -> "g" + groupSize + "(in)";
            case GROUP_ALONG_OUT -> "g" + groupSize + "(out)";
        };
        return "u" + bits + (symmetric ? " sym " : " asym ") + g + " " + scaleType;
    }
}

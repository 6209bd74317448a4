package lowbit.tensor.ggml;

/**
 * ggml tensor types with their GGUF type ids, elements per block and bytes per block, as ggml's {@code ggml.h}
 * ({@code enum ggml_type}) and {@code ggml-common.h} (block structs) define them. Only the types whose layout is
 * fixed and in current use are listed; a GGUF reader maps an id with {@link #fromId}.
 *
 * <p>lowbit encodes, decodes and multiplies {@link #Q4_0}, {@link #Q4_1}, {@link #Q5_0}, {@link #Q5_1},
 * {@link #Q8_0} and {@link #Q8_1}, and the k-quants {@link #Q2_K}, {@link #Q3_K}, {@link #Q4_K}, {@link #Q5_K},
 * {@link #Q6_K} with their activation type {@link #Q8_K} (classes of the same name in this package; encoders
 * byte-identical to ggml's {@code quantize_row_*_ref}); the others are listed so that files holding them can be
 * sized and skipped.
 */
public enum GgmlType {
    /** IEEE binary32. */
    F32(0, 1, 4),
    /** IEEE binary16. */
    F16(1, 1, 2),
    /** 32 × 4-bit, one fp16 scale: 18 bytes. */
    Q4_0(2, 32, 18),
    /** 32 × 4-bit, fp16 scale and minimum: 20 bytes. */
    Q4_1(3, 32, 20),
    /** 32 × 5-bit, one fp16 scale: 22 bytes. */
    Q5_0(6, 32, 22),
    /** 32 × 5-bit, fp16 scale and minimum: 24 bytes. */
    Q5_1(7, 32, 24),
    /** 32 × 8-bit, one fp16 scale: 34 bytes. */
    Q8_0(8, 32, 34),
    /** 32 × 8-bit, fp16 scale and fp16 scale·sum: 36 bytes (activation type for Q4_1/Q5_1). */
    Q8_1(9, 32, 36),
    /** k-quant, 256 elements: 16 × (4-bit scale, 4-bit min), 2-bit codes, fp16 d and dmin: 84 bytes. */
    Q2_K(10, 256, 84),
    /** k-quant, 256 elements: 3-bit codes (high bits in a mask), 16 six-bit scales, fp16 d: 110 bytes. */
    Q3_K(11, 256, 110),
    /** k-quant, 256 elements: fp16 d and dmin, 8 × (6-bit scale, 6-bit min), 4-bit codes: 144 bytes. */
    Q4_K(12, 256, 144),
    /** k-quant, 256 elements: as Q4_K with 5-bit codes: 176 bytes. */
    Q5_K(13, 256, 176),
    /** k-quant, 256 elements: 6-bit codes, 16 int8 scales, fp16 d: 210 bytes. */
    Q6_K(14, 256, 210),
    /** k-quant activation type, 256 elements: f32 scale, 256 codes, 16 int16 sums: 292 bytes. */
    Q8_K(15, 256, 292),
    /** 8-bit integer. */
    I8(24, 1, 1),
    /** 16-bit integer. */
    I16(25, 1, 2),
    /** 32-bit integer. */
    I32(26, 1, 4),
    /** 64-bit integer. */
    I64(27, 1, 8),
    /** IEEE binary64. */
    F64(28, 1, 8),
    /** bfloat16. */
    BF16(30, 1, 2);

    private final int id;
    private final int blockSize;
    private final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** The GGUF/ggml type id. */
    public int id() {
        return id;
    }

    /** Elements per block (1 for plain types). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int blockBytes() {
        return blockBytes;
    }

    /**
     * Bytes of a row of {@code n} elements.
     *
     * @throws IllegalArgumentException if n is negative or not a multiple of {@link #blockSize()}
     */
    public long rowBytes(long n) {
        if (n < 0 || n % blockSize != 0) {
            throw new IllegalArgumentException(this + ": length " + n + " is not a non-negative multiple of the block size "
                    + blockSize);
        }
        return n / blockSize * blockBytes;
    }

    /**
     * The type with GGUF id {@code id}.
     *
     * @throws IllegalArgumentException for an id lowbit does not know (the message names it)
     */
    public static GgmlType fromId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown or unsupported ggml type id " + id);
    }
}

package lowbit.tensor.io;

import java.util.Optional;
import lowbit.tensor.DType;

/**
 * The element types a safetensors header names in {@code "dtype"}, with their widths in bits, as huggingface's
 * {@code safetensors} crate defines them ({@code enum Dtype} in {@code safetensors/src/tensor.rs}). The constants are
 * declared in the crate's order, which is increasing alignment: its writer lays tensors out by this order
 * <em>descending</em>, then by name, and {@link SafetensorsWriter} does the same.
 *
 * <p>Twelve of them have a lowbit {@link DType} and load as {@link lowbit.tensor.Tensor}s ({@link #lowbit()}); the
 * others (sub-byte F4/F6 MX types, E8M0 and FNUZ F8s, unsigned 16/32/64-bit, complex) are read and written as raw
 * bytes ({@link SafetensorsFile#bytes}).
 */
public enum SafetensorsDType {
    BOOL(8, DType.BOOL),
    F4(4, null),
    F6_E2M3(6, null),
    F6_E3M2(6, null),
    U8(8, DType.U8),
    I8(8, DType.I8),
    F8_E5M2(8, DType.F8_E5M2),
    F8_E4M3(8, DType.F8_E4M3),
    F8_E8M0(8, null),
    F8_E4M3FNUZ(8, null),
    F8_E5M2FNUZ(8, null),
    I16(16, DType.I16),
    U16(16, null),
    F16(16, DType.F16),
    BF16(16, DType.BF16),
    I32(32, DType.I32),
    U32(32, null),
    F32(32, DType.F32),
    C64(64, null),
    F64(64, DType.F64),
    I64(64, DType.I64),
    U64(64, null);

    private final int bits;
    private final DType lowbit;

    SafetensorsDType(int bits, DType lowbit) {
        this.bits = bits;
        this.lowbit = lowbit;
    }

    /** Bits per element (4, 6, 8, 16, 32 or 64). */
    public int bits() {
        return bits;
    }

    /** The lowbit dtype with the same bytes, if there is one. */
    public Optional<DType> lowbit() {
        return Optional.ofNullable(lowbit);
    }

    /**
     * The safetensors dtype that stores a lowbit dtype's bytes unchanged.
     *
     * @throws IllegalArgumentException for packed sub-byte integer dtypes (I1..I7, U1..U7), which safetensors has no
     *     name for: store their bytes as U8, or use a GPTQ/AWQ int32 packing
     */
    public static SafetensorsDType of(DType dtype) {
        for (SafetensorsDType t : values()) {
            if (t.lowbit == dtype) {
                return t;
            }
        }
        throw new IllegalArgumentException("safetensors has no dtype for lowbit's packed " + dtype
                + "; store the packed bytes as U8 (with the shape in bytes) or use a GPTQ/AWQ int32 packing");
    }

    /** The constant named {@code name} (exact spelling, as in a header), if any. */
    public static Optional<SafetensorsDType> parse(String name) {
        for (SafetensorsDType t : values()) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}

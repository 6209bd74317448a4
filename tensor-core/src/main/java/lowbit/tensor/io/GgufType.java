package lowbit.tensor.io;

/**
 * The value types of GGUF metadata ({@code enum gguf_type} in ggml's {@code gguf.h}), with their ids as stored in a
 * file (a u32 before each value and each array's item type) and their sizes in bytes. All values are little-endian;
 * a BOOL is one byte (0 false, anything else true); a STRING is a u64 byte length and that many bytes of UTF-8, no
 * terminator; an ARRAY is a u32 item type, a u64 count and the items.
 */
public enum GgufType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, 0),
    ARRAY(9, 0),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private static final GgufType[] BY_ID = values();

    private final int id;
    private final int size;

    GgufType(int id, int size) {
        this.id = id;
        this.size = size;
    }

    /** The id stored in files. */
    public int id() {
        return id;
    }

    /** Bytes of one value: 1, 2, 4 or 8; 0 for STRING and ARRAY, whose size depends on the value. */
    public int size() {
        return size;
    }

    /** The fewest bytes one value of this type takes in a file: its size, 8 for a STRING, 12 for an ARRAY. */
    int minBytes() {
        return this == STRING ? 8 : this == ARRAY ? 12 : size;
    }

    /** True for the eight integer types. */
    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    /** True for UINT8..UINT64. */
    public boolean isUnsigned() {
        return this == UINT8 || this == UINT16 || this == UINT32 || this == UINT64;
    }

    /** The type with file id {@code id}, or null if there is none. */
    static GgufType byId(long id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[(int) id] : null;
    }
}

package lowbit.tensor.io;

import java.util.Objects;

/**
 * One tensor of a safetensors file: its {@link SafetensorsSpec} and its {@code data_offsets}, {@code [begin, end)}
 * in bytes from the start of the data region (which begins right after the header).
 *
 * @param spec name, dtype, dimensions
 * @param begin first byte, relative to the data region
 * @param end one past the last byte; {@code end - begin == spec.byteSize()}
 */
public record SafetensorsEntry(SafetensorsSpec spec, long begin, long end) {
    /** @throws IllegalArgumentException unless 0 &le; begin and end &minus; begin equals the spec's byte size */
    public SafetensorsEntry {
        Objects.requireNonNull(spec, "spec");
        if (begin < 0 || end - begin != spec.byteSize()) {
            throw new IllegalArgumentException(spec + ": data_offsets [" + begin + ", " + end + ") do not hold "
                    + spec.byteSize() + " bytes");
        }
    }

    /** The tensor's name. */
    public String name() {
        return spec.name();
    }

    /** The tensor's dtype. */
    public SafetensorsDType dtype() {
        return spec.dtype();
    }

    /** Bytes of data. */
    public long byteSize() {
        return end - begin;
    }
}

package lowbit.tensor.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bookkeeping of a streaming model-file writer whose tensors were declared up front: each tensor has a fixed
 * place in the file; its bytes arrive whole or in sequential chunks, in any tensor order; closing checks that every
 * byte arrived before the {@link FileSink} is committed. Not thread-safe.
 */
final class DeclaredTensors {
    private static final class Slot {
        final long fileOffset;
        final long byteSize;
        long written;

        Slot(long fileOffset, long byteSize) {
            this.fileOffset = fileOffset;
            this.byteSize = byteSize;
        }
    }

    private final FileSink sink;
    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private boolean done;

    DeclaredTensors(FileSink sink) {
        this.sink = sink;
    }

    /** Declares tensor {@code name} at file offset {@code fileOffset} with {@code byteSize} bytes. */
    void declare(String name, long fileOffset, long byteSize) {
        slots.put(name, new Slot(fileOffset, byteSize));
    }

    /**
     * Checks that the writer is open and {@code name} declared.
     *
     * @throws IllegalStateException if closed
     * @throws IllegalArgumentException if not declared
     */
    void require(String name) {
        slot(name);
    }

    /** Bytes of {@code name} written so far. */
    long written(String name) {
        return slot(name).written;
    }

    /** Writes all of {@code name}: exactly its size, nothing written before. */
    void writeWhole(String name, MemorySegment bytes) throws IOException {
        Slot s = slot(name);
        if (s.written != 0) {
            throw new IllegalArgumentException("tensor '" + name + "' was already written");
        }
        if (bytes.byteSize() != s.byteSize) {
            throw new IllegalArgumentException("tensor '" + name + "' needs " + s.byteSize + " bytes, got "
                    + bytes.byteSize());
        }
        append(name, bytes);
    }

    /** Writes the next chunk of {@code name}. */
    void append(String name, MemorySegment chunk) throws IOException {
        Slot s = slot(name);
        if (chunk.byteSize() > s.byteSize - s.written) {
            throw new IllegalArgumentException("tensor '" + name + "': " + chunk.byteSize() + " more bytes after "
                    + s.written + " run past its " + s.byteSize + " bytes");
        }
        sink.write(s.fileOffset + s.written, chunk);
        s.written += chunk.byteSize();
    }

    /**
     * Commits the file if every declared byte was written; otherwise deletes it and throws.
     *
     * @throws IllegalStateException naming the incomplete tensors
     */
    void close() throws IOException {
        if (done) {
            return;
        }
        done = true;
        List<String> missing = new ArrayList<>();
        slots.forEach((name, s) -> {
            if (s.written != s.byteSize) {
                missing.add(name + " (" + s.written + " of " + s.byteSize + " bytes)");
            }
        });
        if (!missing.isEmpty()) {
            sink.abort();
            throw new IllegalStateException("not written, so " + sink.target() + " was not created: " + missing);
        }
        sink.commit();
    }

    /** Deletes the partial file. */
    void abort() {
        done = true;
        sink.abort();
    }

    private Slot slot(String name) {
        if (done) {
            throw new IllegalStateException("the writer of " + sink.target() + " is closed");
        }
        Slot s = slots.get(name);
        if (s == null) {
            throw new IllegalArgumentException("tensor '" + name + "' was not declared");
        }
        return s;
    }
}

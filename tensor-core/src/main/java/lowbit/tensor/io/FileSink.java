package lowbit.tensor.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * The file side of lowbit.tensor.io: read-only mapping for the readers ({@link #mapReadOnly}, {@link #mapShared}),
 * and for the writers positional writes into {@code <file>.partial}, which
 * {@link #commit()} renames onto the target (atomically where the file system can) and {@link #abort()} deletes, so
 * a failed or abandoned write never leaves a truncated model file under the target name.
 *
 * <p>Data is copied through a small direct staging buffer, so any segment (heap arrays of any element type,
 * native, mapped, larger than 2 GiB) can be written. Not thread-safe.
 */
final class FileSink implements AutoCloseable {
    private static final int STAGING = 1 << 20;

    private final Path target;
    private final Path partial;
    private final FileChannel channel;
    private final ByteBuffer staging = ByteBuffer.allocateDirect(STAGING);
    private final MemorySegment stagingSegment = MemorySegment.ofBuffer(staging);
    private boolean open = true;

    /**
     * Creates (or truncates) {@code <file>.partial} beside {@code file}.
     *
     * @throws IOException if it cannot be created
     */
    FileSink(Path file) throws IOException {
        this.target = Objects.requireNonNull(file, "file").toAbsolutePath();
        this.partial = target.resolveSibling(target.getFileName() + ".partial");
        this.channel = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE, StandardOpenOption.READ);
    }

    /** Maps all of {@code file} read-only into {@code arena} (the readers' zero-copy view of a model file). */
    static MemorySegment mapReadOnly(Path file, Arena arena) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
    }

    /** What a reader builds from a mapped file and the arena that owns the mapping. */
    @FunctionalInterface
    interface MappedOpener<T> {
        T open(MemorySegment bytes, Arena arena) throws IOException;
    }

    /** Maps {@code file} into a new shared arena and builds a reader on it; closes the arena if that fails. */
    static <T> T mapShared(Path file, MappedOpener<T> opener) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            return opener.open(mapReadOnly(file, arena), arena);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** The file that {@link #commit()} creates. */
    Path target() {
        return target;
    }

    /** Writes all of {@code bytes} at file position {@code position}. */
    void write(long position, MemorySegment bytes) throws IOException {
        requireOpen();
        long n = bytes.byteSize();
        for (long done = 0; done < n; ) {
            int chunk = (int) Math.min(STAGING, n - done);
            MemorySegment.copy(bytes, done, stagingSegment, 0, chunk);
            staging.clear().limit(chunk);
            while (staging.hasRemaining()) {
                done += channel.write(staging, position + done);
            }
        }
    }

    /** Writes {@code bytes} at {@code position}. */
    void write(long position, byte[] bytes) throws IOException {
        write(position, MemorySegment.ofArray(bytes));
    }

    /** Writes {@code count} zero bytes at {@code position}. */
    void zeros(long position, long count) throws IOException {
        requireOpen();
        try (Arena a = Arena.ofConfined()) {
            write(position, a.allocate(Math.max(1, Math.min(count, STAGING))).asSlice(0, Math.min(count, STAGING)));
        }
        if (count > STAGING) {
            zeros(position + STAGING, count - STAGING);
        }
    }

    /** Flushes, closes and moves the partial file onto the target. */
    void commit() throws IOException {
        requireOpen();
        open = false;
        try (channel) {
            channel.force(false);
        }
        try {
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Closes and deletes the partial file; the target is untouched. Idempotent. */
    void abort() {
        if (!open) {
            return;
        }
        open = false;
        try {
            channel.close();
        } catch (IOException ignored) {
            // the partial file is deleted below either way
        }
        try {
            Files.deleteIfExists(partial);
        } catch (IOException ignored) {
            // nothing more can be done; the target was never touched
        }
    }

    /** Same as {@link #abort()} unless {@link #commit()} already ran. */
    @Override
    public void close() {
        abort();
    }

    private void requireOpen() {
        if (!open) {
            throw new IllegalStateException("the writer of " + target + " is closed");
        }
    }
}

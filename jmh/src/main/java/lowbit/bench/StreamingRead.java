package lowbit.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.FloatKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * The memory-bandwidth baseline the GEMV benchmarks run beside: a streaming read of 256 MiB (far beyond the caches)
 * as a vector float sum per MiB chunk, on {@link Parallel}'s threads. % of bandwidth of a kernel =
 * (bytes it reads / its time) / ({@link #BYTES} / {@link #read()}'s time), both measured in the same run.
 */
final class StreamingRead {
    /** Bytes read by {@link #read()}. */
    static final long BYTES = 256L << 20;
    private static final FloatKernels FLOATS = VectorizationProvider.get().floats();

    private final MemorySegment buffer;
    private final double[] partial;

    /** Allocates and fills the buffer in {@code arena} (so its pages are touched before timing). */
    StreamingRead(Arena arena) {
        this(arena, BYTES);
    }

    /** A stream of {@code bytes} (a multiple of 1 MiB; small ones for {@link JitWarmup} twins). */
    StreamingRead(Arena arena, long bytes) {
        buffer = arena.allocate(bytes, 64);
        partial = new double[(int) (bytes >> 20)];
        for (long i = 0; i < bytes / 4; i++) {
            buffer.setAtIndex(ValueLayout.JAVA_FLOAT, i, (i & 1023) * 1e-3f);
        }
    }

    /** Reads the whole buffer once; returns the sum so that the JIT cannot drop the reads. */
    double read() {
        long floatsPerChunk = (1 << 20) / 4;
        Parallel.forRange(0, partial.length, 4, (from, to) -> {
            for (long c = from; c < to; c++) {
                partial[(int) c] = FLOATS.sum(buffer, c * floatsPerChunk, floatsPerChunk);
            }
        });
        double s = 0;
        for (double v : partial) {
            s += v;
        }
        return s;
    }
}

package lowbit.tensor.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;

/**
 * The property every fuzzer checks: for any bytes, a reader either succeeds, and then every tensor it reports can be
 * read completely without an exception, or it throws {@link TensorFormatException}. Anything else (an index error, an
 * arithmetic exception, an OutOfMemoryError from a lying length, a read past the end) escapes and is a finding.
 */
final class FuzzChecks {
    private FuzzChecks() {
    }

    static void safetensors(byte[] data) {
        SafetensorsFile f;
        try {
            f = SafetensorsFile.read(MemorySegment.ofArray(data), "fuzz");
        } catch (TensorFormatException e) {
            requireMessage(e);
            return;
        }
        f.metadata().forEach((k, v) -> requireNonNull(k + v));
        long sum = 0;
        for (SafetensorsEntry e : f.entries()) {
            sum += touch(f.bytes(e.name()));
            if (e.dtype().lowbit().isPresent()) {
                sum += touch(f.tensor(e.name()));
            }
        }
        requireNonNull(Long.toString(sum) + f);
    }

    static void gguf(byte[] data) {
        GgufFile f;
        try {
            f = GgufFile.read(MemorySegment.ofArray(data), "fuzz");
        } catch (TensorFormatException e) {
            requireMessage(e);
            return;
        }
        StringBuilder s = new StringBuilder();
        f.metadata().forEach((k, v) -> s.append(k).append(v).append(v.hashCode()));
        long sum = 0;
        for (GgufTensorInfo t : f.tensors()) {
            sum += touch(f.bytes(t.name()));
            s.append(t).append(t.shape());
            if (GgufFile.plainDType(t.type()) != null) {
                sum += touch(f.tensor(t.name()));
            }
        }
        requireNonNull(s.append(sum).append(f).toString());
    }

    /** Reads every byte. */
    private static long touch(MemorySegment seg) {
        long sum = 0;
        for (long i = 0; i < seg.byteSize(); i++) {
            sum += seg.get(ValueLayout.JAVA_BYTE, i);
        }
        return sum;
    }

    /** Reads the first and last element through the typed accessors. */
    private static long touch(Tensor t) {
        if (t.numel() == 0) {
            return 0;
        }
        long sum = 0;
        for (long i : new long[] {0, t.numel() - 1}) {
            DType d = t.dtype();
            sum += d.isFloatingPoint() ? (long) t.getDouble(i) : t.getLong(i);
        }
        return sum;
    }

    private static void requireMessage(TensorFormatException e) {
        if (e.getMessage() == null || !e.getMessage().startsWith("fuzz: ")) {
            throw new AssertionError("format errors must name their source: " + e.getMessage(), e);
        }
    }

    private static void requireNonNull(String s) {
        if (s == null) {
            throw new AssertionError();
        }
    }
}

package lowbit.tensor.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import lowbit.tensor.Tensor;

/** Checks and bit-stream helpers shared by the GPTQ and AWQ checkpoint converters. */
final class CheckpointTensors {
    private CheckpointTensors() {
    }

    /**
     * The entry {@code prefix.suffix}, which must exist with the given dtype (null: F16, BF16 or F32) and rank.
     *
     * @throws TensorFormatException naming the tensor otherwise
     */
    static SafetensorsEntry require(SafetensorsFile f, String prefix, String suffix, SafetensorsDType dtype, int rank)
            throws TensorFormatException {
        String name = prefix + "." + suffix;
        if (!f.contains(name)) {
            throw new TensorFormatException(f.source(), name, null, "is missing");
        }
        SafetensorsEntry e = f.entry(name);
        boolean ok = dtype != null ? e.dtype() == dtype
                : e.dtype() == SafetensorsDType.F16 || e.dtype() == SafetensorsDType.BF16 || e.dtype() == SafetensorsDType.F32;
        if (!ok) {
            throw new TensorFormatException(f.source(), name, "dtype", "is " + e.dtype() + ", expected "
                    + (dtype != null ? dtype : "F16, BF16 or F32"));
        }
        if (e.spec().dims().length != rank) {
            throw new TensorFormatException(f.source(), name, "shape", Arrays.toString(e.spec().dims()) + " has rank "
                    + e.spec().dims().length + ", expected " + rank);
        }
        return e;
    }

    /** @throws TensorFormatException unless the entry's dimensions are exactly {@code dims} */
    static void requireDims(String source, SafetensorsEntry e, long... dims) throws TensorFormatException {
        if (!Arrays.equals(e.spec().dims(), dims)) {
            throw new TensorFormatException(source, e.name(), "shape", Arrays.toString(e.spec().dims())
                    + " does not match the other tensors, expected " + Arrays.toString(dims));
        }
    }

    /** Field {@code index} of {@code bits} bits of the little-endian bit stream starting at byte {@code start}. */
    static int field(MemorySegment s, long start, long index, int bits) {
        long bit = index * bits;
        long b = start + (bit >>> 3);
        int shift = (int) (bit & 7);
        int v = s.get(ValueLayout.JAVA_BYTE, b) & 0xFF;
        if (shift + bits > 8) {
            v |= (s.get(ValueLayout.JAVA_BYTE, b + 1) & 0xFF) << 8;
        }
        return (v >>> shift) & ((1 << bits) - 1);
    }

    /** ORs code {@code value} into field {@code index} of the zero-initialized bit stream at byte {@code start}. */
    static void putCode(MemorySegment s, long start, long index, int bits, int value) {
        long bit = index * bits;
        long b = start + (bit >>> 3);
        int shift = (int) (bit & 7);
        int v = value << shift;
        s.set(ValueLayout.JAVA_BYTE, b, (byte) (s.get(ValueLayout.JAVA_BYTE, b) | v));
        if (shift + bits > 8) {
            s.set(ValueLayout.JAVA_BYTE, b + 1, (byte) (s.get(ValueLayout.JAVA_BYTE, b + 1) | v >>> 8));
        }
    }

    /** A [groups, rows] scale tensor (F16, BF16 or F32) as lowbit's [rows, groups] grid, exactly. */
    static float[] transposedScales(SafetensorsFile f, SafetensorsEntry e, int groups, int rows) {
        Tensor t = f.tensor(e.name());
        float[] in = t.toFloatArray();
        float[] out = new float[in.length];
        for (int k = 0; k < groups; k++) {
            for (int o = 0; o < rows; o++) {
                out[o * groups + k] = in[k * rows + o];
            }
        }
        return out;
    }
}

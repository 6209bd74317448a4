package lowbit.tensor.io;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
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

    /** lowbit's [rows, groups] scale grid as a checkpoint's [groups, rows] scales tensor of {@code type}. */
    static Tensor fileScales(float[] grid, int rows, int groups, DType type) {
        float[] t = new float[groups * rows];
        for (int o = 0; o < rows; o++) {
            for (int k = 0; k < groups; k++) {
                t[k * rows + o] = grid[o * groups + k];
            }
        }
        return Tensor.ofFloats(type == DType.F16 ? DType.F16 : DType.F32, t, Shape.of(groups, rows));
    }

    /** The rows of a packed code matrix, as slices (for scattered writes with {@link lowbit.tensor.PackedInts}). */
    static MemorySegment[] rowSlices(MemorySegment packed, int rows, long rowBytes) {
        MemorySegment[] r = new MemorySegment[rows];
        for (int i = 0; i < rows; i++) {
            r[i] = packed.asSlice(i * rowBytes, rowBytes);
        }
        return r;
    }
}

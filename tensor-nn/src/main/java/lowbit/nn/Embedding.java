package lowbit.nn;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import lowbit.tensor.Bf16;
import lowbit.tensor.DType;
import lowbit.tensor.Fp16;
import lowbit.tensor.Tensor;

/**
 * Embedding lookup ({@code torch.nn.Embedding}): a table E [vocab, dim] of F32, F16 or BF16 (read in place), and
 * {@code out[i, :] = E[ids[i], :]}. An id outside [0, vocab) is an error naming its position and value.
 */
public final class Embedding {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private final Tensor table;
    private final int vocab;
    private final int dim;

    /** An embedding over a matrix tensor [vocab, dim] of dtype F32, F16 or BF16. */
    public Embedding(Tensor table) {
        Objects.requireNonNull(table, "embedding table is null");
        if (table.shape().rank() != 2) {
            throw new IllegalArgumentException("embedding table must be [vocab, dim], got shape " + table.shape());
        }
        DType t = table.dtype();
        if (t != DType.F32 && t != DType.F16 && t != DType.BF16) {
            throw new IllegalArgumentException("embedding table must be F32, F16 or BF16, got " + t);
        }
        if (table.shape().dim(0) > Integer.MAX_VALUE || table.shape().dim(1) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("embedding table " + table.shape() + " is too large");
        }
        this.table = table;
        this.vocab = (int) table.shape().dim(0);
        this.dim = (int) table.shape().dim(1);
    }

    public int vocabSize() {
        return vocab;
    }

    public int dim() {
        return dim;
    }

    /** The table [vocab, dim]. */
    public Tensor table() {
        return table;
    }

    /** The rows for {@code ids} as a new array [ids.length, dim]. */
    public float[] lookup(int[] ids) {
        Objects.requireNonNull(ids, "embedding: ids is null");
        float[] out = new float[Math.multiplyExact(ids.length, dim)];
        lookup(ids, out, 0);
        return out;
    }

    /** Writes the rows for {@code ids} to {@code out[off ...]} (ids.length·dim floats). */
    public void lookup(int[] ids, float[] out, int off) {
        Objects.requireNonNull(ids, "embedding: ids is null");
        Objects.requireNonNull(out, "embedding: out is null");
        Objects.checkFromIndexSize(off, (long) ids.length * dim, out.length);
        MemorySegment seg = table.segment();
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0 || id >= vocab) {
                throw new IndexOutOfBoundsException("embedding: id " + id + " at position " + i + " is outside the "
                        + "vocabulary [0, " + vocab + ")");
            }
            long src = (long) id * dim;
            int dst = off + i * dim;
            switch (table.dtype()) {
                case F32 -> MemorySegment.copy(seg, F32, src * Float.BYTES, out, dst, dim);
                case F16 -> Fp16.toFloats(seg, src, out, dst, dim);
                default -> Bf16.toFloats(seg, src, out, dst, dim);
            }
        }
    }
}

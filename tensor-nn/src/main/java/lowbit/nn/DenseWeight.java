package lowbit.nn;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.linalg.PackedWeight;

/**
 * A dense weight {@code W[out, in]} stored as an F32, F16 or BF16 matrix {@link Tensor} (heap, off-heap or
 * memory-mapped; read in place). Forward is {@link Gemm#linear(float[], int, Tensor, float[], float[])}; the input
 * gradient {@code dX = dY·W} is the untransposed GEMM {@code Gemm.gemm(false, false, n, in, out, ...)} on the same
 * storage, so half-precision weights are widened inside the kernel and never copied whole.
 *
 * <p>The weight itself is immutable: training code reads the gradient {@code dW} from {@link Linear#backward} and
 * builds a new weight. A dense weight is {@link #trainable()} unless made {@link #frozen()}.
 */
public final class DenseWeight implements LinearWeight {
    private final Tensor w;
    /** The float[] behind an F32 weight made from an array (the GEMM's fastest operand), else null. */
    private final float[] array;
    private final int out;
    private final int in;
    private final boolean trainable;
    /** The weight pre-packed for the forward GEMM ({@link #packed()}), else null. */
    private final PackedWeight packed;

    DenseWeight(Tensor w, boolean trainable) {
        this(w, null, trainable, null);
    }

    private DenseWeight(Tensor w, float[] array, boolean trainable, PackedWeight packed) {
        Objects.requireNonNull(w, "weight tensor is null");
        if (w.shape().rank() != 2) {
            throw new IllegalArgumentException("a Linear weight must be a matrix [out, in], got shape " + w.shape());
        }
        DType t = w.dtype();
        if (t != DType.F32 && t != DType.F16 && t != DType.BF16) {
            throw new IllegalArgumentException("a dense Linear weight must be F32, F16 or BF16, got " + t);
        }
        long o = w.shape().dim(0), i = w.shape().dim(1);
        if (o > Integer.MAX_VALUE || i > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("weight " + w.shape() + " has a dimension over 2^31 - 1");
        }
        this.w = w;
        this.array = array;
        this.out = (int) o;
        this.in = (int) i;
        this.trainable = trainable;
        this.packed = packed;
    }

    /**
     * A trainable F32 weight over the row-major array {@code w} [out, in] (wrapped, not copied: do not change it
     * while the weight is in use). The products read the array directly, the fastest form for lowbit's GEMM.
     */
    public static DenseWeight of(float[] w, int out, int in) {
        Objects.requireNonNull(w, "weight array is null");
        if (out < 0 || in < 0 || (long) out * in != w.length) {
            throw new IllegalArgumentException("weight array has " + w.length + " elements, expected [" + out + ", "
                    + in + "] = " + (long) out * in);
        }
        return new DenseWeight(Tensor.wrap(MemorySegment.ofArray(w), DType.F32, Shape.of(out, in)), w, true, null);
    }

    /** A trainable weight over a matrix tensor [out, in] of dtype F32, F16 or BF16. */
    public static DenseWeight of(Tensor w) {
        return new DenseWeight(w, true);
    }

    /** The same storage, marked frozen: a {@link Linear} over it computes only {@code dX}. */
    public DenseWeight frozen() {
        return trainable ? new DenseWeight(w, array, false, packed) : this;
    }

    /**
     * The same weight with its forward product pre-packed once ({@link PackedWeight}): inference over many batches
     * skips the per-call packing of W inside the GEMM (the constant-weight packing onnxruntime does). Costs a
     * float copy of W in the kernel's panel order beside the original ({@link PackedWeight#bytes()}); the weight must
     * not change afterwards (a later change to the array would not be seen by forward). Forward results have the
     * bits of the unpacked forward for more than 8 rows and are within the same summation bound otherwise; the
     * backward products use the original storage.
     */
    public DenseWeight packed() {
        if (packed != null) {
            return this;
        }
        PackedWeight p = array != null ? PackedWeight.of(array, out, in) : PackedWeight.of(w);
        return new DenseWeight(w, array, trainable, p);
    }

    /** Whether forward uses a pre-packed copy ({@link #packed()}). */
    public boolean isPacked() {
        return packed != null;
    }

    /** The matrix tensor [out, in]. */
    public Tensor tensor() {
        return w;
    }

    @Override
    public int outFeatures() {
        return out;
    }

    @Override
    public int inFeatures() {
        return in;
    }

    @Override
    public String describe() {
        return w.dtype() + " " + Shape.of(out, in) + (trainable ? "" : " frozen") + (packed != null ? " packed" : "");
    }

    @Override
    public void forward(float[] x, int n, float[] bias, float[] y) {
        if (packed != null) {
            Gemm.linear(x, n, packed, bias, y);
        } else if (array != null) {
            Gemm.linear(x, n, in, array, out, bias, y);
        } else {
            Gemm.linear(x, n, w, bias, y);
        }
    }

    @Override
    public void backwardInput(float[] dy, int n, float[] dx) {
        Objects.requireNonNull(dy, "dY is null");
        Objects.requireNonNull(dx, "dX is null");
        LinearChecks.backwardInput(describe(), dy, n, out, in, dx);
        if (array != null) {
            Gemm.gemm(false, false, n, in, out, 1f, dy, 0, out, array, 0, in, 0f, dx, 0, in);
        } else {
            Gemm.gemm(false, false, n, in, out, 1f, dy, 0, out, w.segment(), w.dtype(), 0, in, 0f, dx, 0, in);
        }
    }

    @Override
    public float[] toFloats() {
        return array != null ? array.clone() : w.toFloatArray();
    }

    @Override
    public boolean trainable() {
        return trainable;
    }

    @Override
    public String toString() {
        return "DenseWeight[" + describe() + "]";
    }
}

package lowbit.tensor.linalg;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.DType;
import lowbit.tensor.Tensor;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.PackedPanels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * A constant dense weight {@code W [out, in]} pre-packed once for {@link Gemm#linear(float[], int, PackedWeight,
 * float[], float[])}: {@code Y = X·Wᵀ + b}. The blocked GEMM otherwise converts and repacks W into cache-sized
 * panels on every call (Goto and van de Geijn, <i>Anatomy of High-Performance Matrix Multiplication</i>, ACM TOMS
 * 2008, §4: the packed B panel); for a layer applied many times that work is paid here once, as onnxruntime's MLAS
 * does for constant weights. The packed form holds the weight as floats in the kernel's panel order (see
 * {@link PackedPanels}): {@code 4·⌈out/w⌉·w·in} bytes with w the kernel's panel width (32 at 512-bit vectors), so
 * twice the size of an F16/BF16 weight, and a copy beside the original.
 *
 * <p>Results: for more than a few rows of X the product has exactly the bits of {@link Gemm#linear(float[], int,
 * int, float[], int, float[], float[])} on the unpacked weight (the same k-slices and micro-kernel, minus the
 * packing); for any n it is within the same float summation bound ({@code γ_in·Σ|x·w|}) of the exact product and
 * does not depend on the thread count.
 *
 * <p>Packing is done with the kernels of this JVM ({@link VectorizationProvider}); a packed weight is meant for the
 * JVM that made it, not for storage.
 */
public final class PackedWeight {
    private static final DenseKernels K = VectorizationProvider.get().dense();

    private final PackedPanels panels;
    private final DType source;

    private PackedWeight(PackedPanels panels, DType source) {
        this.panels = panels;
        this.source = source;
    }

    /**
     * Packs the row-major F32 weight {@code w [out, in]} (read once; later changes to the array are not seen).
     *
     * @throws IllegalArgumentException when the length is not out·in or the packed form would exceed a Java array
     */
    public static PackedWeight of(float[] w, int out, int in) {
        Objects.requireNonNull(w, "pack: W is null");
        checkShape(out, in);
        MatrixChecks.length("pack", "W", w.length, (long) out * in, "W [" + out + ", " + in + "]");
        return new PackedWeight(K.packTransposed(w, 0, Math.max(1, in), out, in), DType.F32);
    }

    /**
     * Packs a matrix tensor {@code W [out, in]} of dtype F32, F16 or BF16 (read in place from its segment; halves
     * are widened to float).
     *
     * @throws IllegalArgumentException for another rank or dtype, or a packed form larger than a Java array
     */
    public static PackedWeight of(Tensor w) {
        int[] oi = MatrixChecks.matrixShape("pack", w);
        MatrixChecks.weightType("pack", w.dtype(), true);
        checkShape(oi[0], oi[1]);
        MemorySegment s = w.segment();
        MatrixChecks.matrix("pack", w.dtype() + " W [" + oi[0] + ", " + oi[1] + "]", oi[0], oi[1], 0,
                Math.max(1, oi[1]), MatrixChecks.capacity(s, w.dtype()));
        return new PackedWeight(K.packTransposed(s, w.dtype(), 0, Math.max(1, oi[1]), oi[0], oi[1]), w.dtype());
    }

    private static void checkShape(int out, int in) {
        MatrixChecks.nonNegative("pack", "out", out);
        MatrixChecks.nonNegative("pack", "in", in);
        // the widest panels any kernel uses: 2 vectors of 16 floats
        if (PackedPanels.size(32, out, in) < 0) {
            throw new IllegalArgumentException("pack: W [" + out + ", " + in + "] is too large to pack into one float"
                    + " array (over 2^31 - 9 elements)");
        }
    }

    /** Output features (rows of W). */
    public int outFeatures() {
        return panels.rows();
    }

    /** Input features (columns of W). */
    public int inFeatures() {
        return panels.cols();
    }

    /** The dtype the weight was packed from. */
    public DType sourceType() {
        return source;
    }

    /** Bytes of the packed form. */
    public long bytes() {
        return 4L * panels.data().length;
    }

    PackedPanels panels() {
        return panels;
    }

    @Override
    public String toString() {
        return "PackedWeight[" + source + " [" + outFeatures() + ", " + inFeatures() + "], panels of "
                + panels.panelWidth() + "]";
    }
}

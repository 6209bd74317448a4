package lowbit.tensor.simd;

import java.util.Objects;

/**
 * A weight {@code W [n, k]} (the B of {@code C = A·Wᵀ}, stored as a linear layer's {@code [out, in]}) repacked once
 * as floats in the order a GEMM micro-kernel reads it: panels of {@link #panelWidth()} consecutive rows of W, each
 * panel k-major. Element {@code W[j, p]} is at
 * <pre>
 *   data[(j / w)·w·k + p·w + j % w],   w = panelWidth()
 * </pre>
 * and the last panel is zero-padded past row n (so {@code data.length = ⌈n/w⌉·w·k}). This is the packing that
 * Goto and van de Geijn's blocked GEMM (<i>Anatomy of High-Performance Matrix Multiplication</i>, ACM TOMS 2008)
 * repeats for every call; a constant weight can pay it once. With {@code w = 1} the data is W itself, row-major.
 * Instances come from {@link DenseKernels#packTransposed}; the panel width is the producing kernel's register-tile
 * width, and a kernel rejects panels of another width.
 */
public final class PackedPanels {
    private final float[] data;
    private final int width;
    private final int n;
    private final int k;

    /**
     * Wraps packed data (not copied).
     *
     * @throws IllegalArgumentException unless {@code data.length = ⌈n/width⌉·width·k} and all sizes are valid
     */
    public PackedPanels(float[] data, int width, int n, int k) {
        Objects.requireNonNull(data, "packed data is null");
        if (width < 1 || n < 0 || k < 0) {
            throw new IllegalArgumentException("packed panels need width >= 1, n >= 0, k >= 0; got width " + width
                    + ", n " + n + ", k " + k);
        }
        long expected = (long) ((n + width - 1) / width) * width * k;
        if (data.length != expected) {
            throw new IllegalArgumentException("packed panels of width " + width + " for W [" + n + ", " + k
                    + "] need " + expected + " floats, got " + data.length);
        }
        this.data = data;
        this.width = width;
        this.n = n;
        this.k = k;
    }

    /**
     * The number of floats the panels of W [n, k] at this width take, or -1 when that exceeds a Java array
     * ({@code Integer.MAX_VALUE - 8}).
     */
    public static long size(int width, int n, int k) {
        long s = (long) ((n + width - 1) / width) * width * k;
        return s > Integer.MAX_VALUE - 8 ? -1 : s;
    }

    /** The packed floats (shared, not a copy: do not modify). */
    public float[] data() {
        return data;
    }

    /** Rows of W per panel. */
    public int panelWidth() {
        return width;
    }

    /** Rows of W (the output features). */
    public int rows() {
        return n;
    }

    /** Columns of W (the input features, the GEMM's k). */
    public int cols() {
        return k;
    }

    /** {@code W[j, p]} as packed. */
    public float get(int j, int p) {
        return data[(j / width) * width * k + p * width + j % width];
    }
}

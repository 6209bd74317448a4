package lowbit.tensor.layout;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import lowbit.tensor.PackedInts;
import lowbit.tensor.simd.ScalarSparseKernels;
import lowbit.tensor.simd.SparseKernels;

/**
 * The N:M row format both compressed layouts share ({@link NmSparseMatrix}, {@link NmSparseAffine}): shape and
 * pattern checks, the packed in-group index streams and the choice of kept positions from a dense row or a mask.
 */
final class NmRows {
    /** Largest group size: in-group indices are at most 8 bits. */
    static final int MAX_M = 256;

    final int rows;
    final int cols;
    final int n;
    final int m;
    final int idxBits;
    final int kept;
    final long idxRowBytes;

    NmRows(int rows, int cols, int n, int m) {
        check(rows, cols, n, m);
        this.rows = rows;
        this.cols = cols;
        this.n = n;
        this.m = m;
        this.idxBits = indexBits(m);
        this.kept = cols / m * n;
        this.idxRowBytes = PackedInts.byteSize(kept, idxBits);
    }

    /**
     * For a 2:4 product of at most {@code smallN} X rows, each row of X in the form the kernels' 2:4 GEMV reads
     * ({@link SparseKernels#prepareTwoFour}), built once before the parallel loop; null when the pattern is not 2:4,
     * X has more rows (the GEMM path decodes Ŵ instead) or the kernels read x as it is.
     */
    float[][] prepareTwoFour(SparseKernels k, float[] x, int xRows, int smallN) {
        if (n != 2 || m != 4 || xRows > smallN || xRows == 0) {
            return null;
        }
        float[][] out = new float[xRows][];
        for (int i = 0; i < xRows; i++) {
            out[i] = k.prepareTwoFour(x, i * cols, cols);
            if (out[i] == null) {
                return null;
            }
        }
        return out;
    }

    /** ⌈log₂ M⌉, the bits of one in-group index. */
    static int indexBits(int m) {
        return 32 - Integer.numberOfLeadingZeros(m - 1);
    }

    static void check(int rows, int cols, int n, int m) {
        if (m < 2 || m > MAX_M || n < 1 || n >= m) {
            throw new IllegalArgumentException("N:M pattern " + n + ":" + m + " needs 1 <= N < M <= " + MAX_M
                    + " (N kept weights in every group of M)");
        }
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        }
        if (cols % m != 0) {
            throw new IllegalArgumentException(n + ":" + m + " sparsity needs the input dimension to be a multiple of M = "
                    + m + ", got cols = " + cols);
        }
    }

    String pattern() {
        return n + ":" + m;
    }

    /** Kept value count of the whole matrix, as an int (throws when over 2^31 − 9). */
    int totalKept() {
        long t = (long) rows * kept;
        if (t > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException(pattern() + ": " + rows + "x" + cols + " keeps " + t
                    + " values, more than one array holds");
        }
        return (int) t;
    }

    /** Column of kept value k of a row whose index stream starts at byte {@code off}. */
    int column(MemorySegment idx, long off, int k) {
        return (k / n) * m + ScalarSparseKernels.code(idx, off, k, idxBits);
    }

    /**
     * Packs in-group indices (rows·kept values in [0, M), strictly increasing within each group) into a new native
     * segment, one byte-aligned stream per row.
     */
    MemorySegment packIndices(int[] indices) {
        Objects.requireNonNull(indices, "indices");
        int total = totalKept();
        if (indices.length != total) {
            throw new IllegalArgumentException(pattern() + ": " + indices.length + " in-group indices for a [" + rows
                    + ", " + cols + "] matrix, expected rows·cols·N/M = " + total);
        }
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < cols / m; g++) {
                int prev = -1;
                for (int i = 0; i < n; i++) {
                    int v = indices[r * kept + g * n + i];
                    if (v < 0 || v >= m || v <= prev) {
                        throw new IllegalArgumentException(pattern() + ": row " + r + ", group " + g + " (columns "
                                + g * m + ".." + (g * m + m - 1) + "): in-group index " + v + " at position " + i
                                + (v < 0 || v >= m ? " is outside [0, " + m + ")" : " is not above the previous " + prev));
                    }
                    prev = v;
                }
            }
        }
        MemorySegment seg = GroupwiseAffine.offHeap(Math.max(1, rows * idxRowBytes)).asSlice(0, rows * idxRowBytes);
        for (int r = 0; r < rows; r++) {
            PackedInts.pack(indices, r * kept, kept, idxBits, false, seg.asSlice(r * idxRowBytes, idxRowBytes), 0);
        }
        return seg;
    }

    /** Validates packed index streams (each index below M, strictly increasing in every group); returns a native copy. */
    MemorySegment checkPacked(MemorySegment packed) {
        Objects.requireNonNull(packed, "packed indices");
        long need = rows * idxRowBytes;
        if (packed.byteSize() < need) {
            throw new IllegalArgumentException(pattern() + ": packed indices of a [" + rows + ", " + cols + "] matrix need "
                    + need + " bytes (" + idxRowBytes + " per row), the segment has " + packed.byteSize());
        }
        int[] idx = new int[kept];
        int[] all = new int[totalKept()];
        for (int r = 0; r < rows; r++) {
            PackedInts.unpack(packed.asSlice(r * idxRowBytes, idxRowBytes), 0, idxBits, false, idx, 0, kept);
            System.arraycopy(idx, 0, all, r * kept, kept);
        }
        return packIndices(all);
    }

    /**
     * The kept positions of a dense row-major matrix whose every group has at most N non-zero weights: the non-zeros,
     * completed (in groups with fewer) by the lowest zero positions. Returns in-group indices (rows·kept).
     *
     * @throws IllegalArgumentException for a NaN or infinite weight or a group with more than N non-zeros (named)
     */
    int[] keptOfDense(float[] w) {
        Objects.requireNonNull(w, "weights");
        checkDense(w);
        int[] out = new int[totalKept()];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < cols / m; g++) {
                int base = r * cols + g * m;
                int nz = 0;
                for (int i = 0; i < m; i++) {
                    float v = w[base + i];
                    if (!Float.isFinite(v)) {
                        throw new IllegalArgumentException(pattern() + ": weight at row " + r + ", col " + (g * m + i)
                                + " is " + v);
                    }
                    if (v != 0) {
                        nz++;
                    }
                }
                if (nz > n) {
                    throw new IllegalArgumentException("row " + r + ", group " + g + " (columns " + g * m + ".."
                            + (g * m + m - 1) + ") has " + nz + " non-zero weights; " + pattern()
                            + " keeps at most " + n + " (prune to the pattern first)");
                }
                int fill = n - nz; // lowest zero positions completing the group
                int o = r * kept + g * n;
                for (int i = 0; i < m; i++) {
                    boolean take = w[base + i] != 0;
                    if (!take && fill > 0) {
                        take = true;
                        fill--;
                    }
                    if (take) {
                        out[o++] = i;
                    }
                }
            }
        }
        return out;
    }

    /**
     * The kept positions given by a row-major boolean mask with exactly N true entries in every group.
     *
     * @throws IllegalArgumentException for a mask of the wrong length or a group without exactly N kept entries
     */
    int[] keptOfMask(boolean[] keep) {
        Objects.requireNonNull(keep, "keep mask");
        if (keep.length != (long) rows * cols) {
            throw new IllegalArgumentException(pattern() + ": keep mask has " + keep.length + " entries, expected ["
                    + rows + ", " + cols + "] = " + (long) rows * cols);
        }
        int[] out = new int[totalKept()];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < cols / m; g++) {
                int base = r * cols + g * m;
                int o = r * kept + g * n;
                int c = 0;
                for (int i = 0; i < m; i++) {
                    if (keep[base + i]) {
                        if (c < n) {
                            out[o + c] = i;
                        }
                        c++;
                    }
                }
                if (c != n) {
                    throw new IllegalArgumentException("keep mask: row " + r + ", group " + g + " (columns " + g * m
                            + ".." + (g * m + m - 1) + ") keeps " + c + " weights, " + pattern() + " needs exactly " + n);
                }
            }
        }
        return out;
    }

    void checkDense(float[] w) {
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException(pattern() + ": " + w.length + " weights for a [" + rows + ", " + cols
                    + "] matrix, expected " + (long) rows * cols);
        }
    }

    /** The in-group indices of all rows (rows·kept), unpacked. */
    int[] unpack(MemorySegment idx) {
        int[] out = new int[totalKept()];
        for (int r = 0; r < rows; r++) {
            PackedInts.unpack(idx.asSlice(r * idxRowBytes, idxRowBytes), 0, idxBits, false, out, r * kept, kept);
        }
        return out;
    }
}

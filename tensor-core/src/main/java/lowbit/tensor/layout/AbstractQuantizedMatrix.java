package lowbit.tensor.layout;

import java.util.Objects;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.FloatOps;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * The part every layout shares: argument checks, the outlier side list, parallel row splitting and the GEMM
 * strategies. A layout implements only its <em>base</em> kernels (its codes without outliers):
 * {@link #dequantizeBaseRows} and {@link #gemvBaseRows}; it may override {@link #gemmBaseRows} with a fused kernel.
 *
 * <p>Outliers: at construction each outlier's correction δ = value − base(r, c) is computed once; GEMV and GEMM add
 * δ·x[c] to the base row's result (after the base dot product, in CSR order), dequantize writes the exact value.
 * Bias is added last. Row chunks depend only on the shape, so results are bit-identical for any thread count.
 */
public abstract class AbstractQuantizedMatrix implements QuantizedMatrix {
    private static final DenseKernels DENSE = VectorizationProvider.get().dense();
    /** Weight elements per parallel GEMV chunk (at least; whole groups of four rows). */
    private static final int CHUNK_ELEMENTS = 1 << 15;
    /** Float elements of the dequantized W tile a GEMM task multiplies with the dense kernel (256 KiB). */
    private static final int TILE_ELEMENTS = 1 << 16;
    /** At most this many rows of X use the streaming path (each W chunk decoded once per X row, from cache). */
    protected static final int SMALL_N = 8;

    private final int rows;
    private final int cols;
    private final Outliers outliers;
    private final float[] deltas;

    /**
     * @param outliers the side list ({@code null} for none); its shape must be [rows, cols]
     */
    protected AbstractQuantizedMatrix(int rows, int cols, Outliers outliers) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        }
        this.rows = rows;
        this.cols = cols;
        this.outliers = outliers == null ? Outliers.none(rows, cols) : outliers;
        if (this.outliers.rows() != rows || this.outliers.cols() != cols) {
            throw new IllegalArgumentException("outliers of shape [" + this.outliers.rows() + ", " + this.outliers.cols()
                    + "] do not fit a [" + rows + ", " + cols + "] matrix");
        }
        this.deltas = new float[this.outliers.count()];
    }

    /**
     * Computes the outlier corrections; a subclass calls it at the end of its constructor, once the base kernels
     * work (they need the subclass's fields).
     */
    protected final void initOutliers() {
        if (outliers.isEmpty()) {
            return;
        }
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            int s = outliers.rowStart(r);
            int e = outliers.rowEnd(r);
            if (s == e) {
                continue;
            }
            dequantizeBaseRows(r, r + 1, row, 0);
            for (int i = s; i < e; i++) {
                deltas[i] = outliers.value(i) - row[outliers.col(i)];
            }
        }
    }

    /** Writes rows [rowFrom, rowTo) of the codes' own values (no outliers) to dst, row-major. Trusts its arguments. */
    protected abstract void dequantizeBaseRows(int rowFrom, int rowTo, float[] dst, int dstOff);

    /**
     * {@code y[yOff + r] = base row r · x[xOff ..]} for r in [rowFrom, rowTo) (no outliers, no bias), sequential; the
     * order of operations may depend on cols only. Trusts its arguments.
     */
    protected abstract void gemvBaseRows(float[] x, int xOff, float[] y, int yOff, int rowFrom, int rowTo);

    /**
     * {@code Y[i, r] = X[i, :] · base row r} for i in [0, n), r in [rowFrom, rowTo), with Y[i, r] at
     * {@code y[i·rows + r]}, sequential. The default dequantizes the row range into {@code tile} (which holds at
     * least (rowTo − rowFrom)·cols floats) and runs the dense GEMM on it; a layout may override with a fused kernel.
     */
    protected void gemmBaseRows(float[] x, int n, float[] y, int rowFrom, int rowTo, float[] tile) {
        int tr = rowTo - rowFrom;
        dequantizeBaseRows(rowFrom, rowTo, tile, 0);
        DENSE.gemm(false, true, n, tr, cols, 1f, x, 0, cols, tile, 0, cols, 0f, y, rowFrom, rows);
    }

    /**
     * Prepares the {@code n} rows of X ({@code n·cols} floats; n = 1 for a GEMV) once per product, before the parallel
     * loop, for a layout whose kernels consume a transformed input (ggml's Q8 activations); the result is handed to
     * every chunk through the {@code prepared} overloads below. The default prepares nothing ({@code null}): chunks then
     * go to the plain {@link #gemvBaseRows} / {@link #gemmBaseRows}. Runs after {@link #checkInput}.
     */
    protected Object prepareInput(float[] x, int n) {
        return null;
    }

    /**
     * {@link #gemvBaseRows(float[], int, float[], int, int, int)} for X row {@code xRow} (at {@code x[xOff]}) with the
     * input prepared by {@link #prepareInput} (non-null). Override together with prepareInput.
     */
    protected void gemvBaseRows(float[] x, int xOff, Object prepared, int xRow, float[] y, int yOff, int rowFrom,
            int rowTo) {
        gemvBaseRows(x, xOff, y, yOff, rowFrom, rowTo);
    }

    /**
     * {@link #gemmBaseRows(float[], int, float[], int, int, float[])} with the input prepared by {@link #prepareInput}
     * (non-null; no float tile is allocated on this path). Override together with prepareInput.
     */
    protected void gemmBaseRows(float[] x, int n, Object prepared, float[] y, int rowFrom, int rowTo) {
        gemmBaseRows(x, n, y, rowFrom, rowTo, new float[(rowTo - rowFrom) * cols]);
    }

    /** Rows per GEMV task: about {@value #CHUNK_ELEMENTS} weights, a multiple of 4 when it can be. */
    protected int gemvGrain() {
        long g = Math.max(1, CHUNK_ELEMENTS / Math.max(1, cols));
        return (int) (g >= 4 ? g & ~3L : g);
    }

    /** Rows per GEMM tile (about {@value #TILE_ELEMENTS} floats of W). */
    protected int gemmTileRows() {
        long g = Math.max(1, TILE_ELEMENTS / Math.max(1, cols));
        return (int) Math.min(rows == 0 ? 1 : rows, g >= 8 ? g & ~7L : g);
    }

    @Override
    public final int rows() {
        return rows;
    }

    @Override
    public final int cols() {
        return cols;
    }

    @Override
    public final Outliers outliers() {
        return outliers;
    }

    @Override
    public final void dequantizeRows(int rowFrom, int rowTo, float[] dst, int dstOff) {
        Objects.checkFromToIndex(rowFrom, rowTo, rows);
        Objects.requireNonNull(dst, "dst");
        long need = (long) (rowTo - rowFrom) * cols;
        if (dstOff < 0 || dstOff + need > dst.length) {
            throw new IndexOutOfBoundsException(describe() + ": rows [" + rowFrom + ", " + rowTo + ") need " + need
                    + " floats from index " + dstOff + " but dst has " + dst.length);
        }
        dequantizeBaseRows(rowFrom, rowTo, dst, dstOff);
        for (int r = rowFrom; r < rowTo; r++) {
            int base = dstOff + (r - rowFrom) * cols;
            for (int i = outliers.rowStart(r), e = outliers.rowEnd(r); i < e; i++) {
                dst[base + outliers.col(i)] = outliers.value(i);
            }
        }
    }

    @Override
    public final void gemv(float[] x, float[] bias, float[] y) {
        String op = describe() + " gemv";
        Objects.requireNonNull(x, op + ": x is null");
        Objects.requireNonNull(y, op + ": y is null");
        String shapes = " (Ŵ [" + rows + ", " + cols + "] · x [" + cols + "] = y [" + rows + "])";
        if (x.length != cols) {
            throw new IllegalArgumentException(op + ": x has " + x.length + " elements, expected " + cols + shapes);
        }
        if (y.length != rows) {
            throw new IllegalArgumentException(op + ": y has " + y.length + " elements, expected " + rows + shapes);
        }
        if (bias != null && bias.length != rows) {
            throw new IllegalArgumentException(op + ": bias has " + bias.length + " elements, expected " + rows + shapes);
        }
        if (y == x || y == bias) {
            throw new IllegalArgumentException(op + ": y must not be the same array as " + (y == x ? "x" : "bias"));
        }
        checkInput(op, x, cols);
        Object prepared = prepareInput(x, 1);
        Parallel.forRange(0, rows, gemvGrain(), (from, to) -> {
            if (prepared == null) {
                gemvBaseRows(x, 0, y, 0, (int) from, (int) to);
            } else {
                gemvBaseRows(x, 0, prepared, 0, y, 0, (int) from, (int) to);
            }
            finish(x, 0, y, 0, bias, (int) from, (int) to);
        });
    }

    @Override
    public final void gemm(float[] x, int n, float[] bias, float[] y) {
        String op = describe() + " gemm";
        Objects.requireNonNull(x, op + ": X is null");
        Objects.requireNonNull(y, op + ": Y is null");
        if (n < 0) {
            throw new IllegalArgumentException(op + ": negative n " + n);
        }
        String shapes = " (X [" + n + ", " + cols + "] · Ŵᵀ [" + cols + ", " + rows + "] = Y [" + n + ", " + rows + "])";
        if (x.length != (long) n * cols) {
            throw new IllegalArgumentException(op + ": X has " + x.length + " elements, expected " + (long) n * cols + shapes);
        }
        if (y.length != (long) n * rows) {
            throw new IllegalArgumentException(op + ": Y has " + y.length + " elements, expected " + (long) n * rows + shapes);
        }
        if (bias != null && bias.length != rows) {
            throw new IllegalArgumentException(op + ": bias has " + bias.length + " elements, expected " + rows + shapes);
        }
        if (y == x || y == bias) {
            throw new IllegalArgumentException(op + ": Y must not be the same array as " + (y == x ? "X" : "bias"));
        }
        checkInput(op, x, (long) n * cols);
        if (n == 0 || rows == 0) {
            return;
        }
        Object prepared = prepareInput(x, n);
        if (n <= SMALL_N) {
            Parallel.forRange(0, rows, gemvGrain(), (from, to) -> {
                for (int i = 0; i < n; i++) {
                    if (prepared == null) {
                        gemvBaseRows(x, i * cols, y, i * rows, (int) from, (int) to);
                    } else {
                        gemvBaseRows(x, i * cols, prepared, i, y, i * rows, (int) from, (int) to);
                    }
                    finish(x, i * cols, y, i * rows, bias, (int) from, (int) to);
                }
            });
            return;
        }
        int tileRows = gemmTileRows();
        Parallel.forRange(0, rows, tileRows, (from, to) -> {
            if (prepared == null) {
                gemmBaseRows(x, n, y, (int) from, (int) to, new float[(int) (to - from) * cols]);
            } else {
                gemmBaseRows(x, n, prepared, y, (int) from, (int) to);
            }
            for (int i = 0; i < n; i++) {
                finish(x, i * cols, y, i * rows, bias, (int) from, (int) to);
            }
        });
    }

    /**
     * Checks the float input of a product; the default accepts anything (NaN and infinities propagate as in float
     * arithmetic). A layout that quantizes its input (ggml's Q8 activations) rejects non-finite values here.
     */
    protected void checkInput(String op, float[] x, long n) {
    }

    /**
     * For layouts that quantize their input: throws an IllegalArgumentException naming the first NaN or ±∞ of
     * {@code x[0, n)} and why ({@code why}, e.g. "ggml's integer path quantizes the input to Q8 and needs finite
     * values"); one vector max-abs pass when all are finite.
     */
    protected static void requireFinite(String op, float[] x, long n, String why) {
        if (!Float.isFinite(FloatOps.maxAbs(x, 0, (int) n))) {
            for (int i = 0; i < n; i++) {
                if (!Float.isFinite(x[i])) {
                    throw new IllegalArgumentException(op + ": input element " + i + " is " + x[i] + "; " + why);
                }
            }
        }
    }

    /** Adds outlier corrections and then the bias to y[yOff + r] for r in [from, to). */
    private void finish(float[] x, int xOff, float[] y, int yOff, float[] bias, int from, int to) {
        if (!outliers.isEmpty()) {
            for (int r = from; r < to; r++) {
                float acc = y[yOff + r];
                for (int i = outliers.rowStart(r), e = outliers.rowEnd(r); i < e; i++) {
                    acc += deltas[i] * x[xOff + outliers.col(i)];
                }
                y[yOff + r] = acc;
            }
        }
        if (bias != null) {
            for (int r = from; r < to; r++) {
                y[yOff + r] += bias[r];
            }
        }
    }

    @Override
    public String toString() {
        return describe() + " [" + rows + ", " + cols + "]" + (outliers.isEmpty() ? "" : " + " + outliers);
    }
}

package lowbit.nn;

import java.util.Objects;
import lowbit.tensor.linalg.Gemm;
import lowbit.tensor.layout.QuantizedMatrix;

/**
 * A frozen weight in any {@link QuantizedMatrix} layout (group-wise affine, ggml blocks, NF4, ...). Forward is the
 * layout's fused {@link QuantizedMatrix#gemm}; the input gradient {@code dX = dY·Ŵ} dequantizes Ŵ in tiles of rows
 * (never the whole matrix) and accumulates {@code dX += dY[:, r0:r1]·Ŵ[r0:r1, :]} tile by tile in row order with the
 * dense GEMM, so the result is deterministic. A quantized weight is never {@link #trainable()}: adapters train
 * beside it.
 */
public final class QuantizedWeight implements LinearWeight {
    /** Floats of Ŵ dequantized per tile of the backward product (256 KiB). */
    private static final int TILE_ELEMENTS = 1 << 16;
    private final QuantizedMatrix w;

    /** A weight over the layout {@code w}. */
    public QuantizedWeight(QuantizedMatrix w) {
        this.w = Objects.requireNonNull(w, "quantized matrix is null");
    }

    /** The layout. */
    public QuantizedMatrix matrix() {
        return w;
    }

    @Override
    public int outFeatures() {
        return w.rows();
    }

    @Override
    public int inFeatures() {
        return w.cols();
    }

    @Override
    public String describe() {
        return w.describe() + " [" + w.rows() + ", " + w.cols() + "]";
    }

    @Override
    public void forward(float[] x, int n, float[] bias, float[] y) {
        w.gemm(x, n, bias, y);
    }

    @Override
    public void backwardInput(float[] dy, int n, float[] dx) {
        Objects.requireNonNull(dy, "dY is null");
        Objects.requireNonNull(dx, "dX is null");
        int out = w.rows(), in = w.cols();
        LinearChecks.backwardInput(describe(), dy, n, out, in, dx);
        if (out == 0 || in == 0 || n == 0) {
            java.util.Arrays.fill(dx, 0f);
            return;
        }
        int tileRows = Math.max(1, Math.min(out, TILE_ELEMENTS / in));
        float[] tile = new float[tileRows * in];
        for (int r0 = 0; r0 < out; r0 += tileRows) {
            int tr = Math.min(tileRows, out - r0);
            w.dequantizeRows(r0, r0 + tr, tile, 0);
            Gemm.gemm(false, false, n, in, tr, 1f, dy, r0, out, tile, 0, in, r0 == 0 ? 0f : 1f, dx, 0, in);
        }
    }

    @Override
    public float[] toFloats() {
        return w.dequantize();
    }

    @Override
    public boolean trainable() {
        return false;
    }

    @Override
    public String toString() {
        return "QuantizedWeight[" + describe() + "]";
    }
}

package lowbit.nn.adapter;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import lowbit.nn.DenseWeight;
import lowbit.nn.Linear;
import lowbit.nn.LinearWeight;
import lowbit.nn.QuantizedWeight;
import lowbit.tensor.DType;

/** The frozen base layer as the adapters see it: products through its own kernels, and float rows of Ŵ on demand. */
final class Base {
    /** Floats dequantized per tile when an adapter scans W row block by row block (256 KiB). */
    static final int TILE_ELEMENTS = 1 << 16;
    final Linear linear;
    final int in;
    final int out;
    private float[] dense;

    Base(Linear linear) {
        this.linear = linear;
        this.in = linear.inFeatures();
        this.out = linear.outFeatures();
    }

    LinearWeight weight() {
        return linear.weight();
    }

    boolean quantized() {
        return linear.weight() instanceof QuantizedWeight;
    }

    /** Rows [r0, r1) of W as floats into dst (row-major, in per row). */
    void rows(int r0, int r1, float[] dst) {
        rows(r0, r1, dst, 0);
    }

    /** Rows [r0, r1) of W as floats into dst starting at dstOff. */
    void rows(int r0, int r1, float[] dst, int dstOff) {
        LinearWeight w = linear.weight();
        if (w instanceof QuantizedWeight q) {
            q.matrix().dequantizeRows(r0, r1, dst, dstOff);
        } else if (w instanceof DenseWeight d && d.tensor().dtype() == DType.F32) {
            MemorySegment.copy(d.tensor().segment(), ValueLayout.JAVA_FLOAT_UNALIGNED, (long) r0 * in * 4, dst, dstOff,
                    (r1 - r0) * in);
        } else if (w instanceof DenseWeight d) {
            float[] f = d.tensor().rows(r0, r1).toFloatArray();
            System.arraycopy(f, 0, dst, dstOff, f.length);
        } else {
            float[] all = dense();
            System.arraycopy(all, r0 * in, dst, dstOff, (r1 - r0) * in);
        }
    }

    /** Rows per tile for a scan of W. */
    int tileRows() {
        return Math.max(1, Math.min(out, TILE_ELEMENTS / Math.max(1, in)));
    }

    /** All of W as floats (cached: for methods that need the dense matrix, Bone-bat and merges). */
    float[] dense() {
        if (dense == null) {
            dense = linear.weight().toFloats();
        }
        return dense;
    }

    /** Y = X·Wᵀ (no bias), through the base's own kernel. */
    void forwardNoBias(float[] x, int n, float[] y) {
        linear.weight().forward(x, n, null, y);
    }

    @Override
    public String toString() {
        return linear.weight().describe();
    }
}

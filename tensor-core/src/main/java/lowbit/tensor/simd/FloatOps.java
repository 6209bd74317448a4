package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Validated entry points for the float kernels of the {@linkplain VectorizationProvider chosen provider}:
 * dot product, axpy, scale, sum, sum of squares, max-abs, min and max, over {@code float[]} ranges and over
 * little-endian F32 {@link MemorySegment}s. Offsets and lengths count elements. Out-of-range arguments throw
 * {@link IndexOutOfBoundsException} naming the range; writing into a read-only segment throws
 * {@link IllegalArgumentException} before anything is written.
 *
 * <p>Results follow {@link FloatKernels}: empty sums are 0, empty min/max are &plusmn;&infin;, NaN propagates. The
 * SIMD implementation adds in a different order than a left-to-right loop, so results may differ from it in the
 * last bits (within n·ε·&Sigma;|terms|).
 */
public final class FloatOps {
    private static final FloatKernels K = VectorizationProvider.get().floats();

    private FloatOps() {
    }

    /** &Sigma; a[i]·b[i] over whole arrays of equal length. */
    public static float dot(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("dot: lengths differ, " + a.length + " vs " + b.length);
        }
        return K.dot(a, 0, b, 0, a.length);
    }

    /** &Sigma; a[aOff+i]·b[bOff+i], i &lt; n. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        Objects.checkFromIndexSize(aOff, n, a.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        return K.dot(a, aOff, b, bOff, n);
    }

    /** y[yOff+i] += alpha·x[xOff+i], i &lt; n. */
    public static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        K.axpy(alpha, x, xOff, y, yOff, n);
    }

    /** x[off+i] *= alpha, i &lt; n. */
    public static void scale(float alpha, float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        K.scale(alpha, x, off, n);
    }

    /** &Sigma; x[off+i], i &lt; n. */
    public static float sum(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        return K.sum(x, off, n);
    }

    /** &Sigma; x[off+i]², i &lt; n. */
    public static float sumOfSquares(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        return K.sumOfSquares(x, off, n);
    }

    /** max |x[off+i]|, i &lt; n (0 when n = 0). */
    public static float maxAbs(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        return K.maxAbs(x, off, n);
    }

    /** min x[off+i], i &lt; n (+&infin; when n = 0). */
    public static float min(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        return K.min(x, off, n);
    }

    /** max x[off+i], i &lt; n (&minus;&infin; when n = 0). */
    public static float max(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        return K.max(x, off, n);
    }

    /** y[yOff+i] = x[xOff+i] + c, i &lt; n (the same bits with or without SIMD); y may be x at the same offset. */
    public static void addScalar(float[] x, int xOff, float c, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        K.addScalar(x, xOff, c, y, yOff, n);
    }

    /**
     * y[yOff+i] = (x[xOff+i]·s)·g[gOff+i] + b[bOff+i], i &lt; n, each operation rounded (the same bits with or without
     * SIMD); y may be x at the same offset.
     */
    public static void scaleMulAdd(float[] x, int xOff, float s, float[] g, int gOff, float[] b, int bOff, float[] y,
            int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(gOff, n, g.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        K.scaleMulAdd(x, xOff, s, g, gOff, b, bOff, y, yOff, n);
    }

    /**
     * y[yOff+i] = e^(x[xOff+i] − shift), i &lt; n, by {@link ElementwiseMath#exp} (within 1 ulp; the same bits with
     * or without SIMD). y may be x at the same offset (in place).
     */
    public static void expShifted(float[] x, int xOff, float shift, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        K.expShifted(x, xOff, shift, y, yOff, n);
    }

    /**
     * y[yOff+i] = GELU(x[xOff+i]) in its erf form, by {@link ElementwiseMath#geluErf} (the same bits with or without
     * SIMD). y may be x at the same offset (in place).
     */
    public static void geluErf(float[] x, int xOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        K.geluErf(x, xOff, y, yOff, n);
    }

    /** Segment form of {@link #dot(float[], int, float[], int, int)}. */
    public static float dot(MemorySegment a, long aOff, MemorySegment b, long bOff, long n) {
        checkFloats(a, aOff, n);
        checkFloats(b, bOff, n);
        return K.dot(a, aOff, b, bOff, n);
    }

    /** Segment form of {@link #axpy(float, float[], int, float[], int, int)}. */
    public static void axpy(float alpha, MemorySegment x, long xOff, MemorySegment y, long yOff, long n) {
        checkFloats(x, xOff, n);
        checkFloats(y, yOff, n);
        checkWritable(y, "axpy");
        K.axpy(alpha, x, xOff, y, yOff, n);
    }

    /** Segment form of {@link #scale(float, float[], int, int)}. */
    public static void scale(float alpha, MemorySegment x, long off, long n) {
        checkFloats(x, off, n);
        checkWritable(x, "scale");
        K.scale(alpha, x, off, n);
    }

    /** Segment form of {@link #sum(float[], int, int)}. */
    public static float sum(MemorySegment x, long off, long n) {
        checkFloats(x, off, n);
        return K.sum(x, off, n);
    }

    /** Segment form of {@link #sumOfSquares(float[], int, int)}. */
    public static float sumOfSquares(MemorySegment x, long off, long n) {
        checkFloats(x, off, n);
        return K.sumOfSquares(x, off, n);
    }

    /** Segment form of {@link #maxAbs(float[], int, int)}. */
    public static float maxAbs(MemorySegment x, long off, long n) {
        checkFloats(x, off, n);
        return K.maxAbs(x, off, n);
    }

    /** Segment form of {@link #min(float[], int, int)}. */
    public static float min(MemorySegment x, long off, long n) {
        checkFloats(x, off, n);
        return K.min(x, off, n);
    }

    /** Segment form of {@link #max(float[], int, int)}. */
    public static float max(MemorySegment x, long off, long n) {
        checkFloats(x, off, n);
        return K.max(x, off, n);
    }

    private static void checkFloats(MemorySegment s, long off, long n) {
        Objects.checkFromIndexSize(off, n, s.byteSize() / Float.BYTES);
    }

    static void checkWritable(MemorySegment s, String op) {
        if (s.isReadOnly()) {
            throw new IllegalArgumentException(op + ": the output segment is read-only");
        }
    }
}

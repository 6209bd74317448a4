package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Float kernels over arrays and over little-endian F32 memory segments. Offsets and lengths count elements (not
 * bytes). Implementations trust their arguments: {@link FloatOps} is the validated public entry point.
 *
 * <p>Reductions of empty ranges: sum, dot and sumOfSquares give 0, maxAbs gives 0, min gives +&infin; and max
 * gives &minus;&infin;. A NaN element makes min, max, maxAbs and the sums NaN. Vector implementations sum in a
 * different order than the scalar twin, so float results agree within the usual summation error bound, not bitwise.
 */
public interface FloatKernels {
    /** &Sigma; a[aOff+i]·b[bOff+i] for i in [0, n). */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** y[yOff+i] += alpha·x[xOff+i] for i in [0, n). */
    void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n);

    /** x[off+i] *= alpha for i in [0, n). */
    void scale(float alpha, float[] x, int off, int n);

    /** &Sigma; x[off+i]. */
    float sum(float[] x, int off, int n);

    /** &Sigma; x[off+i]². */
    float sumOfSquares(float[] x, int off, int n);

    /** max |x[off+i]|. */
    float maxAbs(float[] x, int off, int n);

    /** min x[off+i]. */
    float min(float[] x, int off, int n);

    /** max x[off+i]. */
    float max(float[] x, int off, int n);

    /** Segment form of {@link #dot(float[], int, float[], int, int)}. */
    float dot(MemorySegment a, long aOff, MemorySegment b, long bOff, long n);

    /** Segment form of {@link #axpy(float, float[], int, float[], int, int)}. */
    void axpy(float alpha, MemorySegment x, long xOff, MemorySegment y, long yOff, long n);

    /** Segment form of {@link #scale(float, float[], int, int)}. */
    void scale(float alpha, MemorySegment x, long off, long n);

    /** Segment form of {@link #sum(float[], int, int)}. */
    float sum(MemorySegment x, long off, long n);

    /** Segment form of {@link #sumOfSquares(float[], int, int)}. */
    float sumOfSquares(MemorySegment x, long off, long n);

    /** Segment form of {@link #maxAbs(float[], int, int)}. */
    float maxAbs(MemorySegment x, long off, long n);

    /** Segment form of {@link #min(float[], int, int)}. */
    float min(MemorySegment x, long off, long n);

    /** Segment form of {@link #max(float[], int, int)}. */
    float max(MemorySegment x, long off, long n);

    /**
     * y[yOff+i] = e^(x[xOff+i] − shift), i &lt; n, each element exactly {@link ElementwiseMath#exp}{@code (x − shift)}
     * (the subtraction rounded to float first); y may be x at the same offset.
     */
    void expShifted(float[] x, int xOff, float shift, float[] y, int yOff, int n);

    /**
     * y[yOff+i] = {@link ElementwiseMath#geluErf}(x[xOff+i]), i &lt; n, bit for bit; y may be x at the same offset.
     */
    void geluErf(float[] x, int xOff, float[] y, int yOff, int n);

    /** y[yOff+i] = x[xOff+i] + c, i &lt; n (one rounding per element, so the same bits in every implementation). */
    void addScalar(float[] x, int xOff, float c, float[] y, int yOff, int n);

    /**
     * y[yOff+i] = (x[xOff+i]·s)·g[gOff+i] + b[bOff+i], i &lt; n, rounded after each operation (no fused multiply-add:
     * the same bits in every implementation); a normalisation's scale-and-shift. y may be x at the same offset.
     */
    void scaleMulAdd(float[] x, int xOff, float s, float[] g, int gOff, float[] b, int bOff, float[] y, int yOff, int n);
}

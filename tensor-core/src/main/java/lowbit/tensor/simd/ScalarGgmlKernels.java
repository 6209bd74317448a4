package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The scalar reference for {@link GgmlKernels}, written from ggml's definitions: {@code quantize_row_q4_0_ref},
 * {@code quantize_row_q8_0_ref}, {@code quantize_row_q8_1_ref} and the {@code ggml_vec_dot_*_generic} dot products
 * (same float operation order). It is the fallback implementation and the twin every vector kernel is tested
 * against.
 *
 * <p><b>C conversions.</b> ggml converts floats to 8-bit integers with a C cast, which is undefined when the value
 * does not fit (NaN, &plusmn;&infin;, or a scale whose inverse overflows). lowbit fixes the behaviour of ggml built
 * for x86-64, where the cast is a 32-bit truncating conversion ({@code cvttss2si}, which yields
 * {@code 0x80000000} for NaN and out-of-range values) followed by keeping the low byte: see {@link #cCastToInt8}.
 * For every finite input whose scale has a finite inverse this is plain truncation toward zero.
 */
public final class ScalarGgmlKernels implements GgmlKernels {
    /** Little-endian, unaligned 16-bit: how ggml stores its fp16 fields. */
    public static final ValueLayout.OfShort F16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned 32-bit: the {@code qh} field of Q5_0/Q5_1. */
    public static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Whether the interleaved GEMV accumulates with a fused multiply-add: HotSpot's {@code UseFMA} (fast hardware FMA),
     * as the Vector API kernels decide, so that both give the same bits on the same machine.
     */
    public static final boolean FAST_FMA = hasFastFma();

    /** Creates the scalar kernels (stateless). */
    public ScalarGgmlKernels() {
    }

    private static boolean hasFastFma() {
        try {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(
                    com.sun.management.HotSpotDiagnosticMXBean.class);
            return bean == null || Boolean.parseBoolean(bean.getVMOption("UseFMA").getValue());
        } catch (RuntimeException | LinkageError e) {
            return true;
        }
    }

    /**
     * ggml's {@code (int8_t) f} as compiled for x86-64: truncate toward zero to 32 bits (NaN and values outside
     * [&minus;2<sup>31</sup>, 2<sup>31</sup>) give {@code Integer.MIN_VALUE}), then keep the low 8 bits, sign-extended.
     */
    public static int cCastToInt8(float f) {
        int i = (f >= -0x1p31f && f < 0x1p31f) ? (int) f : Integer.MIN_VALUE;
        return (byte) i;
    }

    /** C's {@code roundf}: nearest integer, halfway cases away from zero; NaN and &plusmn;&infin; unchanged. */
    public static float roundHalfAwayFromZero(float v) {
        float a = Math.abs(v);
        if (!(a < 0x1p23f)) {
            return v; // already an integer, or NaN/infinite
        }
        float f = (float) Math.floor(a);
        float r = (a - f >= 0.5f) ? f + 1f : f; // a - f is exact here
        return Math.copySign(r, v);
    }

    /** fp16 bits of {@code seg} at byte {@code off} as a float. */
    public static float f16(MemorySegment seg, long off) {
        return Float.float16ToFloat(seg.get(F16_LE, off));
    }

    // ---------------------------------------------------------------- encoders

    @Override
    public void quantizeQ4_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ4_0(x, xOff + 32 * b, dst, dstOff + 18L * b);
        }
    }

    /** One Q4_0 block of 32 floats at {@code x[xOff]} into 18 bytes at {@code dst[off]}, as ggml's reference does. */
    public static void quantizeBlockQ4_0(float[] x, int xOff, MemorySegment dst, long off) {
        float amax = 0f;
        float max = 0f;
        for (int j = 0; j < 32; j++) {
            float v = x[xOff + j];
            if (amax < Math.abs(v)) { // strict: the first of equal magnitudes wins
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8f;
        float id = d != 0f ? 1f / d : 0f;
        dst.set(F16_LE, off, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, cCastToInt8(x[xOff + j] * id + 8.5f)) & 0xFF;
            int q1 = Math.min(15, cCastToInt8(x[xOff + 16 + j] * id + 8.5f)) & 0xFF;
            dst.set(ValueLayout.JAVA_BYTE, off + 2 + j, (byte) (q0 | (q1 << 4)));
        }
    }

    @Override
    public void quantizeQ8_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ8(x, xOff + 32 * b, dst, dstOff + 34L * b, false);
        }
    }

    @Override
    public void quantizeQ8_1(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ8(x, xOff + 32 * b, dst, dstOff + 36L * b, true);
        }
    }

    /**
     * One Q8_0 block (34 bytes: d, qs) or, with {@code withSum}, one Q8_1 block (36 bytes: d, s = fp16(&Sigma;q·d),
     * qs), as ggml's reference encoders do: amax by C's {@code MAX} macro, d = amax/127, q = roundf(x·id).
     */
    public static void quantizeBlockQ8(float[] x, int xOff, MemorySegment dst, long off, boolean withSum) {
        float amax = 0f;
        for (int j = 0; j < 32; j++) {
            float a = Math.abs(x[xOff + j]);
            amax = amax > a ? amax : a; // C's MAX(amax, a): a NaN is kept only if it comes last
        }
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        dst.set(F16_LE, off, Float.floatToFloat16(d));
        long qs = off + (withSum ? 4 : 2);
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = cCastToInt8(roundHalfAwayFromZero(x[xOff + j] * id));
            sum += q;
            dst.set(ValueLayout.JAVA_BYTE, qs + j, (byte) q);
        }
        if (withSum) {
            dst.set(F16_LE, off + 2, Float.floatToFloat16(sum * d));
        }
    }

    // ---------------------------------------------------------------- dot products

    @Override
    public float dotQ4_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float sumf = 0f;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 18L * b, ab = aOff + 34L * b;
            int sumi = 0;
            for (int j = 0; j < 16; j++) {
                int q = w.get(ValueLayout.JAVA_BYTE, wb + 2 + j);
                sumi += ((q & 0xF) - 8) * a.get(ValueLayout.JAVA_BYTE, ab + 2 + j);
                sumi += (((q >> 4) & 0xF) - 8) * a.get(ValueLayout.JAVA_BYTE, ab + 18 + j);
            }
            sumf += sumi * f16(w, wb) * f16(a, ab);
        }
        return sumf;
    }

    @Override
    public float dotQ4_1Q8_1(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float sumf = 0f;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 20L * b, ab = aOff + 36L * b;
            int sumi = 0;
            for (int j = 0; j < 16; j++) {
                int q = w.get(ValueLayout.JAVA_BYTE, wb + 4 + j);
                sumi += (q & 0xF) * a.get(ValueLayout.JAVA_BYTE, ab + 4 + j);
                sumi += ((q >> 4) & 0xF) * a.get(ValueLayout.JAVA_BYTE, ab + 20 + j);
            }
            sumf += (f16(w, wb) * f16(a, ab)) * sumi + f16(w, wb + 2) * f16(a, ab + 2);
        }
        return sumf;
    }

    @Override
    public float dotQ5_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float sumf = 0f;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 22L * b, ab = aOff + 34L * b;
            int qh = w.get(I32_LE, wb + 2);
            int sumi = 0;
            for (int j = 0; j < 16; j++) {
                int q = w.get(ValueLayout.JAVA_BYTE, wb + 6 + j);
                int x0 = ((q & 0xF) | (((qh >>> j) & 1) << 4)) - 16;
                int x1 = (((q >> 4) & 0xF) | (((qh >>> (j + 16)) & 1) << 4)) - 16;
                sumi += x0 * a.get(ValueLayout.JAVA_BYTE, ab + 2 + j);
                sumi += x1 * a.get(ValueLayout.JAVA_BYTE, ab + 18 + j);
            }
            sumf += (f16(w, wb) * f16(a, ab)) * sumi;
        }
        return sumf;
    }

    @Override
    public float dotQ5_1Q8_1(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float sumf = 0f;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 24L * b, ab = aOff + 36L * b;
            int qh = w.get(I32_LE, wb + 4);
            int sumi = 0;
            for (int j = 0; j < 16; j++) {
                int q = w.get(ValueLayout.JAVA_BYTE, wb + 8 + j);
                int x0 = (q & 0xF) | (((qh >>> j) & 1) << 4);
                int x1 = ((q >> 4) & 0xF) | (((qh >>> (j + 16)) & 1) << 4);
                sumi += x0 * a.get(ValueLayout.JAVA_BYTE, ab + 4 + j);
                sumi += x1 * a.get(ValueLayout.JAVA_BYTE, ab + 20 + j);
            }
            sumf += (f16(w, wb) * f16(a, ab)) * sumi + f16(w, wb + 2) * f16(a, ab + 2);
        }
        return sumf;
    }

    @Override
    public float dotQ8_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float sumf = 0f;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 34L * b, ab = aOff + 34L * b;
            int sumi = 0;
            for (int j = 0; j < 32; j++) {
                sumi += w.get(ValueLayout.JAVA_BYTE, wb + 2 + j) * a.get(ValueLayout.JAVA_BYTE, ab + 2 + j);
            }
            sumf += sumi * (f16(w, wb) * f16(a, ab));
        }
        return sumf;
    }

    // ---------------------------------------------------------------- 16-row interleaved Q4_0 / Q8_0

    @Override
    public void quantizeQ8_0Pairs(float[] x, int xOff, int[] dst, int dstOff, int nBlocks) {
        MemorySegment blk = MemorySegment.ofArray(new byte[34]);
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ8(x, xOff + 32 * b, blk, 0, false);
            pairsFromQ8_0(blk, 0, dst, dstOff + PAIR_INTS * b);
        }
    }

    /** One Q8_0 block at {@code src[off]} (34 bytes) in the pair form (18 ints) at {@code dst[dstOff]}. */
    public static void pairsFromQ8_0(MemorySegment src, long off, int[] dst, int dstOff) {
        int sum = 0;
        for (int m = 0; m < 16; m++) {
            int q0 = src.get(ValueLayout.JAVA_BYTE, off + 2 + 2 * m);
            int q1 = src.get(ValueLayout.JAVA_BYTE, off + 3 + 2 * m);
            sum += q0 + q1;
            dst[dstOff + m] = (q0 & 0xFFFF) | (q1 << 16);
        }
        dst[dstOff + 16] = sum;
        dst[dstOff + 17] = Float.floatToRawIntBits(f16(src, off));
    }

    private static float accumulate(int s, float c, float acc) {
        return FAST_FMA ? Math.fma((float) s, c, acc) : acc + (float) s * c;
    }

    @Override
    public void gemvQ4_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, float[] y,
            int yOff, int rows) {
        long tileBytes = 288L * nBlocks;
        for (int t = 0; t < tiles; t++) {
            for (int r = 0; r < 16 && 16 * t + r < rows; r++) {
                float acc = 0f;
                for (int b = 0; b < nBlocks; b++) {
                    long blk = wOff + t * tileBytes + 288L * b;
                    int ao = actOff + PAIR_INTS * b;
                    int s = nibbleTileBlockDot(w, blk + 32, r, 8, act, ao);
                    float c = f16(w, blk + 2 * r) * Float.intBitsToFloat(act[ao + 17]);
                    acc = accumulate(s, c, acc);
                }
                y[yOff + 16 * t + r] = acc;
            }
        }
    }

    @Override
    public void gemvQ8_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, float[] y,
            int yOff, int rows) {
        long tileBytes = 544L * nBlocks;
        for (int t = 0; t < tiles; t++) {
            for (int r = 0; r < 16 && 16 * t + r < rows; r++) {
                float acc = 0f;
                for (int b = 0; b < nBlocks; b++) {
                    long blk = wOff + t * tileBytes + 544L * b;
                    int ao = actOff + PAIR_INTS * b;
                    int s = 0;
                    for (int c = 0; c < 16; c++) { // chunk c: elements 2c, 2c+1
                        for (int e = 0; e < 2; e++) {
                            s += w.get(ValueLayout.JAVA_BYTE, blk + 32 + 32 * c + 2 * r + e) * pairHalf(act[ao + c], e);
                        }
                    }
                    float c = f16(w, blk + 2 * r) * Float.intBitsToFloat(act[ao + 17]);
                    acc = accumulate(s, c, acc);
                }
                y[yOff + 16 * t + r] = acc;
            }
        }
    }

    /** The signed 16-bit half e (0 = low) of a code pair. */
    /**
     * &Sigma;_j (q_j − zero)·a_j over the 32 elements of row r of one 16-row block of 4-bit codes in Q4_0's interleaved
     * order (8 chunks of 32 bytes at {@code codes}, chunk c byte 2r+e: low nibble element 4c+e, high nibble element
     * 4c+2+e) against the pair activation block at {@code act[ao]} in the {@link #pairsForQ4_0} form: the exact
     * integer block product of the interleaved Q4_0 tiles (zero 8) and of the int4 affine tiles (zero 0).
     */
    static int nibbleTileBlockDot(MemorySegment w, long codes, int r, int zero, int[] act, int ao) {
        int s = 0;
        for (int c = 0; c < 8; c++) {
            for (int e = 0; e < 2; e++) {
                int q = w.get(ValueLayout.JAVA_BYTE, codes + 32 * c + 2 * r + e);
                // low nibble: element 4c+e (pair 2c, half e); high nibble: element 4c+2+e (pair 2c+1, stored as
                // a[4c+2+e] - 16 a[4c+e]: see pairsForQ4_0)
                int a0 = pairHalf(act[ao + 2 * c], e);
                int a1 = (short) (pairHalf(act[ao + 2 * c + 1], e) + 16 * a0);
                s += ((q & 0xF) - zero) * a0 + (((q >> 4) & 0xF) - zero) * a1;
            }
        }
        return s;
    }

    private static int pairHalf(int pair, int e) {
        return e == 0 ? (short) pair : pair >> 16;
    }
}

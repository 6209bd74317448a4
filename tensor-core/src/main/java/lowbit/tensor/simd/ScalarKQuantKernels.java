package lowbit.tensor.simd;

import static lowbit.tensor.simd.ScalarGgmlKernels.f16;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The scalar reference for {@link KQuantKernels}, written from ggml's definitions: {@code quantize_row_q8_K_ref} and
 * the {@code ggml_vec_dot_q{2,3,4,5,6}_K_q8_K_generic} dot products. The float operations of each dot are those of
 * the generic C function in the same order (eight per-lane float partials {@code sums[l]} over the super-blocks, lane
 * l collecting the elements whose index is l mod 8, then added after the minimum terms), so the result has ggml's
 * generic bits; only the order of the exact integer additions differs, which cannot change them.
 *
 * <p>Block layouts (offsets in bytes): Q2_K {@code scales[16] @0, qs[64] @16, d @80, dmin @82}; Q3_K
 * {@code hmask[32] @0, qs[64] @32, scales[12] @96, d @108}; Q4_K {@code d @0, dmin @2, scales[12] @4, qs[128] @16};
 * Q5_K {@code d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48}; Q6_K {@code ql[128] @0, qh[64] @128,
 * scales[16] @192 (signed), d @208}; Q8_K {@code d (f32) @0, qs[256] @4, bsums[16] (i16) @260}.
 */
public final class ScalarKQuantKernels implements KQuantKernels {
    /** Little-endian, unaligned binary32: Q8_K's d. */
    public static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned 16-bit: Q8_K's bsums. */
    public static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Creates the scalar kernels (stateless). */
    public ScalarKQuantKernels() {
    }

    /**
     * ggml's {@code nearest_int}: f + 1.5·2<sup>23</sup> in float, then the low 23 bits of the result's representation
     * minus 2<sup>22</sup>. Round half to even for |f| &le; 4194303; for other inputs (ggml asserts only in debug builds)
     * the same bit arithmetic, so the same int as release-built ggml.
     */
    public static int nearestInt(float f) {
        float v = f + 12582912f;
        return (Float.floatToRawIntBits(v) & 0x007fffff) - 0x00400000;
    }

    private static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    private static int i8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off);
    }

    /** Q4_K/Q5_K's six-bit scale of sub-block j (0..7) from the 12 scale bytes at {@code off} ({@code get_scale_min_k4}). */
    public static int scaleK4(MemorySegment s, long off, int j) {
        if (j < 4) {
            return u8(s, off + j) & 63;
        }
        return (u8(s, off + j + 4) & 0xF) | ((u8(s, off + j - 4) >> 6) << 4);
    }

    /** Q4_K/Q5_K's six-bit minimum of sub-block j (0..7) ({@code get_scale_min_k4}). */
    public static int minK4(MemorySegment s, long off, int j) {
        if (j < 4) {
            return u8(s, off + j + 4) & 63;
        }
        return (u8(s, off + j + 4) >> 4) | ((u8(s, off + j) >> 6) << 4);
    }

    /**
     * Q3_K's six-bit scale (0..63, used as sc &minus; 32) of 16-element sub-block j (0..15) from the 12 bytes at
     * {@code off}: low nibble of byte j (j &lt; 8) or high nibble of byte j&minus;8, and bits 2(j/4)..2(j/4)+1 of byte
     * 8 + j mod 4 on top.
     */
    public static int scaleQ3K(MemorySegment s, long off, int j) {
        int lo = j < 8 ? u8(s, off + j) & 0xF : u8(s, off + j - 8) >> 4;
        return lo | (((u8(s, off + 8 + j % 4) >> (2 * (j / 4))) & 3) << 4);
    }

    // ---------------------------------------------------------------- Q8_K encoder

    @Override
    public void quantizeQ8_K(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            quantizeBlockQ8_K(x, xOff + 256 * b, dst, dstOff + 292L * b);
        }
    }

    /**
     * One Q8_K block as {@code quantize_row_q8_K_ref}: max = the signed value of largest |x| (first on ties; NaN never
     * wins); an all-zero block stores d = 0 and zero codes; else iscale = −127/max, q = min(127, nearest_int(iscale·x))
     * kept as int8, d = 1/iscale (float), bsums[j] = &Sigma; q over 16j..16j+15. (The reference leaves bsums of an
     * all-zero block unwritten; lowbit writes zeros.)
     */
    public static void quantizeBlockQ8_K(float[] x, int xo, MemorySegment dst, long off) {
        float max = 0;
        float amax = 0;
        for (int j = 0; j < 256; j++) {
            float ax = Math.abs(x[xo + j]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + j];
            }
        }
        if (amax == 0) {
            dst.asSlice(off, 292).fill((byte) 0);
            return;
        }
        float iscale = -127.f / max;
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) {
                int j = 16 * g + i;
                byte q = (byte) Math.min(127, nearestInt(iscale * x[xo + j]));
                dst.set(ValueLayout.JAVA_BYTE, off + 4 + j, q);
                sum += q;
            }
            dst.set(I16_LE, off + 260 + 2L * g, (short) sum);
        }
        dst.set(F32_LE, off, 1 / iscale);
    }

    // ---------------------------------------------------------------- dot products

    @Override
    public float dotQ2_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float sumf = 0;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 84L * b, ab = aOff + 292L * b;
            int summs = 0;
            for (int j = 0; j < 16; j++) {
                summs += a.get(I16_LE, ab + 260 + 2L * j) * (u8(w, wb + j) >> 4);
            }
            float ya = a.get(F32_LE, ab);
            float dall = ya * f16(w, wb + 80);
            float dmin = ya * f16(w, wb + 82);
            int isum = 0;
            // element 128h + 32s + l (s = shift/2, l < 32) is bits 2s..2s+1 of qs[32h + l]; scale index 8h + 2s + l/16
            for (int h = 0; h < 2; h++) {
                for (int s = 0; s < 4; s++) {
                    for (int half = 0; half < 2; half++) {
                        int d = u8(w, wb + 8 * h + 2 * s + half) & 0xF;
                        int isuml = 0;
                        for (int l = 16 * half; l < 16 * half + 16; l++) {
                            isuml += i8(a, ab + 4 + 128 * h + 32 * s + l) * ((u8(w, wb + 16 + 32 * h + l) >> (2 * s)) & 3);
                        }
                        isum += d * isuml;
                    }
                }
            }
            sumf += dall * isum - dmin * summs;
        }
        return sumf;
    }

    @Override
    public float dotQ3_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float[] sums = new float[8];
        int[] aux32 = new int[8];
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 110L * b, ab = aOff + 292L * b;
            Arrays.fill(aux32, 0);
            // element 128h + 32s + l: q = (qs[32h + l] >> 2s) & 3, minus 4 unless bit 4h + s of hmask[l] is set
            for (int h = 0; h < 2; h++) {
                for (int s = 0; s < 4; s++) {
                    for (int l = 0; l < 32; l++) {
                        int e = 128 * h + 32 * s + l;
                        int q = ((u8(w, wb + 32 + 32 * h + l) >> (2 * s)) & 3)
                                - (((u8(w, wb + l) >> (4 * h + s)) & 1) != 0 ? 0 : 4);
                        int sc = scaleQ3K(w, wb + 96, e / 16) - 32;
                        aux32[e & 7] += sc * (i8(a, ab + 4 + e) * q);
                    }
                }
            }
            float d = f16(w, wb + 108) * a.get(F32_LE, ab);
            for (int l = 0; l < 8; l++) {
                sums[l] += d * aux32[l];
            }
        }
        float sumf = 0;
        for (int l = 0; l < 8; l++) {
            sumf += sums[l];
        }
        return sumf;
    }

    @Override
    public float dotQ4_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float[] sums = new float[8];
        int[] aux32 = new int[8];
        float sumf = 0;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 144L * b, ab = aOff + 292L * b;
            Arrays.fill(aux32, 0);
            int sumi = 0;
            for (int j = 0; j < 16; j++) {
                sumi += a.get(I16_LE, ab + 260 + 2L * j) * minK4(w, wb + 4, j / 2);
            }
            // qs[32g + l]: low nibble = element 64g + l (sub-block 2g), high nibble = element 64g + 32 + l (2g + 1)
            for (int g = 0; g < 4; g++) {
                int sc0 = scaleK4(w, wb + 4, 2 * g), sc1 = scaleK4(w, wb + 4, 2 * g + 1);
                for (int l = 0; l < 32; l++) {
                    int q = u8(w, wb + 16 + 32 * g + l);
                    aux32[l & 7] += sc0 * ((q & 0xF) * i8(a, ab + 4 + 64 * g + l));
                    aux32[l & 7] += sc1 * ((q >> 4) * i8(a, ab + 4 + 64 * g + 32 + l));
                }
            }
            float ya = a.get(F32_LE, ab);
            float d = f16(w, wb) * ya;
            for (int l = 0; l < 8; l++) {
                sums[l] += d * aux32[l];
            }
            float dmin = f16(w, wb + 2) * ya;
            sumf -= dmin * sumi;
        }
        for (int l = 0; l < 8; l++) {
            sumf += sums[l];
        }
        return sumf;
    }

    @Override
    public float dotQ5_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float[] sums = new float[8];
        int[] aux32 = new int[8];
        float sumf = 0;
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 176L * b, ab = aOff + 292L * b;
            Arrays.fill(aux32, 0);
            int sumi = 0;
            for (int j = 0; j < 16; j++) {
                sumi += a.get(I16_LE, ab + 260 + 2L * j) * minK4(w, wb + 4, j / 2);
            }
            // as Q4_K, plus 16 when bit 2g (low nibble) or 2g + 1 (high nibble) of qh[l] is set
            for (int g = 0; g < 4; g++) {
                int sc0 = scaleK4(w, wb + 4, 2 * g), sc1 = scaleK4(w, wb + 4, 2 * g + 1);
                for (int l = 0; l < 32; l++) {
                    int q = u8(w, wb + 48 + 32 * g + l);
                    int h = u8(w, wb + 16 + l);
                    int q0 = (q & 0xF) + (((h >> (2 * g)) & 1) << 4);
                    int q1 = (q >> 4) + (((h >> (2 * g + 1)) & 1) << 4);
                    aux32[l & 7] += sc0 * (q0 * i8(a, ab + 4 + 64 * g + l));
                    aux32[l & 7] += sc1 * (q1 * i8(a, ab + 4 + 64 * g + 32 + l));
                }
            }
            float ya = a.get(F32_LE, ab);
            float d = f16(w, wb) * ya;
            for (int l = 0; l < 8; l++) {
                sums[l] += d * aux32[l];
            }
            float dmin = f16(w, wb + 2) * ya;
            sumf -= dmin * sumi;
        }
        for (int l = 0; l < 8; l++) {
            sumf += sums[l];
        }
        return sumf;
    }

    @Override
    public float dotQ6_KQ8_K(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks) {
        float[] sums = new float[8];
        int[] aux32 = new int[8];
        for (int b = 0; b < nBlocks; b++) {
            long wb = wOff + 210L * b, ab = aOff + 292L * b;
            Arrays.fill(aux32, 0);
            // per 128-element half h and l < 32: ql[64h + l] low/high nibble = elements 128h + l / + 64,
            // ql[64h + 32 + l] low/high = + 32 / + 96; bits 0-1, 2-3, 4-5, 6-7 of qh[32h + l] are their top two bits
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int ql0 = u8(w, wb + 64 * h + l), ql1 = u8(w, wb + 64 * h + 32 + l), qh = u8(w, wb + 128 + 32 * h + l);
                    long e = 128 * h + l;
                    aux32[l & 7] += i8(w, wb + 192 + (e >> 4)) * (i8(a, ab + 4 + e) * (((ql0 & 0xF) | ((qh & 3) << 4)) - 32));
                    e += 32;
                    aux32[l & 7] += i8(w, wb + 192 + (e >> 4)) * (i8(a, ab + 4 + e) * (((ql1 & 0xF) | (((qh >> 2) & 3) << 4)) - 32));
                    e += 32;
                    aux32[l & 7] += i8(w, wb + 192 + (e >> 4)) * (i8(a, ab + 4 + e) * (((ql0 >> 4) | (((qh >> 4) & 3) << 4)) - 32));
                    e += 32;
                    aux32[l & 7] += i8(w, wb + 192 + (e >> 4)) * (i8(a, ab + 4 + e) * (((ql1 >> 4) | (((qh >> 6) & 3) << 4)) - 32));
                }
            }
            float d = f16(w, wb + 208) * a.get(F32_LE, ab);
            for (int l = 0; l < 8; l++) {
                sums[l] += d * aux32[l];
            }
        }
        float sumf = 0;
        for (int l = 0; l < 8; l++) {
            sumf += sums[l];
        }
        return sumf;
    }

    // ---------------------------------------------------------------- interleaved Q4_K

    @Override
    public void gemvQ4_Kx16(MemorySegment w, long wOff, int tiles, MemorySegment a, long aOff, int nBlocks, float[] y,
            int yOff, int rowCount) {
        int[] s = new int[12];
        for (int t = 0; t < tiles; t++) {
            for (int r = 0; r < 16 && 16 * t + r < rowCount; r++) {
                float acc = 0, macc = 0;
                for (int b = 0; b < nBlocks; b++) {
                    long blk = wOff + ((long) t * nBlocks + b) * 2304, ab = aOff + 292L * b;
                    float da = a.get(F32_LE, ab);
                    for (int k = 0; k < 12; k++) {
                        s[k] = u8(w, blk + 64 + 16 * k + r);
                    }
                    int isum = 0, msum = 0;
                    for (int j = 0; j < 8; j++) {
                        int sc = j < 4 ? s[j] & 63 : (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
                        int m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
                        msum += m * (a.get(I16_LE, ab + 260 + 4L * j) + a.get(I16_LE, ab + 262 + 4L * j));
                        int g = j >> 1, shift = 4 * (j & 1), sub = 0;
                        for (int c = 0; c < 16; c++) {
                            for (int e = 0; e < 2; e++) {
                                int q = (u8(w, blk + 256 + 512 * g + 32 * c + 2 * r + e) >> shift) & 0xF;
                                sub += q * i8(a, ab + 4 + 32 * j + 2 * c + e);
                            }
                        }
                        isum += sc * sub;
                    }
                    acc = Math.fma((float) isum, f16(w, blk + 2 * r) * da, acc);
                    macc = Math.fma((float) msum, f16(w, blk + 32 + 2 * r) * da, macc);
                }
                y[yOff + 16 * t + r] = acc - macc;
            }
        }
    }
}

package lowbit.tensor.ggml;

import java.lang.foreign.MemorySegment;

/**
 * The part of ggml's {@code quantize_row_q4_K_ref} and {@code quantize_row_q5_K_ref} the two share: per 32-element
 * sub-block the weighted {@code make_qkx2_quants} search, the 6-bit scales and minimums relative to the largest of
 * each, the fp16 d and dmin, and the final re-coding of each sub-block against its stored (rounded) scale and minimum.
 * Writes the 16 header bytes (d, dmin, scales[12]) of a block and returns its 256 codes (0..nmax); the caller packs
 * the codes. One instance holds the scratch arrays of one encoding call (not thread-safe).
 */
final class KQuantEncoder {
    private final int nmax;
    private final float rmin;
    private final float rdelta;
    private final int nstep;
    private final int[] codes = new int[256];
    private final int[] aux = new int[32];
    private final float[] weights = new float[32];
    private final float[] scales = new float[8];
    private final float[] mins = new float[8];
    private final int[] sc = new int[8];
    private final int[] m = new int[8];

    /** nmax 15, rmin −1, rdelta 0.1, nstep 20 for Q4_K; nmax 31, rmin −0.5, rdelta 0.1, nstep 15 for Q5_K. */
    KQuantEncoder(int nmax, float rmin, float rdelta, int nstep) {
        this.nmax = nmax;
        this.rmin = rmin;
        this.rdelta = rdelta;
        this.nstep = nstep;
    }

    /** Encodes the header of the block of 256 floats at {@code x[xo]} into {@code dst[off, off+16)}; returns the codes. */
    int[] encodeScalesMins(float[] x, int xo, MemorySegment dst, long off) {
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            int xj = xo + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) {
                sumX2 += x[xj + l] * x[xj + l];
            }
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) {
                weights[l] = avX + Math.abs(x[xj + l]);
            }
            scales[j] = KQuants.makeQkx2Quants(32, nmax, x, xj, weights, codes, 32 * j, mins, j, aux, rmin, rdelta,
                    nstep, false);
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        for (int j = 0; j < 8; j++) {
            // uint8_t ls = nearest_int(...): C keeps the low byte before MIN(63, ls)
            sc[j] = Math.min(63, KQuants.nearestInt(invScale * scales[j]) & 0xFF);
            m[j] = Math.min(63, KQuants.nearestInt(invMin * mins[j]) & 0xFF);
        }
        KQuants.packScaleMinK4(sc, m, dst, off + 4);
        float d = KQuants.putF16(dst, off, maxScale / 63.f);
        float dmin = KQuants.putF16(dst, off + 2, maxMin / 63.f);
        for (int j = 0; j < 8; j++) {
            float dj = d * sc[j];
            if (dj == 0) {
                continue; // ggml's "if (!d) continue": the search's codes stay
            }
            float dm = dmin * m[j];
            for (int ii = 0; ii < 32; ii++) {
                int l = KQuants.nearestInt((x[xo + 32 * j + ii] + dm) / dj);
                codes[32 * j + ii] = Math.max(0, Math.min(nmax, l));
            }
        }
        return codes;
    }
}

package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Kernels for ggml's 32-element block formats (see {@code lowbit.tensor.ggml}): the reference encoders whose speed
 * matters (Q4_0, Q8_0, Q8_1) and the integer dot products that llama.cpp pairs with each weight type (the activation
 * row quantized to Q8_0, or to Q8_1 for Q4_1/Q5_1). Encoded data lives in {@link MemorySegment}s (heap or native);
 * offsets into them are in bytes, offsets into float arrays in elements, lengths in blocks of 32. Implementations
 * trust their arguments: {@code lowbit.tensor.ggml.GgmlOps} and the format classes validate.
 *
 * <p><b>Encoders</b> must be byte-identical to {@link ScalarGgmlKernels} (which follows ggml's
 * {@code quantize_row_*_ref}) for every input, finite or not.
 *
 * <p><b>Dot products</b> compute, per block b, the exact integer sum S_b of the code products, then
 * &Sigma;_b c_b&middot;S_b (+ m_b&middot;s_b for the types with a minimum) in float, with c_b = d_w&middot;d_a from
 * the fp16 scales. The scalar twin adds blocks left to right in ggml's {@code ggml_vec_dot_*_generic} order; a vector
 * implementation may, like ggml's own SIMD code, multiply per lane partial sums of a block by c_b and add them in
 * another order, so results agree within the float summation error bound, not bitwise.
 */
public interface GgmlKernels {
    /** Encodes {@code nBlocks}·32 floats from {@code x[xOff]} into Q4_0 blocks (18 bytes each) at {@code dst[dstOff]}. */
    void quantizeQ4_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks);

    /** Encodes into Q8_0 blocks (34 bytes each). */
    void quantizeQ8_0(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks);

    /** Encodes into Q8_1 blocks (36 bytes each: d, s = fp16(d·&Sigma;q), 32 codes). */
    void quantizeQ8_1(float[] x, int xOff, MemorySegment dst, long dstOff, int nBlocks);

    /** &Sigma; over {@code nBlocks} blocks of a Q4_0 row at {@code w[wOff]} times a Q8_0 row at {@code a[aOff]}. */
    float dotQ4_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q4_1 row times Q8_1 row. */
    float dotQ4_1Q8_1(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q5_0 row times Q8_0 row. */
    float dotQ5_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q5_1 row times Q8_1 row. */
    float dotQ5_1Q8_1(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /** Q8_0 row times Q8_0 row. */
    float dotQ8_0Q8_0(MemorySegment w, long wOff, MemorySegment a, long aOff, int nBlocks);

    /**
     * {@code y[yOff + r] = dotQ4_0Q8_0(w, wOff + r·rowStride, a, aOff, nBlocks)} for r &lt; rows, with the same bits
     * as the one-row dot (an implementation may share activation loads between rows).
     */
    default void dotRowsQ4_0Q8_0(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = dotQ4_0Q8_0(w, wOff + r * rowStride, a, aOff, nBlocks);
        }
    }

    /** As {@link #dotRowsQ4_0Q8_0} for Q8_0 weights. */
    default void dotRowsQ8_0Q8_0(MemorySegment w, long wOff, long rowStride, int rows, MemorySegment a, long aOff,
            int nBlocks, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            y[yOff + r] = dotQ8_0Q8_0(w, wOff + r * rowStride, a, aOff, nBlocks);
        }
    }

    // ---------------------------------------------------------------- 16-row interleaved Q4_0 / Q8_0
    // (format: lowbit.tensor.ggml.Interleaved; activation: Q8_0 codes as int16 pairs, see quantizeQ8_0Pairs)

    /** Ints per block of a pair activation: 16 code pairs, the block's code sum, the bits of its fp16-rounded d. */
    int PAIR_INTS = 18;

    /**
     * Encodes {@code nBlocks}·32 floats from {@code x[xOff]} as Q8_0 (the same codes and fp16 d as
     * {@link #quantizeQ8_0}) into the pair form at {@code dst[dstOff]}: per block, 16 ints
     * {@code (q[2m] & 0xFFFF) | q[2m+1] << 16}, then &Sigma;q, then {@code floatToRawIntBits(d)}.
     */
    void quantizeQ8_0Pairs(float[] x, int xOff, int[] dst, int dstOff, int nBlocks);

    /**
     * Turns a pair activation into the form the Q4_0 kernels read: in every block, each odd pair m = 2c+1 (the
     * partner of the high nibbles of chunk c) becomes, in each 16-bit half e, {@code q[2m+e] − 16·q[2m−2+e]} (mod
     * 2^16). Then, with a byte z = lo + 16·hi of two nibble codes, lo·a + hi·b = z·a + hi·(b − 16a): the kernel needs
     * no mask for the low nibble. Products may wrap in 16 bits; the per-lane sums they add up to are below 2^15 in
     * magnitude (16·15·127), so the wrapped sums are exact.
     */
    default void pairsForQ4_0(int[] act, int off, int nBlocks) {
        for (int b = 0; b < nBlocks; b++) {
            for (int c = 0; c < 8; c++) {
                int i = off + PAIR_INTS * b + 2 * c;
                int a = act[i];
                int h = act[i + 1];
                int lo = ((short) h - 16 * (short) a) & 0xFFFF;
                int hi = ((h >> 16) - 16 * (a >> 16)) & 0xFFFF;
                act[i + 1] = lo | hi << 16;
            }
        }
    }

    /**
     * y = W&#770;·x&#770; over 16-row interleaved Q4_0 tiles, x&#770; a pair activation in the {@link #pairsForQ4_0} form: tile t (t &lt; {@code tiles}) at
     * {@code w[wOff + t·288·nBlocks]}; for each row r of it with 16t + r &lt; {@code rows},
     * {@code y[yOff + 16t + r] = acc} where, over blocks b in order, acc = fma(float(S_b), d_w·d_a, acc) (acc = acc +
     * float(S_b)·(d_w·d_a) where the hardware has no FMA), S_b the exact integer block dot product.
     */
    void gemvQ4_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, float[] y, int yOff,
            int rows);

    /** As {@link #gemvQ4_0x16} for interleaved Q8_0 tiles (544·nBlocks bytes each). */
    void gemvQ8_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, float[] y, int yOff,
            int rows);

    /**
     * {@link #gemvQ4_0x16} (Q4_0 tiles) or {@link #gemvQ8_0x16} with the caller's promise that every fp16 scale of
     * the tiles is finite (no infinity, no NaN; {@code lowbit.tensor.ggml.Interleaved#scalesFinite}), which lets an
     * implementation widen the scales without handling those: the same bits. A false promise gives wrong results.
     * The default ignores the promise.
     */
    default void gemvFiniteScalesx16(boolean q4, MemorySegment w, long wOff, int tiles, int nBlocks, int[] act,
            int actOff, float[] y, int yOff, int rows) {
        if (q4) {
            gemvQ4_0x16(w, wOff, tiles, nBlocks, act, actOff, y, yOff, rows);
        } else {
            gemvQ8_0x16(w, wOff, tiles, nBlocks, act, actOff, y, yOff, rows);
        }
    }

    /**
     * {@link #gemvQ4_0x16} for {@code n} activations at once: activation i at {@code act[actOff + i·actStride]},
     * its result row i at {@code y[yOff + i·yStride]} (each weight tile is read once for all n, from cache). Every
     * output has the bits {@code gemvQ4_0x16} gives it.
     */
    default void gemmQ4_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, int actStride,
            int n, float[] y, int yOff, int yStride, int rows) {
        gemmByGemv(true, w, wOff, tiles, nBlocks, act, actOff, actStride, n, y, yOff, yStride, rows);
    }

    /** {@link #gemmQ4_0x16} for interleaved Q8_0 tiles. */
    default void gemmQ8_0x16(MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff, int actStride,
            int n, float[] y, int yOff, int yStride, int rows) {
        gemmByGemv(false, w, wOff, tiles, nBlocks, act, actOff, actStride, n, y, yOff, yStride, rows);
    }

    /** The GEMMs as tile-by-tile GEMVs (the definition, and the scalar twins). */
    private void gemmByGemv(boolean q4, MemorySegment w, long wOff, int tiles, int nBlocks, int[] act, int actOff,
            int actStride, int n, float[] y, int yOff, int yStride, int rows) {
        for (int t = 0; t < tiles; t++) {
            long wt = wOff + (q4 ? 288L : 544L) * nBlocks * t;
            int rt = Math.min(16, rows - 16 * t);
            for (int i = 0; i < n; i++) {
                if (q4) {
                    gemvQ4_0x16(w, wt, 1, nBlocks, act, actOff + i * actStride, y, yOff + i * yStride + 16 * t, rt);
                } else {
                    gemvQ8_0x16(w, wt, 1, nBlocks, act, actOff + i * actStride, y, yOff + i * yStride + 16 * t, rt);
                }
            }
        }
    }
}

package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;

/**
 * Kernels of the group-wise affine layout ({@code lowbit.tensor.layout.GroupwiseAffine}): Ŵ[r, c] = s·(q[r, c] − z)
 * with unsigned n-bit codes q, n = {@code bits} in 2..8.
 *
 * <p><b>Codes</b>: row r starts at byte {@code r·rowBytes} of {@code codes}; within a row, code c occupies bits
 * {@code [c·n, c·n + n)}, bit k being bit {@code k mod 8} of the row's byte {@code k / 8} (the
 * {@link lowbit.tensor.PackedInts} order, each row starting on a byte boundary).
 *
 * <p>Two families, by where the scales vary:
 * <ul>
 *   <li><b>groups</b> (scales along the row): row r is cut into groups of {@code group} consecutive columns; group k
 *       of row r has scale {@code scales[r·scaleStride + k]} and zero point {@code zeros[r·scaleStride + k] & 0xFF},
 *       or the constant {@code zero} when {@code zeros} is null. Per-tensor is {@code group = cols, scaleStride = 0},
 *       per-row {@code group = cols, scaleStride = 1}, groups along in {@code scaleStride = cols / group}.</li>
 *   <li><b>columns</b> (a scale per column, shared by the rows passed in one call: per-input-channel, groups along
 *       out, or one row of an act-order matrix): column c has scale {@code colScales[c]} and zero point
 *       {@code colZeros[c]}, or the constant {@code zero} when {@code colZeros} is null. The GEMV form takes
 *       {@code xs[c] = fl(colScales[c]·x[c])} instead of the scales.</li>
 * </ul>
 *
 * <p><b>Dequantize</b> writes {@code fl(s·(q − z))} (q − z is an exact integer): every implementation gives the same
 * bits. <b>GEMV</b> writes {@code y[yOff + r]} for r in [rowFrom, rowTo): the groups form computes
 * Σ_k s_k·Σ_{c∈k} (q − z)·x[c], the columns form Σ_c (q − z)·xs[c], in an implementation-defined but fixed order
 * (a row's bits never depend on the row range it was computed in), so that implementations agree within the float
 * summation bound γ_m·Σ_c |s·(q − z)·x[c]| with m = cols + cols/group + 3. Implementations trust their arguments: the
 * layout validates.
 *
 * <p>Pass native segments (off-heap or mapped) for speed: C2 stops intrinsifying a vector load whose call site has
 * seen both heap and native segments (measured 5-10x slower), so the layouts keep their codes off-heap.
 */
public interface AffineKernels {
    /** Rows [rowFrom, rowTo) of Ŵ (groups family) to {@code dst[dstOff + (r − rowFrom)·cols + c]}. */
    void dequantizeGroups(MemorySegment codes, long rowBytes, int bits, int cols, int group, float[] scales,
            byte[] zeros, int zero, int scaleStride, int rowFrom, int rowTo, float[] dst, int dstOff);

    /** {@code y[yOff + r] = Ŵ[r, :]·x[xOff ..]} for r in [rowFrom, rowTo) (groups family). */
    void gemvGroups(MemorySegment codes, long rowBytes, int bits, int cols, int group, float[] scales, byte[] zeros,
            int zero, int scaleStride, float[] x, int xOff, int rowFrom, int rowTo, float[] y, int yOff);

    /**
     * Rows [rowFrom, rowTo) of Ŵ (columns family) to {@code dst[dstOff + (r − rowFrom)·cols + c]}; column c's scale
     * and zero point are {@code colScales[colOff + c]} and {@code colZeros[colOff + c]}.
     */
    void dequantizeColumns(MemorySegment codes, long rowBytes, int bits, int cols, float[] colScales, int[] colZeros,
            int colOff, int zero, int rowFrom, int rowTo, float[] dst, int dstOff);

    /**
     * {@code y[yOff + r] = Σ_c (q[r, c] − z_c)·xs[c]} for r in [rowFrom, rowTo) (columns family), z_c =
     * {@code colZeros[zOff + c]}.
     */
    void gemvColumns(MemorySegment codes, long rowBytes, int bits, int cols, float[] xs, int[] colZeros, int zOff,
            int zero, int rowFrom, int rowTo, float[] y, int yOff);
    // ---- 4-bit groups with a prepared input (the fast GEMV path of GPTQ/AWQ-style int4) ----

    /** Elements per chunk of a {@linkplain #prepareNibbleInput nibble input}: 16 even, then 16 odd. */
    int NIBBLE_CHUNK = 32;

    /**
     * Whether {@link #gemvNibbleGroups} applies to a groups-family matrix: 4-bit codes and groups of a multiple of
     * {@value #NIBBLE_CHUNK} columns (cols a multiple of the group).
     */
    static boolean nibbleGroups(int bits, int cols, int group) {
        return bits == 4 && cols > 0 && group > 0 && group % NIBBLE_CHUNK == 0 && cols % group == 0;
    }

    /** Floats of a nibble input of {@code cols} columns in groups of {@code group}: cols + cols/group. */
    static int nibbleInputLength(int cols, int group) {
        return cols + cols / group;
    }

    /**
     * Prepares x for {@link #gemvNibbleGroups} (once per product; every row reads it): {@code dst[dstOff ..]} gets
     * x in chunks of 32 columns, each as its 16 even-indexed then its 16 odd-indexed elements (the order of the low
     * and high nibbles of 16 code bytes), followed by the group sums X_k = &Sigma;_{c in group k} x[c] (in an
     * implementation-defined fixed order; the default adds left to right).
     */
    default void prepareNibbleInput(float[] x, int xOff, int cols, int group, float[] dst, int dstOff) {
        for (int c = 0; c < cols; c += NIBBLE_CHUNK) {
            for (int i = 0; i < NIBBLE_CHUNK / 2; i++) {
                dst[dstOff + c + i] = x[xOff + c + 2 * i];
                dst[dstOff + c + NIBBLE_CHUNK / 2 + i] = x[xOff + c + 2 * i + 1];
            }
        }
        for (int k = 0, groups = cols / group; k < groups; k++) {
            float t = 0;
            for (int c = k * group, e = c + group; c < e; c++) {
                t += x[xOff + c];
            }
            dst[dstOff + cols + k] = t;
        }
    }

    /**
     * {@code y[yOff + r] = Ŵ[r, :]·x} for r in [rowFrom, rowTo), 4-bit codes in groups ({@link #nibbleGroups}), x
     * given as the nibble input {@code xp[xpOff ..]} of {@link #prepareNibbleInput}. Computed with the zero point
     * outside the code sum, y = &Sigma;_k s_k·(&Sigma;_{c in k} q_c·x_c) &minus; &Sigma;_k s_k·z_k·X_k (so the inner loop
     * is a plain code-times-x product), in an implementation-defined but fixed order. Error against the exact
     * Ŵ·x: at most γ_m·T' with T' = &Sigma;_c |s_c|·(q_c + z_c)·|x_c| (not the T = &Sigma;|s·(q − z)·x| of
     * {@link #gemvGroups}: the two sums may cancel), m = cols + cols/group + 3.
     */
    void gemvNibbleGroups(MemorySegment codes, long rowBytes, int cols, int group, float[] scales, byte[] zeros,
            int zero, int scaleStride, float[] xp, int xpOff, int rowFrom, int rowTo, float[] y, int yOff);

    // ---- 4-bit groups in 16-row tiles with an int8 activation (lowbit.tensor.layout.AffineInt4Tiles) ----

    /** Bytes of one 32-column block of a 16-row int4 tile: 8 chunks of 32 bytes, no header. */
    int INT4_TILE_BLOCK_BYTES = 256;

    /**
     * {@code y = Ŵ·x̂} over 16-row int4 tiles (the codes of {@code lowbit.tensor.layout.AffineInt4Tiles}), x̂ the
     * input quantized to Q8_0 in the pair form of {@link GgmlKernels#pairsForQ4_0}. Tile t (t &lt; {@code tiles})
     * is at {@code w[wOff + t·256·nBlocks]}; its block b is 8 chunks of 32 bytes, chunk c byte 2r+e holding row r's
     * code of element 4c+e in the low nibble and of element 4c+2+e in the high one (Q4_0's interleaved order, codes
     * 0..15 unsigned). Groups are {@code groupBlocks} consecutive blocks; tile t, group g, row r has scale
     * {@code scales[sOff + (t·G + g)·16 + r]} and zero point {@code zeros[...]} at the same index (G = nBlocks /
     * groupBlocks), and {@code groupSums[gOff + g]} is X̂_g = &Sigma;_b d_b·A_b over the group's blocks (A_b the
     * activation block's code sum, d_b its fp16-rounded scale).
     *
     * <p>For each row r with 16t + r &lt; {@code rows}: per group, f = &Sigma;_b fma(float(S_b), d_b, f) over its
     * blocks in order, S_b = &Sigma; q·a the exact integer block product; then u = fma(z, −X̂_g, f) and acc =
     * fma(s, u, acc) over the groups in order ({@code a + b·c} in place of each fma where the hardware has none);
     * {@code y[yOff + 16t + r] = acc}. Every implementation gives these bits.
     */
    void gemvInt4Tiles(MemorySegment w, long wOff, int tiles, int nBlocks, int groupBlocks, float[] scales,
            float[] zeros, int sOff, int[] act, int actOff, float[] groupSums, int gOff, float[] y, int yOff, int rows);
}

package lowbit.tensor.simd.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.DenseKernels;

/**
 * {@link DenseKernels#attentionHead}: one head of scaled dot-product attention for short sequences, fused, with no
 * call per product. The scaled key head is transposed into the scratch ({@code d} rows of w = seqK rounded up to L
 * lanes, zero-padded), so that a query row's scores are w/L vectors, each {@code Σ_p q_ip·Kt[p, ..]} by broadcast
 * FMAs (even and odd p in two chains, to halve the dependent latency). The row's mask is added, padding lanes are
 * −∞, the max is a lane reduction (exact in any order), the exponentials are {@link PanamaFloatKernels#expStep}
 * (bit for bit {@code ElementwiseMath.exp}), and their sum is a fixed tree of lane swaps (the same bits interpreted
 * or compiled). The output row is {@code (Σ_j e_j·V_j)·(1/Σe)}, d/L vector accumulators over the keys (even and odd
 * j in two chains); columns past the last whole vector of d go through scalar code in the same order. Scores and
 * values run four query rows per call where a block has them ({@link #weightedSum4}: the rows' chains interleaved,
 * each row's operations unchanged), so a row's bits do not depend on its position.
 */
final class PanamaAttention {
    private static final VectorSpecies<Float> F = Species.F;
    private static final int L = F.length();
    /**
     * Shuffles that swap lanes i and i ^ s (s = 8, 4, 2, 1; null where s ≥ L): the reduction trees of {@link #rowSum}
     * and {@link #mask}.
     * Separate constants, not an array: C2 intrinsifies a rearrange only with a constant shuffle, and a loop over an
     * array of them ran the Java fallback, boxing every vector (measured 3× slower for the whole head).
     */
    private static final VectorShuffle<Float> SWAP8 = L > 8 ? VectorShuffle.fromOp(F, i -> i ^ 8) : null;
    private static final VectorShuffle<Float> SWAP4 = L > 4 ? VectorShuffle.fromOp(F, i -> i ^ 4) : null;
    private static final VectorShuffle<Float> SWAP2 = L > 2 ? VectorShuffle.fromOp(F, i -> i ^ 2) : null;
    private static final VectorShuffle<Float> SWAP1 = L > 1 ? VectorShuffle.fromOp(F, i -> i ^ 1) : null;

    private PanamaAttention() {
    }

    /**
     * Σ of a[off .. off + w) (w a multiple of L): the vectors added lane-wise in order, then the lanes by the fixed
     * tree (lanes L/2 apart, then L/4, .., then neighbours; lane 0 holds the sum). Loads its own vectors: no vector
     * crosses a call, see {@link PanamaFloatKernels#expStep}.
     */
    private static float rowSum(float[] a, int off, int w) {
        FloatVector v = FloatVector.fromArray(F, a, off);
        for (int c = L; c < w; c += L) {
            v = v.add(FloatVector.fromArray(F, a, off + c));
        }
        if (L > 8) {
            v = v.add(v.rearrange(SWAP8));
        }
        if (L > 4) {
            v = v.add(v.rearrange(SWAP4));
        }
        if (L > 2) {
            v = v.add(v.rearrange(SWAP2));
        }
        if (L > 1) {
            v = v.add(v.rearrange(SWAP1));
        }
        return v.lane(0);
    }

    /** Keys rounded up to whole vectors: the row width of the transposed key head in the scratch. */
    static int paddedKeys(int seqK) {
        return (seqK + L - 1) / L * L;
    }

    /** Query rows per block: each phase below runs over a block's rows, whose chains are independent. */
    static final int ROWS = 16;

    /**
     * Scratch floats for seqK keys of d columns: the transposed keys, the values' whole column blocks, a block of
     * score rows, its maxima and reciprocal sums.
     */
    static int scratchLength(int seqK, int d) {
        int w = paddedKeys(seqK);
        return d * w + d / L * L * seqK + ROWS * w + 2 * ROWS;
    }

    /**
     * The head in blocks of {@link #ROWS} query rows, phase by phase (scores of every row of the block, then the
     * masks and maxima, then the exponentials, then the values): a row's own steps form one long dependency chain,
     * so running the rows of a block side by side in each phase lets the core overlap them. The keys are transposed
     * and the values copied into the scratch in blocks of L lanes ({@code [block][p or j][L]}), so that every inner
     * loop steps by the constant L: C2 then eliminates its range checks (with the row stride as the step it kept four
     * checks, an imul and a spill per iteration). Each phase is a small method passing only arrays and indices, so
     * that nothing depends on C2 inlining it (a vector passed to a helper compiled on its own is boxed and its
     * operations run the Java fallback).
     */
    static int head(int seqQ, int seqK, int d, float scale, float[] q, int qOff, float[] k, int kOff, float[] v,
            int vOff, int ld, float[] bias, int biasOff, int biasRowStride, float[] out, int oOff, float[] scratch) {
        int w = paddedKeys(seqK);
        int vt = d * w;
        int s = vt + d / L * L * seqK;
        int mx = s + ROWS * w;
        transposeKeys(seqK, d, w, scale, k, kOff, ld, scratch);
        blockValues(seqK, d, v, vOff, ld, scratch, vt);
        for (int i0 = 0; i0 < seqQ; i0 += ROWS) {
            int rows = Math.min(ROWS, seqQ - i0);
            int r4 = rows & ~3;
            for (int r = 0; r < r4; r += 4) {
                scores4(d, w, q, qOff + (i0 + r) * ld, ld, scratch, s + r * w);
            }
            for (int r = r4; r < rows; r++) {
                scores(d, w, q, qOff + (i0 + r) * ld, scratch, s + r * w);
            }
            for (int r = 0; r < rows; r++) {
                float m = mask(seqK, w, bias, bias == null ? 0 : biasOff + (i0 + r) * biasRowStride, scratch, s + r * w);
                if (m == Float.NEGATIVE_INFINITY) {
                    return i0 + r;
                }
                scratch[mx + r] = m;
            }
            for (int r = 0; r < rows; r++) {
                scratch[mx + ROWS + r] = 1f / exponentials(w, scratch[mx + r], scratch, s + r * w);
            }
            for (int r = 0; r < r4; r += 4) {
                values4(seqK, d, w, scratch, mx + ROWS + r, v, vOff, ld, vt, s + r * w, out, oOff + (i0 + r) * ld);
            }
            for (int r = r4; r < rows; r++) {
                values(seqK, d, scratch[mx + ROWS + r], v, vOff, ld, scratch, vt, s + r * w, out, oOff + (i0 + r) * ld);
            }
        }
        return -1;
    }

    /**
     * Key (p, j) scaled at scratch[(j / L)·d·L + p·L + j % L]; zero for j ≥ seqK up to w. In a whole block of L keys
     * each vector is one gather of the keys' p-th entries ({@link #gatherIndex}). (A profile had put the
     * element-by-element transpose at a quarter of the head at 16 keys of 32 dimensions; the gathers gained only a
     * few per cent on the development machine, where a gather is slow.) A last, partial block is copied element by
     * element (a masked gather would still check the masked lanes' indices).
     */
    private static void transposeKeys(int seqK, int d, int w, float scale, float[] k, int kOff, int ld, float[] scratch) {
        int whole = seqK / L * L;
        if (whole > 0) {
            int[] idx = gatherIndex(ld);
            for (int j0 = 0; j0 < whole; j0 += L) {
                int base = kOff + j0 * ld;
                int t = j0 * d;
                for (int p = 0; p < d; p++) {
                    FloatVector.fromArray(F, k, base + p, idx, 0).mul(scale).intoArray(scratch, t + p * L);
                }
            }
        }
        for (int j = whole; j < w; j++) {
            int kr = kOff + j * ld;
            int t = j / L * d * L + j % L;
            for (int p = 0; p < d; p++) {
                scratch[t + p * L] = j < seqK ? scale * k[kr + p] : 0f;
            }
        }
    }

    /** Per-thread gather offsets {@code lane·ld} for the row stride ld (kept in the last slot). */
    private static final ThreadLocal<int[]> GATHER = ThreadLocal.withInitial(() -> new int[L + 1]);

    private static int[] gatherIndex(int ld) {
        int[] idx = GATHER.get();
        if (idx[L] != ld) { // a fresh array (all zeros) already holds the offsets for ld = 0
            for (int i = 0; i < L; i++) {
                idx[i] = i * ld;
            }
            idx[L] = ld;
        }
        return idx;
    }

    /** Values of the whole column blocks: v[j, b·L .. b·L + L) at scratch[vt + (b·seqK + j)·L]. */
    private static void blockValues(int seqK, int d, float[] v, int vOff, int ld, float[] scratch, int vt) {
        for (int b = 0, blocks = d / L; b < blocks; b++) {
            for (int j = 0; j < seqK; j++) {
                FloatVector.fromArray(F, v, vOff + j * ld + b * L).intoArray(scratch, vt + (b * seqK + j) * L);
            }
        }
    }

    /** The query row's w scores into scratch[s ..]: Σ_p q_p·Kt[p, ..] per lane block ({@link #weightedSum}). */
    private static void scores(int d, int w, float[] q, int qi, float[] scratch, int s) {
        for (int c = 0; c < w; c += L) {
            weightedSum(q, qi, scratch, c * d, d, 1f, scratch, s + c);
        }
    }

    /** {@link #scores} of four query rows (ld apart) into four score rows (w apart), sharing the key loads. */
    private static void scores4(int d, int w, float[] q, int qi, int ld, float[] scratch, int s) {
        for (int c = 0; c < w; c += L) {
            weightedSum4(q, qi, qi + ld, qi + 2 * ld, qi + 3 * ld, scratch, c * d, d, 1f, 1f, 1f, 1f, scratch, s + c,
                    s + w + c, s + 2 * w + c, s + 3 * w + c);
        }
    }

    /**
     * out[o .. o + L) = (Σ_t a[ai + t]·b[bi + t·L .. + L))·scale for t &lt; n: broadcast FMAs over a lane-blocked
     * operand, even and odd t in two chains (half the dependent latency), then one multiply (none for scale 1).
     * The scores (a = the query row, b = a block of transposed keys) and the values (a = the exponentials, b = a
     * block of values, scale = 1/Σe) are both this loop.
     */
    private static void weightedSum(float[] a, int ai, float[] b, int bi, int n, float scale, float[] out, int o) {
        int even = n & ~1;
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        for (int t = 0; t < even; t += 2) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi + t * L);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + t * L + L);
            FloatVector a0 = FloatVector.broadcast(F, a[ai + t]);
            FloatVector a1 = FloatVector.broadcast(F, a[ai + t + 1]);
            s0 = PanamaGemv.mulAdd(b0, a0, s0);
            s1 = PanamaGemv.mulAdd(b1, a1, s1);
        }
        if (even < n) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi + even * L);
            FloatVector a0 = FloatVector.broadcast(F, a[ai + even]);
            s0 = PanamaGemv.mulAdd(b0, a0, s0);
        }
        FloatVector sum = s0.add(s1);
        (scale == 1f ? sum : sum.mul(scale)).intoArray(out, o);
    }

    /**
     * {@link #weightedSum} for four rows of a (at a0 .. a3) against the same block of b, with their own scales and
     * outputs: each row's two chains see exactly weightedSum's operations (same bits), and the eight independent
     * chains share every b load, so the core is not waiting on one chain's FMA latency.
     */
    private static void weightedSum4(float[] a, int a0, int a1, int a2, int a3, float[] b, int bi, int n, float k0,
            float k1, float k2, float k3, float[] out, int o0, int o1, int o2, int o3) {
        int even = n & ~1;
        FloatVector z = FloatVector.zero(F);
        FloatVector s00 = z, s01 = z, s10 = z, s11 = z, s20 = z, s21 = z, s30 = z, s31 = z;
        for (int t = 0; t < even; t += 2) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi + t * L);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + t * L + L);
            s00 = PanamaGemv.mulAdd(b0, FloatVector.broadcast(F, a[a0 + t]), s00);
            s01 = PanamaGemv.mulAdd(b1, FloatVector.broadcast(F, a[a0 + t + 1]), s01);
            s10 = PanamaGemv.mulAdd(b0, FloatVector.broadcast(F, a[a1 + t]), s10);
            s11 = PanamaGemv.mulAdd(b1, FloatVector.broadcast(F, a[a1 + t + 1]), s11);
            s20 = PanamaGemv.mulAdd(b0, FloatVector.broadcast(F, a[a2 + t]), s20);
            s21 = PanamaGemv.mulAdd(b1, FloatVector.broadcast(F, a[a2 + t + 1]), s21);
            s30 = PanamaGemv.mulAdd(b0, FloatVector.broadcast(F, a[a3 + t]), s30);
            s31 = PanamaGemv.mulAdd(b1, FloatVector.broadcast(F, a[a3 + t + 1]), s31);
        }
        if (even < n) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi + even * L);
            s00 = PanamaGemv.mulAdd(b0, FloatVector.broadcast(F, a[a0 + even]), s00);
            s10 = PanamaGemv.mulAdd(b0, FloatVector.broadcast(F, a[a1 + even]), s10);
            s20 = PanamaGemv.mulAdd(b0, FloatVector.broadcast(F, a[a2 + even]), s20);
            s30 = PanamaGemv.mulAdd(b0, FloatVector.broadcast(F, a[a3 + even]), s30);
        }
        FloatVector u0 = s00.add(s01), u1 = s10.add(s11), u2 = s20.add(s21), u3 = s30.add(s31);
        (k0 == 1f ? u0 : u0.mul(k0)).intoArray(out, o0);
        (k1 == 1f ? u1 : u1.mul(k1)).intoArray(out, o1);
        (k2 == 1f ? u2 : u2.mul(k2)).intoArray(out, o2);
        (k3 == 1f ? u3 : u3.mul(k3)).intoArray(out, o3);
    }

    /**
     * Adds the bias row (if any; a masked load, so the row needs no padding), sets the padding lanes j ≥ seqK to −∞
     * and returns the row maximum by the fixed lane tree ({@code reduceLanes(MAX)} costs C2 a NaN-checking sequence
     * several times as long; max is exact, so the order does not matter).
     */
    private static float mask(int seqK, int w, float[] bias, int bi, float[] scratch, int s) {
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int c = 0; c < w; c += L) {
            VectorMask<Float> live = F.indexInRange(c, seqK);
            FloatVector sv = FloatVector.fromArray(F, scratch, s + c);
            if (bias != null) {
                sv = sv.add(FloatVector.fromArray(F, bias, bi + c, live));
            }
            sv = sv.blend(Float.NEGATIVE_INFINITY, live.not());
            sv.intoArray(scratch, s + c);
            mv = mv.max(sv);
        }
        if (L > 8) {
            mv = mv.max(mv.rearrange(SWAP8));
        }
        if (L > 4) {
            mv = mv.max(mv.rearrange(SWAP4));
        }
        if (L > 2) {
            mv = mv.max(mv.rearrange(SWAP2));
        }
        if (L > 1) {
            mv = mv.max(mv.rearrange(SWAP1));
        }
        return mv.lane(0);
    }

    /** e_j = exp(s_j − m) in place ({@link PanamaFloatKernels#expStep}); returns Σ e_j ({@link #rowSum}). */
    private static float exponentials(int w, float m, float[] scratch, int s) {
        for (int c = 0; c < w; c += L) {
            PanamaFloatKernels.expStep(scratch, s + c, m, scratch, s + c);
        }
        return rowSum(scratch, s, w);
    }

    /**
     * out[oi + p] = (Σ_j e_j·v_jp)·inv: the whole column blocks from the blocked values ({@link #weightedSum}), the
     * tail of d in scalar code from v itself.
     */
    private static void values(int seqK, int d, float inv, float[] v, int vOff, int ld, float[] scratch, int vt, int s,
            float[] out, int oi) {
        int blocks = d / L;
        for (int b = 0; b < blocks; b++) {
            weightedSum(scratch, s, scratch, vt + b * seqK * L, seqK, inv, out, oi + b * L);
        }
        valuesTail(seqK, d, inv, v, vOff, ld, scratch, s, out, oi);
    }

    /**
     * {@link #values} of four rows: score rows s, s + w, .., reciprocal sums at scratch[inv ..], outputs ld apart;
     * the blocks by {@link #weightedSum4}.
     */
    private static void values4(int seqK, int d, int w, float[] scratch, int inv, float[] v, int vOff, int ld, int vt,
            int s, float[] out, int oi) {
        float i0 = scratch[inv], i1 = scratch[inv + 1], i2 = scratch[inv + 2], i3 = scratch[inv + 3];
        for (int b = 0, blocks = d / L; b < blocks; b++) {
            int o = oi + b * L;
            weightedSum4(scratch, s, s + w, s + 2 * w, s + 3 * w, scratch, vt + b * seqK * L, seqK, i0, i1, i2, i3, out,
                    o, o + ld, o + 2 * ld, o + 3 * ld);
        }
        valuesTail(seqK, d, i0, v, vOff, ld, scratch, s, out, oi);
        valuesTail(seqK, d, i1, v, vOff, ld, scratch, s + w, out, oi + ld);
        valuesTail(seqK, d, i2, v, vOff, ld, scratch, s + 2 * w, out, oi + 2 * ld);
        valuesTail(seqK, d, i3, v, vOff, ld, scratch, s + 3 * w, out, oi + 3 * ld);
    }

    /** The columns of d after its last whole vector block, in scalar code ({@link #values}). */
    private static void valuesTail(int seqK, int d, float inv, float[] v, int vOff, int ld, float[] scratch, int s,
            float[] out, int oi) {
        for (int c = d / L * L; c < d; c++) {
            float o = 0f;
            for (int j = 0; j < seqK; j++) {
                o += scratch[s + j] * v[vOff + j * ld + c];
            }
            out[oi + c] = o * inv;
        }
    }
}

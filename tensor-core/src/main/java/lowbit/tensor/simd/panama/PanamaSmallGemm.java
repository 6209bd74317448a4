package lowbit.tensor.simd.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code C = α·A·B + β·C} for small untransposed operands (attention heads: 16×32 by 32×16), without packing: the
 * blocked {@link PanamaGemm} packs both operands and a scratch tile, which costs more than the product itself at
 * these sizes. For each row i of C and each group of up to four vectors of columns, the accumulators stay in
 * registers over the whole of k: {@code acc = fma(broadcast(a[i, p]), B[p, j .. j + L), acc)} for p = 0 … k−1,
 * then one store; columns past the last whole vector are summed by scalar FMAs in the same order. Each element is
 * thus the k-ordered fused sum, the sequence the blocked kernel runs for k ≤ its k-slice, and the epilogue is the
 * one that kernel applies at that element (fused inside whole tiles, separately rounded at the edges): the result
 * has the bits of {@link PanamaGemm} on the same operands, so an array and a segment B agree.
 */
final class PanamaSmallGemm {
    private static final VectorSpecies<Float> F = Species.F;
    private static final int L = F.length();
    private static final boolean FMA = Species.FMA;
    /** Largest m·n·k taken here. */
    static final long MAX_WORK = 1 << 16;

    private PanamaSmallGemm() {
    }

    static boolean fits(boolean transA, boolean transB, int m, int n, int k) {
        return !transA && !transB && (long) m * n * k <= MAX_WORK && k <= PanamaGemm.KC;
    }

    static void gemm(int m, int n, int k, float alpha, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float beta, float[] c, int cOff, int ldc) {
        int bound = F.loopBound(n);
        // the blocked kernel's epilogue: fused α·acc + β·c inside whole MR×NR tiles, separately rounded outside
        int fullRows = m / PanamaGemm.MR * PanamaGemm.MR, fullCols = n / PanamaGemm.NR * PanamaGemm.NR;
        for (int i = 0; i < m; i++) {
            int ar = aOff + i * lda, cr = cOff + i * ldc;
            int fused = i < fullRows ? fullCols : 0;
            int j = 0;
            for (; j + 2 * L <= bound; j += 2 * L) {
                FloatVector s0 = FloatVector.zero(F), s1 = s0;
                for (int p = 0; p < k; p++) {
                    FloatVector av = FloatVector.broadcast(F, a[ar + p]);
                    int br = bOff + p * ldb + j;
                    s0 = mulAdd(av, FloatVector.fromArray(F, b, br), s0);
                    s1 = mulAdd(av, FloatVector.fromArray(F, b, br + L), s1);
                }
                store(s0, alpha, beta, c, cr + j, j < fused);
                store(s1, alpha, beta, c, cr + j + L, j + L < fused);
            }
            for (; j < bound; j += L) {
                FloatVector s0 = FloatVector.zero(F);
                for (int p = 0; p < k; p++) {
                    s0 = mulAdd(FloatVector.broadcast(F, a[ar + p]), FloatVector.fromArray(F, b, bOff + p * ldb + j), s0);
                }
                store(s0, alpha, beta, c, cr + j, j < fused);
            }
            for (; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++) {
                    s = FMA ? Math.fma(a[ar + p], b[bOff + p * ldb + j], s) : s + a[ar + p] * b[bOff + p * ldb + j];
                }
                c[cr + j] = beta == 0f ? alpha * s : alpha * s + beta * c[cr + j];
            }
        }
    }

    private static FloatVector mulAdd(FloatVector a, FloatVector b, FloatVector acc) {
        return FMA ? a.fma(b, acc) : a.mul(b).add(acc);
    }

    /** c[at .. at + L) = α·s (+ β·c, fused when {@code fused} and FMA is fast, as in the blocked kernel's tiles). */
    private static void store(FloatVector s, float alpha, float beta, float[] c, int at, boolean fused) {
        if (beta == 0f) {
            s.mul(alpha).intoArray(c, at);
        } else {
            FloatVector y = FloatVector.fromArray(F, c, at).mul(beta);
            (FMA && fused ? s.fma(FloatVector.broadcast(F, alpha), y) : s.mul(alpha).add(y)).intoArray(c, at);
        }
    }
}

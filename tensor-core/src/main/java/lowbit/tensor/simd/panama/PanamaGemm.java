package lowbit.tensor.simd.panama;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.parallel.Parallel;

/**
 * Blocked GEMM {@code C = α·op(A)·op(B) + β·C} in the style of Goto/BLIS: for each block of {@link #NC} columns
 * of C and each slice of {@link #KC} along k, a panel of op(B) is packed (converted to float, {@link #NR} columns
 * per k index, so the micro-kernel reads it contiguously); for each group of {@link #MR} rows of op(A) a micro-panel
 * is packed (MR values per k index) and the register-tiled micro-kernel accumulates an MR×NR tile of C in
 * 2·MR vector registers, broadcasting one A value per row and loading two B vectors per k index. The packed A
 * micro-panel (MR·KC floats) stays in L1 while the B panel (KC·NC floats) streams from L2. Blocks of C are
 * independent tasks on {@link Parallel}; every element of C sees the same sequence of operations whatever the
 * split, so results do not depend on the thread count.
 *
 * <p>Edge tiles (fewer than MR rows or NR columns left) are packed with zeros, computed into a scratch tile and
 * merged element by element.
 */
final class PanamaGemm {
    private static final VectorSpecies<Float> F = Species.F;
    private static final int L = F.length();
    private static final boolean FMA = Species.FMA;
    /** Rows of the register tile. */
    static final int MR = 8;
    /** Columns of the register tile: two vectors. */
    static final int NR = 2 * L;
    /** Depth of one packed slice along k. */
    static final int KC = 256;
    /** Columns of C per task (a multiple of NR at every width). */
    static final int NC = 512;

    private PanamaGemm() {
    }

    private static FloatVector mulAdd(FloatVector a, FloatVector b, FloatVector acc) {
        return FMA ? a.fma(b, acc) : a.mul(b).add(acc);
    }

    static void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
            WeightSource b, float beta, float[] c, int cOff, int ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0f) {
            scaleC(m, n, beta, c, cOff, ldc);
            return;
        }
        int nBlocks = ceilDiv(n, NC);
        int mPanels = ceilDiv(m, MR);
        int threads = Parallel.parallelism();
        int mBlocks = Math.min(mPanels, Math.max(1, ceilDiv(2 * threads, nBlocks)));
        int rowsPerBlock = ceilDiv(mPanels, mBlocks) * MR;
        long tasks = (long) nBlocks * mBlocks;
        if (2.0 * m * n * k < 4e6 || !b.shareable()) {
            for (int t = 0; t < tasks; t++) {
                block(t / mBlocks, t % mBlocks, rowsPerBlock, transA, transB, m, n, k, alpha, a, aOff, lda, b, beta, c, cOff, ldc);
            }
            return;
        }
        Parallel.forRange(0, tasks, 1, (t0, t1) -> {
            for (long t = t0; t < t1; t++) {
                block((int) (t / mBlocks), (int) (t % mBlocks), rowsPerBlock, transA, transB, m, n, k, alpha, a, aOff,
                        lda, b, beta, c, cOff, ldc);
            }
        });
    }

    /** C = β·C (C not read when β = 0), for k = 0 or α = 0. */
    static void scaleC(int m, int n, float beta, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            int row = cOff + i * ldc;
            for (int j = 0; j < n; j++) {
                c[row + j] = beta == 0f ? 0f : beta * c[row + j];
            }
        }
    }

    private static void block(int jb, int ib, int rowsPerBlock, boolean transA, boolean transB, int m, int n, int k,
            float alpha, float[] a, int aOff, int lda, WeightSource b, float beta, float[] c, int cOff, int ldc) {
        int j0 = jb * NC, j1 = Math.min(n, j0 + NC);
        int i0 = ib * rowsPerBlock, i1 = Math.min(m, i0 + rowsPerBlock);
        if (i0 >= i1) {
            return;
        }
        int panels = ceilDiv(j1 - j0, NR);
        int kcMax = Math.min(KC, k);
        float[] bp = new float[kcMax * panels * NR];
        float[] ap = new float[kcMax * MR];
        float[] tile = new float[MR * NR];
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = Math.min(KC, k - p0);
            float bet = p0 == 0 ? beta : 1f;
            for (int q = 0; q < panels; q++) {
                int j = j0 + q * NR;
                b.pack(transB, j, Math.min(NR, j1 - j), p0, kc, NR, bp, q * kc * NR);
            }
            for (int i = i0; i < i1; i += MR) {
                int mr = Math.min(MR, i1 - i);
                packA(transA, a, aOff, lda, i, mr, p0, kc, ap);
                for (int q = 0; q < panels; q++) {
                    int j = j0 + q * NR;
                    int nr = Math.min(NR, j1 - j);
                    if (mr == MR && nr == NR) {
                        kernel(kc, ap, bp, q * kc * NR, c, cOff + i * ldc + j, ldc, alpha, bet);
                    } else {
                        kernel(kc, ap, bp, q * kc * NR, tile, 0, NR, 1f, 0f);
                        merge(tile, mr, nr, c, cOff + i * ldc + j, ldc, alpha, bet);
                    }
                }
            }
        }
    }

    /** ap[p·MR + r] = op(A)[i0 + r, p0 + p], zero for r &ge; mr. */
    static void packA(boolean transA, float[] a, int aOff, int lda, int i0, int mr, int p0, int kc, float[] ap) {
        if (mr < MR) {
            Arrays.fill(ap, 0, kc * MR, 0f);
        }
        if (transA) {
            for (int p = 0; p < kc; p++) {
                System.arraycopy(a, aOff + (p0 + p) * lda + i0, ap, p * MR, mr);
            }
        } else {
            for (int r = 0; r < mr; r++) {
                int s = aOff + (i0 + r) * lda + p0;
                for (int p = 0; p < kc; p++) {
                    ap[p * MR + r] = a[s + p];
                }
            }
        }
    }

    private static void merge(float[] tile, int mr, int nr, float[] c, int cIdx, int ldc, float alpha, float beta) {
        for (int r = 0; r < mr; r++) {
            for (int j = 0; j < nr; j++) {
                int ci = cIdx + r * ldc + j;
                float t = tile[r * NR + j];
                c[ci] = beta == 0f ? alpha * t : alpha * t + beta * c[ci];
            }
        }
    }

    /** C tile (MR × NR at cIdx, row stride ldc) = α·(Ap·Bp) + β·C tile, C not read when β = 0. */
    private static void kernel(int kc, float[] ap, float[] bp, int bOff, float[] c, int cIdx, int ldc, float alpha,
            float beta) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        for (int p = 0; p < kc; p++) {
            int bi = bOff + p * NR;
            int ai = p * MR;
            FloatVector b0 = FloatVector.fromArray(F, bp, bi);
            FloatVector b1 = FloatVector.fromArray(F, bp, bi + L);
            FloatVector a;
                a = FloatVector.broadcast(F, ap[ai + 0]);
                c00 = mulAdd(a, b0, c00);
                c01 = mulAdd(a, b1, c01);
                a = FloatVector.broadcast(F, ap[ai + 1]);
                c10 = mulAdd(a, b0, c10);
                c11 = mulAdd(a, b1, c11);
                a = FloatVector.broadcast(F, ap[ai + 2]);
                c20 = mulAdd(a, b0, c20);
                c21 = mulAdd(a, b1, c21);
                a = FloatVector.broadcast(F, ap[ai + 3]);
                c30 = mulAdd(a, b0, c30);
                c31 = mulAdd(a, b1, c31);
                a = FloatVector.broadcast(F, ap[ai + 4]);
                c40 = mulAdd(a, b0, c40);
                c41 = mulAdd(a, b1, c41);
                a = FloatVector.broadcast(F, ap[ai + 5]);
                c50 = mulAdd(a, b0, c50);
                c51 = mulAdd(a, b1, c51);
                a = FloatVector.broadcast(F, ap[ai + 6]);
                c60 = mulAdd(a, b0, c60);
                c61 = mulAdd(a, b1, c61);
                a = FloatVector.broadcast(F, ap[ai + 7]);
                c70 = mulAdd(a, b0, c70);
                c71 = mulAdd(a, b1, c71);
        }
        put(c00, c, cIdx + 0 * ldc, alpha, beta);
        put(c01, c, cIdx + 0 * ldc + L, alpha, beta);
        put(c10, c, cIdx + 1 * ldc, alpha, beta);
        put(c11, c, cIdx + 1 * ldc + L, alpha, beta);
        put(c20, c, cIdx + 2 * ldc, alpha, beta);
        put(c21, c, cIdx + 2 * ldc + L, alpha, beta);
        put(c30, c, cIdx + 3 * ldc, alpha, beta);
        put(c31, c, cIdx + 3 * ldc + L, alpha, beta);
        put(c40, c, cIdx + 4 * ldc, alpha, beta);
        put(c41, c, cIdx + 4 * ldc + L, alpha, beta);
        put(c50, c, cIdx + 5 * ldc, alpha, beta);
        put(c51, c, cIdx + 5 * ldc + L, alpha, beta);
        put(c60, c, cIdx + 6 * ldc, alpha, beta);
        put(c61, c, cIdx + 6 * ldc + L, alpha, beta);
        put(c70, c, cIdx + 7 * ldc, alpha, beta);
        put(c71, c, cIdx + 7 * ldc + L, alpha, beta);
    }

    private static void put(FloatVector acc, float[] c, int idx, float alpha, float beta) {
        if (beta == 0f) {
            acc.mul(alpha).intoArray(c, idx);
        } else {
            mulAdd(acc, FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, c, idx).mul(beta)).intoArray(c, idx);
        }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}

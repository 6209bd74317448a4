package lowbit.tensor.simd.panama;

import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.DoubleKernels;

/**
 * Vector API double kernels. {@link #gemm} is a packed, register-tiled product in the style of Goto/BLIS (as
 * {@link PanamaGemm} for floats): per slice of {@link #KC} along k and block of {@link #MC} rows of op(A), the block is
 * packed as micro-panels of {@link #MR} rows (MR values per k index); per {@link #NR} = two-vector strip of op(B) the strip
 * is packed k-major and stays in L1 while every A micro-panel runs against it. The micro-kernel keeps an MR×NR tile
 * of C in 2·MR vector registers (one broadcast A value per row, two B vectors per k index); edge tiles are computed
 * into a zero-padded scratch tile and merged. Sums over k run in slice order, so every element of C sees the same
 * operations whichever caller or thread computes it.
 */
final class PanamaDoubleKernels implements DoubleKernels {
    private static final VectorSpecies<Double> D = Species.D;
    private static final int L = D.length();
    private static final boolean FMA = Species.FMA;
    /** Rows of the register tile. */
    static final int MR = 8;
    /** Columns of the register tile: two vectors. */
    static final int NR = 2 * L;
    /** Depth of one packed slice along k (one B strip, KC·NR doubles, stays in L1). */
    static final int KC = 128;
    /** Rows of op(A) per packed block (MC·KC doubles, in L2). */
    static final int MC = 128;

    private static DoubleVector mulAdd(DoubleVector a, DoubleVector b, DoubleVector acc) {
        return FMA ? a.fma(b, acc) : a.mul(b).add(acc);
    }

    @Override
    public double dot(double[] a, int aOff, double[] b, int bOff, int n) {
        int i = 0;
        double s = 0;
        if (n >= 2 * L) {
            DoubleVector s0 = DoubleVector.zero(D), s1 = s0, s2 = s0, s3 = s0;
            int bound4 = n - n % (4 * L);
            for (; i < bound4; i += 4 * L) {
                s0 = mulAdd(DoubleVector.fromArray(D, a, aOff + i), DoubleVector.fromArray(D, b, bOff + i), s0);
                s1 = mulAdd(DoubleVector.fromArray(D, a, aOff + i + L), DoubleVector.fromArray(D, b, bOff + i + L), s1);
                s2 = mulAdd(DoubleVector.fromArray(D, a, aOff + i + 2 * L), DoubleVector.fromArray(D, b, bOff + i + 2 * L), s2);
                s3 = mulAdd(DoubleVector.fromArray(D, a, aOff + i + 3 * L), DoubleVector.fromArray(D, b, bOff + i + 3 * L), s3);
            }
            int bound = D.loopBound(n);
            for (; i < bound; i += L) {
                s0 = mulAdd(DoubleVector.fromArray(D, a, aOff + i), DoubleVector.fromArray(D, b, bOff + i), s0);
            }
            // lanes added in lane order, not with reduceLanes: its order is left open by the Vector API and can
            // differ between interpreted and compiled code, and Cholesky's bits must not depend on either
            double[] lanes = s0.add(s1).add(s2.add(s3)).toArray();
            for (double v : lanes) {
                s += v;
            }
        }
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public void axpy(double alpha, double[] x, int xOff, double[] y, int yOff, int n) {
        int i = 0;
        DoubleVector va = DoubleVector.broadcast(D, alpha);
        for (int bound = D.loopBound(n); i < bound; i += L) {
            DoubleVector vy = DoubleVector.fromArray(D, y, yOff + i);
            mulAdd(DoubleVector.fromArray(D, x, xOff + i), va, vy).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha, double[] a, int aOff, int lda,
            double[] b, int bOff, int ldb, double[] c, int cOff, int ldc) {
        if (m == 0 || n == 0 || k == 0 || alpha == 0) {
            return;
        }
        int kcMax = Math.min(KC, k);
        double[] ap = new double[kcMax * Math.min(MC, ceilDiv(m, MR) * MR)];
        double[] bp = new double[kcMax * NR];
        double[] tile = new double[MR * NR];
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = Math.min(KC, k - p0);
            for (int ic = 0; ic < m; ic += MC) {
                int mc = Math.min(MC, m - ic);
                int panels = ceilDiv(mc, MR);
                for (int s = 0; s < panels; s++) {
                    int i = ic + s * MR;
                    packA(transA, a, aOff, lda, i, Math.min(MR, ic + mc - i), p0, kc, ap, s * kc * MR);
                }
                for (int j = 0; j < n; j += NR) {
                    int nr = Math.min(NR, n - j);
                    packB(transB, b, bOff, ldb, j, nr, p0, kc, bp);
                    for (int s = 0; s < panels; s++) {
                        int i = ic + s * MR;
                        int mr = Math.min(MR, ic + mc - i);
                        if (mr == MR && nr == NR) {
                            kernel(kc, ap, s * kc * MR, bp, c, cOff + i * ldc + j, ldc, alpha);
                        } else {
                            Arrays.fill(tile, 0);
                            kernel(kc, ap, s * kc * MR, bp, tile, 0, NR, 1);
                            for (int r = 0; r < mr; r++) {
                                for (int q = 0; q < nr; q++) {
                                    c[cOff + (i + r) * ldc + j + q] += alpha * tile[r * NR + q];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** ap[dst + p·MR + r] = op(A)[i0 + r, p0 + p], zero for r &ge; mr. */
    private static void packA(boolean transA, double[] a, int aOff, int lda, int i0, int mr, int p0, int kc,
            double[] ap, int dst) {
        if (mr < MR) {
            Arrays.fill(ap, dst, dst + kc * MR, 0);
        }
        if (transA) {
            for (int p = 0; p < kc; p++) {
                System.arraycopy(a, aOff + (p0 + p) * lda + i0, ap, dst + p * MR, mr);
            }
            return;
        }
        for (int r = 0; r < mr; r++) {
            int row = aOff + (i0 + r) * lda + p0;
            for (int p = 0; p < kc; p++) {
                ap[dst + p * MR + r] = a[row + p];
            }
        }
    }

    /** bp[p·NR + q] = op(B)[p0 + p, j0 + q], zero for q &ge; nr. */
    private static void packB(boolean transB, double[] b, int bOff, int ldb, int j0, int nr, int p0, int kc,
            double[] bp) {
        if (nr < NR) {
            Arrays.fill(bp, 0, kc * NR, 0);
        }
        if (!transB) {
            for (int p = 0; p < kc; p++) {
                System.arraycopy(b, bOff + (p0 + p) * ldb + j0, bp, p * NR, nr);
            }
            return;
        }
        for (int q = 0; q < nr; q++) {
            int row = bOff + (j0 + q) * ldb + p0;
            for (int p = 0; p < kc; p++) {
                bp[p * NR + q] = b[row + p];
            }
        }
    }

    /**
     * C tile (MR × NR at cIdx, row stride ldc) += α·(Ap·Bp) over kc packed k indices. Written out (no helper taking
     * vectors) so that C2 keeps every accumulator in a register.
     */
    private static void kernel(int kc, double[] ap, int aOff, double[] bp, double[] c, int cIdx, int ldc,
            double alpha) {
        DoubleVector z = DoubleVector.zero(D);
        DoubleVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        for (int p = 0; p < kc; p++) {
            int bi = p * NR;
            int ai = aOff + p * MR;
            DoubleVector b0 = DoubleVector.fromArray(D, bp, bi);
            DoubleVector b1 = DoubleVector.fromArray(D, bp, bi + L);
            DoubleVector a;
            a = DoubleVector.broadcast(D, ap[ai + 0]);
            c00 = FMA ? a.fma(b0, c00) : a.mul(b0).add(c00);
            c01 = FMA ? a.fma(b1, c01) : a.mul(b1).add(c01);
            a = DoubleVector.broadcast(D, ap[ai + 1]);
            c10 = FMA ? a.fma(b0, c10) : a.mul(b0).add(c10);
            c11 = FMA ? a.fma(b1, c11) : a.mul(b1).add(c11);
            a = DoubleVector.broadcast(D, ap[ai + 2]);
            c20 = FMA ? a.fma(b0, c20) : a.mul(b0).add(c20);
            c21 = FMA ? a.fma(b1, c21) : a.mul(b1).add(c21);
            a = DoubleVector.broadcast(D, ap[ai + 3]);
            c30 = FMA ? a.fma(b0, c30) : a.mul(b0).add(c30);
            c31 = FMA ? a.fma(b1, c31) : a.mul(b1).add(c31);
            a = DoubleVector.broadcast(D, ap[ai + 4]);
            c40 = FMA ? a.fma(b0, c40) : a.mul(b0).add(c40);
            c41 = FMA ? a.fma(b1, c41) : a.mul(b1).add(c41);
            a = DoubleVector.broadcast(D, ap[ai + 5]);
            c50 = FMA ? a.fma(b0, c50) : a.mul(b0).add(c50);
            c51 = FMA ? a.fma(b1, c51) : a.mul(b1).add(c51);
            a = DoubleVector.broadcast(D, ap[ai + 6]);
            c60 = FMA ? a.fma(b0, c60) : a.mul(b0).add(c60);
            c61 = FMA ? a.fma(b1, c61) : a.mul(b1).add(c61);
            a = DoubleVector.broadcast(D, ap[ai + 7]);
            c70 = FMA ? a.fma(b0, c70) : a.mul(b0).add(c70);
            c71 = FMA ? a.fma(b1, c71) : a.mul(b1).add(c71);
        }
        DoubleVector av = DoubleVector.broadcast(D, alpha);
        DoubleVector y;
        y = DoubleVector.fromArray(D, c, cIdx + 0 * ldc);
        (FMA ? c00.fma(av, y) : c00.mul(av).add(y)).intoArray(c, cIdx + 0 * ldc);
        y = DoubleVector.fromArray(D, c, cIdx + 0 * ldc + L);
        (FMA ? c01.fma(av, y) : c01.mul(av).add(y)).intoArray(c, cIdx + 0 * ldc + L);
        y = DoubleVector.fromArray(D, c, cIdx + 1 * ldc);
        (FMA ? c10.fma(av, y) : c10.mul(av).add(y)).intoArray(c, cIdx + 1 * ldc);
        y = DoubleVector.fromArray(D, c, cIdx + 1 * ldc + L);
        (FMA ? c11.fma(av, y) : c11.mul(av).add(y)).intoArray(c, cIdx + 1 * ldc + L);
        y = DoubleVector.fromArray(D, c, cIdx + 2 * ldc);
        (FMA ? c20.fma(av, y) : c20.mul(av).add(y)).intoArray(c, cIdx + 2 * ldc);
        y = DoubleVector.fromArray(D, c, cIdx + 2 * ldc + L);
        (FMA ? c21.fma(av, y) : c21.mul(av).add(y)).intoArray(c, cIdx + 2 * ldc + L);
        y = DoubleVector.fromArray(D, c, cIdx + 3 * ldc);
        (FMA ? c30.fma(av, y) : c30.mul(av).add(y)).intoArray(c, cIdx + 3 * ldc);
        y = DoubleVector.fromArray(D, c, cIdx + 3 * ldc + L);
        (FMA ? c31.fma(av, y) : c31.mul(av).add(y)).intoArray(c, cIdx + 3 * ldc + L);
        y = DoubleVector.fromArray(D, c, cIdx + 4 * ldc);
        (FMA ? c40.fma(av, y) : c40.mul(av).add(y)).intoArray(c, cIdx + 4 * ldc);
        y = DoubleVector.fromArray(D, c, cIdx + 4 * ldc + L);
        (FMA ? c41.fma(av, y) : c41.mul(av).add(y)).intoArray(c, cIdx + 4 * ldc + L);
        y = DoubleVector.fromArray(D, c, cIdx + 5 * ldc);
        (FMA ? c50.fma(av, y) : c50.mul(av).add(y)).intoArray(c, cIdx + 5 * ldc);
        y = DoubleVector.fromArray(D, c, cIdx + 5 * ldc + L);
        (FMA ? c51.fma(av, y) : c51.mul(av).add(y)).intoArray(c, cIdx + 5 * ldc + L);
        y = DoubleVector.fromArray(D, c, cIdx + 6 * ldc);
        (FMA ? c60.fma(av, y) : c60.mul(av).add(y)).intoArray(c, cIdx + 6 * ldc);
        y = DoubleVector.fromArray(D, c, cIdx + 6 * ldc + L);
        (FMA ? c61.fma(av, y) : c61.mul(av).add(y)).intoArray(c, cIdx + 6 * ldc + L);
        y = DoubleVector.fromArray(D, c, cIdx + 7 * ldc);
        (FMA ? c70.fma(av, y) : c70.mul(av).add(y)).intoArray(c, cIdx + 7 * ldc);
        y = DoubleVector.fromArray(D, c, cIdx + 7 * ldc + L);
        (FMA ? c71.fma(av, y) : c71.mul(av).add(y)).intoArray(c, cIdx + 7 * ldc + L);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}

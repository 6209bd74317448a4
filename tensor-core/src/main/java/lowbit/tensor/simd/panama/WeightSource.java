package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarDenseKernels.HALF_LE;
import static lowbit.tensor.simd.ScalarFloatKernels.F32_LE;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import lowbit.tensor.DType;

/**
 * The B operand of GEMM (the weight) over any of its storages: F32 or F16/BF16, array or little-endian segment.
 * Element (row, col) of the stored matrix is at {@code off + row·ld + col}. It can pack a panel for the blocked
 * GEMM (converting halves to floats on the way) and run GEMV rows for the small-batch path; everything else in the
 * GEMM driver is independent of the storage.
 */
abstract sealed class WeightSource {
    /** An unstarted thread: a segment it may not access is confined to its owner thread. */
    private static final Thread PROBE = Thread.ofVirtual().unstarted(() -> { });

    final long off;
    final long ld;

    private WeightSource(long off, long ld) {
        this.off = off;
        this.ld = ld;
    }

    /** False for a segment confined to one thread: then only the calling thread may read it. */
    boolean shareable() {
        return true;
    }

    static WeightSource of(float[] b, int off, int ld) {
        return new F32Array(b, off, ld);
    }

    static WeightSource of(short[] b, DType type, int off, int ld) {
        return new HalfArray(b, type == DType.BF16, off, ld);
    }

    static WeightSource of(MemorySegment b, DType type, long off, long ld) {
        return new Segment(b, type, off, ld);
    }

    /** y[yOff + r] = dot(stored row r, x[xOff .. xOff + cols)) for r in [r0, r1). */
    abstract void gemvRows(float[] x, int xOff, int cols, float[] y, int yOff, int r0, int r1);

    /**
     * Packs op(B)[p0 .. p0+kc, j0 .. j0+nValid) into {@code bp} at {@code dst}, {@code nr} floats per k index:
     * {@code bp[dst + p·nr + jj] = op(B)[p0 + p, j0 + jj]}, zero for {@code jj ≥ nValid}.
     */
    void pack(boolean trans, int j0, int nValid, int p0, int kc, int nr, float[] bp, int dst) {
        if (nValid < nr) {
            Arrays.fill(bp, dst, dst + kc * nr, 0f);
        }
        if (trans) {
            for (int jj = 0; jj < nValid; jj++) {
                packRow(j0 + jj, p0, kc, bp, dst + jj, nr);
            }
        } else {
            for (int p = 0; p < kc; p++) {
                packRow(p0 + p, j0, nValid, bp, dst + p * nr, 1);
            }
        }
    }

    /** bp[dst + t·stride] = stored (row, col0 + t) for t &lt; count. */
    abstract void packRow(long row, long col0, int count, float[] bp, int dst, int stride);

    private static final class F32Array extends WeightSource {
        private final float[] b;

        F32Array(float[] b, int off, int ld) {
            super(off, ld);
            this.b = b;
        }

        @Override
        void gemvRows(float[] x, int xOff, int cols, float[] y, int yOff, int r0, int r1) {
            PanamaGemv.f32(b, (int) off, (int) ld, x, xOff, cols, y, yOff, r0, r1);
        }

        /**
         * A full transposed panel (nr stored rows, each read along k) is gathered: each gather takes one k index
         * from L consecutive stored rows (map from {@link PanamaGemm#gatherMap}), where an element-by-element copy
         * writes with stride nr. Everything else: {@link WeightSource#pack}.
         */
        @Override
        void pack(boolean trans, int j0, int nValid, int p0, int kc, int nr, float[] bp, int dst) {
            if (!trans && nValid == nr && nr % PanamaGemm.L == 0) {
                // whole rows of the panel, nr floats each: vector copies (System.arraycopy's stub costs more than
                // the copy at this length; 2048³ spent 4.8 % of its time there on one AVX2 core)
                for (int p = 0; p < kc; p++) {
                    int row = (int) (off + (p0 + p) * ld + j0);
                    for (int u = 0; u < nr; u += PanamaGemm.L) {
                        FloatVector.fromArray(PanamaGemm.F, b, row + u).intoArray(bp, dst + p * nr + u);
                    }
                }
                return;
            }
            if (trans && nValid == nr && PanamaGemm.L == 8 && nr % 8 == 0) {
                // at 8 lanes, 8×8 blocks transposed by zips instead of the gathers below: X[512, 4096]·Wᵀ with W
                // packed per call, one Zen 3 core, six alternating runs: median 45.6–65.1 against 42.4–48.4 GFLOP/s
                int s = (int) (off + j0 * ld + p0);
                int p = 0;
                for (; p + 8 <= kc; p += 8) {
                    for (int jj = 0; jj < nr; jj += 8) {
                        PanamaGemm.transpose8(b, s + (int) (jj * ld) + p, (int) ld, bp, dst + p * nr + jj, nr);
                    }
                }
                for (int jj = 0; jj < nr; jj++) {
                    int row = s + (int) (jj * ld);
                    for (int q = p; q < kc; q++) {
                        bp[dst + q * nr + jj] = b[row + q];
                    }
                }
                return;
            }
            if (trans && nValid == nr && PanamaGemm.L == 16 && nr % 16 == 0) {
                // at 16 lanes, 16×16 blocks transposed by zips instead of the gathers below. X[512, 4096]·Wᵀ with W
                // packed per call, one Zen 4 core: 234-262 -> 210-219 ms per call (W packed once: 180-200 ms);
                // PackedWeight.of on 4096×4096: 50 -> 24 ms
                int s = (int) (off + j0 * ld + p0);
                float[] tmp = new float[256];
                int p = 0;
                for (; p + 16 <= kc; p += 16) {
                    for (int jj = 0; jj < nr; jj += 16) {
                        PanamaGemm.transpose16(b, s + (int) (jj * ld) + p, (int) ld, tmp, bp, dst + p * nr + jj, nr);
                    }
                }
                for (int jj = 0; jj < nr; jj++) {
                    int row = s + (int) (jj * ld);
                    for (int q = p; q < kc; q++) {
                        bp[dst + q * nr + jj] = b[row + q];
                    }
                }
                return;
            }
            int[] map = trans && nValid == nr ? PanamaGemm.gatherMap(nr, ld) : null;
            if (map == null) {
                super.pack(trans, j0, nValid, p0, kc, nr, bp, dst);
                return;
            }
            int s = (int) (off + j0 * ld + p0);
            int len = map.length, step = len / nr;
            int p = 0;
            for (; p + step <= kc; p += step) {
                for (int u = 0; u < len; u += PanamaGemm.L) {
                    FloatVector.fromArray(PanamaGemm.F, b, s + p, map, u).intoArray(bp, dst + p * nr + u);
                }
            }
            for (int jj = 0; jj < nr; jj++) {
                int row = s + (int) (jj * ld);
                for (int q = p; q < kc; q++) {
                    bp[dst + q * nr + jj] = b[row + q];
                }
            }
        }


        @Override
        void packRow(long row, long col0, int count, float[] bp, int dst, int stride) {
            int s = (int) (off + row * ld + col0);
            if (stride == 1) {
                System.arraycopy(b, s, bp, dst, count);
                return;
            }
            for (int t = 0; t < count; t++) {
                bp[dst + t * stride] = b[s + t];
            }
        }
    }

    private static final class HalfArray extends WeightSource {
        private final short[] b;
        private final boolean bf16;

        HalfArray(short[] b, boolean bf16, int off, int ld) {
            super(off, ld);
            this.b = b;
            this.bf16 = bf16;
        }

        @Override
        void gemvRows(float[] x, int xOff, int cols, float[] y, int yOff, int r0, int r1) {
            PanamaHalfGemv.rows(b, bf16, (int) off, (int) ld, x, xOff, cols, y, yOff, r0, r1);
        }

        @Override
        void packRow(long row, long col0, int count, float[] bp, int dst, int stride) {
            int s = (int) (off + row * ld + col0);
            if (bf16) {
                for (int t = 0; t < count; t++) {
                    bp[dst + t * stride] = Float.intBitsToFloat(b[s + t] << 16);
                }
            } else {
                for (int t = 0; t < count; t++) {
                    bp[dst + t * stride] = Float.float16ToFloat(b[s + t]);
                }
            }
        }
    }

    private static final class Segment extends WeightSource {
        private final MemorySegment b;
        private final DType type;

        Segment(MemorySegment b, DType type, long off, long ld) {
            super(off, ld);
            this.b = b;
            this.type = type;
        }

        @Override
        boolean shareable() {
            return b.isAccessibleBy(PROBE);
        }

        @Override
        void gemvRows(float[] x, int xOff, int cols, float[] y, int yOff, int r0, int r1) {
            if (type == DType.F32) {
                PanamaGemv.f32(b, off, ld, x, xOff, cols, y, yOff, r0, r1);
            } else {
                PanamaHalfGemv.rows(b, type == DType.BF16, off, ld, x, xOff, cols, y, yOff, r0, r1);
            }
        }

        @Override
        void packRow(long row, long col0, int count, float[] bp, int dst, int stride) {
            long s = off + row * ld + col0;
            switch (type) {
                case F32 -> {
                    for (int t = 0; t < count; t++) {
                        bp[dst + t * stride] = b.getAtIndex(F32_LE, s + t);
                    }
                }
                case BF16 -> {
                    for (int t = 0; t < count; t++) {
                        bp[dst + t * stride] = Float.intBitsToFloat(b.getAtIndex(HALF_LE, s + t) << 16);
                    }
                }
                default -> {
                    for (int t = 0; t < count; t++) {
                        bp[dst + t * stride] = Float.float16ToFloat(b.getAtIndex(HALF_LE, s + t));
                    }
                }
            }
        }
    }
}

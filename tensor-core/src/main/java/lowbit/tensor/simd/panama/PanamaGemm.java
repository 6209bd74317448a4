package lowbit.tensor.simd.panama;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.parallel.Parallel;

/**
 * Blocked GEMM {@code C = α·op(A)·op(B) + β·C} in the style of Goto/BLIS: for each block of {@link #NC} columns
 * of C and each slice of {@link #KC} along k, a panel of op(B) is packed (converted to float, {@link #NR} columns
 * per k index, so the micro-kernel reads it contiguously) once, shared by every thread (on packed C with several
 * threads and a block at least as wide as C is tall, each task packs its own panels instead); then tasks over row
 * blocks of C (and, when there are fewer row blocks than twice the threads, over groups of B panels) pack their rows of
 * op(A) as micro-panels of {@link #MR} rows (MR values per k index, at most {@link #MC} rows at a time) and run the
 * micro-kernel over the B micro-panels and, innermost, the A micro-panels, so one B micro-panel (KC·NR floats)
 * stays in L1 while the packed A block (MC·KC floats) streams from L2. The register-tiled micro-kernel accumulates
 * an MR×NR tile of C in 2·MR vector registers, broadcasting one A value per row and loading two B vectors per k
 * index. A weight packed once for all k ({@link #packPanels(WeightSource, int, int)}) skips the B packing
 * ({@link #gemmPacked}). Every element of C sees the same sequence of operations whatever the split (the k-slices
 * in order, each through the same kernel), so results do not depend on the thread count, and the pre-packed path
 * gives the same bits as packing on the fly.
 *
 * <p>Edge tiles (fewer than MR rows or NR columns left) are packed with zeros, computed into a scratch tile and
 * merged element by element.
 *
 * <p><b>Packed C.</b> With {@value #PACKED_C_SLICES} or more k-slices, the slices before the last accumulate each
 * tile in a packed copy of C (tile after tile in the order the kernel visits them) and only the last slice writes C,
 * as α·P + bias or α·P + β·C: C's strided tile rows are then touched once instead of once per slice (see
 * {@link #packedC}; 2048³ ran 1.18–1.22× faster on one thread, 1.08–1.11× on two). The packed copy is the calling
 * thread's scratch, m·NC floats (one block of columns) up to {@value #PACKED_C_MAX}; taller products write C every
 * slice. The choice depends only on (m, n, k), and both B paths make the same one, so the pre-packed path still
 * gives the bits of packing on the fly.
 */
final class PanamaGemm {
    static final VectorSpecies<Float> F = Species.F;
    static final int L = F.length();
    private static final boolean FMA = Species.FMA;
    /**
     * Rows of the register tile: 8 where the ISA has 32 vector registers (2·8 accumulators, two B vectors and a
     * broadcast fit), 6 where it has 16 (x86 without AVX-512: the 8-row tile spilled and ran 2048³ at 43 GFLOP/s on
     * one Zen 3 core against OpenBLAS's 80); see {@link Species#VECTOR_REGISTERS}.
     */
    static final int MR = Species.VECTOR_REGISTERS >= 32 ? 8 : 6;
    /** Columns of the register tile: two vectors. */
    static final int NR = 2 * L;
    /** Depth of one packed slice along k. */
    static final int KC = 256;
    /** Rows of op(A) per packed block (a multiple of MR, so that only the last micro-panel of op(A) is partial). */
    static final int MC = 256 / MR * MR;
    /**
     * Rows of op(A) per packed block on packed C: with C no longer in the way, a taller A block (512 KiB at KC) halves
     * how often the B panels stream by (X[512, 4096]·Wᵀ with a packed W 1.10× faster on one thread, 2048³ 1.05×; on
     * the direct path the same change cost MiniLM's two-slice shapes up to 10 %).
     */
    static final int MC_PACKED = 512 / MR * MR;
    /** Columns of C per task (a multiple of NR at every width). */
    static final int NC = 1024;
    /**
     * From this many k-slices on, the slices before the last accumulate into a packed copy of the C tiles (see
     * {@link #packedC} and {@link #computePacked}) instead of C itself.
     */
    static final int PACKED_C_SLICES = 3;
    /** Largest packed C (floats, 32 MiB) kept per calling thread; larger products write every slice to C. */
    static final int PACKED_C_MAX = 1 << 23;

    /**
     * Two-vector selections interleaving the low halves (lanes 0, L, 1, L+1, ..) and the high halves of two
     * vectors: three rounds of them transpose 8 rows of L floats into packed A order ({@link #packA}).
     */
    private static final FloatVector ZIP_LO;
    private static final FloatVector ZIP_HI;

    static {
        float[] lo = new float[L];
        float[] hi = new float[L];
        for (int i = 0; i < L / 2; i++) {
            lo[2 * i] = i;
            lo[2 * i + 1] = i + L;
            hi[2 * i] = i + L / 2;
            hi[2 * i + 1] = i + L / 2 + L;
        }
        ZIP_LO = FloatVector.fromArray(F, lo, 0);
        ZIP_HI = FloatVector.fromArray(F, hi, 0);
        int[] dupLo = new int[L];
        int[] dupHi = new int[L];
        boolean[] odd = new boolean[L];
        for (int i = 0; i < L; i++) {
            dupLo[i] = i / 2;
            dupHi[i] = L / 2 + i / 2;
            odd[i] = (i & 1) != 0;
        }
        DUP_LO = VectorShuffle.fromArray(F, dupLo, 0);
        DUP_HI = VectorShuffle.fromArray(F, dupHi, 0);
        ODD = VectorMask.fromArray(F, odd, 0);
    }

    /**
     * Whether a zip is one two-source permute ({@link Species#TWO_SOURCE_PERMUTE}); without one it is built from two
     * one-source permutes by constant shuffles and a constant blend.
     */
    private static final boolean TWO_SOURCE_ZIP = Species.TWO_SOURCE_PERMUTE;
    /** Lane i: lane i/2 (low half, each twice), and L/2 + i/2 (high half). */
    private static final VectorShuffle<Float> DUP_LO;
    private static final VectorShuffle<Float> DUP_HI;
    /** The odd lanes. */
    private static final VectorMask<Float> ODD;

    /** Lanes 0, L, 1, L+1, .. of a, b (a's low half interleaved with b's). */
    private static FloatVector zipLo(FloatVector a, FloatVector b) {
        return TWO_SOURCE_ZIP ? zipLo2(a, b) : zipLo1(a, b);
    }

    /** Lanes L/2, L + L/2, .. of a, b (the high halves interleaved). */
    private static FloatVector zipHi(FloatVector a, FloatVector b) {
        return TWO_SOURCE_ZIP ? zipHi2(a, b) : zipHi1(a, b);
    }

    /** {@link #zipLo} by one two-source permute. */
    static FloatVector zipLo2(FloatVector a, FloatVector b) {
        return ZIP_LO.selectFrom(a, b);
    }

    /** {@link #zipHi} by one two-source permute. */
    static FloatVector zipHi2(FloatVector a, FloatVector b) {
        return ZIP_HI.selectFrom(a, b);
    }

    /** {@link #zipLo} by two one-source permutes and a blend. */
    static FloatVector zipLo1(FloatVector a, FloatVector b) {
        return a.rearrange(DUP_LO).blend(b.rearrange(DUP_LO), ODD);
    }

    /** {@link #zipHi} by two one-source permutes and a blend. */
    static FloatVector zipHi1(FloatVector a, FloatVector b) {
        return a.rearrange(DUP_HI).blend(b.rearrange(DUP_HI), ODD);
    }

    /**
     * Per-thread packing buffers (B panel up to KC·NC floats = 1 MiB, A block, edge tile, packed C), reused across
     * calls (packed C's first slice stores every tile before a later slice reads it): a
     * fresh 1 MiB array per block task is a humongous allocation for G1 with small heaps and showed up as GC work in
     * model-sized workloads (36 GEMMs per forward). Packing zero-fills what it does not overwrite, so stale contents
     * never reach the kernel; block() does not re-enter itself, so one set per thread suffices.
     */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[4][]);

    private PanamaGemm() {
    }

    private static float[] scratch(float[][] buffers, int slot, int size) {
        float[] a = buffers[slot];
        if (a == null || a.length < size) {
            a = new float[size];
            buffers[slot] = a;
        }
        return a;
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
        int threads = 2.0 * m * n * k < 4e6 || !b.shareable() ? 1 : Parallel.parallelism();
        int mPanels = ceilDiv(m, MR);
        float[][] callerBuffers = SCRATCH.get();
        int slice = sliceDepth(k);
        float[] cp = packedC(callerBuffers, m, n, k);
        for (int j0 = 0; j0 < n; j0 += NC) {
            int j1 = Math.min(n, j0 + NC);
            int panels = ceilDiv(j1 - j0, NR);
            if (cp != null && threads > 1 && j1 - j0 >= m) {
                // a block at least as wide as C is tall: each task packs the B panels of its own group, slice by
                // slice, in its thread's scratch, and runs all the slices (no B panel crosses cores, and there is no
                // barrier per slice); the same kernels in the same order as below, so the same bits
                Tiling t = Tiling.of(mPanels, panels, threads, MC_PACKED, false);
                int jb0 = j0;
                forTasks(t, threads, (i0, i1, q0, q1) -> {
                    float[] bp = scratch(SCRATCH.get(), 0, slice * (q1 - q0) * NR);
                    for (int p0 = 0; p0 < k; p0 += slice) {
                        int kc = Math.min(slice, k - p0);
                        for (int q = q0; q < q1; q++) {
                            int j = jb0 + q * NR;
                            b.pack(transB, j, Math.min(NR, j1 - j), p0, kc, NR, bp, (q - q0) * kc * NR);
                        }
                        computePacked(transA, a, aOff, lda, m, i0, i1, p0, kc, bp, -q0 * kc * NR, kc * NR, q0, q1,
                                jb0, j1, alpha, null, beta, c, cOff, ldc, cp, cpBase(t, i0, i1, q0),
                                stage(cp, p0, kc, k));
                    }
                });
                continue;
            }
            Tiling t = Tiling.of(mPanels, panels, threads, cp == null ? MC : MC_PACKED);
            for (int p0 = 0; p0 < k; p0 += slice) {
                int kc = Math.min(slice, k - p0);
                float[] bp = scratch(callerBuffers, 0, kc * panels * NR);
                packPanels(b, transB, j0, j1, p0, kc, bp, panels, threads);
                // with packed C, β·C enters the last slice's epilogue (the other slices do not touch C)
                float bet = cp != null || p0 == 0 ? beta : 1f;
                int jb0 = j0, pp0 = p0, stage = stage(cp, p0, kc, k);
                if (cp == null) {
                    forTasks(t, threads, (i0, i1, q0, q1) -> compute(transA, a, aOff, lda, m, i0, i1, pp0, kc, bp, 0,
                            kc * NR, q0, q1, jb0, j1, alpha, null, bet, c, cOff, ldc));
                } else {
                    forTasks(t, threads, (i0, i1, q0, q1) -> computePacked(transA, a, aOff, lda, m, i0, i1, pp0, kc,
                            bp, 0, kc * NR, q0, q1, jb0, j1, alpha, null, bet, c, cOff, ldc, cp, cpBase(t, i0, i1, q0),
                            stage));
                }
            }
        }
    }

    /**
     * {@code C = α·A·Bᵀ + bias + β·C} with B [n, k] already packed in panels of {@link #NR} columns spanning all of k
     * ({@link #packPanels(WeightSource, int, int)}): no packing of B, and a task runs every k-slice of its tile of C
     * in order, so the result has the same bits as {@link #gemm} on the unpacked B. A non-null {@code bias} [n]
     * (added to every row; β must then be 0) enters the first k-slice's epilogue in place of β·C (the last one's on
     * packed C), which gives the same bits as filling C with the bias and running with β = 1, without that pass
     * over C and without reading C.
     */
    static void gemmPacked(int m, int n, int k, float alpha, float[] a, int aOff, int lda, float[] bp, float[] bias,
            float beta, float[] c, int cOff, int ldc) {
        if (bias != null && beta != 0f) {
            throw new IllegalArgumentException("gemmPacked: a bias needs beta = 0, got " + beta);
        }
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0f) {
            scaleC(m, n, beta, c, cOff, ldc);
            if (bias != null) {
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        c[cOff + i * ldc + j] += bias[j];
                    }
                }
            }
            return;
        }
        int threads = 2.0 * m * n * k < 4e6 ? 1 : Parallel.parallelism();
        int mPanels = ceilDiv(m, MR);
        int slice = sliceDepth(k);
        float[] cp = packedC(SCRATCH.get(), m, n, k);
        if (cp == null) {
            Tiling t = Tiling.of(mPanels, ceilDiv(n, NR), threads, MC);
            forTasks(t, threads, (i0, i1, q0, q1) -> {
                for (int p0 = 0; p0 < k; p0 += slice) {
                    int kc = Math.min(slice, k - p0);
                    compute(false, a, aOff, lda, m, i0, i1, p0, kc, bp, p0 * NR, k * NR, q0, q1, 0, n, alpha,
                            p0 == 0 ? bias : null, p0 == 0 ? beta : 1f, c, cOff, ldc);
                }
            });
            return;
        }
        // packed C: blocks of NC columns as in gemm (the packed copy holds one block); the bias and β·C enter the
        // last slice's epilogue
        for (int j0 = 0; j0 < n; j0 += NC) {
            int j1 = Math.min(n, j0 + NC);
            int jb0 = j0;
            int bBlock = j0 / NR * k * NR;
            // tasks split the rows (as elsewhere) when the column block is narrower than C is tall; otherwise, with
            // several threads, they split the B panels, so that each streams only its share of W once (X[512, 4096]
            // with W 4096x4096, 2 threads: 1.19-1.22x; splitting the panels of MiniLM's 384-wide blocks instead
            // packed A four times and cost 7 %)
            Tiling t = Tiling.of(mPanels, ceilDiv(j1 - j0, NR), threads, MC_PACKED, j1 - j0 < m);
            forTasks(t, threads, (i0, i1, q0, q1) -> {
                for (int p0 = 0; p0 < k; p0 += slice) {
                    int kc = Math.min(slice, k - p0);
                    computePacked(false, a, aOff, lda, m, i0, i1, p0, kc, bp, bBlock + p0 * NR, k * NR, q0, q1, jb0,
                            j1, alpha, bias, beta, c, cOff, ldc, cp, cpBase(t, i0, i1, q0), stage(cp, p0, kc, k));
                }
            });
        }
    }

    /**
     * op(B) [k, n] = B [n, k] (transposed storage, as a linear layer's weight) packed for {@link #gemmPacked}: panel
     * g holds columns {@code [g·NR, g·NR + NR)} of op(B) for every k index, element (p, j) at
     * {@code (j / NR)·NR·k + p·NR + j % NR}, zero past column n.
     */
    static float[] packPanels(WeightSource b, int n, int k) {
        int panels = ceilDiv(n, NR);
        float[] bp = new float[Math.multiplyExact(panels * NR, k)];
        Parallel.RangeBody body = (g0, g1) -> {
            for (int g = (int) g0; g < g1; g++) {
                int j = g * NR;
                b.pack(true, j, Math.min(NR, n - j), 0, k, NR, bp, g * NR * k);
            }
        };
        if (b.shareable()) {
            Parallel.forRange(0, panels, 1, body);
        } else {
            body.run(0, panels); // a confined segment: only this thread may read it
        }
        return bp;
    }

    /** A tile of C for one task: rows [i0, i1) (multiples of MR except at m) and panels [q0, q1) of the block. */
    @FunctionalInterface
    private interface TileTask {
        void run(int i0, int i1, int q0, int q1);
    }

    /**
     * How one column block is cut into tasks: row blocks of whole MR-row micro-panels, and (when there are too few
     * row blocks to keep every thread busy) groups of B panels. Every C element sees the same operations whatever
     * the cut, so the cut may depend on the thread count. With several threads there are at least four row blocks
     * per thread (tasks are claimed dynamically, so a thread that starts late or runs slower leaves less idle time
     * at the end): at 2 threads, MiniLM's X[512, 384]·Wᵀ with a packed W ran 1.13–1.2× faster with 8 tasks than
     * with 4, and 16 were 4–6 % slower than 8 (wall clock, same-JVM alternation, 2026-12-02).
     */
    private record Tiling(int m, int rowsPerBlock, int rowBlocks, int panels, int panelsPerGroup, int groups) {
        static Tiling of(int mPanels, int panels, int threads, int mc) {
            return of(mPanels, panels, threads, mc, true);
        }

        static Tiling of(int mPanels, int panels, int threads, int mc, boolean splitRows) {
            int rowBlocks = threads == 1 || !splitRows ? ceilDiv(mPanels * MR, mc)
                    : Math.max(ceilDiv(mPanels * MR, mc), Math.min(mPanels, 4 * threads));
            int panelsPerRowBlock = ceilDiv(mPanels, rowBlocks);
            rowBlocks = ceilDiv(mPanels, panelsPerRowBlock);
            int groups = threads == 1 ? 1 : Math.max(1, Math.min(panels, ceilDiv(2 * threads, rowBlocks)));
            int perGroup = ceilDiv(panels, groups);
            return new Tiling(mPanels * MR, panelsPerRowBlock * MR, rowBlocks, panels, perGroup,
                    ceilDiv(panels, perGroup));
        }

        int tasks() {
            return rowBlocks * groups;
        }
    }

    private static void forTasks(Tiling t, int threads, TileTask body) {
        if (threads == 1 || t.tasks() == 1) {
            for (int task = 0; task < t.tasks(); task++) {
                runTask(t, task, body);
            }
            return;
        }
        Parallel.forRange(0, t.tasks(), 1, (t0, t1) -> {
            for (long task = t0; task < t1; task++) {
                runTask(t, (int) task, body);
            }
        });
    }

    private static void runTask(Tiling t, int task, TileTask body) {
        int rb = task / t.groups(), g = task % t.groups();
        int i0 = rb * t.rowsPerBlock(), q0 = g * t.panelsPerGroup();
        body.run(i0, Math.min(t.m(), i0 + t.rowsPerBlock()), q0, Math.min(t.panels(), q0 + t.panelsPerGroup()));
    }

    /**
     * B panels q ∈ [0, panels) of columns [j0, j1) and k-slice [p0, p0 + kc) into bp (kc·NR floats per panel), in
     * parallel when {@code threads > 1}.
     */
    private static void packPanels(WeightSource b, boolean transB, int j0, int j1, int p0, int kc, float[] bp,
            int panels, int threads) {
        if (threads == 1) {
            for (int q = 0; q < panels; q++) {
                int j = j0 + q * NR;
                b.pack(transB, j, Math.min(NR, j1 - j), p0, kc, NR, bp, q * kc * NR);
            }
            return;
        }
        Parallel.forRange(0, panels, Math.max(1, panels / (2 * threads)), (q0, q1) -> {
            for (int q = (int) q0; q < q1; q++) {
                int j = j0 + q * NR;
                b.pack(transB, j, Math.min(NR, j1 - j), p0, kc, NR, bp, q * kc * NR);
            }
        });
    }

    /**
     * One k-slice of a tile of C: rows [i0, i1) of op(A) (m rows in all; packed here, {@link #MC} rows at a time,
     * into the running thread's scratch) times B panels [q0, q1), panel q's slice at
     * {@code bp[bBase + q·bStride]} (kc·NR floats), columns from {@code j0} up to {@code j1}; {@code bias} (indexed by
     * column, or null) is added in the epilogue, with bet = 0.
     */
    private static void compute(boolean transA, float[] a, int aOff, int lda, int m, int i0, int i1, int p0, int kc,
            float[] bp, int bBase, int bStride, int q0, int q1, int j0, int j1, float alpha, float[] bias, float bet,
            float[] c, int cOff, int ldc) {
        i1 = Math.min(i1, m);
        if (i0 >= i1 || q0 >= q1) {
            return;
        }
        float[][] buffers = SCRATCH.get();
        float[] ap = scratch(buffers, 1, kc * Math.min(MC, ceilDiv(i1 - i0, MR) * MR));
        float[] tile = scratch(buffers, 2, MR * NR);
        int[] aIdx = transA || L >= MR ? null : gatherMap(MR, lda); // only the 128-bit packA gathers
        for (int ic = i0; ic < i1; ic += MC) {
            int mc = Math.min(MC, i1 - ic);
            int aPanels = packBlock(transA, a, aOff, lda, ic, mc, p0, kc, ap, aIdx);
            for (int q = q0; q < q1; q++) {
                int j = j0 + q * NR;
                int nr = Math.min(NR, j1 - j);
                int bOff = bBase + q * bStride;
                for (int s = 0; s < aPanels; s++) {
                    int i = ic + s * MR;
                    int mr = Math.min(MR, ic + mc - i);
                    if (mr == MR && nr == NR) {
                        kernel(kc, ap, s * kc * MR, bp, bOff, c, cOff + i * ldc + j, ldc, alpha, bias, j, bet);
                    } else {
                        kernel(kc, ap, s * kc * MR, bp, bOff, tile, 0, NR, 1f, null, 0, 0f);
                        merge(tile, 0, mr, nr, c, cOff + i * ldc + j, ldc, alpha, bias, j, bet);
                    }
                }
            }
        }
    }

    /**
     * {@link #compute} for a slice of a product on packed C ({@link #packedC}): the tiles go to their slots in
     * {@code cp} from {@code cpBase} (the FIRST slice stores them, later ones add to them), in the order of these
     * loops (row block, then B panel, then A micro-panel, so each call's tile follows the previous one in memory);
     * the LAST slice then writes each tile to C as α·P + bias or α·P + β·C.
     */
    private static void computePacked(boolean transA, float[] a, int aOff, int lda, int m, int i0, int i1, int p0,
            int kc, float[] bp, int bBase, int bStride, int q0, int q1, int j0, int j1, float alpha, float[] bias,
            float bet, float[] c, int cOff, int ldc, float[] cp, int cpBase, int stage) {
        i1 = Math.min(i1, m);
        if (i0 >= i1 || q0 >= q1) {
            return;
        }
        float[][] buffers = SCRATCH.get();
        float[] ap = scratch(buffers, 1, kc * Math.min(MC_PACKED, ceilDiv(i1 - i0, MR) * MR));
        int[] aIdx = transA || L >= MR ? null : gatherMap(MR, lda);
        float addTo = stage == FIRST ? 0f : 1f;
        for (int ic = i0; ic < i1; ic += MC_PACKED) {
            int mc = Math.min(MC_PACKED, i1 - ic);
            int aPanels = packBlock(transA, a, aOff, lda, ic, mc, p0, kc, ap, aIdx);
            for (int q = q0; q < q1; q++) {
                int j = j0 + q * NR;
                int nr = Math.min(NR, j1 - j);
                int bOff = bBase + q * bStride;
                int at = cpBase + (ic - i0) * (q1 - q0) * NR + (q - q0) * aPanels * MR * NR;
                for (int s = 0; s < aPanels; s++, at += MR * NR) {
                    kernel(kc, ap, s * kc * MR, bp, bOff, cp, at, NR, 1f, null, 0, addTo);
                    if (stage == LAST) {
                        int i = ic + s * MR;
                        int mr = Math.min(MR, ic + mc - i);
                        if (mr == MR && nr == NR) {
                            store(cp, at, c, cOff + i * ldc + j, ldc, alpha, bias, j, bet);
                        } else {
                            merge(cp, at, mr, nr, c, cOff + i * ldc + j, ldc, alpha, bias, j, bet);
                        }
                    }
                }
            }
        }
    }

    /** Packs rows [ic, ic + mc) of op(A), k-slice [p0, p0 + kc), as micro-panels into ap; returns their count. */
    private static int packBlock(boolean transA, float[] a, int aOff, int lda, int ic, int mc, int p0, int kc,
            float[] ap, int[] aIdx) {
        int aPanels = ceilDiv(mc, MR);
        for (int s = 0; s < aPanels; s++) {
            int i = ic + s * MR;
            packA(transA, a, aOff, lda, i, Math.min(MR, ic + mc - i), p0, kc, ap, s * kc * MR, aIdx);
        }
        return aPanels;
    }

    /** {@link #compute} stages: C written by every slice, or the first / a middle / the last slice on packed C. */
    private static final int DIRECT = -1;
    private static final int FIRST = 0;
    private static final int MIDDLE = 1;
    private static final int LAST = 2;

    /**
     * The packed C of an m×n product with inner dimension k (the caller's scratch, one block of at most NC columns),
     * or null when the slices write C directly:
     * fewer than {@link #PACKED_C_SLICES} slices, or more than {@link #PACKED_C_MAX} floats. Why: each slice's
     * epilogue reads and writes its C tile, MR rows ldc apart; once C is beyond L2 those are 16 cache misses on
     * lines no prefetcher predicts, every slice (in a kernel loop on a C array of 64 MB, the β = 1 epilogue ran at
     * 124–133 GFLOP/s against 166–171 on a cached C, the β = 0 one at 146–156 against 187). In packed C a tile's
     * 8·NR floats are contiguous and follow the previous call's, a sequential stream (154–157 GFLOP/s cold in the same
     * loop); C itself is then written once, by the last slice.
     */
    private static float[] packedC(float[][] buffers, int m, int n, int k) {
        long floats = (long) ceilDiv(m, MR) * MR * Math.min(ceilDiv(n, NR) * NR, NC);
        if (ceilDiv(k, sliceDepth(k)) < PACKED_C_SLICES || floats > PACKED_C_MAX) {
            return null;
        }
        return scratch(buffers, 3, (int) floats);
    }

    /** The stage of the slice [p0, p0 + kc) of k: see {@link #DIRECT}. */
    private static int stage(float[] cp, int p0, int kc, int k) {
        return cp == null ? DIRECT : p0 == 0 ? FIRST : p0 + kc >= k ? LAST : MIDDLE;
    }

    /** Where a task's tiles start in packed C: tasks cover disjoint rectangles of rows × panels. */
    private static int cpBase(Tiling t, int i0, int i1, int q0) {
        return (i0 * t.panels() + (Math.min(i1, t.m()) - i0) * q0) * NR;
    }

    /** C tile = α·P + bias, or α·P + β·C (C not read when β = 0), for a full tile P at tile[at ..] (row stride NR). */
    private static void store(float[] tile, int at, float[] c, int cIdx, int ldc, float alpha, float[] bias, int bj,
            float beta) {
        FloatVector av = FloatVector.broadcast(F, alpha);
        FloatVector bv = FloatVector.broadcast(F, beta);
        for (int r = 0; r < MR; r++) {
            for (int h = 0; h < NR; h += L) {
                FloatVector p = FloatVector.fromArray(F, tile, at + r * NR + h);
                int ci = cIdx + r * ldc + h;
                FloatVector y;
                if (bias != null) {
                    y = FMA ? p.fma(av, FloatVector.fromArray(F, bias, bj + h))
                            : p.mul(av).add(FloatVector.fromArray(F, bias, bj + h));
                } else if (beta == 0f) {
                    y = p.mul(av);
                } else {
                    FloatVector old = FloatVector.fromArray(F, c, ci).mul(bv);
                    y = FMA ? p.fma(av, old) : p.mul(av).add(old);
                }
                y.intoArray(c, ci);
            }
        }
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

    /**
     * The gather map that transposes {@code rows} rows of stride {@code ld} into k-major order: entry u (of
     * max(L, rows)) is {@code (u % rows)·ld + u / rows}, so gathering at {@code base + p} with the map at offset u
     * yields L consecutive packed values starting at packed index {@code p·rows + u}. Null when the offsets would
     * overflow an int (callers then pack element by element).
     */
    static int[] gatherMap(int rows, long ld) {
        int len = Math.max(L, rows);
        if ((rows - 1) * ld + len / rows >= Integer.MAX_VALUE || len % rows != 0 || len % L != 0) {
            return null;
        }
        int[] map = new int[len];
        for (int u = 0; u < len; u++) {
            map[u] = (int) ((u % rows) * ld + u / rows);
        }
        return map;
    }

    /**
     * Eight rows of L floats (row r at {@code src[s + r·ld ..]}) transposed by three rounds of zips (vector i with
     * vector i + 4): 24 zips per 8·L floats instead of 8·L/16 gathers. Output vector t (t = 0..7, stored in that order
     * at {@code dst[d + t·dstStride ..]}) holds, row after row in lanes of 8, the columns that packed-A order puts
     * there: at 8 lanes column t of the block, at 16 lanes columns 2t and 2t + 1 (so dstStride = L packs 8 rows).
     */
    static void transpose8(float[] src, int s, int ld, float[] dst, int d, int dstStride) {
        FloatVector v0 = FloatVector.fromArray(F, src, s);
        FloatVector v1 = FloatVector.fromArray(F, src, s + ld);
        FloatVector v2 = FloatVector.fromArray(F, src, s + 2 * ld);
        FloatVector v3 = FloatVector.fromArray(F, src, s + 3 * ld);
        FloatVector v4 = FloatVector.fromArray(F, src, s + 4 * ld);
        FloatVector v5 = FloatVector.fromArray(F, src, s + 5 * ld);
        FloatVector v6 = FloatVector.fromArray(F, src, s + 6 * ld);
        FloatVector v7 = FloatVector.fromArray(F, src, s + 7 * ld);
        FloatVector w0 = zipLo(v0, v4), w1 = zipHi(v0, v4);
        FloatVector w2 = zipLo(v1, v5), w3 = zipHi(v1, v5);
        FloatVector w4 = zipLo(v2, v6), w5 = zipHi(v2, v6);
        FloatVector w6 = zipLo(v3, v7), w7 = zipHi(v3, v7);
        v0 = zipLo(w0, w4);
        v1 = zipHi(w0, w4);
        v2 = zipLo(w1, w5);
        v3 = zipHi(w1, w5);
        v4 = zipLo(w2, w6);
        v5 = zipHi(w2, w6);
        v6 = zipLo(w3, w7);
        v7 = zipHi(w3, w7);
        zipLo(v0, v4).intoArray(dst, d);
        zipHi(v0, v4).intoArray(dst, d + dstStride);
        zipLo(v1, v5).intoArray(dst, d + 2 * dstStride);
        zipHi(v1, v5).intoArray(dst, d + 3 * dstStride);
        zipLo(v2, v6).intoArray(dst, d + 4 * dstStride);
        zipHi(v2, v6).intoArray(dst, d + 5 * dstStride);
        zipLo(v3, v7).intoArray(dst, d + 6 * dstStride);
        zipHi(v3, v7).intoArray(dst, d + 7 * dstStride);
    }

    /**
     * Sixteen rows of 16 floats (row r at {@code src[s + r·ld ..]}; 512-bit vectors only) transposed by four rounds
     * of zips (vector i with vector i + 8): output vector t, stored at {@code dst[d + t·dstStride ..]}, is column t of
     * the block. 64 two-source permutes per 256 floats, where the gathers this replaces in the transposed B pack took
     * one k index from 16 rows at a time. The rounds run two by two through {@code tmp} (256 floats, in L1): all four
     * in one method passed C2's node-count inlining cutoff and left the last zips as calls.
     */
    static void transpose16(float[] src, int s, int ld, float[] tmp, float[] dst, int d, int dstStride) {
        zip16Twice(src, s, ld, tmp, 0, 16);
        zip16Twice(tmp, 0, 16, dst, d, dstStride);
    }

    /** Two rounds of {@link #transpose16}: 16 vectors in (vector i at {@code src[s + i·ld]}), 16 out. */
    private static void zip16Twice(float[] src, int s, int ld, float[] dst, int d, int dstStride) {
        FloatVector v0 = FloatVector.fromArray(F, src, s + 0 * ld);
        FloatVector v1 = FloatVector.fromArray(F, src, s + 1 * ld);
        FloatVector v2 = FloatVector.fromArray(F, src, s + 2 * ld);
        FloatVector v3 = FloatVector.fromArray(F, src, s + 3 * ld);
        FloatVector v4 = FloatVector.fromArray(F, src, s + 4 * ld);
        FloatVector v5 = FloatVector.fromArray(F, src, s + 5 * ld);
        FloatVector v6 = FloatVector.fromArray(F, src, s + 6 * ld);
        FloatVector v7 = FloatVector.fromArray(F, src, s + 7 * ld);
        FloatVector v8 = FloatVector.fromArray(F, src, s + 8 * ld);
        FloatVector v9 = FloatVector.fromArray(F, src, s + 9 * ld);
        FloatVector v10 = FloatVector.fromArray(F, src, s + 10 * ld);
        FloatVector v11 = FloatVector.fromArray(F, src, s + 11 * ld);
        FloatVector v12 = FloatVector.fromArray(F, src, s + 12 * ld);
        FloatVector v13 = FloatVector.fromArray(F, src, s + 13 * ld);
        FloatVector v14 = FloatVector.fromArray(F, src, s + 14 * ld);
        FloatVector v15 = FloatVector.fromArray(F, src, s + 15 * ld);
        FloatVector w0 = zipLo(v0, v8), w1 = zipHi(v0, v8);
        FloatVector w2 = zipLo(v1, v9), w3 = zipHi(v1, v9);
        FloatVector w4 = zipLo(v2, v10), w5 = zipHi(v2, v10);
        FloatVector w6 = zipLo(v3, v11), w7 = zipHi(v3, v11);
        FloatVector w8 = zipLo(v4, v12), w9 = zipHi(v4, v12);
        FloatVector w10 = zipLo(v5, v13), w11 = zipHi(v5, v13);
        FloatVector w12 = zipLo(v6, v14), w13 = zipHi(v6, v14);
        FloatVector w14 = zipLo(v7, v15), w15 = zipHi(v7, v15);
        zipLo(w0, w8).intoArray(dst, d + 0 * dstStride);
        zipHi(w0, w8).intoArray(dst, d + 1 * dstStride);
        zipLo(w1, w9).intoArray(dst, d + 2 * dstStride);
        zipHi(w1, w9).intoArray(dst, d + 3 * dstStride);
        zipLo(w2, w10).intoArray(dst, d + 4 * dstStride);
        zipHi(w2, w10).intoArray(dst, d + 5 * dstStride);
        zipLo(w3, w11).intoArray(dst, d + 6 * dstStride);
        zipHi(w3, w11).intoArray(dst, d + 7 * dstStride);
        zipLo(w4, w12).intoArray(dst, d + 8 * dstStride);
        zipHi(w4, w12).intoArray(dst, d + 9 * dstStride);
        zipLo(w5, w13).intoArray(dst, d + 10 * dstStride);
        zipHi(w5, w13).intoArray(dst, d + 11 * dstStride);
        zipLo(w6, w14).intoArray(dst, d + 12 * dstStride);
        zipHi(w6, w14).intoArray(dst, d + 13 * dstStride);
        zipLo(w7, w15).intoArray(dst, d + 14 * dstStride);
        zipHi(w7, w15).intoArray(dst, d + 15 * dstStride);
    }

    /**
     * ap[dst + p·MR + r] = op(A)[i0 + r, p0 + p], zero for r &ge; mr. A full untransposed micro-panel of 8 rows is
     * transposed by zips when a vector holds at least 8 floats, or gathered with {@code aIdx} (from
     * {@link #gatherMap}; 8 rows at 128 bits); one of 6 rows (the 16-register tile) is copied column by column;
     * anything else element by element.
     */
    static void packA(boolean transA, float[] a, int aOff, int lda, int i0, int mr, int p0, int kc, float[] ap,
            int dst, int[] aIdx) {
        if (mr < MR) {
            Arrays.fill(ap, dst, dst + kc * MR, 0f);
        }
        if (transA) {
            for (int p = 0; p < kc; p++) {
                System.arraycopy(a, aOff + (p0 + p) * lda + i0, ap, dst + p * MR, mr);
            }
            return;
        }
        int s = aOff + i0 * lda + p0;
        int p = 0;
        if (MR == 8 && mr == MR && L >= MR) {
            for (; p + L <= kc; p += L) {
                transpose8(a, s + p, lda, ap, dst + p * MR, L);
            }
        } else if (MR == 6 && mr == MR) {
            // the 6-row tile exists only with 16 registers, i.e. without a two-source permute: column by column with
            // scalar moves, 0.57 ns per float against 1.65 for transpose8's one-source zips on a Zen 1 core (6×256
            // panels, L1-resident)
            int r1 = s + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda;
            for (; p < kc; p++) {
                int o = dst + p * MR;
                ap[o] = a[s + p];
                ap[o + 1] = a[r1 + p];
                ap[o + 2] = a[r2 + p];
                ap[o + 3] = a[r3 + p];
                ap[o + 4] = a[r4 + p];
                ap[o + 5] = a[r5 + p];
            }
        } else if (mr == MR && aIdx != null) {
            int len = aIdx.length, step = len / MR;
            for (; p + step <= kc; p += step) {
                for (int u = 0; u < len; u += L) {
                    FloatVector.fromArray(F, a, s + p, aIdx, u).intoArray(ap, dst + p * MR + u);
                }
            }
        }
        for (int r = 0; r < mr; r++) {
            int row = s + r * lda;
            for (int q = p; q < kc; q++) {
                ap[dst + q * MR + r] = a[row + q];
            }
        }
    }

    private static void merge(float[] tile, int at, int mr, int nr, float[] c, int cIdx, int ldc, float alpha,
            float[] bias, int bj, float beta) {
        for (int r = 0; r < mr; r++) {
            for (int j = 0; j < nr; j++) {
                int ci = cIdx + r * ldc + j;
                float t = tile[at + r * NR + j];
                c[ci] = bias != null ? alpha * t + bias[bj + j] : beta == 0f ? alpha * t : alpha * t + beta * c[ci];
            }
        }
    }

    /**
     * C tile (MR × NR at cIdx, row stride ldc) = α·(Ap·Bp) + β·C tile, C not read when β = 0; with a bias (columns
     * {@code bias[bj ..]}, β = 0) α·(Ap·Bp) + bias, fused like the β·C term: {@link #kernel8} or {@link #kernel6}
     * for the {@link #MR} of this machine (a constant, so C2 keeps one branch).
     */
    private static void kernel(int kc, float[] ap, int aOff, float[] bp, int bOff, float[] c, int cIdx, int ldc,
            float alpha, float[] bias, int bj, float beta) {
        if (MR == 8) {
            kernel8(kc, ap, aOff, bp, bOff, c, cIdx, ldc, alpha, bias, bj, beta);
        } else {
            kernel6(kc, ap, aOff, bp, bOff, c, cIdx, ldc, alpha, bias, bj, beta);
        }
    }

    /**
     * The 8-row tile for 32-register ISAs: 16 accumulators, two B vectors and the broadcast. The tile lives in
     * local variables and the epilogue is written out here (not in a helper taking vectors) so that C2 keeps every
     * accumulator in a register instead of boxing it at a call.
     */
    private static void kernel8(int kc, float[] ap, int aOff, float[] bp, int bOff, float[] c, int cIdx, int ldc,
            float alpha, float[] bias, int bj, float beta) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        for (int p = 0; p < kc; p++) {
            int bi = bOff + p * NR;
            int ai = aOff + p * MR;
            FloatVector b0 = FloatVector.fromArray(F, bp, bi);
            FloatVector b1 = FloatVector.fromArray(F, bp, bi + L);
            FloatVector a;
            a = FloatVector.broadcast(F, ap[ai + 0]);
            c00 = FMA ? a.fma(b0, c00) : a.mul(b0).add(c00);
            c01 = FMA ? a.fma(b1, c01) : a.mul(b1).add(c01);
            a = FloatVector.broadcast(F, ap[ai + 1]);
            c10 = FMA ? a.fma(b0, c10) : a.mul(b0).add(c10);
            c11 = FMA ? a.fma(b1, c11) : a.mul(b1).add(c11);
            a = FloatVector.broadcast(F, ap[ai + 2]);
            c20 = FMA ? a.fma(b0, c20) : a.mul(b0).add(c20);
            c21 = FMA ? a.fma(b1, c21) : a.mul(b1).add(c21);
            a = FloatVector.broadcast(F, ap[ai + 3]);
            c30 = FMA ? a.fma(b0, c30) : a.mul(b0).add(c30);
            c31 = FMA ? a.fma(b1, c31) : a.mul(b1).add(c31);
            a = FloatVector.broadcast(F, ap[ai + 4]);
            c40 = FMA ? a.fma(b0, c40) : a.mul(b0).add(c40);
            c41 = FMA ? a.fma(b1, c41) : a.mul(b1).add(c41);
            a = FloatVector.broadcast(F, ap[ai + 5]);
            c50 = FMA ? a.fma(b0, c50) : a.mul(b0).add(c50);
            c51 = FMA ? a.fma(b1, c51) : a.mul(b1).add(c51);
            a = FloatVector.broadcast(F, ap[ai + 6]);
            c60 = FMA ? a.fma(b0, c60) : a.mul(b0).add(c60);
            c61 = FMA ? a.fma(b1, c61) : a.mul(b1).add(c61);
            a = FloatVector.broadcast(F, ap[ai + 7]);
            c70 = FMA ? a.fma(b0, c70) : a.mul(b0).add(c70);
            c71 = FMA ? a.fma(b1, c71) : a.mul(b1).add(c71);
        }
        FloatVector av = FloatVector.broadcast(F, alpha);
        if (bias != null) {
            FloatVector y0 = FloatVector.fromArray(F, bias, bj);
            FloatVector y1 = FloatVector.fromArray(F, bias, bj + L);
            (FMA ? c00.fma(av, y0) : c00.mul(av).add(y0)).intoArray(c, cIdx + 0 * ldc);
            (FMA ? c01.fma(av, y1) : c01.mul(av).add(y1)).intoArray(c, cIdx + 0 * ldc + L);
            (FMA ? c10.fma(av, y0) : c10.mul(av).add(y0)).intoArray(c, cIdx + 1 * ldc);
            (FMA ? c11.fma(av, y1) : c11.mul(av).add(y1)).intoArray(c, cIdx + 1 * ldc + L);
            (FMA ? c20.fma(av, y0) : c20.mul(av).add(y0)).intoArray(c, cIdx + 2 * ldc);
            (FMA ? c21.fma(av, y1) : c21.mul(av).add(y1)).intoArray(c, cIdx + 2 * ldc + L);
            (FMA ? c30.fma(av, y0) : c30.mul(av).add(y0)).intoArray(c, cIdx + 3 * ldc);
            (FMA ? c31.fma(av, y1) : c31.mul(av).add(y1)).intoArray(c, cIdx + 3 * ldc + L);
            (FMA ? c40.fma(av, y0) : c40.mul(av).add(y0)).intoArray(c, cIdx + 4 * ldc);
            (FMA ? c41.fma(av, y1) : c41.mul(av).add(y1)).intoArray(c, cIdx + 4 * ldc + L);
            (FMA ? c50.fma(av, y0) : c50.mul(av).add(y0)).intoArray(c, cIdx + 5 * ldc);
            (FMA ? c51.fma(av, y1) : c51.mul(av).add(y1)).intoArray(c, cIdx + 5 * ldc + L);
            (FMA ? c60.fma(av, y0) : c60.mul(av).add(y0)).intoArray(c, cIdx + 6 * ldc);
            (FMA ? c61.fma(av, y1) : c61.mul(av).add(y1)).intoArray(c, cIdx + 6 * ldc + L);
            (FMA ? c70.fma(av, y0) : c70.mul(av).add(y0)).intoArray(c, cIdx + 7 * ldc);
            (FMA ? c71.fma(av, y1) : c71.mul(av).add(y1)).intoArray(c, cIdx + 7 * ldc + L);
        } else if (beta == 0f) {
            c00.mul(av).intoArray(c, cIdx + 0 * ldc);
            c01.mul(av).intoArray(c, cIdx + 0 * ldc + L);
            c10.mul(av).intoArray(c, cIdx + 1 * ldc);
            c11.mul(av).intoArray(c, cIdx + 1 * ldc + L);
            c20.mul(av).intoArray(c, cIdx + 2 * ldc);
            c21.mul(av).intoArray(c, cIdx + 2 * ldc + L);
            c30.mul(av).intoArray(c, cIdx + 3 * ldc);
            c31.mul(av).intoArray(c, cIdx + 3 * ldc + L);
            c40.mul(av).intoArray(c, cIdx + 4 * ldc);
            c41.mul(av).intoArray(c, cIdx + 4 * ldc + L);
            c50.mul(av).intoArray(c, cIdx + 5 * ldc);
            c51.mul(av).intoArray(c, cIdx + 5 * ldc + L);
            c60.mul(av).intoArray(c, cIdx + 6 * ldc);
            c61.mul(av).intoArray(c, cIdx + 6 * ldc + L);
            c70.mul(av).intoArray(c, cIdx + 7 * ldc);
            c71.mul(av).intoArray(c, cIdx + 7 * ldc + L);
        } else {
            FloatVector bv = FloatVector.broadcast(F, beta);
            FloatVector y00 = FloatVector.fromArray(F, c, cIdx + 0 * ldc).mul(bv);
            (FMA ? c00.fma(av, y00) : c00.mul(av).add(y00)).intoArray(c, cIdx + 0 * ldc);
            FloatVector y01 = FloatVector.fromArray(F, c, cIdx + 0 * ldc + L).mul(bv);
            (FMA ? c01.fma(av, y01) : c01.mul(av).add(y01)).intoArray(c, cIdx + 0 * ldc + L);
            FloatVector y10 = FloatVector.fromArray(F, c, cIdx + 1 * ldc).mul(bv);
            (FMA ? c10.fma(av, y10) : c10.mul(av).add(y10)).intoArray(c, cIdx + 1 * ldc);
            FloatVector y11 = FloatVector.fromArray(F, c, cIdx + 1 * ldc + L).mul(bv);
            (FMA ? c11.fma(av, y11) : c11.mul(av).add(y11)).intoArray(c, cIdx + 1 * ldc + L);
            FloatVector y20 = FloatVector.fromArray(F, c, cIdx + 2 * ldc).mul(bv);
            (FMA ? c20.fma(av, y20) : c20.mul(av).add(y20)).intoArray(c, cIdx + 2 * ldc);
            FloatVector y21 = FloatVector.fromArray(F, c, cIdx + 2 * ldc + L).mul(bv);
            (FMA ? c21.fma(av, y21) : c21.mul(av).add(y21)).intoArray(c, cIdx + 2 * ldc + L);
            FloatVector y30 = FloatVector.fromArray(F, c, cIdx + 3 * ldc).mul(bv);
            (FMA ? c30.fma(av, y30) : c30.mul(av).add(y30)).intoArray(c, cIdx + 3 * ldc);
            FloatVector y31 = FloatVector.fromArray(F, c, cIdx + 3 * ldc + L).mul(bv);
            (FMA ? c31.fma(av, y31) : c31.mul(av).add(y31)).intoArray(c, cIdx + 3 * ldc + L);
            FloatVector y40 = FloatVector.fromArray(F, c, cIdx + 4 * ldc).mul(bv);
            (FMA ? c40.fma(av, y40) : c40.mul(av).add(y40)).intoArray(c, cIdx + 4 * ldc);
            FloatVector y41 = FloatVector.fromArray(F, c, cIdx + 4 * ldc + L).mul(bv);
            (FMA ? c41.fma(av, y41) : c41.mul(av).add(y41)).intoArray(c, cIdx + 4 * ldc + L);
            FloatVector y50 = FloatVector.fromArray(F, c, cIdx + 5 * ldc).mul(bv);
            (FMA ? c50.fma(av, y50) : c50.mul(av).add(y50)).intoArray(c, cIdx + 5 * ldc);
            FloatVector y51 = FloatVector.fromArray(F, c, cIdx + 5 * ldc + L).mul(bv);
            (FMA ? c51.fma(av, y51) : c51.mul(av).add(y51)).intoArray(c, cIdx + 5 * ldc + L);
            FloatVector y60 = FloatVector.fromArray(F, c, cIdx + 6 * ldc).mul(bv);
            (FMA ? c60.fma(av, y60) : c60.mul(av).add(y60)).intoArray(c, cIdx + 6 * ldc);
            FloatVector y61 = FloatVector.fromArray(F, c, cIdx + 6 * ldc + L).mul(bv);
            (FMA ? c61.fma(av, y61) : c61.mul(av).add(y61)).intoArray(c, cIdx + 6 * ldc + L);
            FloatVector y70 = FloatVector.fromArray(F, c, cIdx + 7 * ldc).mul(bv);
            (FMA ? c70.fma(av, y70) : c70.mul(av).add(y70)).intoArray(c, cIdx + 7 * ldc);
            FloatVector y71 = FloatVector.fromArray(F, c, cIdx + 7 * ldc + L).mul(bv);
            (FMA ? c71.fma(av, y71) : c71.mul(av).add(y71)).intoArray(c, cIdx + 7 * ldc + L);
        }
    }

    /**
     * The 6-row tile for 16-register ISAs (AVX2): 12 accumulators, two B vectors and the broadcast, 15 registers
     * (the 8-row tile needs 19 and spills there). Otherwise as {@link #kernel8}.
     */
    private static void kernel6(int kc, float[] ap, int aOff, float[] bp, int bOff, float[] c, int cIdx, int ldc,
            float alpha, float[] bias, int bj, float beta) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        for (int p = 0; p < kc; p++) {
            int bi = bOff + p * NR;
            int ai = aOff + p * MR;
            FloatVector b0 = FloatVector.fromArray(F, bp, bi);
            FloatVector b1 = FloatVector.fromArray(F, bp, bi + L);
            FloatVector a;
            a = FloatVector.broadcast(F, ap[ai + 0]);
            c00 = FMA ? a.fma(b0, c00) : a.mul(b0).add(c00);
            c01 = FMA ? a.fma(b1, c01) : a.mul(b1).add(c01);
            a = FloatVector.broadcast(F, ap[ai + 1]);
            c10 = FMA ? a.fma(b0, c10) : a.mul(b0).add(c10);
            c11 = FMA ? a.fma(b1, c11) : a.mul(b1).add(c11);
            a = FloatVector.broadcast(F, ap[ai + 2]);
            c20 = FMA ? a.fma(b0, c20) : a.mul(b0).add(c20);
            c21 = FMA ? a.fma(b1, c21) : a.mul(b1).add(c21);
            a = FloatVector.broadcast(F, ap[ai + 3]);
            c30 = FMA ? a.fma(b0, c30) : a.mul(b0).add(c30);
            c31 = FMA ? a.fma(b1, c31) : a.mul(b1).add(c31);
            a = FloatVector.broadcast(F, ap[ai + 4]);
            c40 = FMA ? a.fma(b0, c40) : a.mul(b0).add(c40);
            c41 = FMA ? a.fma(b1, c41) : a.mul(b1).add(c41);
            a = FloatVector.broadcast(F, ap[ai + 5]);
            c50 = FMA ? a.fma(b0, c50) : a.mul(b0).add(c50);
            c51 = FMA ? a.fma(b1, c51) : a.mul(b1).add(c51);
        }
        FloatVector av = FloatVector.broadcast(F, alpha);
        if (bias != null) {
            FloatVector y0 = FloatVector.fromArray(F, bias, bj);
            FloatVector y1 = FloatVector.fromArray(F, bias, bj + L);
            (FMA ? c00.fma(av, y0) : c00.mul(av).add(y0)).intoArray(c, cIdx + 0 * ldc);
            (FMA ? c01.fma(av, y1) : c01.mul(av).add(y1)).intoArray(c, cIdx + 0 * ldc + L);
            (FMA ? c10.fma(av, y0) : c10.mul(av).add(y0)).intoArray(c, cIdx + 1 * ldc);
            (FMA ? c11.fma(av, y1) : c11.mul(av).add(y1)).intoArray(c, cIdx + 1 * ldc + L);
            (FMA ? c20.fma(av, y0) : c20.mul(av).add(y0)).intoArray(c, cIdx + 2 * ldc);
            (FMA ? c21.fma(av, y1) : c21.mul(av).add(y1)).intoArray(c, cIdx + 2 * ldc + L);
            (FMA ? c30.fma(av, y0) : c30.mul(av).add(y0)).intoArray(c, cIdx + 3 * ldc);
            (FMA ? c31.fma(av, y1) : c31.mul(av).add(y1)).intoArray(c, cIdx + 3 * ldc + L);
            (FMA ? c40.fma(av, y0) : c40.mul(av).add(y0)).intoArray(c, cIdx + 4 * ldc);
            (FMA ? c41.fma(av, y1) : c41.mul(av).add(y1)).intoArray(c, cIdx + 4 * ldc + L);
            (FMA ? c50.fma(av, y0) : c50.mul(av).add(y0)).intoArray(c, cIdx + 5 * ldc);
            (FMA ? c51.fma(av, y1) : c51.mul(av).add(y1)).intoArray(c, cIdx + 5 * ldc + L);
        } else if (beta == 0f) {
            c00.mul(av).intoArray(c, cIdx + 0 * ldc);
            c01.mul(av).intoArray(c, cIdx + 0 * ldc + L);
            c10.mul(av).intoArray(c, cIdx + 1 * ldc);
            c11.mul(av).intoArray(c, cIdx + 1 * ldc + L);
            c20.mul(av).intoArray(c, cIdx + 2 * ldc);
            c21.mul(av).intoArray(c, cIdx + 2 * ldc + L);
            c30.mul(av).intoArray(c, cIdx + 3 * ldc);
            c31.mul(av).intoArray(c, cIdx + 3 * ldc + L);
            c40.mul(av).intoArray(c, cIdx + 4 * ldc);
            c41.mul(av).intoArray(c, cIdx + 4 * ldc + L);
            c50.mul(av).intoArray(c, cIdx + 5 * ldc);
            c51.mul(av).intoArray(c, cIdx + 5 * ldc + L);
        } else {
            FloatVector bv = FloatVector.broadcast(F, beta);
            FloatVector y00 = FloatVector.fromArray(F, c, cIdx + 0 * ldc).mul(bv);
            (FMA ? c00.fma(av, y00) : c00.mul(av).add(y00)).intoArray(c, cIdx + 0 * ldc);
            FloatVector y01 = FloatVector.fromArray(F, c, cIdx + 0 * ldc + L).mul(bv);
            (FMA ? c01.fma(av, y01) : c01.mul(av).add(y01)).intoArray(c, cIdx + 0 * ldc + L);
            FloatVector y10 = FloatVector.fromArray(F, c, cIdx + 1 * ldc).mul(bv);
            (FMA ? c10.fma(av, y10) : c10.mul(av).add(y10)).intoArray(c, cIdx + 1 * ldc);
            FloatVector y11 = FloatVector.fromArray(F, c, cIdx + 1 * ldc + L).mul(bv);
            (FMA ? c11.fma(av, y11) : c11.mul(av).add(y11)).intoArray(c, cIdx + 1 * ldc + L);
            FloatVector y20 = FloatVector.fromArray(F, c, cIdx + 2 * ldc).mul(bv);
            (FMA ? c20.fma(av, y20) : c20.mul(av).add(y20)).intoArray(c, cIdx + 2 * ldc);
            FloatVector y21 = FloatVector.fromArray(F, c, cIdx + 2 * ldc + L).mul(bv);
            (FMA ? c21.fma(av, y21) : c21.mul(av).add(y21)).intoArray(c, cIdx + 2 * ldc + L);
            FloatVector y30 = FloatVector.fromArray(F, c, cIdx + 3 * ldc).mul(bv);
            (FMA ? c30.fma(av, y30) : c30.mul(av).add(y30)).intoArray(c, cIdx + 3 * ldc);
            FloatVector y31 = FloatVector.fromArray(F, c, cIdx + 3 * ldc + L).mul(bv);
            (FMA ? c31.fma(av, y31) : c31.mul(av).add(y31)).intoArray(c, cIdx + 3 * ldc + L);
            FloatVector y40 = FloatVector.fromArray(F, c, cIdx + 4 * ldc).mul(bv);
            (FMA ? c40.fma(av, y40) : c40.mul(av).add(y40)).intoArray(c, cIdx + 4 * ldc);
            FloatVector y41 = FloatVector.fromArray(F, c, cIdx + 4 * ldc + L).mul(bv);
            (FMA ? c41.fma(av, y41) : c41.mul(av).add(y41)).intoArray(c, cIdx + 4 * ldc + L);
            FloatVector y50 = FloatVector.fromArray(F, c, cIdx + 5 * ldc).mul(bv);
            (FMA ? c50.fma(av, y50) : c50.mul(av).add(y50)).intoArray(c, cIdx + 5 * ldc);
            FloatVector y51 = FloatVector.fromArray(F, c, cIdx + 5 * ldc + L).mul(bv);
            (FMA ? c51.fma(av, y51) : c51.mul(av).add(y51)).intoArray(c, cIdx + 5 * ldc + L);
        }
    }

    /**
     * The depth of the k-slices for inner dimension k: the fewest slices of at most {@link #KC}, of equal depth (the
     * last may be shorter), so k = 384 runs as 2 × 192 rather than 256 + 128 (each slice pays a C-tile epilogue; a
     * short last slice pays it for little work: 2-3 % faster at 512×384·384ᵀ, measured alternately in one JVM).
     */
    static int sliceDepth(int k) {
        return ceilDiv(k, ceilDiv(k, KC));
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}

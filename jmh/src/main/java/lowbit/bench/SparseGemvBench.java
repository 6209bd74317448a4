package lowbit.bench;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import lowbit.nn.sparse.Wina;
import lowbit.tensor.DType;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.AffineInt4Tiles;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.NmSparseAffine;
import lowbit.tensor.layout.NmSparseInt4Tiles;
import lowbit.tensor.layout.NmSparseMatrix;
import lowbit.tensor.linalg.Gemv;
import lowbit.tensor.parallel.Parallel;
import lowbit.tensor.simd.VectorizationProvider;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Sparse GEMV y = W·x against the dense GEMV of the same shape, in the same run (W [out, in] = rows × cols):
 * <ul>
 *   <li>{@code f32_dense}: dense F32 {@link Gemv} (the baseline of the F32 rows);</li>
 *   <li>{@code f32_nm24}: 2:4 {@link NmSparseMatrix}, F32 values (2 floats + 4 index bits per group of 4);</li>
 *   <li>{@code f32_wina50}: {@link Wina} at 50 % activation sparsity — scores |x_i|·‖W_:,i‖₂, top-k selection and the
 *       column-subset GEMV over Wᵀ, all included in the time;</li>
 *   <li>{@code int4_dense}: int4 g128 asymmetric F16-scale {@link GroupwiseAffine} (the baseline of the int4 rows);</li>
 *   <li>{@code int4_nm24}: the same quantization on 2:4 kept values, {@link NmSparseAffine}.</li>
 *   <li>{@code int4_tiles}: the int4 matrix on the integer path ({@link AffineInt4Tiles}: x to Q8_0, 16-row tiles),
 *       the fastest dense int4 GEMV (the baseline of the next row);</li>
 *   <li>{@code int4_nm24_tiles}: the int4 + 2:4 matrix on the integer path ({@link NmSparseInt4Tiles}).</li>
 * </ul>
 * Pair them with {@code python3 jmh/ratios.py result.json --baseline dense}. Weights are random (the kernels do not
 * branch on values); the 2:4 masks keep two random positions of every four.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms6g", "-Xmx6g"})
public class SparseGemvBench {
    @Param({"4096x14336"})
    String shape;

    @Param({"2"})
    int threads;

    int rows;
    int cols;
    Arena arena;
    float[] dense;
    NmSparseMatrix nm;
    Wina wina;
    GroupwiseAffine int4;
    NmSparseAffine int4nm;
    AffineInt4Tiles int4tiles;
    NmSparseInt4Tiles int4nmTiles;
    float[] x;
    float[] y;

    @Setup(Level.Trial)
    public void setup() {
        if (VectorizationProvider.get().vectorBitSize() == 0) {
            throw new IllegalStateException("benchmarking the scalar fallback: run with --add-modules jdk.incubator.vector");
        }
        Parallel.setParallelism(threads);
        String[] s = shape.split("x");
        rows = Integer.parseInt(s[0]);
        cols = Integer.parseInt(s[1]);
        Random r = new Random(7);
        dense = new float[rows * cols];
        for (int i = 0; i < dense.length; i++) {
            dense[i] = r.nextFloat() - 0.5f;
        }
        boolean[] keep = new boolean[rows * cols];
        for (int g = 0; g < keep.length / 4; g++) {
            int a = r.nextInt(4);
            int b = (a + 1 + r.nextInt(3)) % 4;
            keep[4 * g + a] = true;
            keep[4 * g + b] = true;
        }
        nm = NmSparseMatrix.compress(dense, keep, rows, cols, 2, 4, DType.F32);
        wina = Wina.of(dense, rows, cols);
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 128, false).withScaleType(DType.F16);
        arena = Arena.ofShared();
        int4 = LayoutGemvBench.random(arena, rows, cols, spec, r);
        int ng = rows * (cols / 128);
        int[] codes = new int[rows * cols / 2];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = r.nextInt(16);
        }
        int[] idx = nm.indices();
        float[] scales = new float[ng];
        int[] zeros = new int[ng];
        for (int i = 0; i < ng; i++) {
            scales[i] = 0.001f + r.nextFloat() * 0.01f;
            zeros[i] = r.nextInt(16);
        }
        int4nm = NmSparseAffine.of(rows, cols, 2, 4, spec, codes, idx, scales, zeros);
        int4tiles = AffineInt4Tiles.of(int4);
        int4nmTiles = NmSparseInt4Tiles.of(int4nm);
        x = new float[cols];
        for (int j = 0; j < cols; j++) {
            x[j] = (float) r.nextGaussian();
        }
        y = new float[rows];
        System.out.printf("%nbytes read per GEMV: dense F32 %d, 2:4 F32 %d, int4 %d, int4 + 2:4 %d, int4 tiles %d, "
                + "int4 + 2:4 tiles %d%n", 4L * rows * cols, nm.byteSize(), int4.byteSize(), int4nm.byteSize(),
                int4tiles.byteSize(), int4nmTiles.byteSize());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float f32_dense() {
        Gemv.multiply(dense, rows, cols, x, null, y);
        return y[rows - 1];
    }

    @Benchmark
    public float f32_nm24() {
        nm.gemv(x, null, y);
        return y[rows - 1];
    }

    @Benchmark
    public float f32_wina50() {
        wina.forward(x, 0.5, null, y);
        return y[rows - 1];
    }

    @Benchmark
    public float int4_dense() {
        int4.gemv(x, null, y);
        return y[rows - 1];
    }

    @Benchmark
    public float int4_nm24() {
        int4nm.gemv(x, null, y);
        return y[rows - 1];
    }

    @Benchmark
    public float int4_tiles() {
        int4tiles.gemv(x, null, y);
        return y[rows - 1];
    }

    @Benchmark
    public float int4_nm24_tiles() {
        int4nmTiles.gemv(x, null, y);
        return y[rows - 1];
    }
}

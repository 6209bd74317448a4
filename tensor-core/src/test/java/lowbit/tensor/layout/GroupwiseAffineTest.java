package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.DType;
import lowbit.tensor.PackedInts;
import lowbit.tensor.parallel.Parallel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link GroupwiseAffine}: encoding and packing against hand-computed vectors, the element helpers' rounding and
 * clamping, accessors and exact byte sizes, and the products for every granularity, width and scale type against
 * the definition (see {@link AffineTesting#assertProduct} for the bound).
 */
class GroupwiseAffineTest {
    private static final long SEED = 0xaff1_4e5eedL;

    @AfterEach
    void restoreThreads() {
        Parallel.setParallelism(Runtime.getRuntime().availableProcessors());
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void encodesByTheDefinitionWithHalfEvenTiesAndClamping() {
        // 4-bit asymmetric, groups of 4 along in; s = 0.5, z = 3 then s = 2, z = 8.
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 4, false);
        float[] w = {0.25f, 0.75f, -1.25f, 100f, 3f, 5f, -20f, -7f};
        // w/s = 0.5, 1.5, -2.5, 200 | 1.5, 2.5, -10, -3.5 → rint (half even) 0, 2, -2, 200 | 2, 2, -10, -4, + z, clamp
        GroupwiseAffine m = GroupwiseAffine.encode(w, 1, 8, spec, new float[] {0.5f, 2f}, new int[] {3, 8});
        assertThat(m.codes()).containsExactly(3, 5, 1, 15, 10, 10, 0, 4);
        // PackedInts order: code 2j in the low nibble of byte j
        assertThat(bytes(m.packedCodes())).containsExactly((byte) 0x53, (byte) 0xF1, (byte) 0xAA, (byte) 0x40);
        assertThat(m.dequantize()).containsExactly(0f, 1f, -1f, 6f, 4f, 4f, -16f, -8f);
        assertThat(m.scaleAt(0, 5)).isEqualTo(2f);
        assertThat(m.zeroAt(0, 1)).isEqualTo(3);
        assertThat(m.byteSize()).isEqualTo(4 + 2 * 4 + 1); // codes, two F32 scales, two 4-bit zero points
    }

    @Test
    void elementHelpersRoundHalfEvenInFloatAndClamp() {
        assertThat(GroupwiseAffine.quantize(2.5f, 1f, 0, 8)).isEqualTo(2);
        assertThat(GroupwiseAffine.quantize(3.5f, 1f, 0, 8)).isEqualTo(4);
        assertThat(GroupwiseAffine.quantize(-0.5f, 1f, 8, 4)).isEqualTo(8); // rint(-0.5) = -0 → 8
        assertThat(GroupwiseAffine.quantize(-1.5f, 1f, 8, 4)).isEqualTo(6);
        assertThat(GroupwiseAffine.quantize(1e30f, 1e-30f, 0, 2)).isEqualTo(3); // w/s overflows to +inf: clamps
        assertThat(GroupwiseAffine.quantize(-1e30f, 1e-30f, 3, 2)).isEqualTo(0);
        assertThat(GroupwiseAffine.quantize(7f, -2f, 4, 3)).isEqualTo(0); // negative scale: rint(-3.5) = -4 → 0
        // the division is a float division, as in PyTorch: 0.35f / 0.1f is 3.49999989 exactly but rounds to 3.5 in
        // float, a tie that goes to the even 4 (a double division would give 3)
        assertThat(GroupwiseAffine.quantize(0.35f, 0.1f, 0, 8)).isEqualTo(4);
        assertThat(GroupwiseAffine.dequantize(5, 0.25f, 8)).isEqualTo(-0.75f);
        assertThat(GroupwiseAffine.unsignedCode(-8, 4)).isEqualTo(0);
        assertThat(GroupwiseAffine.unsignedCode(7, 4)).isEqualTo(15);
        assertThatThrownBy(() -> GroupwiseAffine.quantize(Float.NaN, 1f, 0, 4)).hasMessageContaining("NaN");
        assertThatThrownBy(() -> GroupwiseAffine.quantize(1f, 0f, 0, 4)).hasMessageContaining("scale 0.0");
        assertThatThrownBy(() -> GroupwiseAffine.quantize(1f, 1f, 16, 4)).hasMessageContaining("zero point 16");
        assertThatThrownBy(() -> GroupwiseAffine.quantize(1f, 1f, 0, 9)).hasMessageContaining("got 9");
    }

    @Test
    void threeBitRowsStartOnByteBoundaries() {
        // two rows of three 3-bit codes: 9 bits per row → 2 bytes per row
        AffineSpec spec = AffineSpec.perOutputChannel(3, true);
        GroupwiseAffine m = GroupwiseAffine.of(2, 3, spec, new int[] {1, 2, 3, 7, 0, 5}, new float[] {1f, 0.5f}, null);
        assertThat(m.rowBytes()).isEqualTo(2);
        // row 0 bits 100 010 110 → 0xD1 0x00; row 1 bits 111 000 101 → 0x47 0x01
        assertThat(bytes(m.packedCodes())).containsExactly((byte) 0xD1, (byte) 0x00, (byte) 0x47, (byte) 0x01);
        // symmetric: z = 4
        assertThat(m.dequantize()).containsExactly(-3f, -2f, -1f, 1.5f, -2f, 0.5f);
        assertThat(m.code(1, 2)).isEqualTo(5);
        assertThat(m.zeros()).isNull();
        assertThat(m.zeroAt(1, 1)).isEqualTo(4);
    }

    @Test
    void f16ScalesAreStoredRoundedAndUnderflowIsRejected() {
        AffineSpec spec = AffineSpec.perTensor(8, true).withScaleType(DType.F16);
        GroupwiseAffine m = GroupwiseAffine.of(1, 2, spec, new int[] {129, 127}, new float[] {0.1f}, null);
        float s16 = 0.0999755859375f; // the F16 nearest 0.1: 1638/16384
        assertThat(m.scales()).containsExactly(s16);
        assertThat(m.scalesF16()).containsExactly((short) 0x2E66);
        assertThat(m.dequantize()).containsExactly(s16, -s16);
        assertThat(m.byteSize()).isEqualTo(2 + 2);
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 2, spec, new int[] {1, 2}, new float[] {1e-9f}, null))
                .hasMessageContaining("scale 1.0E-9").hasMessageContaining("underflows to zero in F16");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 2, spec, new int[] {1, 2}, new float[] {1e5f}, null))
                .hasMessageContaining("overflows in F16");
        // the smallest F16 subnormal is a valid scale
        assertThat(GroupwiseAffine.of(1, 2, spec, new int[] {1, 2}, new float[] {0x1p-24f}, null).scales())
                .containsExactly(0x1p-24f);
        // encode divides by the scale as given and stores it rounded
        GroupwiseAffine e = GroupwiseAffine.encode(new float[] {0.15f, -0.25f}, 1, 2, spec, new float[] {0.1f}, null);
        assertThat(e.codes()).containsExactly(128 + 2, 128 - 2); // 1.5 → 2 (even), -2.5 → -2
        assertThat(GroupwiseAffine.storedScale(0.1f, DType.F16)).isEqualTo(s16);
    }

    @Test
    void badInputIsRejectedWithNamedValues() {
        AffineSpec g4 = AffineSpec.groupsAlongIn(4, 4, false);
        float[] two = {1f, 1f};
        int[] z2 = {0, 0};
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 6, g4, new int[6], new float[1], new int[1]))
                .hasMessageContaining("group size 4").hasMessageContaining("6 columns");
        assertThatThrownBy(() -> GroupwiseAffine.of(8, 4, AffineSpec.groupsAlongOut(4, 3, true), new int[32],
                new float[8], null)).hasMessageContaining("group size 3").hasMessageContaining("8 rows");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4, new int[7], two, z2)).hasMessageContaining("7 codes");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4, new int[] {0, 1, 2, 16, 0, 0, 0, 0}, two, z2))
                .hasMessageContaining("code 16 at (0, 3)");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4, new int[8], new float[] {1f}, z2))
                .hasMessageContaining("1 scales").hasMessageContaining("expected 1x2 = 2");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4, new int[8], new float[] {1f, 0f}, z2))
                .hasMessageContaining("scale 0.0 at grid (0, 1)");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4, new int[8], new float[] {Float.NaN, 1f}, z2))
                .hasMessageContaining("scale NaN at grid (0, 0)");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4, new int[8], two, new int[] {0, 16}))
                .hasMessageContaining("zero point 16 at grid (0, 1)");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4, new int[8], two, null))
                .hasMessageContaining("asymmetric spec needs zero points");
        AffineSpec g4s = AffineSpec.groupsAlongIn(4, 4, true);
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4s, new int[8], two, z2))
                .hasMessageContaining("symmetric spec stores no zero points");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4s, new int[8], two, null, new int[] {0, 0, 0, 0, 1, 1, 1, 2},
                null)).hasMessageContaining("g_idx[7] = 2");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, g4s, new int[8], two, null, new int[7], null))
                .hasMessageContaining("g_idx has 7 entries");
        assertThatThrownBy(() -> GroupwiseAffine.of(1, 8, AffineSpec.perOutputChannel(4, true), new int[8],
                new float[] {1f}, null, new int[8], null)).hasMessageContaining("g_idx needs groups along in");
        float[] w = {0, 1, 2, 3, 4, 5, Float.NaN, 7};
        assertThatThrownBy(() -> GroupwiseAffine.encode(w, 2, 4, AffineSpec.perOutputChannel(4, true), two, null))
                .hasMessageContaining("weight at row 1, col 2 is NaN");
        w[6] = Float.NEGATIVE_INFINITY;
        assertThatThrownBy(() -> GroupwiseAffine.encode(w, 2, 4, AffineSpec.perOutputChannel(4, true), two, null))
                .hasMessageContaining("weight at row 1, col 2 is -Infinity");
        assertThatThrownBy(() -> GroupwiseAffine.encode(new float[7], 2, 4, AffineSpec.perOutputChannel(4, true), two,
                null)).hasMessageContaining("7 weights");
        assertThatThrownBy(() -> new AffineSpec(9, true, AffineSpec.Granularity.PER_TENSOR, 0, DType.F32))
                .hasMessageContaining("got 9");
        assertThatThrownBy(() -> new AffineSpec(1, true, AffineSpec.Granularity.PER_TENSOR, 0, DType.F32))
                .hasMessageContaining("got 1");
        assertThatThrownBy(() -> AffineSpec.groupsAlongIn(4, 0, true)).hasMessageContaining("group size >= 1, got 0");
        assertThatThrownBy(() -> new AffineSpec(4, true, AffineSpec.Granularity.PER_TENSOR, 64, DType.F32))
                .hasMessageContaining("takes no group size");
        assertThatThrownBy(() -> AffineSpec.perTensor(4, true).withScaleType(DType.BF16))
                .hasMessageContaining("F32 or F16, got BF16");
        assertThatThrownBy(() -> GroupwiseAffine.ofPacked(2, 8, g4s, MemorySegment.ofArray(new byte[7]), new float[4],
                null, null, null)).hasMessageContaining("need 8 bytes, the segment has 7");
    }

    @Test
    @Tag("simd") // also at 128/256/512 bits: the layouts' kernel dispatch at every width
    void productsMatchTheDefinitionForEveryGranularityWidthAndScaleType() {
        Random rnd = new Random(SEED);
        int rows = 24;
        int cols = 40;
        AffineSpec[] shapes = {
            AffineSpec.perTensor(4, true), AffineSpec.perOutputChannel(4, false), AffineSpec.perInputChannel(4, false),
            AffineSpec.groupsAlongIn(4, 8, false), AffineSpec.groupsAlongIn(4, 20, true),
            AffineSpec.groupsAlongOut(4, 8, false), AffineSpec.groupsAlongOut(4, 3, true)
        };
        for (AffineSpec base : shapes) {
            for (int bits = 2; bits <= 8; bits++) {
                for (DType st : new DType[] {DType.F32, DType.F16}) {
                    AffineSpec spec = new AffineSpec(bits, base.symmetric(), base.granularity(), base.groupSize(), st);
                    boolean[] orders = spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN
                            ? new boolean[] {false, true} : new boolean[] {false};
                    for (boolean actOrder : orders) {
                        String what = spec.describe() + (actOrder ? " act-order" : "") + " seed " + SEED;
                        AffineTesting.Instance in = AffineTesting.random(rnd, rows, cols, spec, actOrder);
                        GroupwiseAffine m = in.build();
                        assertThat(m.dequantize()).as(what).containsExactly(in.weights());
                        assertThat(m.codes()).as(what).containsExactly(in.codes());
                        float[] x = AffineTesting.gaussian(rnd, 11 * cols);
                        float[] bias = AffineTesting.gaussian(rnd, rows);
                        float[] y = new float[rows];
                        m.gemv(java.util.Arrays.copyOf(x, cols), bias, y);
                        AffineTesting.assertProduct(in, x, 1, bias, y, what + " gemv");
                        for (int n : new int[] {3, 11}) { // streaming (n ≤ 8) and tiled GEMM
                            float[] xn = java.util.Arrays.copyOf(x, n * cols);
                            float[] yn = new float[n * rows];
                            m.gemm(xn, n, null, yn);
                            AffineTesting.assertProduct(in, xn, n, null, yn, what + " gemm n=" + n);
                        }
                    }
                }
            }
        }
    }

    /**
     * The 4-bit groups path (groups of a multiple of 32 columns along in, per row or per tensor; the zero point out of
     * the code sum, {@link lowbit.tensor.simd.AffineKernels#gemvNibbleGroups}) through the layout: GEMV with bias,
     * GEMM of 3 (prepared, row by row) and 11 rows (tiled) against the definition; the GEMM's rows and the GEMV give
     * the same bits, for one and two threads. 13 rows: the four-row loop and its tail. Act-order and 3-bit codes on
     * the same shape take the general kernels (checked against the same definition).
     */
    @Test
    @Tag("simd")
    void fourBitGroupsPathMatchesTheDefinitionAndIsThreadInvariant() {
        Random rnd = new Random(SEED + 7);
        int rows = 13;
        int cols = 256;
        AffineSpec[] specs = {
            AffineSpec.groupsAlongIn(4, 128, false), AffineSpec.groupsAlongIn(4, 32, true),
            AffineSpec.groupsAlongIn(4, 64, false).withScaleType(DType.F16), AffineSpec.perTensor(4, true),
            AffineSpec.perOutputChannel(4, false), AffineSpec.groupsAlongIn(3, 128, false)
        };
        for (AffineSpec spec : specs) {
            for (boolean actOrder : spec.granularity() == AffineSpec.Granularity.GROUP_ALONG_IN
                    ? new boolean[] {false, true} : new boolean[] {false}) {
                String what = spec.describe() + (actOrder ? " act-order" : "") + " seed " + (SEED + 7);
                AffineTesting.Instance in = AffineTesting.random(rnd, rows, cols, spec, actOrder);
                GroupwiseAffine m = in.build();
                float[] x = AffineTesting.gaussian(rnd, 11 * cols);
                float[] bias = AffineTesting.gaussian(rnd, rows);
                float[] y = new float[rows];
                m.gemv(java.util.Arrays.copyOf(x, cols), bias, y);
                AffineTesting.assertProduct(in, x, 1, bias, y, what + " gemv");
                float[] y3 = new float[3 * rows];
                m.gemm(java.util.Arrays.copyOf(x, 3 * cols), 3, null, y3);
                AffineTesting.assertProduct(in, x, 3, null, y3, what + " gemm n=3");
                float[] y11 = new float[11 * rows];
                m.gemm(x, 11, null, y11);
                AffineTesting.assertProduct(in, x, 11, null, y11, what + " gemm n=11");
                for (int threads : new int[] {1, 2}) {
                    Parallel.setParallelism(threads);
                    for (int i = 0; i < 3; i++) {
                        float[] yi = new float[rows];
                        m.gemv(java.util.Arrays.copyOfRange(x, i * cols, (i + 1) * cols), null, yi);
                        assertThat(yi).as(what + " gemv of X row " + i + " = gemm row, threads " + threads)
                                .containsExactly(java.util.Arrays.copyOfRange(y3, i * rows, (i + 1) * rows));
                    }
                }
            }
        }
    }

    /**
     * On the 4-bit groups path a non-finite group sum X_k would make s·q·x − s·z·X_k give ∞ − ∞ = NaN; such inputs
     * take the exact decode s·(q − z)·x, so infinities propagate (and overflowing sums cancel) as in float arithmetic.
     */
    @Test
    void nonFiniteInputOnTheFourBitGroupsPathPropagatesLikeFloatArithmetic() {
        int cols = 32;
        int[] codes = new int[2 * cols];
        java.util.Arrays.fill(codes, 8); // symmetric 4-bit: z = 8, so s·(q − z) = 0
        codes[0] = 9; // W[0, 0] = 1
        GroupwiseAffine m = GroupwiseAffine.of(2, cols, AffineSpec.perOutputChannel(4, true), codes,
                new float[] {1f, 1f}, null);
        float[] x = new float[cols];
        java.util.Arrays.fill(x, 1f);
        x[0] = Float.POSITIVE_INFINITY;
        float[] y = new float[2];
        m.gemv(x, null, y);
        assertThat(y[0]).isEqualTo(Float.POSITIVE_INFINITY); // 1·∞ + 0·1·31
        assertThat(y[1]).isNaN(); // 0·∞
        // X = 3e38 + 3e38 overflows, the exact products do not: W[0, :]·x = 1·3e38 + 0·3e38, W[1, :]·x = 0
        java.util.Arrays.fill(x, 0f);
        x[0] = 3e38f;
        x[1] = 3e38f;
        m.gemv(x, null, y);
        assertThat(y).containsExactly(3e38f, 0f);
        x[1] = Float.NaN;
        m.gemv(x, null, y);
        assertThat(y[0]).isNaN();
        assertThat(y[1]).isNaN();
        // finite x: the groups path (the same value as the exact decode here)
        java.util.Arrays.fill(x, 2f);
        m.gemv(x, null, y);
        assertThat(y).containsExactly(2f, 0f);
    }

    @Test
    void actOrderWithTheTrivialMapEqualsPlainGroups() {
        Random rnd = new Random(SEED + 1);
        AffineSpec spec = AffineSpec.groupsAlongIn(4, 16, false);
        AffineTesting.Instance in = AffineTesting.random(rnd, 9, 64, spec, false);
        int[] trivial = new int[64];
        for (int c = 0; c < 64; c++) {
            trivial[c] = c / 16;
        }
        GroupwiseAffine plain = in.build();
        GroupwiseAffine ordered = GroupwiseAffine.of(9, 64, spec, in.codes(), in.scales(), in.zeros(), trivial, null);
        assertThat(ordered.dequantize()).containsExactly(plain.dequantize());
        assertThat(ordered.gIdx()).containsExactly(trivial);
        assertThat(ordered.byteSize()).isEqualTo(plain.byteSize() + 4 * 64);
        assertThat(ordered.describe()).endsWith("act-order");
    }

    @Test
    void encodeRoundTripsItsOwnGridAndAccessorsExposeTheData() {
        Random rnd = new Random(SEED + 2);
        for (int bits = 2; bits <= 8; bits++) {
            AffineSpec spec = AffineSpec.groupsAlongIn(bits, 8, false).withScaleType(DType.F16);
            AffineTesting.Instance in = AffineTesting.random(rnd, 5, 24, spec, false);
            GroupwiseAffine m = in.build();
            // re-encoding the dequantized weights with the stored scales reproduces the codes (w/s is an integer
            // q − z up to one rounding, far from a tie)
            GroupwiseAffine again = GroupwiseAffine.encode(m.dequantize(), 5, 24, spec, m.scales(), m.zeros());
            assertThat(again.codes()).as("bits %d", bits).containsExactly(in.codes());
            assertThat(again.zeros()).containsExactly(in.zeros());
            assertThat(m.scaleRows()).isEqualTo(5);
            assertThat(m.scaleCols()).isEqualTo(3);
            long expected = 5 * GroupwiseAffine.rowBytes(24, bits) + 15 * 2 + PackedInts.byteSize(15, bits);
            assertThat(m.byteSize()).isEqualTo(expected);
        }
    }

    @Test
    void packedConstructionIsZeroCopyOverNativeSegments() {
        Random rnd = new Random(SEED + 3);
        AffineSpec spec = AffineSpec.groupsAlongIn(5, 8, true);
        AffineTesting.Instance in = AffineTesting.random(rnd, 7, 24, spec, false);
        GroupwiseAffine heap = in.build();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment native_ = arena.allocate(heap.packedCodes().byteSize());
            native_.copyFrom(heap.packedCodes());
            GroupwiseAffine m = GroupwiseAffine.ofPacked(7, 24, spec, native_, in.scales(), null, null, null);
            assertThat(m.dequantize()).containsExactly(heap.dequantize());
            native_.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x1F); // code (0, 0) = 31: the segment is used, not copied
            assertThat(m.code(0, 0)).isEqualTo(31);
            assertThat(m.packedCodes().isReadOnly()).isTrue();
        }
    }

    @Test
    void resultsAreBitIdenticalForAnyThreadCount() {
        Random rnd = new Random(SEED + 4);
        for (AffineSpec spec : new AffineSpec[] {AffineSpec.groupsAlongIn(4, 32, false),
                AffineSpec.groupsAlongOut(3, 5, true), AffineSpec.perInputChannel(6, false)}) {
            AffineTesting.Instance in = AffineTesting.random(rnd, 135, 160, spec, false);
            GroupwiseAffine m = in.build();
            float[] x = AffineTesting.gaussian(rnd, 12 * 160);
            float[][] ys = new float[3][];
            float[][] yg = new float[3][];
            for (int t = 1; t <= 3; t++) {
                Parallel.setParallelism(t);
                ys[t - 1] = new float[135];
                m.gemv(java.util.Arrays.copyOf(x, 160), null, ys[t - 1]);
                yg[t - 1] = new float[12 * 135];
                m.gemm(x, 12, null, yg[t - 1]);
            }
            assertThat(ys[1]).as(spec.describe()).containsExactly(ys[0]);
            assertThat(ys[2]).as(spec.describe()).containsExactly(ys[0]);
            assertThat(yg[1]).as(spec.describe()).containsExactly(yg[0]);
            assertThat(yg[2]).as(spec.describe()).containsExactly(yg[0]);
        }
    }

    @Test
    void outliersReplaceTheirPositions() {
        Random rnd = new Random(SEED + 5);
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 8, false);
        AffineTesting.Instance in = AffineTesting.random(rnd, 6, 16, spec, false);
        Outliers o = Outliers.of(6, 16, new int[] {0, 5, 5}, new int[] {3, 0, 15}, new float[] {40f, -7f, 3.5f},
                DType.F32);
        GroupwiseAffine m = in.build().withOutliers(o);
        float[] w = in.weights();
        w[3] = 40f;
        w[5 * 16] = -7f;
        w[5 * 16 + 15] = 3.5f;
        assertThat(m.dequantize()).containsExactly(w);
        assertThat(m.byteSize()).isEqualTo(in.build().byteSize() + o.byteSize());
        float[] x = AffineTesting.gaussian(rnd, 16);
        float[] y = new float[6];
        m.gemv(x, null, y);
        for (int r = 0; r < 6; r++) {
            double exact = 0;
            double abs = 0;
            for (int c = 0; c < 16; c++) {
                exact += (double) w[r * 16 + c] * x[c];
                abs += Math.abs((double) w[r * 16 + c] * x[c]);
            }
            assertThat((double) y[r]).isCloseTo(exact, org.assertj.core.data.Offset.offset(40 * 0x1p-24 * abs));
        }
    }

    @Test
    void emptyShapesWork() {
        GroupwiseAffine noRows = GroupwiseAffine.of(0, 8, AffineSpec.groupsAlongIn(4, 4, true), new int[0], new float[0],
                null);
        noRows.gemv(new float[8], null, new float[0]);
        assertThat(noRows.dequantize()).isEmpty();
        GroupwiseAffine noCols = GroupwiseAffine.of(3, 0, AffineSpec.perOutputChannel(4, true), new int[0],
                new float[] {1f, 1f, 1f}, null);
        float[] y = {5f, 5f, 5f};
        noCols.gemv(new float[0], null, y);
        assertThat(y).containsExactly(0f, 0f, 0f);
        Nf4 empty = Nf4.encode(new float[0], 0, 0);
        assertThat(empty.byteSize()).isEqualTo(0);
        float[] yn = {7f, 7f};
        Nf4.encode(new float[0], 2, 0).gemv(new float[0], null, yn);
        assertThat(yn).containsExactly(0f, 0f);
    }

    @Test
    void nonFiniteInputPropagatesLikeFloatArithmetic() {
        AffineSpec spec = AffineSpec.perOutputChannel(4, true);
        GroupwiseAffine m = GroupwiseAffine.of(2, 3, spec, new int[] {9, 8, 8, 8, 8, 8}, new float[] {1f, 1f}, null);
        float[] y = new float[2];
        m.gemv(new float[] {Float.POSITIVE_INFINITY, 1f, 1f}, null, y);
        assertThat(y[0]).isEqualTo(Float.POSITIVE_INFINITY); // 1·inf
        assertThat(y[1]).isNaN(); // 0·inf
        m.gemv(new float[] {Float.NaN, 0f, 0f}, null, y);
        assertThat(y[0]).isNaN();
    }
}

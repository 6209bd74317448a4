package lowbit.nn.sparse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import lowbit.nn.LinearWeight;
import lowbit.quant.ArrayCalibrationStats;
import lowbit.quant.CalibrationStats;
import lowbit.tensor.DType;
import lowbit.tensor.layout.NmSparseMatrix;
import org.junit.jupiter.api.Test;

/** N:M, per-row, per-matrix and structured masks from scores; the magnitude, Wanda and RIA scores by hand. */
class MasksAndCriteriaTest {
    private static final long SEED = 0x3a5c_5ca1L;

    @Test
    void patternsAndCandidates() {
        assertThat(NmPattern.parse("2:4")).isEqualTo(NmPattern.TWO_FOUR);
        assertThat(NmPattern.TWO_FOUR.sparsity()).isEqualTo(0.5);
        assertThat(NmPattern.of(4, 8).candidateCount()).isEqualTo(70);
        assertThat(NmPattern.of(4, 8).candidates(100)).hasNumberOfRows(70);
        assertThat(NmPattern.TWO_FOUR.candidates(10)).isDeepEqualTo(new int[][] {{0, 1}, {0, 2}, {0, 3}, {1, 2},
            {1, 3}, {2, 3}});
        assertThat(NmPattern.of(3, 5).indexBits()).isEqualTo(3);
        assertThatThrownBy(() -> NmPattern.of(4, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4:4").hasMessageContaining("N < M");
        assertThatThrownBy(() -> NmPattern.of(0, 4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> NmPattern.parse("2-4")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> NmPattern.of(8, 16).candidates(1000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("12870");
    }

    @Test
    void nmKeepsTheLargestWithTiesToTheLowerIndex() {
        float[] s = {1, 5, 5, 2, /* */ 3, 3, 3, 3, /* */ 0, -1, 9, 0};
        PruningMask m = Masks.nm(s, 1, 12, NmPattern.TWO_FOUR);
        assertThat(m.toArray()).containsExactly(false, true, true, false, true, true, false, false, true, false, true,
                false);
        assertThat(m.isNm(NmPattern.TWO_FOUR)).isTrue();
        assertThat(m.sparsity()).isEqualTo(0.5);
        PruningMask m48 = Masks.nm(new float[] {8, 7, 6, 5, 1, 2, 3, 4}, 1, 8, NmPattern.FOUR_EIGHT);
        assertThat(m48.toArray()).containsExactly(true, true, true, true, false, false, false, false);
    }

    @Test
    void unstructuredCounts() {
        Random r = new Random(SEED);
        int rows = 7, cols = 33;
        float[] s = new float[rows * cols];
        for (int i = 0; i < s.length; i++) {
            s[i] = r.nextInt(5); // many ties
        }
        PruningMask pr = Masks.perRow(s, rows, cols, 0.5);
        for (int row = 0; row < rows; row++) {
            assertThat(pr.keptInRow(row)).isEqualTo(cols - 16);
            // every kept score ≥ every pruned score of the row; among equal scores the kept ones come first
            float minKept = Float.POSITIVE_INFINITY, maxPruned = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                if (pr.kept(row, c)) {
                    minKept = Math.min(minKept, s[row * cols + c]);
                } else {
                    maxPruned = Math.max(maxPruned, s[row * cols + c]);
                }
            }
            assertThat(minKept).isGreaterThanOrEqualTo(maxPruned);
            boolean seenPrunedTie = false;
            for (int c = 0; c < cols; c++) {
                if (s[row * cols + c] == minKept && minKept == maxPruned) {
                    if (!pr.kept(row, c)) {
                        seenPrunedTie = true;
                    } else {
                        assertThat(seenPrunedTie).as("a kept tie after a pruned one in row " + row).isFalse();
                    }
                }
            }
        }
        PruningMask pm = Masks.perMatrix(s, rows, cols, 0.3);
        assertThat(pm.keptCount()).isEqualTo(rows * cols - (int) (rows * cols * 0.3));
    }

    @Test
    void structuredMasks() {
        float[] s = {1, 1, 9, 9, /* row 1 */ 0, 0, 0, 1, /* row 2 */ 5, 5, 0, 0};
        float[] rs = StructuredScores.rows(s, 3, 4);
        assertThat(rs).containsExactly(20, 1, 10);
        boolean[] keep = StructuredScores.keepTop(rs, 2);
        assertThat(keep).containsExactly(true, false, true);
        PruningMask m = Masks.rows(keep, 3, 4);
        assertThat(m.keptInRow(1)).isZero();
        assertThat(m.keptInRow(2)).isEqualTo(4);
        assertThat(StructuredScores.columns(s, 3, 4)).containsExactly(6, 6, 9, 10);
        // heads of two channels
        float[] heads = StructuredScores.groups(new float[] {1, 2, 3, 4, 0, 1}, 2);
        assertThat(heads).containsExactly(3, 7, 1);
        assertThat(StructuredScores.expand(StructuredScores.keepTop(heads, 1), 2)).containsExactly(false, false, true,
                true, false, false);
        PruningMask c = Masks.columns(new boolean[] {true, false, false, true}, 2, 4);
        assertThat(c.toArray()).containsExactly(true, false, false, true, true, false, false, true);
        assertThatThrownBy(() -> StructuredScores.groups(new float[5], 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sparsityAllocation() {
        double[] u = SparsityAllocation.uniform(3, 0.5);
        assertThat(u).containsExactly(0.5, 0.5, 0.5);
        long[] sizes = {100, 300, 100};
        double[] s = SparsityAllocation.byImportance(new double[] {1, 2, 3}, sizes, 0.5, 0.1, 0.9);
        assertThat(s[0]).isGreaterThan(s[1]);
        assertThat(s[1]).isGreaterThan(s[2]);
        double mean = (100 * s[0] + 300 * s[1] + 100 * s[2]) / 500;
        assertThat(mean).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(s[0] - s[2]).isCloseTo(0.2, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(SparsityAllocation.outlierFraction(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 100}, 5)).isEqualTo(0.1);
        assertThatThrownBy(() -> SparsityAllocation.byImportance(new double[] {1, Double.NaN}, new long[] {1, 1}, 0.5,
                0.1, 0.9)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("layer 1");
    }

    @Test
    void criteriaByHand() {
        // W [2, 2] = [[1, -2], [3, 4]], mean x² per input = [4, 1] → ‖x‖/√N = [2, 1]
        float[] w = {1, -2, 3, 4};
        CalibrationStats st = ArrayCalibrationStats.of(10, new float[] {1, 1}, new float[] {4, 1});
        assertThat(Magnitude.get().scores(w, 2, 2, null)).containsExactly(1, 2, 3, 4);
        assertThat(Wanda.get().scores(w, 2, 2, st)).containsExactly(2, 2, 6, 4);
        // RIA: column sums |W| = [4, 6], row sums = [3, 7]; activation factor √(‖x‖)^... = [2, 1]^0.5
        float[] ria = Ria.get().scores(w, 2, 2, st);
        double[] want = {(1 / 4.0 + 1 / 3.0) * Math.sqrt(2), (2 / 6.0 + 2 / 3.0) * 1, (3 / 4.0 + 3 / 7.0) * Math.sqrt(2),
            (4 / 6.0 + 4 / 7.0) * 1};
        for (int i = 0; i < 4; i++) {
            assertThat((double) ria[i]).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-6));
        }
        assertThat(Ria.withExponent(0).scores(w, 2, 2, null)[0]).isCloseTo((float) (1 / 4.0 + 1 / 3.0),
                org.assertj.core.data.Offset.offset(1e-6f));
        // zero row and column: no 0/0
        assertThat(Ria.get().scores(new float[] {0, 0, 0, 1}, 2, 2, st)).containsExactly(0, 0, 0, 2);
    }

    @Test
    void badInputIsNamed() {
        CalibrationStats st3 = ArrayCalibrationStats.of(10, new float[3], new float[3]);
        assertThatThrownBy(() -> Wanda.get().scores(new float[4], 2, 2, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs calibration statistics");
        assertThatThrownBy(() -> Wanda.get().scores(new float[4], 2, 2, st3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 input features");
        assertThatThrownBy(() -> Magnitude.get().scores(new float[] {1, Float.NaN, 0, 0}, 2, 2, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row 0, col 1 is NaN");
        assertThatThrownBy(() -> Masks.nm(new float[] {1, 2, Float.NaN, 0}, 1, 4, NmPattern.TWO_FOUR))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row 0, col 2 is NaN");
        assertThatThrownBy(() -> Masks.nm(new float[6], 1, 6, NmPattern.TWO_FOUR))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of M = 4");
        assertThatThrownBy(() -> Masks.nm(new float[7], 2, 4, NmPattern.TWO_FOUR))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected [2, 4]");
        assertThatThrownBy(() -> Masks.perRow(new float[4], 1, 4, 1.0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[0, 1)");
        PruningMask m = Masks.nm(new float[8], 2, 4, NmPattern.TWO_FOUR);
        assertThatThrownBy(() -> m.apply(new float[12])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[2, 4]");
        assertThatThrownBy(() -> m.apply(LinearWeight.of(new float[12], 3, 4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3, 4]");
        assertThatThrownBy(() -> PruningMask.of(new boolean[5], 2, 4)).isInstanceOf(IllegalArgumentException.class);
        PruningMask notNm = Masks.perRow(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 1, 8, 0.5);
        assertThatThrownBy(() -> notNm.compress(new float[8], NmPattern.TWO_FOUR, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs exactly 2");
    }

    @Test
    void badScoresStatisticsAndMaskShapesAreNamed() {
        // NaN scores: every mask builder names the entry, not only the N:M one
        float[] nan = {1, 2, 3, Float.NaN, 5, 6, 7, 8};
        assertThatThrownBy(() -> Masks.perRow(nan, 2, 4, 0.5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("row 0, col 3 is NaN");
        assertThatThrownBy(() -> Masks.perMatrix(nan, 2, 4, 0.5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("row 0, col 3 is NaN");
        assertThatThrownBy(() -> Masks.perMatrix(new float[8], 2, 4, Double.NaN))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[0, 1)");
        // a NaN calibration statistic is refused where the statistics are built, before it could become NaN scores
        assertThatThrownBy(() -> ArrayCalibrationStats.of(10, new float[2], new float[] {1, Float.NaN}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("meanSquare[1] = NaN");
        // N >= M and a pattern that does not divide the input dimension, at every entry point
        assertThatThrownBy(() -> NmPattern.of(5, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("5:4");
        assertThatThrownBy(() -> LearnableNmMask.random(NmPattern.FOUR_EIGHT, 2, 12, 0.1, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("12");
        // masks of the wrong shape: for a layer, for a weight, for compression
        lowbit.nn.Linear base = new lowbit.nn.Linear(lowbit.nn.DenseWeight.of(new float[32], 4, 8).frozen(),
                new float[4]);
        assertThatThrownBy(() -> new MaskedLinear(base, LearnableNmMask.random(NmPattern.TWO_FOUR, 4, 4, 0.1, 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[4, 4] does not fit")
                .hasMessageContaining("[4, 8]");
        PruningMask twoByFour = Masks.nm(new float[8], 2, 4, NmPattern.TWO_FOUR);
        assertThatThrownBy(() -> twoByFour.compress(new float[16], NmPattern.TWO_FOUR, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 4]");
    }

    @Test
    void aPrunedLinearWeightPlugsIntoLinear() {
        Random r = new Random(SEED + 1);
        int out = 8, in = 32;
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        PruningMask m = Magnitude.get().nm(w, out, in, null, NmPattern.TWO_FOUR);
        NmSparseMatrix s = m.compress(w, NmPattern.TWO_FOUR, DType.F32);
        lowbit.nn.Linear l = new lowbit.nn.Linear(LinearWeight.of(s), null);
        float[] x = new float[3 * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        float[] y = l.forward(x, 3);
        float[] yDense = new lowbit.nn.Linear(m.apply(LinearWeight.of(w, out, in)), null).forward(x, 3);
        for (int i = 0; i < y.length; i++) {
            // two float dot products of 16 kept terms (|terms| ~ 1) in different orders: γ_40·Σ|terms| ≲ 1e-4
            assertThat(y[i]).isCloseTo(yDense[i], org.assertj.core.data.Offset.offset(1e-4f));
        }
        float[] dx = l.backwardInput(new float[3 * out], 3);
        assertThat(dx).hasSize(3 * in);
    }
}

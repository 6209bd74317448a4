package lowbit.tensor.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import lowbit.tensor.DType;
import org.junit.jupiter.api.Test;

class OutliersTest {
    @Test
    void buildsCsrByRowThenColumnFromUnorderedEntries() {
        Outliers o = Outliers.of(3, 5, new int[] {2, 0, 2, 0}, new int[] {4, 3, 1, 0},
                new float[] {1f, 2f, 3f, 4f}, DType.F32);
        assertThat(o.count()).isEqualTo(4);
        // row 0: (0,0)=4, (0,3)=2; row 1: none; row 2: (2,1)=3, (2,4)=1
        assertThat(new int[] {o.rowStart(0), o.rowEnd(0), o.rowStart(1), o.rowEnd(1), o.rowStart(2), o.rowEnd(2)})
                .containsExactly(0, 2, 2, 2, 2, 4);
        assertThat(new int[] {o.col(0), o.col(1), o.col(2), o.col(3)}).containsExactly(0, 3, 1, 4);
        assertThat(new float[] {o.value(0), o.value(1), o.value(2), o.value(3)}).containsExactly(4f, 2f, 3f, 1f);
        assertThat(new int[] {o.row(0), o.row(1), o.row(2), o.row(3)}).containsExactly(0, 0, 2, 2);
        // 4 row pointers + 4 × (int32 column + f32 value)
        assertThat(o.byteSize()).isEqualTo(4 * 4 + 4 * 8);
    }

    @Test
    void f16ValuesAreRoundedToNearestEven() {
        // 1 + 2^-11 lies halfway between the halves 1 and 1 + 2^-10: ties to the even significand, 1.0
        float halfway = 1f + 0x1p-11f;
        Outliers o = Outliers.of(1, 1, new int[] {0}, new int[] {0}, new float[] {halfway}, DType.F16);
        assertThat(o.value(0)).isEqualTo(1f);
        assertThat(o.byteSize()).isEqualTo(2 * 4 + 6);
    }

    @Test
    void noneIsEmptyAndCostsNothing() {
        Outliers o = Outliers.none(4, 7);
        assertThat(o.isEmpty()).isTrue();
        assertThat(o.byteSize()).isZero();
        assertThat(o.rowStart(3)).isEqualTo(o.rowEnd(3));
    }

    @Test
    void rejectsBadEntriesNamingThem() {
        assertThatThrownBy(() -> Outliers.of(2, 2, new int[] {0, 2}, new int[] {0, 0}, new float[] {1, 1}, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("entry 1 at (2, 0)");
        assertThatThrownBy(() -> Outliers.of(2, 2, new int[] {1, 1}, new int[] {1, 1}, new float[] {1, 2}, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(1, 1) is listed twice");
        assertThatThrownBy(() -> Outliers.of(2, 2, new int[] {0}, new int[] {1}, new float[] {Float.NaN}, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("non-finite");
        assertThatThrownBy(() -> Outliers.of(2, 2, new int[] {0}, new int[] {1}, new float[] {70000f}, DType.F16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overflows F16");
        assertThatThrownBy(() -> Outliers.of(2, 2, new int[] {0}, new int[] {1, 0}, new float[] {1}, DType.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("same length");
        assertThatThrownBy(() -> Outliers.of(2, 2, new int[0], new int[0], new float[0], DType.BF16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32 or F16");
    }
}

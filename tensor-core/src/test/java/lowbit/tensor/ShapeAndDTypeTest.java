package lowbit.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ShapeAndDTypeTest {
    @Test
    void shapeBasics() {
        Shape s = Shape.of(2, 3, 4);
        assertThat(s.rank()).isEqualTo(3);
        assertThat(s.numel()).isEqualTo(24);
        assertThat(s.dim(-1)).isEqualTo(4);
        assertThat(s.flatIndex(1, 2, 3)).isEqualTo(1 * 12 + 2 * 4 + 3);
        assertThat(s).isEqualTo(Shape.of(2L, 3L, 4L)).hasSameHashCodeAs(Shape.of(2L, 3L, 4L));
        assertThat(s.toString()).isEqualTo("[2, 3, 4]");
        assertThat(Shape.of(0, 5).numel()).isZero();
        assertThat(Shape.of(1L << 40, 1L << 20).numel()).isEqualTo(1L << 60);
    }

    @Test
    void shapeRejectsBadDimensions() {
        assertThatThrownBy(() -> Shape.of(new long[0])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank");
        assertThatThrownBy(() -> Shape.of(3, -2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-2");
        assertThatThrownBy(() -> Shape.of(1L << 40, 1L << 30)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overflow");
        // a zero dimension anywhere makes an empty shape, even when the other dimensions' product would overflow
        // (found by the GGUF fuzzer: ne = [4294967298, 0, 4035225266123964416, 3058016714752])
        assertThat(Shape.of(3058016714752L, 4035225266123964416L, 0, 4294967298L).numel()).isZero();
        assertThatThrownBy(() -> Shape.of(2, 3).flatIndex(2, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("[2, 0]");
        assertThatThrownBy(() -> Shape.of(2, 3).flatIndex(1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Shape.of(2, 3).dim(2)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void dtypeRangesAndSizes() {
        for (int bits = 1; bits <= 8; bits++) {
            DType s = DType.integer(bits, true), u = DType.integer(bits, false);
            assertThat(s.bits()).isEqualTo(bits);
            assertThat(s.isSigned()).isTrue();
            assertThat(u.isSigned()).isFalse();
            assertThat(s.minCode()).isEqualTo(-(1 << (bits - 1)));
            assertThat(s.maxCode()).isEqualTo((1 << (bits - 1)) - 1);
            assertThat(u.minCode()).isZero();
            assertThat(u.maxCode()).isEqualTo((1 << bits) - 1);
            assertThat(s.isPacked()).isEqualTo(bits < 8);
            // ceil(count * bits / 8) from the definition, for a few awkward counts
            for (long count : new long[] {0, 1, 7, 8, 9, 1001}) {
                assertThat(u.byteSize(count)).isEqualTo((count * bits + 7) / 8);
            }
        }
        assertThat(DType.integer(4, true)).isEqualTo(DType.I4);
        assertThat(DType.F16.byteSize(3)).isEqualTo(6);
        assertThat(DType.F32.isFloatingPoint()).isTrue();
        assertThat(DType.F32.isInteger()).isFalse();
        assertThatThrownBy(() -> DType.integer(9, true)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("9");
        assertThatThrownBy(() -> DType.integer(0, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0");
        assertThatThrownBy(() -> DType.F32.byteSize(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> DType.F32.byteSize(Long.MAX_VALUE / 8)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overflow");
        assertThatThrownBy(DType.F32::maxCode).isInstanceOf(UnsupportedOperationException.class);
    }
}

package lowbit.tensor.linalg;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import static org.assertj.core.api.Assertions.assertThat;
import org.junit.jupiter.api.Test;

/** {@link Gemv} and {@link Gemm} reject bad shapes, dtypes and aliasing with messages that name the shapes. */
class DenseBadInputTest {
    @Test
    void gemvRejectsMismatchedShapes() {
        assertThatThrownBy(() -> Gemv.multiply(new float[12], 3, 4, new float[5], new float[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x has length 5")
                .hasMessageContaining("W [3, 4]");
        assertThatThrownBy(() -> Gemv.multiply(new float[12], 3, 4, new float[4], new float[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("y has length 4");
        assertThatThrownBy(() -> Gemv.multiply(new float[11], 3, 4, new float[4], new float[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("W has length 11");
        assertThatThrownBy(() -> Gemv.multiply(new float[12], 3, 4, new float[4], new float[2], new float[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias has length 2");
        assertThatThrownBy(() -> Gemv.multiply(MemorySegment.ofArray(new short[11]), DType.F16, 3, 4, new float[4],
                null, new float[3])).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("3×4");
        assertThatThrownBy(() -> Gemv.multiply(MemorySegment.ofArray(new float[40]), DType.F32, 0, 3, 3, 4,
                new float[4], 0, null, new float[3], 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("leading dimension must be >= 4, got 3");
        assertThatThrownBy(() -> Gemv.multiply(new float[12], -3, -4, new float[0], new float[0]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rows must be >= 0, got -3");
    }

    @Test
    void gemvRejectsWrongDtypes() {
        assertThatThrownBy(() -> Gemv.multiply(new short[12], DType.F32, 3, 4, new float[4], null, new float[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F16 or BF16, got F32");
        assertThatThrownBy(() -> Gemv.multiply(MemorySegment.ofArray(new byte[12]), DType.I8, 3, 4, new float[4],
                null, new float[3])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("F32, F16 or BF16, got I8");
    }

    @Test
    void gemvRejectsOutputAliasingAnInput() {
        float[] v = new float[4];
        assertThatThrownBy(() -> Gemv.multiply(new float[16], 4, 4, v, v))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("same array as the input x");
        float[] w = new float[16];
        assertThatThrownBy(() -> Gemv.multiply(w, 4, 4, new float[4], w)).isInstanceOf(IllegalArgumentException.class);
        float[] big = new float[16];
        assertThatThrownBy(() -> Gemv.multiply(MemorySegment.ofArray(big), DType.F32, 0, 4, 2, 4, new float[4], 0,
                null, big, 8)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("behind the input");
    }

    @Test
    void gemmRejectsBadShapesDtypesAndAliasing() {
        assertThatThrownBy(() -> Gemm.gemm(false, false, 2, 3, 4, 1f, new float[7], 0, 4, new float[12], 0, 3, 0f,
                new float[6], 0, 3)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("op(A) 2×4 · op(B) 4×3 = C 2×3").hasMessageContaining("needs 8 elements");
        assertThatThrownBy(() -> Gemm.gemm(false, true, 2, 3, 4, 1f, new float[8], 0, 4, new float[12], 0, 3, 0f,
                new float[6], 0, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("leading dimension must be >= 4, got 3");
        assertThatThrownBy(() -> Gemm.gemm(false, false, 2, 3, 4, 1f, new float[8], 0, 4, new short[12], DType.I4, 0, 3,
                0f, new float[6], 0, 3)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got I4");
        float[] c = new float[16];
        assertThatThrownBy(() -> Gemm.gemm(false, false, 2, 2, 2, 1f, c, 0, 2, new float[4], 0, 2, 0f, c, 8, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("same array as the input A");
        assertThatThrownBy(() -> Gemm.linear(new float[6], 2, 3, new float[12], 4, null, new float[6]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Y has length 6")
                .hasMessageContaining("X [2, 3]").hasMessageContaining("W [4, 3]");
        assertThatThrownBy(() -> Gemm.linear(new float[6], 2, 3, MemorySegment.ofArray(new short[11]), DType.BF16, 4,
                null, new float[8])).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("BF16 W [4, 3]");
    }

    @Test
    void tensorOverloadsReadTheTensorAndRejectNonMatrices() {
        Tensor w = Tensor.ofFloats(DType.BF16, new float[] {1, 2, 3, 4, 5, 6}, Shape.of(2, 3));
        float[] y = new float[2];
        Gemv.multiply(w, new float[] {1, 1, 1}, new float[] {0.5f, 0}, y);
        assertThat(y).containsExactly(6.5f, 15f); // small integers: exact in BF16 and in any summation order
        float[] yy = new float[4];
        Gemm.linear(new float[] {1, 0, 0, 0, 0, 1}, 2, w, null, yy);
        assertThat(yy).containsExactly(1f, 4f, 3f, 6f);
        Tensor v = Tensor.ofFloats(new float[] {1, 2, 3}, 3);
        assertThatThrownBy(() -> Gemv.multiply(v, new float[3], null, new float[1]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be a matrix");
        assertThatThrownBy(() -> Gemv.multiply(w, new float[2], null, new float[2]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x has length 2");
    }
}

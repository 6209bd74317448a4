package lowbit.tensor.simd.panama;

import static org.assertj.core.api.Assertions.assertThat;

import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The in-register F16/BF16 widening of {@link HalfLanes} against {@link Float#float16ToFloat} and {@code bits << 16}
 * for all 65536 bit patterns (zeros, subnormals, normals, infinities, NaNs), at every vector width. Non-NaN results
 * must match bit for bit; NaN inputs must give a NaN (the JDK's own scalar intrinsic may quiet a signalling NaN, so
 * its payload bits are not a stable reference). Skipped when the scalar provider is in use (no Vector API module).
 */
@Tag("simd")
class HalfLanesTest {
    @Test
    void widensEveryHalfBitPatternExactly() {
        Assumptions.assumeTrue(VectorizationProvider.get().name().equals("panama"), "needs the Vector API");
        short[] all = new short[1 << 16];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        float[] f16 = new float[all.length];
        float[] bf16 = new float[all.length];
        HalfLanes.widen(all, false, f16, all.length);
        HalfLanes.widen(all, true, bf16, all.length);
        for (int i = 0; i < all.length; i++) {
            float want = Float.float16ToFloat(all[i]);
            if (Float.isNaN(want)) {
                assertThat(f16[i]).as("F16 0x%04x", i).isNaN();
            } else {
                assertThat(Float.floatToRawIntBits(f16[i])).as("F16 0x%04x -> %s", i, want)
                        .isEqualTo(Float.floatToRawIntBits(want));
            }
            assertThat(Float.floatToRawIntBits(bf16[i])).as("BF16 0x%04x", i).isEqualTo(i << 16);
        }
    }
}

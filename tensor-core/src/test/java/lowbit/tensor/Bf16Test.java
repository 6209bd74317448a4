package lowbit.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import lowbit.tensor.simd.ScalarHalfKernels;
import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link Bf16} against {@link HalfReference}, which rounds by comparing exact distances to the two neighbouring
 * bfloat16 values (not by the implementation's add-and-shift). Element and bulk methods are both checked, so this
 * also runs at every vector width (tag simd) and on the scalar fallback.
 *
 * <p>NaN: BF16&rarr;F32 must keep every bit ({@code b << 16}); F32&rarr;BF16 must give exactly
 * {@code (bits >>> 16) | 0x0040}: same sign, top payload bits, quiet, never &plusmn;&infin;.
 */
@Tag("simd")
class Bf16Test {
    private static final long SEED = 0xBF16L;
    private static final int RANDOM_COUNT = 4_000_000;

    @Test
    void everyBf16ConvertsExactlyToFloat() {
        short[] all = new short[65_536];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        float[] bulk = Bf16.toFloats(all);
        float[] fromSegment = new float[all.length];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(2L * all.length + 2).asSlice(1); // misaligned on purpose
            for (int i = 0; i < all.length; i++) {
                s.setAtIndex(ScalarHalfKernels.I16_LE, i, all[i]);
            }
            Bf16.toFloats(s, 0, fromSegment, 0, all.length);
        }
        for (int b = 0; b < 65_536; b++) {
            short bits = (short) b;
            String at = String.format("bf16 0x%04x", b);
            float f = Bf16.toFloat(bits);
            assertThat(Float.floatToRawIntBits(f)).as(at).isEqualTo(b << 16);
            double value = HalfReference.BF16.decode(bits);
            if (!Double.isNaN(value)) {
                assertThat((double) f).as(at + " vs definition").isEqualTo(value);
            } else {
                assertThat(f).as(at).isNaN();
            }
            assertThat(Float.floatToRawIntBits(bulk[b])).as(at + " bulk " + provider()).isEqualTo(b << 16);
            assertThat(Float.floatToRawIntBits(fromSegment[b])).as(at + " segment " + provider()).isEqualTo(b << 16);
        }
    }

    @Test
    void knownValues() {
        assertThat(bf(0x3F80_0000)).isEqualTo(0x3F80); // 1
        assertThat(bf(0x3F80_8000)).isEqualTo(0x3F80); // 1 + 2^-8: tie, to even 1
        assertThat(bf(0x3F81_8000)).isEqualTo(0x3F82); // tie, to even significand
        assertThat(bf(0x3F80_8001)).isEqualTo(0x3F81); // just above the tie
        assertThat(bf(0x3F81_7FFF)).isEqualTo(0x3F81); // just below the tie
        assertThat(bf(0x7F7F_7FFF)).isEqualTo(0x7F7F); // below the midpoint to 2^128: largest finite
        assertThat(bf(0x7F7F_8000)).isEqualTo(0x7F80); // midpoint, odd significand: to even = Inf
        assertThat(bf(0x7F7F_FFFF)).isEqualTo(0x7F80); // Float.MAX_VALUE overflows to Inf
        assertThat(bf(0xFF7F_FFFF)).isEqualTo(0xFF80);
        assertThat(bf(0x8000_0000)).isEqualTo(0x8000); // -0
        assertThat(bf(0x0000_8000)).isEqualTo(0x0000); // subnormal tie to even 0
        assertThat(bf(0x0001_8000)).isEqualTo(0x0002);
        assertThat(bf(0x007F_FFFF)).isEqualTo(0x0080); // largest subnormal rounds up to the smallest normal
        assertThat(bf(0x7F80_0000)).isEqualTo(0x7F80);
        assertThat(bf(0x7F80_0001)).isEqualTo(0x7FC0); // sNaN with a low payload: quiet NaN, not Inf
        assertThat(bf(0x7FFF_FFFF)).isEqualTo(0x7FFF); // NaN never carries into the sign
        assertThat(bf(0xFFA0_0000)).isEqualTo(0xFFE0);
    }

    @Test
    void specialsAndTiesRoundToTheNearestEven() {
        int[] special = {0, 0x8000_0000, 1, 0x8000_0001, 0x007F_FFFF, 0x0080_0000, 0x7F7F_FFFF, 0xFF7F_FFFF,
                0x7F80_0000, 0xFF80_0000, 0x7F80_0001, 0x7F80_8000, 0x7FC0_0000, 0x7FFF_FFFF, 0xFFC0_0001, 0x7FBF_FFFF};
        int n = 0;
        int[] bits = new int[special.length + 65_536 * 6];
        for (int s : special) {
            bits[n++] = s;
        }
        // Every tie between two neighbouring bfloat16 values (low half 0x8000), just below and just above, both signs.
        for (int hi = 0; hi < 0x8000; hi++) {
            for (int low : new int[] {0x7FFF, 0x8000, 0x8001}) {
                bits[n++] = hi << 16 | low;
                bits[n++] = (hi | 0x8000) << 16 | low;
            }
        }
        check(java.util.Arrays.copyOf(bits, n));
    }

    @Test
    void randomBitPatternsRoundToTheNearestEven() {
        Random r = new Random(SEED);
        int[] bits = new int[RANDOM_COUNT];
        for (int i = 0; i < RANDOM_COUNT; i++) {
            bits[i] = r.nextInt();
        }
        check(bits);
    }

    @Test
    void rejectsBadArguments() {
        short[] h = new short[10];
        float[] f = new float[10];
        assertThatThrownBy(() -> Bf16.toFloats(h, 9, f, 0, 2)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("src").hasMessageContaining("[9, 9 + 2)").hasMessageContaining("10");
        assertThatThrownBy(() -> Bf16.fromFloats(f, 0, new short[3], 1, 3)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("dst").hasMessageContaining("3");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(20);
            assertThatThrownBy(() -> Bf16.toFloats(s, -1, f, 0, 1)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("src").hasMessageContaining("-1");
            assertThatThrownBy(() -> Bf16.fromFloats(new float[11], 0, s, 0, 11)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("dst").hasMessageContaining("11");
            assertThatThrownBy(() -> Bf16.fromFloats(f, 0, s.asReadOnly(), 0, 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dst").hasMessageContaining("read-only");
            assertThat(s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)).as("nothing written").isZero();
        }
    }

    /** Element conversion against the definition (NaN: the documented quiet pattern), then bulk against elements. */
    private static void check(int[] bits) {
        float[] src = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            int x = bits[i];
            float f = Float.intBitsToFloat(x);
            src[i] = f;
            String at = String.format("float 0x%08x seed=%d", x, SEED);
            short got = Bf16.fromFloat(f);
            if (Float.isNaN(f)) {
                assertThat(got & 0xFFFF).as(at).isEqualTo(x >>> 16 | 0x0040);
            } else if (got != HalfReference.BF16.round(f)) {
                assertThat(got).as(at).isEqualTo(HalfReference.BF16.round(f));
            }
        }
        short[] bulk = Bf16.fromFloats(src);
        for (int i = 0; i < src.length; i++) {
            if (bulk[i] != Bf16.fromFloat(src[i])) {
                assertThat(bulk[i]).as("bulk %s at %d, float 0x%08x", provider(), i, bits[i])
                        .isEqualTo(Bf16.fromFloat(src[i]));
            }
        }
    }

    private static int bf(int floatBits) {
        return Bf16.fromFloat(Float.intBitsToFloat(floatBits)) & 0xFFFF;
    }

    private static String provider() {
        return VectorizationProvider.get().toString();
    }
}

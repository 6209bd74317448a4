package lowbit.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import lowbit.tensor.simd.ScalarHalfKernels;
import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link Fp16} against the JDK ({@link Float#float16ToFloat}, {@link Float#floatToFloat16}) and against
 * {@link HalfReference}, a rounding reference written from the definition of binary16. Element and bulk methods are
 * both checked, so this also runs at every vector width (tag simd) and on the scalar fallback.
 *
 * <p>What is compared for NaN: non-NaN results must match the JDK's raw bits exactly. For a NaN the JDK's results are
 * platform-dependent (HotSpot's F16C/FCVT intrinsics quiet it; its portable Java code keeps it signalling), so the
 * test requires that the JDK also gives a NaN of the same sign, and that lowbit gives exactly the documented pattern:
 * F16&rarr;F32 {@code s<<31 | 0x7FC00000 | m<<13}, F32&rarr;F16 {@code s<<15 | 0x7E00 | (bits>>>13 & 0x3FF)}.
 */
@Tag("simd")
class Fp16Test {
    private static final long SEED = 0xF16L;
    private static final int RANDOM_COUNT = 4_000_000;

    @Test
    void everyHalfConvertsExactlyToFloat() {
        short[] all = new short[65_536];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        float[] bulk = Fp16.toFloats(all);
        float[] fromSegment = new float[all.length];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(2L * all.length + 2).asSlice(1); // misaligned on purpose
            for (int i = 0; i < all.length; i++) {
                s.setAtIndex(ScalarHalfKernels.I16_LE, i, all[i]);
            }
            Fp16.toFloats(s, 0, fromSegment, 0, all.length);
        }
        for (int h = 0; h < 65_536; h++) {
            short bits = (short) h;
            int got = Float.floatToRawIntBits(Fp16.toFloat(bits));
            float jdk = Float.float16ToFloat(bits);
            String at = String.format("half 0x%04x", h);
            if (Float.isNaN(jdk)) {
                int sign = (h & 0x8000) << 16;
                assertThat(got).as(at).isEqualTo(sign | 0x7FC0_0000 | (h & 0x3FF) << 13);
                assertThat(Float.floatToRawIntBits(jdk) & 0x8000_0000).as(at + " JDK sign").isEqualTo(sign);
            } else {
                assertThat(got).as(at).isEqualTo(Float.floatToRawIntBits(jdk));
                assertThat((double) Fp16.toFloat(bits)).as(at + " vs definition")
                        .isEqualTo(HalfReference.F16.decode(bits));
            }
            assertThat(Float.floatToRawIntBits(bulk[h])).as(at + " bulk " + provider()).isEqualTo(got);
            assertThat(Float.floatToRawIntBits(fromSegment[h])).as(at + " segment " + provider()).isEqualTo(got);
        }
    }

    @Test
    void knownValuesFromTheStandard() {
        assertThat(Fp16.fromFloat(1f)).isEqualTo((short) 0x3C00);
        assertThat(Fp16.fromFloat(-2f)).isEqualTo((short) 0xC000);
        assertThat(Fp16.fromFloat(-0f)).isEqualTo((short) 0x8000);
        assertThat(Fp16.fromFloat(65504f)).isEqualTo((short) 0x7BFF); // largest half
        assertThat(Fp16.fromFloat(Math.nextDown(65520f))).isEqualTo((short) 0x7BFF);
        assertThat(Fp16.fromFloat(65520f)).isEqualTo((short) 0x7C00); // tie with 2^16: "even" is Inf
        assertThat(Fp16.fromFloat(-65520f)).isEqualTo((short) 0xFC00);
        assertThat(Fp16.fromFloat(0x1p-14f)).isEqualTo((short) 0x0400); // smallest normal
        assertThat(Fp16.fromFloat(0x1p-24f)).isEqualTo((short) 0x0001); // smallest subnormal
        assertThat(Fp16.fromFloat(0x1p-25f)).isEqualTo((short) 0x0000); // tie between 0 and 2^-24: even is 0
        assertThat(Fp16.fromFloat(Math.nextUp(0x1p-25f))).isEqualTo((short) 0x0001);
        assertThat(Fp16.fromFloat(0x1.8p-24f)).isEqualTo((short) 0x0002); // tie 1.5 ulp: to even 2
        assertThat(Fp16.fromFloat(1f + 0x1p-11f)).isEqualTo((short) 0x3C00); // tie: to even 1.0
        assertThat(Fp16.fromFloat(1f + 0x3p-11f)).isEqualTo((short) 0x3C02); // tie: to even significand 2
        assertThat(Fp16.toFloat((short) 0x3555)).isEqualTo(0x1.554p-2f);
        assertThat(Fp16.fromFloat(Float.NaN)).isEqualTo((short) 0x7E00);
        assertThat(Fp16.fromFloat(Float.intBitsToFloat(0xFF80_0001))).isEqualTo((short) 0xFE00); // sNaN: quieted
        assertThat(Float.floatToRawIntBits(Fp16.toFloat((short) 0x7C01))).isEqualTo(0x7FC0_2000);
    }

    @Test
    void specialsAndTiesRoundLikeTheJdkAndTheDefinition() {
        List<Float> values = new ArrayList<>();
        for (float f : new float[] {0f, Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, Float.POSITIVE_INFINITY,
                1f, 65504f, 65519f, 65520f, 65536f, 0x1p-14f, 0x1p-24f, 0x1p-25f, 0x1p-26f, 0x1.ffcp-15f}) {
            addAround(values, f);
        }
        // Every tie between two neighbouring halves, and the floats just below and above it.
        for (int h = 0; h < 0x7C00; h++) {
            double mid = (HalfReference.F16.decode((short) h) + HalfReference.F16.decode((short) (h + 1))) / 2;
            addAround(values, (float) mid); // exact: a midpoint of halves has at most 12 significant bits
        }
        for (float f : values) {
            checkFromFloat(f);
        }
        for (int bits : new int[] {0x7F80_0001, 0x7F80_1FFF, 0x7F80_2000, 0x7FA0_0000, 0x7FC0_0000, 0x7FC0_0001,
                0x7FFF_FFFF, 0xFF80_0001, 0xFFC0_0000, 0xFFFF_FFFF, 0x7FBF_FFFF}) {
            checkFromFloat(Float.intBitsToFloat(bits));
        }
        float[] all = new float[values.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = values.get(i);
        }
        checkBulkAgreesWithElements(all);
    }

    @Test
    void randomBitPatternsRoundLikeTheJdkAndTheDefinition() {
        Random r = new Random(SEED);
        float[] sample = new float[RANDOM_COUNT];
        for (int i = 0; i < RANDOM_COUNT; i++) {
            // Half of the patterns uniform over all floats, half concentrated on the half-precision range.
            int bits = i % 2 == 0 ? r.nextInt() : (r.nextInt(0x4800_0000 - 0x3280_0000) + 0x3280_0000) | (r.nextInt() & 0x8000_0000);
            float f = Float.intBitsToFloat(bits);
            checkFromFloat(f);
            sample[i] = f;
        }
        checkBulkAgreesWithElements(sample);
    }

    @Test
    void rejectsBadArguments() {
        short[] h = new short[10];
        float[] f = new float[10];
        assertThatThrownBy(() -> Fp16.toFloats(h, 5, f, 0, 6)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("src").hasMessageContaining("[5, 5 + 6)").hasMessageContaining("10");
        assertThatThrownBy(() -> Fp16.toFloats(h, 0, f, -1, 2)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("dst").hasMessageContaining("-1");
        assertThatThrownBy(() -> Fp16.fromFloats(f, 0, h, 0, -1)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("-1");
        assertThatThrownBy(() -> Fp16.fromFloats(new float[11], 0, h, 0, 11))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("dst").hasMessageContaining("11");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(21); // 10 whole 16-bit elements
            assertThatThrownBy(() -> Fp16.toFloats(s, 1, new float[20], 0, 10))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("src").hasMessageContaining("10");
            assertThatThrownBy(() -> Fp16.fromFloats(f, 0, s, 3L, 8)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("dst").hasMessageContaining("[3, 3 + 8)");
            assertThatThrownBy(() -> Fp16.fromFloats(f, 0, s.asReadOnly(), 0, 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dst").hasMessageContaining("read-only");
            f[0] = 1f;
            Fp16.fromFloats(f, 0, s, 9, 1); // the last whole element is in range
            assertThat(s.getAtIndex(ScalarHalfKernels.I16_LE, 9)).isEqualTo((short) 0x3C00);
        }
        Fp16.toFloats(h, 10, f, 10, 0); // empty ranges at the end are fine
    }

    private static void checkFromFloat(float f) {
        short got = Fp16.fromFloat(f);
        short jdk = Float.floatToFloat16(f);
        int x = Float.floatToRawIntBits(f);
        String at = String.format("float 0x%08x (%s) seed=%d", x, f, SEED);
        if (Float.isNaN(f)) {
            assertThat(got & 0xFFFF).as(at).isEqualTo((x >>> 16 & 0x8000) | 0x7E00 | (x >>> 13 & 0x3FF));
            assertThat(jdk & 0xFC00).as(at + " JDK gives a NaN of the same sign").isEqualTo((x >>> 16 & 0x8000) | 0x7C00);
            assertThat(jdk & 0x3FF).as(at + " JDK NaN significand").isNotZero();
        } else {
            assertThat(got).as(at + " vs JDK").isEqualTo(jdk);
            assertThat(got).as(at + " vs definition").isEqualTo(HalfReference.F16.round(f));
        }
    }

    private static void checkBulkAgreesWithElements(float[] src) {
        short[] bulk = Fp16.fromFloats(src);
        for (int i = 0; i < src.length; i++) {
            if (bulk[i] != Fp16.fromFloat(src[i])) {
                assertThat(bulk[i]).as("bulk %s at %d, float 0x%08x", provider(), i, Float.floatToRawIntBits(src[i]))
                        .isEqualTo(Fp16.fromFloat(src[i]));
            }
        }
    }

    private static void addAround(List<Float> values, float f) {
        for (float v : new float[] {f, Math.nextDown(f), Math.nextUp(f)}) {
            values.add(v);
            values.add(-v);
        }
    }

    private static String provider() {
        return VectorizationProvider.get().toString();
    }
}

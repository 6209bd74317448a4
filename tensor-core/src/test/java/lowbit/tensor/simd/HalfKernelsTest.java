package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The chosen half-float kernels against {@link ScalarHalfKernels}, bit for bit, at every length 0..300 and larger
 * ones, at offsets that misalign the arrays, for arrays and for (deliberately misaligned) segments, with random bit
 * patterns that include NaNs, infinities, subnormals and ties. Elements outside the range must stay untouched. Run at
 * 128/256/512 bits by the simd-* Surefire executions.
 */
@Tag("simd")
class HalfKernelsTest {
    private static final long SEED = 0x4A1FL;
    private static final HalfKernels REF = new ScalarHalfKernels();
    private final HalfKernels k = VectorizationProvider.get().halves();

    @Test
    void arraysMatchScalarAtEveryLength() {
        Random r = new Random(SEED);
        for (int n : SimdTesting.lengths()) {
            int srcOff = r.nextInt(5), dstOff = r.nextInt(5), len = n + 8;
            String at = "n=" + n + " srcOff=" + srcOff + " dstOff=" + dstOff + " seed=" + SEED + " " + SimdTesting.providerName();
            short[] halves = randomShorts(r, len);
            float[] floats = randomFloatBits(r, len);

            float[] got = sentinelFloats(len), want = sentinelFloats(len);
            k.f16ToF32(halves, srcOff, got, dstOff, n);
            REF.f16ToF32(halves, srcOff, want, dstOff, n);
            assertSameBits(got, want, "f16ToF32 " + at);

            got = sentinelFloats(len);
            want = sentinelFloats(len);
            k.bf16ToF32(halves, srcOff, got, dstOff, n);
            REF.bf16ToF32(halves, srcOff, want, dstOff, n);
            assertSameBits(got, want, "bf16ToF32 " + at);

            short[] gotH = sentinelShorts(len), wantH = sentinelShorts(len);
            k.f32ToF16(floats, srcOff, gotH, dstOff, n);
            REF.f32ToF16(floats, srcOff, wantH, dstOff, n);
            assertThat(gotH).as("f32ToF16 " + at).containsExactly(wantH);

            gotH = sentinelShorts(len);
            wantH = sentinelShorts(len);
            k.f32ToBf16(floats, srcOff, gotH, dstOff, n);
            REF.f32ToBf16(floats, srcOff, wantH, dstOff, n);
            assertThat(gotH).as("f32ToBf16 " + at).containsExactly(wantH);
        }
    }

    @Test
    void segmentsMatchScalarAtEveryLength() {
        Random r = new Random(SEED + 1);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : SimdTesting.lengths()) {
                int srcOff = r.nextInt(5), dstOff = r.nextInt(5), len = n + 8;
                String at = "segment n=" + n + " srcOff=" + srcOff + " dstOff=" + dstOff + " seed=" + SEED + " "
                        + SimdTesting.providerName();
                short[] halves = randomShorts(r, len);
                float[] floats = randomFloatBits(r, len);
                // One byte past a 64-byte boundary: every 16-bit element is misaligned.
                MemorySegment in = arena.allocate(2L * len + 1, 64).asSlice(1);
                for (int i = 0; i < len; i++) {
                    in.setAtIndex(ScalarHalfKernels.I16_LE, i, halves[i]);
                }

                float[] got = sentinelFloats(len), want = sentinelFloats(len);
                k.f16ToF32(in, srcOff, got, dstOff, n);
                REF.f16ToF32(halves, srcOff, want, dstOff, n);
                assertSameBits(got, want, "f16ToF32 " + at);

                got = sentinelFloats(len);
                want = sentinelFloats(len);
                k.bf16ToF32(in, srcOff, got, dstOff, n);
                REF.bf16ToF32(halves, srcOff, want, dstOff, n);
                assertSameBits(got, want, "bf16ToF32 " + at);

                MemorySegment out = arena.allocate(2L * len + 1, 64).asSlice(1);
                short[] wantH = sentinelShorts(len);
                fill(out, sentinelShorts(len));
                k.f32ToF16(floats, srcOff, out, dstOff, n);
                REF.f32ToF16(floats, srcOff, wantH, dstOff, n);
                assertThat(toShorts(out, len)).as("f32ToF16 " + at).containsExactly(wantH);

                wantH = sentinelShorts(len);
                fill(out, sentinelShorts(len));
                k.f32ToBf16(floats, srcOff, out, dstOff, n);
                REF.f32ToBf16(floats, srcOff, wantH, dstOff, n);
                assertThat(toShorts(out, len)).as("f32ToBf16 " + at).containsExactly(wantH);
            }
        }
    }

    @Test
    void everyHalfPatternMatchesScalarInBulk() {
        short[] all = new short[65_536 + 3];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        float[] got = new float[all.length], want = new float[all.length];
        k.f16ToF32(all, 0, got, 0, all.length);
        REF.f16ToF32(all, 0, want, 0, all.length);
        assertSameBits(got, want, "f16ToF32 all patterns " + SimdTesting.providerName());
        k.bf16ToF32(all, 0, got, 0, all.length);
        REF.bf16ToF32(all, 0, want, 0, all.length);
        assertSameBits(got, want, "bf16ToF32 all patterns " + SimdTesting.providerName());
    }

    /**
     * Random 16-bit patterns: every class of F16 and BF16 value (zero, subnormal, normal, Inf, NaN) with a
     * meaningful share.
     */
    private static short[] randomShorts(Random r, int n) {
        short[] a = new short[n];
        for (int i = 0; i < n; i++) {
            a[i] = (short) r.nextInt();
        }
        return a;
    }

    /**
     * Random float bit patterns, a mix: uniform bits (mostly huge or tiny, NaNs), values in and near the F16 range
     * (subnormal halves, overflow boundary), exact ties of both formats, and specials.
     */
    private static float[] randomFloatBits(Random r, int n) {
        int[] specials = {0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0xFFFF_FFFF, 0x477F_F000,
                0x477F_EFFF, 0x3300_0000, 0x3380_0000, 0x3880_0000, 0x387F_FFFF, 0x7F7F_FFFF, 0x0000_8000, 0x0080_0000};
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            int bits = switch (r.nextInt(5)) {
                case 0 -> r.nextInt();
                case 1 -> r.nextInt(0x4800_0000 - 0x3280_0000) + 0x3280_0000 | (r.nextInt() & 0x8000_0000);
                case 2 -> (r.nextInt() & ~0x1FFF) | 0x1000; // a tie for F32 -> F16 (when in the normal range)
                case 3 -> (r.nextInt() & ~0xFFFF) | 0x8000; // a tie for F32 -> BF16
                default -> specials[r.nextInt(specials.length)];
            };
            a[i] = Float.intBitsToFloat(bits);
        }
        return a;
    }

    private static float[] sentinelFloats(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, -12345f);
        return a;
    }

    private static short[] sentinelShorts(int n) {
        short[] a = new short[n];
        java.util.Arrays.fill(a, (short) 0x5A5A);
        return a;
    }

    private static void fill(MemorySegment s, short[] values) {
        for (int i = 0; i < values.length; i++) {
            s.setAtIndex(ScalarHalfKernels.I16_LE, i, values[i]);
        }
    }

    private static short[] toShorts(MemorySegment s, int n) {
        short[] a = new short[n];
        for (int i = 0; i < n; i++) {
            a[i] = s.getAtIndex(ScalarHalfKernels.I16_LE, i);
        }
        return a;
    }

    private static void assertSameBits(float[] got, float[] want, String what) {
        for (int i = 0; i < got.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                assertThat(Integer.toHexString(Float.floatToRawIntBits(got[i]))).as(what + " at " + i)
                        .isEqualTo(Integer.toHexString(Float.floatToRawIntBits(want[i])));
            }
        }
    }
}

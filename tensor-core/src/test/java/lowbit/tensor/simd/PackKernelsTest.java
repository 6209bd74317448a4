package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The chosen pack kernels and their scalar twin against {@link PackBits} (the layout written bit by bit), for every
 * width 1..8, signed and unsigned, at every length of {@link SimdTesting#lengths()}, starting at code indices that are
 * not byte-aligned, over arrays and segments. Packed sources are allocated to exactly the bytes the codes need, so a
 * kernel that reads past them fails. Destinations start filled with random bytes, so a kernel that disturbs a bit
 * outside its codes fails. Run at 128/256/512 bits by the simd-* Surefire executions.
 */
@Tag("simd")
class PackKernelsTest {
    private static final long SEED = 0x9ac4_ed1L;
    private static final PackKernels REF = new ScalarPackKernels();
    private final PackKernels k = VectorizationProvider.get().packing();

    private static String at(int bits, boolean signed, int n, long first) {
        return (signed ? "signed " : "unsigned ") + bits + "-bit n=" + n + " first=" + first + " seed=" + SEED
                + " provider=" + SimdTesting.providerName();
    }

    /** Bytes holding codes [0, first + n) and nothing more, random outside the n codes written at first. */
    private static byte[] packedByDefinition(Random r, int[] codes, long first, int bits) {
        byte[] bytes = new byte[(int) (((first + codes.length) * bits + 7) / 8)];
        r.nextBytes(bytes);
        PackBits.write(bytes, first, bits, codes);
        return bytes;
    }

    @Test
    void unpackMatchesTheBitDefinitionAtEveryLengthWidthAndStart() {
        Random r = new Random(SEED);
        try (Arena arena = Arena.ofConfined()) {
            for (int bits = 1; bits <= 8; bits++) {
                for (boolean signed : new boolean[] {false, true}) {
                    for (int n : SimdTesting.lengths()) {
                        long first = r.nextInt(19);
                        int[] codes = PackBits.randomCodes(r, n, bits, signed);
                        byte[] packed = packedByDefinition(r, codes, first, bits);
                        String at = at(bits, signed, n, first);
                        for (int i = 0; i < Math.min(n, 50); i++) { // the generator agrees with the reader
                            assertThat(PackBits.code(packed, first + i, bits, signed)).as(at).isEqualTo(codes[i]);
                        }
                        int off = r.nextInt(3);
                        int[] fromArray = new int[n + off + 2];
                        int[] ref = new int[n + off + 2];
                        k.unpack(packed, first, bits, signed, fromArray, off, n);
                        REF.unpack(packed, first, bits, signed, ref, off, n);
                        int[] expected = new int[n + off + 2];
                        System.arraycopy(codes, 0, expected, off, n);
                        assertThat(fromArray).as("unpack array " + at).isEqualTo(expected);
                        assertThat(ref).as("scalar unpack array " + at).isEqualTo(expected);

                        MemorySegment seg = arena.allocate(packed.length + 1L).asSlice(1); // odd address too
                        MemorySegment.copy(packed, 0, seg, ValueLayout.JAVA_BYTE, 0, packed.length);
                        int[] fromSegment = new int[n + off + 2];
                        k.unpack(seg, first, bits, signed, fromSegment, off, n);
                        assertThat(fromSegment).as("unpack segment " + at).isEqualTo(expected);
                        Arrays.fill(ref, 0);
                        REF.unpack(seg, first, bits, signed, ref, off, n);
                        assertThat(ref).as("scalar unpack segment " + at).isEqualTo(expected);

                        byte[] expectedBytes = new byte[n + off + 2];
                        for (int i = 0; i < n; i++) {
                            expectedBytes[off + i] = (byte) codes[i];
                        }
                        byte[] b1 = new byte[n + off + 2], b2 = new byte[n + off + 2], b3 = new byte[n + off + 2];
                        k.unpackToBytes(packed, first, bits, signed, b1, off, n);
                        k.unpackToBytes(seg, first, bits, signed, b2, off, n);
                        REF.unpackToBytes(packed, first, bits, signed, b3, off, n);
                        assertThat(b1).as("unpackToBytes array " + at).isEqualTo(expectedBytes);
                        assertThat(b2).as("unpackToBytes segment " + at).isEqualTo(expectedBytes);
                        assertThat(b3).as("scalar unpackToBytes " + at).isEqualTo(expectedBytes);
                        REF.unpackToBytes(seg, first, bits, signed, b3, off, n);
                        assertThat(b3).as("scalar unpackToBytes segment " + at).isEqualTo(expectedBytes);
                    }
                }
            }
        }
    }

    @Test
    void packWritesExactlyTheDefinedBitsAndKeepsNeighbours() {
        Random r = new Random(SEED + 1);
        try (Arena arena = Arena.ofConfined()) {
            for (int bits = 1; bits <= 8; bits++) {
                for (boolean signed : new boolean[] {false, true}) {
                    for (int n : SimdTesting.lengths()) {
                        long first = r.nextInt(19);
                        int[] codes = PackBits.randomCodes(r, n, bits, signed);
                        int off = r.nextInt(3);
                        int[] src = new int[off + n + 1];
                        System.arraycopy(codes, 0, src, off, n);
                        src[off + n] = PackBits.max(bits, signed); // a value after the range that must not be written
                        if (off > 0) {
                            src[off - 1] = PackBits.max(bits, signed);
                        }
                        // random bytes around, one spare byte past the codes
                        byte[] garbage = new byte[(int) (((first + n) * bits + 7) / 8) + 1];
                        r.nextBytes(garbage);
                        byte[] expected = garbage.clone();
                        PackBits.write(expected, first, bits, codes);
                        String at = at(bits, signed, n, first);

                        byte[] viaArray = garbage.clone();
                        k.pack(src, off, n, bits, viaArray, first);
                        assertThat(viaArray).as("pack array " + at).isEqualTo(expected);
                        byte[] viaScalar = garbage.clone();
                        REF.pack(src, off, n, bits, viaScalar, first);
                        assertThat(viaScalar).as("scalar pack array " + at).isEqualTo(expected);

                        MemorySegment seg = arena.allocate(garbage.length + 1L).asSlice(1);
                        MemorySegment.copy(garbage, 0, seg, ValueLayout.JAVA_BYTE, 0, garbage.length);
                        k.pack(src, off, n, bits, seg, first);
                        assertThat(seg.toArray(ValueLayout.JAVA_BYTE)).as("pack segment " + at).isEqualTo(expected);
                        MemorySegment.copy(garbage, 0, seg, ValueLayout.JAVA_BYTE, 0, garbage.length);
                        REF.pack(src, off, n, bits, seg, first);
                        assertThat(seg.toArray(ValueLayout.JAVA_BYTE)).as("scalar pack segment " + at).isEqualTo(expected);
                    }
                }
            }
        }
    }

    @Test
    void roundTripsAtEveryStartWithinTwoBytes() {
        Random r = new Random(SEED + 2);
        for (int bits = 1; bits <= 8; bits++) {
            for (boolean signed : new boolean[] {false, true}) {
                for (int n : new int[] {1, 7, 31, 64, 65, 129, 1000, 4099}) {
                    for (long first = 0; first <= 16; first++) {
                        int[] codes = PackBits.randomCodes(r, n, bits, signed);
                        byte[] packed = new byte[(int) (((first + n) * bits + 7) / 8)];
                        k.pack(codes, 0, n, bits, packed, first);
                        int[] back = new int[n];
                        k.unpack(packed, first, bits, signed, back, 0, n);
                        assertThat(back).as("round trip " + at(bits, signed, n, first)).isEqualTo(codes);
                        for (long c = 0; c < first; c++) {
                            assertThat(PackBits.code(packed, c, bits, false)).as("untouched code %d, %s", c,
                                    at(bits, signed, n, first)).isZero();
                        }
                    }
                }
            }
        }
    }

    @Test
    void boundaryFillsRoundTripAndMatchTheDefinition() {
        for (int bits = 1; bits <= 8; bits++) {
            for (boolean signed : new boolean[] {false, true}) {
                int min = PackBits.min(bits, signed), max = PackBits.max(bits, signed);
                for (int n : new int[] {1, 15, 64, 300, 1027}) {
                    int[] allMin = new int[n], allMax = new int[n], mixed = new int[n];
                    Arrays.fill(allMin, min);
                    Arrays.fill(allMax, max);
                    for (int i = 0; i < n; i++) {
                        mixed[i] = (i % 3 == 0) ? min : (i % 3 == 1) ? max : (signed ? -1 : 1);
                    }
                    for (int[] codes : new int[][] {allMin, allMax, mixed}) {
                        for (long first : new long[] {0, 3, 5}) {
                            String at = at(bits, signed, n, first) + " fill=" + codes[0] + "," + codes[n > 1 ? 1 : 0];
                            byte[] expected = new byte[(int) (((first + n) * bits + 7) / 8)];
                            PackBits.write(expected, first, bits, codes);
                            byte[] packed = new byte[expected.length];
                            k.pack(codes, 0, n, bits, packed, first);
                            assertThat(packed).as("pack " + at).isEqualTo(expected);
                            int[] back = new int[n];
                            k.unpack(packed, first, bits, signed, back, 0, n);
                            assertThat(back).as("unpack " + at).isEqualTo(codes);
                        }
                    }
                }
            }
        }
    }

    @Test
    void unsignedEightBitBytesKeepTheirBitPattern() {
        byte[] packed = new byte[300];
        for (int i = 0; i < packed.length; i++) {
            packed[i] = (byte) (i * 7);
        }
        int[] u = new int[300];
        k.unpack(packed, 0, 8, false, u, 0, 300);
        byte[] b = new byte[300];
        k.unpackToBytes(packed, 0, 8, false, b, 0, 300);
        for (int i = 0; i < 300; i++) {
            assertThat(u[i]).as("unsigned 8-bit code %d", i).isEqualTo((i * 7) & 0xFF);
            assertThat(b[i] & 0xFF).as("unsigned 8-bit byte %d", i).isEqualTo((i * 7) & 0xFF);
        }
    }
}

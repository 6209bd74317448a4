package lowbit.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import lowbit.tensor.simd.PackBits;
import org.junit.jupiter.api.Test;

/**
 * The validated bulk facade of {@link PackedInts}: byte-exact examples worked out by hand from the documented layout,
 * agreement with the single-code {@code get}/{@code set}, and every rejected argument.
 */
class PackedIntsTest {

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    @Test
    void handWorkedExamples() {
        // 4-bit: code 2j is the low nibble of byte j.
        assertThat(PackedInts.pack(new int[] {1, 2, 3}, 4, false)).containsExactly(bytes(0x21, 0x03));
        // 3-bit 1,2,3 -> stream bits 100 010 110 (bit 0 first) -> byte 0 = bits 1,0,0,0,1,0,1,1 = 0xD1; bit 8 = 0.
        assertThat(PackedInts.pack(new int[] {1, 2, 3}, 3, false)).containsExactly(bytes(0xD1, 0x00));
        // 2-bit 0,1,2,3 at bit pairs 0-1, 2-3, 4-5, 6-7 -> 0b11_10_01_00.
        assertThat(PackedInts.pack(new int[] {0, 1, 2, 3}, 2, false)).containsExactly(bytes(0xE4));
        // 1-bit: bit i of the stream is code i.
        assertThat(PackedInts.pack(new int[] {1, 0, 1, 1, 0, 0, 0, 0, 1}, 1, false)).containsExactly(bytes(0x0D, 0x01));
        // signed 4-bit -1, -8, 7 -> nibbles F, 8, 7.
        assertThat(PackedInts.pack(new int[] {-1, -8, 7}, 4, true)).containsExactly(bytes(0x8F, 0x07));
        // 5-bit 31, 1: bits 0-4 set, then bit 5.
        assertThat(PackedInts.pack(new int[] {31, 1}, 5, false)).containsExactly(bytes(0x3F, 0x00));
        // 6-bit 63, 0, 42 (101010), 1: bits 0-5; 42 at bits 12-17 sets 13, 15, 17; 1 at bit 18.
        assertThat(PackedInts.pack(new int[] {63, 0, 42, 1}, 6, false)).containsExactly(bytes(0x3F, 0xA0, 0x06));
        // signed 7-bit -64 (1000000) then 63 (0111111) at bits 7-13: bits 6, 7 in byte 0; bits 8-12 in byte 1.
        assertThat(PackedInts.pack(new int[] {-64, 63}, 7, true)).containsExactly(bytes(0xC0, 0x1F));
        // signed 8-bit is plain two's complement bytes.
        assertThat(PackedInts.pack(new int[] {-1, 127, -128}, 8, true)).containsExactly(bytes(0xFF, 0x7F, 0x80));

        assertThat(PackedInts.unpack(bytes(0x21, 0x03), 3, 4, false)).containsExactly(1, 2, 3);
        assertThat(PackedInts.unpack(bytes(0xD1, 0x00), 3, 3, false)).containsExactly(1, 2, 3);
        assertThat(PackedInts.unpack(bytes(0x8F, 0x07), 3, 4, true)).containsExactly(-1, -8, 7);
        assertThat(PackedInts.unpack(bytes(0xC0, 0x1F), 2, 7, true)).containsExactly(-64, 63);
        assertThat(PackedInts.unpack(bytes(0xFF, 0x7F, 0x80), 3, 8, false)).containsExactly(255, 127, 128);
        // mid-byte start: codes 1.. of 0x21, 0x03 as 4-bit are 2, 3
        int[] two = new int[2];
        PackedInts.unpack(bytes(0x21, 0x03), 1, 4, false, two, 0, 2);
        assertThat(two).containsExactly(2, 3);
    }

    @Test
    void bulkAgreesWithSingleCodeAccessAndKeepsNeighbours() {
        Random r = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            for (int bits = 1; bits <= 8; bits++) {
                for (boolean signed : new boolean[] {false, true}) {
                    int n = 517;
                    long first = 5;
                    int[] codes = PackBits.randomCodes(r, n, bits, signed);
                    MemorySegment seg = arena.allocate(PackedInts.byteSize(first + n + 3, bits));
                    seg.fill((byte) 0x5A);
                    byte[] before = seg.toArray(ValueLayout.JAVA_BYTE);
                    PackedInts.pack(codes, 0, n, bits, signed, seg, first);
                    for (int i = 0; i < n; i++) {
                        assertThat(PackedInts.get(seg, first + i, bits, signed)).as("%d-bit code %d", bits, i)
                                .isEqualTo(codes[i]);
                    }
                    byte[] after = seg.toArray(ValueLayout.JAVA_BYTE);
                    for (long c = 0; c < first; c++) {
                        assertThat(PackBits.code(after, c, bits, false)).as("code %d before", c)
                                .isEqualTo(PackBits.code(before, c, bits, false));
                    }
                    for (long c = first + n; c < first + n + 3; c++) {
                        assertThat(PackBits.code(after, c, bits, false)).as("code %d after", c)
                                .isEqualTo(PackBits.code(before, c, bits, false));
                    }
                    int[] back = new int[n];
                    PackedInts.unpack(seg, first, bits, signed, back, 0, n);
                    assertThat(back).isEqualTo(codes);
                    byte[] asBytes = new byte[n];
                    PackedInts.unpackToBytes(seg, first, bits, signed, asBytes, 0, n);
                    byte[] asBytesFromArray = new byte[n];
                    PackedInts.unpackToBytes(after, first, bits, signed, asBytesFromArray, 0, n);
                    for (int i = 0; i < n; i++) {
                        assertThat(asBytes[i]).isEqualTo((byte) codes[i]);
                    }
                    assertThat(asBytesFromArray).isEqualTo(asBytes);

                    byte[] arr = before.clone();
                    PackedInts.pack(codes, 0, n, bits, signed, arr, first);
                    assertThat(arr).isEqualTo(after);
                    int[] fromArr = new int[n + 1];
                    PackedInts.unpack(arr, first, bits, signed, fromArr, 1, n);
                    assertThat(java.util.Arrays.copyOfRange(fromArr, 1, n + 1)).isEqualTo(codes);
                }
            }
        }
    }

    @Test
    void packedSizeIsCeilOfBits() {
        assertThat(PackedInts.pack(new int[0], 3, false)).isEmpty();
        assertThat(PackedInts.pack(new int[9], 3, false)).hasSize(4); // 27 bits
        assertThat(PackedInts.pack(new int[8], 1, false)).hasSize(1);
        assertThat(PackedInts.pack(new int[9], 1, false)).hasSize(2);
        assertThat(PackedInts.byteSize(3, 7)).isEqualTo(3); // 21 bits
        assertThat(PackedInts.unpack(new byte[0], 0, 5, true)).isEmpty();
    }

    @Test
    void rejectsBadWidthsAndCodesNamingThem() {
        assertThatThrownBy(() -> PackedInts.pack(new int[] {0}, 0, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got 0");
        assertThatThrownBy(() -> PackedInts.unpack(new byte[4], 1, 9, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got 9");
        assertThatThrownBy(() -> PackedInts.pack(new int[] {0, 15, 16}, 4, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("index 2").hasMessageContaining("16").hasMessageContaining("[0, 15]");
        assertThatThrownBy(() -> PackedInts.pack(new int[] {-4, 3, -5}, 3, true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("index 2").hasMessageContaining("-5").hasMessageContaining("[-4, 3]");
        assertThatThrownBy(() -> PackedInts.pack(new int[] {-1}, 8, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> PackedInts.pack(new int[] {Integer.MAX_VALUE}, 8, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(String.valueOf(Integer.MAX_VALUE));
        assertThatThrownBy(() -> PackedInts.pack(new int[] {Integer.MIN_VALUE}, 1, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(String.valueOf(Integer.MIN_VALUE));
        // an out-of-range code outside the packed range is not looked at
        byte[] dst = new byte[1];
        PackedInts.pack(new int[] {99, 1, 1}, 1, 2, 4, false, dst, 0);
        assertThat(dst).containsExactly(bytes(0x11));
        // a bad code leaves the destination untouched
        byte[] untouched = bytes(0x5A, 0x5A);
        assertThatThrownBy(() -> PackedInts.pack(new int[] {1, 2, 40}, 0, 3, 4, false, untouched, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("index 2");
        assertThat(untouched).containsExactly(bytes(0x5A, 0x5A));
    }

    @Test
    void rejectsBadRangesNamingTheSizes() {
        // 3 codes of 4 bits need 2 bytes
        assertThatThrownBy(() -> PackedInts.unpack(new byte[1], 3, 4, false))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("1 bytes").hasMessageContaining("need 2");
        // codes [5, 8) of 3 bits = bits [15, 24): 3 bytes
        assertThatThrownBy(() -> PackedInts.pack(new int[3], 0, 3, 3, false, new byte[2], 5))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("2 bytes").hasMessageContaining("need 3");
        assertThatThrownBy(() -> PackedInts.unpack(new byte[8], 0, 4, false, new int[3], 1, 3))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("length 3");
        assertThatThrownBy(() -> PackedInts.unpack(new byte[8], -1, 4, false, new int[3], 0, 3))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("first = -1");
        assertThatThrownBy(() -> PackedInts.unpack(new byte[8], 0, 4, false, new int[3], 0, -2))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("-2");
        assertThatThrownBy(() -> PackedInts.unpack(new byte[8], -3, 4, false))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("-3");
        assertThatThrownBy(() -> PackedInts.pack(new int[4], -1, 2, 2, false, new byte[4], 0))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> PackedInts.pack(new int[4], 3, 2, 2, false, new byte[4], 0))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("length 4");
        assertThatThrownBy(() -> PackedInts.unpackToBytes(new byte[2], 0, 5, true, new byte[4], 0, 4))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("2 bytes").hasMessageContaining("need 3");
        assertThatThrownBy(() -> PackedInts.unpack(new byte[8], Long.MAX_VALUE - 1, 4, false, new int[3], 0, 3))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("overflow");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(3);
            assertThatThrownBy(() -> PackedInts.unpack(s, 0, 5, false, new int[5], 0, 5))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("3 bytes").hasMessageContaining("need 4");
            assertThatThrownBy(() -> PackedInts.pack(new int[5], 0, 5, 5, false, s, 0))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("3 bytes");
            MemorySegment ro = s.asReadOnly();
            assertThatThrownBy(() -> PackedInts.pack(new int[] {1}, 0, 1, 5, false, ro, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("read-only");
            assertThat(s.toArray(ValueLayout.JAVA_BYTE)).containsExactly(0, 0, 0);
            // reading from a read-only segment is fine
            int[] out = new int[4];
            PackedInts.unpack(ro, 0, 5, false, out, 0, 4);
            assertThat(out).containsExactly(0, 0, 0, 0);
        }
        // zero codes need no bytes, even past the end
        PackedInts.unpack(new byte[0], 100, 3, false, new int[0], 0, 0);
    }
}

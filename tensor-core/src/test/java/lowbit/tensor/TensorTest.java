package lowbit.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TensorTest {
    @TempDir
    Path tmp;

    @Test
    void floatTensorsStoreLittleEndianAndRoundTrip() {
        Tensor t = Tensor.ofFloats(new float[] {1f, -2.5f, 3f, 0.1f, 5f, 6f}, 2, 3);
        assertThat(t.shape()).isEqualTo(Shape.of(2, 3));
        assertThat(t.byteSize()).isEqualTo(24);
        assertThat(t.toFloatArray()).containsExactly(1f, -2.5f, 3f, 0.1f, 5f, 6f);
        // 1.0f = 0x3F800000: little-endian bytes 00 00 80 3F
        assertThat(t.segment().get(ValueLayout.JAVA_BYTE, 2)).isEqualTo((byte) 0x80);
        assertThat(t.segment().get(ValueLayout.JAVA_BYTE, 3)).isEqualTo((byte) 0x3F);
        assertThat(t.getFloat(t.shape().flatIndex(1, 1))).isEqualTo(5f);
    }

    @Test
    void halfTensorsRoundToNearestEven() {
        // 1 + 2^-11 lies exactly between the halves 1 and 1 + 2^-10: ties to even gives 1.0.
        float tie = 1f + 0x1p-11f;
        // bf16 has 7 fraction bits: 1 + 2^-8 is the tie between 1 and 1 + 2^-7, and rounds to 1.0;
        // 1 + 3·2^-8 is the tie between 1 + 2^-7 (odd) and 1 + 2^-6 (even), and rounds up.
        Tensor h = Tensor.ofFloats(DType.F16, new float[] {tie, 65504f, -0f}, Shape.of(3));
        assertThat(h.getFloat(0)).isEqualTo(1f);
        assertThat(h.getFloat(1)).isEqualTo(65504f);
        assertThat(Float.floatToRawIntBits(h.getFloat(2))).isEqualTo(0x80000000);
        Tensor b = Tensor.ofFloats(DType.BF16, new float[] {1f + 0x1p-8f, 1f + 3 * 0x1p-8f, Float.NaN}, Shape.of(3));
        assertThat(b.getFloat(0)).isEqualTo(1f);
        assertThat(b.getFloat(1)).isEqualTo(1f + 0x1p-6f);
        assertThat(b.getFloat(2)).isNaN();
        assertThat(b.byteSize()).isEqualTo(6);
    }

    @Test
    void packedCodesRoundTripForEveryWidth() {
        Random r = new Random(42);
        for (int bits = 1; bits <= 8; bits++) {
            for (boolean signed : new boolean[] {true, false}) {
                DType d = DType.integer(bits, signed);
                int n = 37;
                int[] codes = new int[n];
                for (int i = 0; i < n; i++) {
                    codes[i] = d.minCode() + r.nextInt(d.maxCode() - d.minCode() + 1);
                }
                Tensor t = Tensor.ofCodes(d, codes, Shape.of(n));
                assertThat(t.byteSize()).isEqualTo((n * bits + 7) / 8);
                assertThat(t.toIntArray()).as("%s", d).containsExactly(codes);
            }
        }
        // 4-bit layout from the definition: code 2j is the low nibble of byte j.
        Tensor u4 = Tensor.ofCodes(DType.U4, new int[] {1, 2, 3}, Shape.of(3));
        assertThat(u4.segment().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x21);
        assertThat(u4.segment().get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 0x03);
    }

    @Test
    void rowViewsShareStorage() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(DType.F32, Shape.of(4, 5), arena);
            assertThat(t.segment().address() % Tensor.ALIGNMENT).isZero();
            for (int i = 0; i < 20; i++) {
                t.setFloat(i, i);
            }
            Tensor row2 = t.row(2);
            assertThat(row2.shape()).isEqualTo(Shape.of(5));
            assertThat(row2.toFloatArray()).containsExactly(10f, 11f, 12f, 13f, 14f);
            row2.setFloat(0, -1f);
            assertThat(t.getFloat(10)).isEqualTo(-1f);
            Tensor mid = t.rows(1, 3);
            assertThat(mid.shape()).isEqualTo(Shape.of(2, 5));
            assertThat(mid.getFloat(0)).isEqualTo(5f);
            assertThat(t.reshape(Shape.of(20)).getFloat(19)).isEqualTo(19f);
            assertThat(t.rows(4, 4).numel()).isZero();
        }
    }

    @Test
    void packedRowViewsMustStartOnAByte() {
        Tensor t = Tensor.ofCodes(DType.U4, new int[12], Shape.of(4, 3)); // 12 bits per row
        assertThat(t.row(2).byteSize()).isEqualTo(2); // row 2 starts at bit 24
        assertThatThrownBy(() -> t.row(1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("byte boundary");
    }

    @Test
    void badInputIsRejectedWithTheValue() {
        assertThatThrownBy(() -> Tensor.ofFloats(new float[5], 2, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("5").hasMessageContaining("[2, 3]");
        assertThatThrownBy(() -> Tensor.ofCodes(DType.U3, new int[] {0, 8}, Shape.of(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("index 1").hasMessageContaining("8");
        assertThatThrownBy(() -> Tensor.ofCodes(DType.I2, new int[] {-3}, Shape.of(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-3");
        assertThatThrownBy(() -> Tensor.ofCodes(DType.F32, new int[1], Shape.of(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Tensor.ofFloats(DType.U8, new float[1], Shape.of(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Tensor.wrap(MemorySegment.ofArray(new byte[15]), DType.F32, Shape.of(4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16").hasMessageContaining("15");
        Tensor f = Tensor.ofFloats(new float[4], 4);
        assertThatThrownBy(() -> f.getFloat(4)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> f.getInt(0)).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> f.row(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank");
        assertThatThrownBy(() -> f.reshape(Shape.of(5))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Tensor.ofCodes(DType.U8, new int[1], Shape.of(1)).setFloat(0, 1f))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("U8");
    }

    @Test
    void mappedRegionsAreCheckedAgainstTheFile() throws IOException {
        Path f = tmp.resolve("w.bin");
        byte[] bytes = new byte[40];
        MemorySegment.ofArray(bytes).setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 3, 7.5f);
        Files.write(f, bytes);
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.map(f, 4, DType.F32, Shape.of(2, 4), arena); // bytes 4..36
            assertThat(t.isReadOnly()).isTrue();
            assertThat(t.getFloat(2)).isEqualTo(7.5f);
            assertThat(t.toString()).contains("mapped").contains("read-only");
            assertThatThrownBy(() -> t.setFloat(0, 1f)).isInstanceOf(UnsupportedOperationException.class);
            assertThatThrownBy(() -> Tensor.map(f, 12, DType.F32, Shape.of(2, 4), arena))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("[12, 44)").hasMessageContaining("40 bytes")
                    .satisfies(e -> assertThat(e.getMessage()).contains("w.bin"));
            assertThatThrownBy(() -> Tensor.map(f, 41, DType.U8, Shape.of(0), arena)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> Tensor.map(f, -1, DType.U8, Shape.of(1), arena))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        }
    }

    /** More than 2^31 elements, on a sparse file (only the touched pages take disk space). */
    @Test
    void tensorsLargerThanTwoToThe31ElementsWork() throws IOException {
        long n = (1L << 31) + 78;           // U4 codes: 2^30 + 39 bytes
        long last = n - 1;                  // odd: the high nibble of byte last/2
        Path f = tmp.resolve("big.bin");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(DType.U4.byteSize(n));
            raf.seek(last / 2);
            raf.write(0xB0);
            raf.seek((1L << 31) / 2);        // element 2^31 is even: the low nibble of byte 2^30
            raf.write(0x0C);
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.map(f, 0, DType.U4, Shape.of(n), arena);
            assertThat(t.numel()).isGreaterThan(Integer.MAX_VALUE);
            assertThat(t.getInt(last)).isEqualTo(0xB);
            assertThat(t.getInt(last - 1)).isZero();
            assertThat(t.getInt(1L << 31)).isEqualTo(0xC);
            assertThat(t.getInt((1L << 31) + 1)).isZero();
            assertThatThrownBy(t::toIntArray).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining(Long.toString(n));
            // The same file as a matrix of rows of 8 codes (4 bytes): a row view past element 2^31.
            Tensor grid = Tensor.map(f, 0, DType.U4, Shape.of((1L << 31) / 8 + 9, 8), arena);
            Tensor row = grid.row((1L << 31) / 8);
            assertThat(row.getInt(0)).isEqualTo(0xC);
            assertThat(grid.rows((1L << 31) / 8, (1L << 31) / 8 + 9).getInt(9 * 8 - 1)).isZero();
        }
    }
}

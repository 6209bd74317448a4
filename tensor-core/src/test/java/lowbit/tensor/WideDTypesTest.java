package lowbit.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The dtypes added for model files: F64, I16, I32, I64, BOOL, F8_E4M3, F8_E5M2. */
class WideDTypesTest {
    @Test
    void widthsKindsAndRanges() {
        assertThat(DType.F64.bits()).isEqualTo(64);
        assertThat(DType.I16.bits()).isEqualTo(16);
        assertThat(DType.I32.bits()).isEqualTo(32);
        assertThat(DType.I64.bits()).isEqualTo(64);
        assertThat(DType.BOOL.bits()).isEqualTo(8);
        assertThat(DType.F8_E4M3.bits()).isEqualTo(8);
        assertThat(DType.F64.isFloatingPoint()).isTrue();
        assertThat(DType.F64.isComputeFloat()).isFalse();
        assertThat(DType.F8_E5M2.isFloatingPoint()).isTrue();
        assertThat(DType.BF16.isComputeFloat()).isTrue();
        assertThat(DType.I64.isInteger()).isTrue();
        assertThat(DType.BOOL.isInteger()).isFalse();
        assertThat(DType.BOOL.isBool()).isTrue();
        assertThat(DType.BOOL.isFloatingPoint()).isFalse();
        assertThat(DType.I16.minCode()).isEqualTo(-32768);
        assertThat(DType.I16.maxCode()).isEqualTo(32767);
        assertThat(DType.I32.minCode()).isEqualTo(Integer.MIN_VALUE);
        assertThat(DType.I32.maxCode()).isEqualTo(Integer.MAX_VALUE);
        assertThat(DType.BOOL.minCode()).isZero();
        assertThat(DType.BOOL.maxCode()).isEqualTo(1);
        assertThatThrownBy(DType.I64::maxCode).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("I64");
        assertThatThrownBy(DType.F64::minCode).isInstanceOf(UnsupportedOperationException.class);
        assertThat(DType.F64.byteSize(3)).isEqualTo(24);
        assertThat(DType.I16.elementBytes()).isEqualTo(2);
        assertThat(DType.U4.elementBytes()).isZero();
        // the packed-code lookup is unchanged
        assertThat(DType.integer(8, true)).isEqualTo(DType.I8);
    }

    @Test
    void integersAreLittleEndianTwosComplement() {
        Tensor i16 = Tensor.ofCodes(DType.I16, new int[] {0x0102, -2}, Shape.of(2));
        assertThat(i16.segment().toArray(ValueLayout.JAVA_BYTE)).containsExactly(0x02, 0x01, 0xFE, 0xFF);
        Tensor i32 = Tensor.ofCodes(DType.I32, new int[] {0x01020304, Integer.MIN_VALUE}, Shape.of(2));
        assertThat(i32.segment().toArray(ValueLayout.JAVA_BYTE)).containsExactly(4, 3, 2, 1, 0, 0, 0, 0x80);
        assertThat(i32.toIntArray()).containsExactly(0x01020304, Integer.MIN_VALUE);
        Tensor i64 = Tensor.ofCodes(DType.I64, new int[] {-1, 5}, Shape.of(2));
        assertThat(i64.segment().toArray(ValueLayout.JAVA_BYTE))
                .containsExactly(-1, -1, -1, -1, -1, -1, -1, -1, 5, 0, 0, 0, 0, 0, 0, 0);
        assertThat(i64.getLong(0)).isEqualTo(-1L);
        assertThat(i64.getLong(1)).isEqualTo(5L);
        i64.segment().set(ValueLayout.JAVA_BYTE, 15, (byte) 0x40);
        assertThat(i64.getLong(1)).isEqualTo(0x4000_0000_0000_0005L);
        assertThatThrownBy(() -> i64.getInt(0)).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("getLong");
        assertThatThrownBy(i64::toIntArray).isInstanceOf(UnsupportedOperationException.class);
        assertThat(i16.getLong(1)).isEqualTo(-2L);
    }

    @Test
    void settersCheckRanges() {
        Tensor i16 = Tensor.ofCodes(DType.I16, new int[3], Shape.of(3));
        i16.setInt(2, -32768);
        assertThat(i16.getInt(2)).isEqualTo(-32768);
        assertThatThrownBy(() -> i16.setInt(0, 32768)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("32768");
        assertThatThrownBy(() -> Tensor.ofCodes(DType.I16, new int[] {0, 70000}, Shape.of(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("codes[1] = 70000");
        Tensor i64 = Tensor.ofCodes(DType.I64, new int[2], Shape.of(2));
        i64.setInt(1, Integer.MIN_VALUE);
        assertThat(i64.getLong(1)).isEqualTo(Integer.MIN_VALUE);
    }

    @Test
    void boolReadsAnyNonZeroByteAsTrue() {
        Tensor b = Tensor.ofCodes(DType.BOOL, new int[] {1, 0, 1}, Shape.of(3));
        assertThat(b.segment().toArray(ValueLayout.JAVA_BYTE)).containsExactly(1, 0, 1);
        b.segment().set(ValueLayout.JAVA_BYTE, 1, (byte) 0x7F);
        assertThat(b.toIntArray()).containsExactly(1, 1, 1);
        b.setInt(0, 0);
        assertThat(b.getInt(0)).isZero();
        assertThatThrownBy(() -> b.setInt(0, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Tensor.ofCodes(DType.BOOL, new int[] {2}, Shape.of(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.getFloat(0)).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> Tensor.ofFloats(DType.BOOL, new float[1], Shape.of(1))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void f64IsExactAsDoubleAndRoundedAsFloat() {
        Tensor t = Tensor.ofFloats(DType.F64, new float[] {1.5f, -0f, Float.MIN_VALUE}, Shape.of(3));
        assertThat(t.segment().toArray(ValueLayout.JAVA_BYTE)).startsWith(0, 0, 0, 0, 0, 0, (byte) 0xF8, 0x3F);
        assertThat(t.getDouble(0)).isEqualTo(1.5);
        assertThat(Double.doubleToRawLongBits(t.getDouble(1))).isEqualTo(Double.doubleToRawLongBits(-0.0));
        assertThat(t.toFloatArray()).containsExactly(1.5f, -0f, Float.MIN_VALUE);
        // 1 + 2^-30 is not a float: getFloat rounds to nearest (1.0), getDouble is exact
        t.segment().set(ValueLayout.JAVA_DOUBLE_UNALIGNED, 0, 1 + 0x1p-30);
        assertThat(t.getFloat(0)).isEqualTo(1.0f);
        assertThat(t.getDouble(0)).isEqualTo(1 + 0x1p-30);
        t.setFloat(2, 3.25f);
        assertThat(t.getDouble(2)).isEqualTo(3.25);
    }

    /** The OCP FP8 definitions, evaluated independently in double: (−1)^s·2^(e−bias)·(1 + m/2^M), subnormal at e = 0. */
    private static double reference(int b, int expBits, int manBits, boolean fn) {
        int s = b >>> 7 & 1;
        int e = b >>> manBits & ((1 << expBits) - 1);
        int m = b & ((1 << manBits) - 1);
        int bias = (1 << (expBits - 1)) - 1;
        int maxE = (1 << expBits) - 1;
        double sign = s == 1 ? -1 : 1;
        if (fn && e == maxE && m == (1 << manBits) - 1) {
            return Double.NaN;
        }
        if (!fn && e == maxE) {
            return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        }
        double frac = (double) m / (1 << manBits);
        return sign * (e == 0 ? Math.scalb(frac, 1 - bias) : Math.scalb(1 + frac, e - bias));
    }

    @Test
    void fp8DecodesEveryByteAsDefined() {
        for (int b = 0; b < 256; b++) {
            float e4 = Fp8.e4m3ToFloat((byte) b);
            float e5 = Fp8.e5m2ToFloat((byte) b);
            double r4 = reference(b, 4, 3, true);
            double r5 = reference(b, 5, 2, false);
            if (Double.isNaN(r4)) {
                assertThat(e4).as("E4M3 byte %02x", b).isNaN();
                assertThat(Float.floatToRawIntBits(e4) >>> 31).isEqualTo(b >>> 7);
            } else {
                assertThat(Float.floatToRawIntBits(e4)).as("E4M3 byte %02x", b).isEqualTo(Float.floatToRawIntBits((float) r4));
            }
            if (Double.isNaN(r5)) {
                assertThat(e5).as("E5M2 byte %02x", b).isNaN();
            } else {
                assertThat(Float.floatToRawIntBits(e5)).as("E5M2 byte %02x", b).isEqualTo(Float.floatToRawIntBits((float) r5));
            }
        }
        // landmarks of the formats
        assertThat(Fp8.e4m3ToFloat((byte) 0x7E)).isEqualTo(448f);
        assertThat(Fp8.e4m3ToFloat((byte) 0x78)).isEqualTo(256f);
        assertThat(Fp8.e4m3ToFloat((byte) 0x38)).isEqualTo(1f);
        assertThat(Fp8.e4m3ToFloat((byte) 0x01)).isEqualTo(0x1p-9f);
        assertThat(Fp8.e4m3ToFloat((byte) 0xC0)).isEqualTo(-2f);
        assertThat(Fp8.e5m2ToFloat((byte) 0x7B)).isEqualTo(57344f);
        assertThat(Fp8.e5m2ToFloat((byte) 0x7C)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Fp8.e5m2ToFloat((byte) 0x01)).isEqualTo(0x1p-16f);
    }

    @Test
    void fp8TensorsDecodeButDoNotEncode() {
        Tensor t = Tensor.wrap(java.lang.foreign.MemorySegment.ofArray(new byte[] {0x38, (byte) 0xC0}), DType.F8_E4M3,
                Shape.of(2));
        assertThat(t.toFloatArray()).containsExactly(1f, -2f);
        assertThat(t.getDouble(1)).isEqualTo(-2.0);
        assertThatThrownBy(() -> t.setFloat(0, 1f)).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("encode");
        assertThatThrownBy(() -> Tensor.ofFloats(DType.F8_E5M2, new float[1], Shape.of(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("encode");
    }
}

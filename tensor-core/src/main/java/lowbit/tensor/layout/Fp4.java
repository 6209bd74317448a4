package lowbit.tensor.layout;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * bitsandbytes' FP4: a 4-bit float, bit 3 the sign, bits 2..1 an exponent e and bit 0 a mantissa bit m, with the raw
 * value 2^(4 − e)·(1 + m/2) for e = 1..3 and m·0.0625 for e = 0 (so codes 0..7 are 0, 0.0625, 8, 12, 4, 6, 2, 3),
 * normalized to [−1, 1] by dividing by 12; codes 8..15 are the negatives (code 8 is −0). Ŵ = FP4[q]·absmax per block
 * (see {@link Codebook4Matrix} for blocks, packing and encoding). The table, float32 raw/12: 0, 0.0052083335,
 * 0.6666667, 1, 0.33333334, 0.5, 0.16666667, 0.25 and their negatives (bitsandbytes' {@code get_4bit_type("fp4")}
 * and the CUDA dequantization LUT).
 *
 * <p>Encoding (bitsandbytes' {@code dQuantizeFP4}): sign bit 8 when the scaled value is &lt; 0, then |v| goes
 * through the CUDA tree, whose thresholds are decimal approximations of the magnitude midpoints and are reproduced as
 * written there: 0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333 (|v| above the k-th
 * threshold takes the (k+1)-th smallest magnitude, equal takes the lower); NaN gives code 0.
 */
public final class Fp4 extends Codebook4Matrix {
    private static final float[] TABLE = new float[16];
    /** The CUDA tree's thresholds over |v|, ascending. */
    private static final float[] THRESHOLDS = {
        0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f
    };
    /** Code (without sign) of the k-th smallest magnitude. */
    private static final int[] RANK_TO_CODE = {0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011};

    static {
        float[] raw = {0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f};
        for (int k = 0; k < 8; k++) {
            TABLE[k] = raw[k] / 12f;
            TABLE[k + 8] = -raw[k] / 12f;
        }
    }

    private Fp4(int rows, int cols, int blockSize, MemorySegment codes, float[] absmax, DoubleQuantizedAbsmax dq,
            Outliers outliers) {
        super(rows, cols, blockSize, codes, absmax, dq, outliers);
    }

    /** The FP4 value of a code 0..15. */
    public static float value(int code) {
        return TABLE[code];
    }

    /** The 16 FP4 values (a copy). */
    public static float[] values() {
        return TABLE.clone();
    }

    /** The FP4 code of a value already scaled by 1/absmax (bitsandbytes' {@code dQuantizeFP4}). */
    public static int encodeValue(float scaled) {
        int sign = scaled < 0 ? 0b1000 : 0;
        float a = Math.abs(scaled);
        int rank = 0;
        for (float t : THRESHOLDS) {
            rank += a > t ? 1 : 0;
        }
        return RANK_TO_CODE[rank] + sign;
    }

    /** Encodes w in blocks of {@value Codebook4Matrix#DEFAULT_BLOCK_SIZE} with F32 absmax. */
    public static Fp4 encode(float[] w, int rows, int cols) {
        return encode(w, rows, cols, DEFAULT_BLOCK_SIZE, false);
    }

    /**
     * Encodes w (row-major [rows, cols]) like bitsandbytes' {@code quantize_4bit(A, blocksize, compress_statistics,
     * quant_type="fp4")}.
     *
     * @throws IllegalArgumentException as {@link Nf4#encode(float[], int, int, int, boolean)}
     */
    public static Fp4 encode(float[] w, int rows, int cols, int blockSize, boolean doubleQuant) {
        Encoded e = Codebook4Matrix.encode("fp4", w, rows, cols, blockSize, Fp4::encodeValue);
        if (doubleQuant) {
            return new Fp4(rows, cols, blockSize, e.codes(), null, DoubleQuantizedAbsmax.quantize(e.absmax()), null);
        }
        return new Fp4(rows, cols, blockSize, e.codes(), e.absmax(), null, null);
    }

    /** From stored parts, as {@link Nf4#of(int, int, int, MemorySegment, float[])}. */
    public static Fp4 of(int rows, int cols, int blockSize, MemorySegment packedCodes, float[] absmax) {
        Objects.requireNonNull(absmax, "absmax");
        MemorySegment c = checkStored("fp4", rows, cols, blockSize, packedCodes, absmax, null);
        return new Fp4(rows, cols, blockSize, c, absmax.clone(), null, null);
    }

    /** From stored parts with double-quantized absmax values. */
    public static Fp4 of(int rows, int cols, int blockSize, MemorySegment packedCodes, DoubleQuantizedAbsmax absmax) {
        Objects.requireNonNull(absmax, "absmax");
        MemorySegment c = checkStored("fp4", rows, cols, blockSize, packedCodes, null, absmax);
        return new Fp4(rows, cols, blockSize, c, null, absmax, null);
    }

    @Override
    float[] table() {
        return TABLE;
    }

    @Override
    String typeName() {
        return "fp4";
    }

    @Override
    public Fp4 withOutliers(Outliers outliers) {
        return new Fp4(rows(), cols(), blockSize(), rawCodes(), rawAbsmax(), doubleQuantized(), outliers);
    }
}

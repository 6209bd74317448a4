package lowbit.tensor.layout;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * NF4, QLoRA's 4-bit NormalFloat (Dettmers et al. 2023): 16 values at equal-probability quantiles of N(0, 1) scaled
 * to [−1, 1], with an exact zero; Ŵ = NF4[q]·absmax per block (see {@link Codebook4Matrix} for blocks, packing and
 * encoding). The table (bitsandbytes' {@code get_4bit_type("nf4")}, float32):
 * −1.0, −0.6961928, −0.52507305, −0.39491749, −0.28444138, −0.18477343, −0.091050036, 0, 0.0795803, 0.1609302,
 * 0.2461123, 0.33791524, 0.44070983, 0.562617, 0.72295684, 1.0.
 *
 * <p>Encoding (bitsandbytes' {@code dQuantizeNF4}): the code is the number of thresholds T_k strictly below the
 * scaled value, T_k = fl((v_k + v_k+1)/2) the float midpoints of adjacent table values (the constants of the CUDA
 * tree), so a value exactly on a midpoint takes the lower code; NaN gives code 0.
 */
public final class Nf4 extends Codebook4Matrix {
    private static final float[] TABLE = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
        -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
        0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f,
        1.0f
    };
    private static final float[] THRESHOLDS = new float[15];

    static {
        for (int k = 0; k < 15; k++) {
            THRESHOLDS[k] = (TABLE[k] + TABLE[k + 1]) / 2f;
        }
    }

    private Nf4(int rows, int cols, int blockSize, MemorySegment codes, float[] absmax, DoubleQuantizedAbsmax dq,
            Outliers outliers) {
        super(rows, cols, blockSize, codes, absmax, dq, outliers);
    }

    /** The NF4 value of a code 0..15. */
    public static float value(int code) {
        return TABLE[code];
    }

    /** The 16 NF4 values (a copy). */
    public static float[] values() {
        return TABLE.clone();
    }

    /** The 15 decision thresholds, ascending (a copy). */
    public static float[] thresholds() {
        return THRESHOLDS.clone();
    }

    /** The NF4 code of a value already scaled by 1/absmax (bitsandbytes' {@code dQuantizeNF4}). */
    public static int encodeValue(float scaled) {
        int q = 0;
        for (float t : THRESHOLDS) {
            q += scaled > t ? 1 : 0;
        }
        return q;
    }

    /** Encodes w in blocks of {@value Codebook4Matrix#DEFAULT_BLOCK_SIZE} with F32 absmax. */
    public static Nf4 encode(float[] w, int rows, int cols) {
        return encode(w, rows, cols, DEFAULT_BLOCK_SIZE, false);
    }

    /**
     * Encodes w (row-major [rows, cols]) in blocks of {@code blockSize}, double-quantizing the absmax values
     * ({@link DoubleQuantizedAbsmax#quantize(float[])}) when asked, like bitsandbytes' {@code quantize_4bit(A,
     * blocksize, compress_statistics, quant_type="nf4")}.
     *
     * @throws IllegalArgumentException for a negative shape, a block size below 1, a wrong length, or a NaN or
     *     infinite weight (the message names its row and column)
     */
    public static Nf4 encode(float[] w, int rows, int cols, int blockSize, boolean doubleQuant) {
        Encoded e = Codebook4Matrix.encode("nf4", w, rows, cols, blockSize, Nf4::encodeValue);
        if (doubleQuant) {
            return new Nf4(rows, cols, blockSize, e.codes(), null, DoubleQuantizedAbsmax.quantize(e.absmax()), null);
        }
        return new Nf4(rows, cols, blockSize, e.codes(), e.absmax(), null, null);
    }

    /**
     * From stored parts: packed codes in bitsandbytes' layout (a native segment is used in place, a heap one
     * copied) and one F32 absmax per block (copied).
     *
     * @throws IllegalArgumentException for a short segment, a wrong number of absmax values or a non-finite one
     */
    public static Nf4 of(int rows, int cols, int blockSize, MemorySegment packedCodes, float[] absmax) {
        Objects.requireNonNull(absmax, "absmax");
        MemorySegment c = checkStored("nf4", rows, cols, blockSize, packedCodes, absmax, null);
        return new Nf4(rows, cols, blockSize, c, absmax.clone(), null, null);
    }

    /** As {@link #of(int, int, int, MemorySegment, float[])} with double-quantized absmax values. */
    public static Nf4 of(int rows, int cols, int blockSize, MemorySegment packedCodes, DoubleQuantizedAbsmax absmax) {
        Objects.requireNonNull(absmax, "absmax");
        MemorySegment c = checkStored("nf4", rows, cols, blockSize, packedCodes, null, absmax);
        return new Nf4(rows, cols, blockSize, c, null, absmax, null);
    }

    @Override
    float[] table() {
        return TABLE;
    }

    @Override
    String typeName() {
        return "nf4";
    }

    @Override
    public Nf4 withOutliers(Outliers outliers) {
        return new Nf4(rows(), cols(), blockSize(), rawCodes(), rawAbsmax(), doubleQuantized(), outliers);
    }
}

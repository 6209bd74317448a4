package lowbit.tensor.layout;

import java.util.Arrays;
import java.util.Objects;

/**
 * QLoRA's double quantization of the per-block absmax values of an NF4/FP4 matrix (Dettmers et al. 2023, §3;
 * bitsandbytes' {@code quantize_4bit(..., compress_statistics=True)}): the absmax values a_i (F32) are shifted by
 * their mean, offset = mean(a), and the differences quantized to 8 bits blockwise (256 per block by default) with
 * bitsandbytes' signed dynamic map ({@link #dynamicMap()}, {@code create_dynamic_map(signed=True)}):
 * c_i = nearest(map, (a_i − offset)·(1/s_k)), s_k = max |a_i − offset| over block k. Decoding is
 * a_i = fl(fl(map[c_i]·s_k) + offset), bitsandbytes' {@code dequantize_blockwise} followed by {@code absmax += offset}.
 *
 * <p>Nearest-code selection reproduces the CUDA kernel ({@code dQuantize<0>} in {@code kQuantizeBlockwise}): a binary
 * search over the sorted 256-entry map from pivot 127 (seven halvings), then the midpoint between the final pivot
 * and its neighbour decides, a value equal to the midpoint keeping the pivot. A block whose values all equal the
 * offset has s_k = 0: 0·(1/0) is NaN, which the search maps to code 0, and decoding gives map[0]·0 + offset =
 * offset, as in bitsandbytes. Two documented differences: bitsandbytes' CUDA build uses fast-math, whose approximate
 * reciprocal can move a value lying within an ulp of a midpoint to the neighbouring code, and bitsandbytes computes
 * the mean with a float reduction whose rounding may differ in the last bit from lowbit's (a double sum rounded once).
 * Decoding a file uses its stored offset and map, so it is exact either way.
 *
 * <p>Immutable.
 */
public final class DoubleQuantizedAbsmax {
    /** bitsandbytes' block size for the second-level quantization. */
    public static final int DEFAULT_BLOCK_SIZE = 256;
    /** 10^(i − 6) for i = 0..6 (declared before the map, which uses it). */
    private static final double[] POWERS_OF_TEN = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1};
    private static final float[] DYNAMIC_MAP = createDynamicMap();

    private final byte[] codes;
    private final float[] scales;
    private final float offset;
    private final int blockSize;
    private final float[] map;

    private DoubleQuantizedAbsmax(byte[] codes, float[] scales, float offset, int blockSize, float[] map) {
        this.codes = codes;
        this.scales = scales;
        this.offset = offset;
        this.blockSize = blockSize;
        this.map = map;
    }

    /** Quantizes {@code absmax} in blocks of {@value #DEFAULT_BLOCK_SIZE} with the dynamic map. */
    public static DoubleQuantizedAbsmax quantize(float[] absmax) {
        return quantize(absmax, DEFAULT_BLOCK_SIZE);
    }

    /**
     * Quantizes {@code absmax} in blocks of {@code blockSize} with the dynamic map (see the class comment).
     *
     * @throws IllegalArgumentException for a block size below 1 or a non-finite value (the message names its index)
     */
    public static DoubleQuantizedAbsmax quantize(float[] absmax, int blockSize) {
        Objects.requireNonNull(absmax, "absmax");
        checkBlockSize(blockSize);
        double sum = 0;
        for (int i = 0; i < absmax.length; i++) {
            if (!Float.isFinite(absmax[i])) {
                throw new IllegalArgumentException("double quantization: absmax[" + i + "] is " + absmax[i]);
            }
            sum += absmax[i];
        }
        float offset = absmax.length == 0 ? 0f : (float) (sum / absmax.length);
        int n = absmax.length;
        int blocks = (n + blockSize - 1) / blockSize;
        byte[] codes = new byte[n];
        float[] scales = new float[blocks];
        float[] v = new float[Math.min(n, blockSize)];
        for (int k = 0; k < blocks; k++) {
            int from = k * blockSize;
            int to = Math.min(n, from + blockSize);
            float s = 0;
            for (int i = from; i < to; i++) {
                v[i - from] = absmax[i] - offset;
                s = Math.max(s, Math.abs(v[i - from]));
            }
            scales[k] = s;
            float inv = 1f / s;
            for (int i = from; i < to; i++) {
                codes[i] = (byte) nearest(DYNAMIC_MAP, v[i - from] * inv);
            }
        }
        return new DoubleQuantizedAbsmax(codes, scales, offset, blockSize, DYNAMIC_MAP.clone());
    }

    /**
     * From stored parts (bitsandbytes' {@code absmax} (uint8), {@code nested_absmax}, {@code nested_offset},
     * {@code nested_blocksize}, {@code nested_quant_map}); the arrays are copied.
     *
     * @throws IllegalArgumentException for a block size below 1, {@code blockAbsmax} not of ceil(codes/blockSize)
     *     entries, a map not of 256 entries, or a non-finite offset, scale or map entry
     */
    public static DoubleQuantizedAbsmax of(byte[] codes, float[] blockAbsmax, float offset, int blockSize, float[] map) {
        Objects.requireNonNull(codes, "codes");
        Objects.requireNonNull(blockAbsmax, "blockAbsmax");
        Objects.requireNonNull(map, "map");
        checkBlockSize(blockSize);
        int blocks = (codes.length + blockSize - 1) / blockSize;
        if (blockAbsmax.length != blocks) {
            throw new IllegalArgumentException("double quantization: " + codes.length + " codes in blocks of "
                    + blockSize + " need " + blocks + " block scales, got " + blockAbsmax.length);
        }
        if (map.length != 256) {
            throw new IllegalArgumentException("double quantization: the map must have 256 entries, got " + map.length);
        }
        if (!Float.isFinite(offset)) {
            throw new IllegalArgumentException("double quantization: offset is " + offset);
        }
        checkFinite("block scale", blockAbsmax);
        checkFinite("map entry", map);
        return new DoubleQuantizedAbsmax(codes.clone(), blockAbsmax.clone(), offset, blockSize, map.clone());
    }

    private static void checkBlockSize(int blockSize) {
        if (blockSize < 1) {
            throw new IllegalArgumentException("double quantization: block size must be >= 1, got " + blockSize);
        }
    }

    private static void checkFinite(String what, float[] a) {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                throw new IllegalArgumentException("double quantization: " + what + " " + i + " is " + a[i]);
            }
        }
    }

    /**
     * bitsandbytes' {@code dQuantize<0>}: the code of {@code x} in the sorted 256-entry {@code map} (see the class
     * comment); NaN gives 0.
     */
    static int nearest(float[] map, float x) {
        int pivot = 127;
        int upperPivot = 255;
        int lowerPivot = 0;
        float lower = -1f;
        float upper = 1f;
        float val = map[pivot];
        for (int i = 64; i > 0; i >>= 1) {
            if (x > val) {
                lowerPivot = pivot;
                lower = val;
                pivot += i;
            } else {
                upperPivot = pivot;
                upper = val;
                pivot -= i;
            }
            val = map[pivot];
        }
        if (upperPivot == 255) {
            upper = map[upperPivot];
        }
        if (lowerPivot == 0) {
            lower = map[lowerPivot];
        }
        if (x > val) {
            return x > (upper + val) * 0.5f ? upperPivot : pivot;
        }
        return x < (lower + val) * 0.5f ? lowerPivot : pivot;
    }

    /**
     * bitsandbytes' {@code create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)} (Dettmers 2015, 8-bit
     * approximations): for i = 0..6, the 2^i midpoints of {@code linspace(0.1, 1, 2^i + 1)} scaled by 10^(i−6), with
     * both signs, plus 0 and 1, sorted; in float32 as PyTorch computes it (linspace from both ends: start + step·j for
     * j &lt; steps/2, else end − step·(steps − 1 − j), step = (end − start)/(steps − 1); midpoints (b_j + b_j+1)/2;
     * the scale product in float).
     */
    public static float[] dynamicMap() {
        return DYNAMIC_MAP.clone();
    }

    private static float[] createDynamicMap() {
        float[] data = new float[256];
        int n = 0;
        for (int i = 0; i < 7; i++) {
            int steps = (1 << i) + 1;
            float start = 0.1f;
            float end = 1f;
            float step = (end - start) / (steps - 1);
            float[] b = new float[steps];
            for (int j = 0; j < steps; j++) {
                b[j] = j < steps / 2 ? start + step * j : end - step * (steps - 1 - j);
            }
            float scale = (float) POWERS_OF_TEN[i]; // Python's 10 ** (i − 6), a double, converted to float32
            for (int j = 0; j + 1 < steps; j++) {
                float mean = (b[j] + b[j + 1]) / 2f;
                data[n++] = scale * mean;
                data[n++] = -scale * mean;
            }
        }
        data[n++] = 0f;
        data[n++] = 1f;
        if (n != 256) {
            throw new AssertionError(n);
        }
        Arrays.sort(data);
        return data;
    }

    /** Number of absmax values. */
    public int count() {
        return codes.length;
    }

    /** Values per second-level block. */
    public int blockSize() {
        return blockSize;
    }

    /** The mean subtracted before quantizing. */
    public float offset() {
        return offset;
    }

    /** The 8-bit codes (a copy). */
    public byte[] codes() {
        return codes.clone();
    }

    /** The per-block scales s_k (bitsandbytes' {@code nested_absmax}; a copy). */
    public float[] blockAbsmax() {
        return scales.clone();
    }

    /** The 256-entry map (a copy). */
    public float[] map() {
        return map.clone();
    }

    /** Decoded absmax value i. */
    public float get(int i) {
        Objects.checkIndex(i, codes.length);
        return map[codes[i] & 0xFF] * scales[i / blockSize] + offset;
    }

    /** Decodes values [from, to) into {@code dst[dstOff ..]}. */
    public void decode(int from, int to, float[] dst, int dstOff) {
        Objects.checkFromToIndex(from, to, codes.length);
        Objects.checkFromIndexSize(dstOff, to - from, dst.length);
        for (int i = from; i < to; i++) {
            dst[dstOff + i - from] = map[codes[i] & 0xFF] * scales[i / blockSize] + offset;
        }
    }

    /** All decoded absmax values. */
    public float[] decode() {
        float[] out = new float[codes.length];
        decode(0, codes.length, out, 0);
        return out;
    }

    /** Bytes a file holds for this: one code per value, an F32 scale per block and the F32 offset (not the map). */
    public long byteSize() {
        return codes.length + 4L * scales.length + 4;
    }
}

package lowbit.quant;

import java.util.Objects;

/**
 * A randomized Hadamard rotation R of ℝⁿ (QuaRot, RSQ): R = blockdiag(H_b/√b, …, H_b/√b)·D, where H_b is the
 * b×b Sylvester–Hadamard matrix (H_1 = [1], H_2b = [[H_b, H_b], [H_b, −H_b]]), b a power of two dividing n, and D =
 * diag(±1) random signs drawn from a seed. R is orthogonal (RᵀR = I), so a layer y = W·x is unchanged by
 * W' = W·Rᵀ, x' = R·x: y = W'·x'. Quantizing W' instead of W spreads a few large weights (or activation outliers)
 * over whole blocks, which is why RSQ and QuaRot rotate before GPTQ.
 *
 * <p>Applying R to a vector costs O(n log b): signs, then the fast Walsh–Hadamard transform of each block (in-place
 * butterflies a ± b), then the scale 1/√b. Row i of W' = W·Rᵀ is R applied to row i of W, so the same
 * {@link #apply} rotates weight rows and activations; {@link #applyInverse} (Rᵀ = D·blockdiag(H_b/√b)) undoes it.
 *
 * <p>Block size: the largest power of two that divides n (n itself when n is a power of two; 128 for n = 384 and
 * 512 for 1536), optionally capped. The signs come from a SplitMix64 stream of the seed (one bit per entry, the top
 * bit of each output), so a rotation is reproduced exactly from (n, block, seed) on any JVM. Float arithmetic: each
 * output is a ±1 sum of b inputs times 1/√b, within log2(b)·u·Σ|x| of the exact value.
 */
public final class HadamardRotation {
    private final int size;
    private final int block;
    private final long seed;
    private final float[] signs;
    private final float norm;

    private HadamardRotation(int size, int block, long seed) {
        this.size = size;
        this.block = block;
        this.seed = seed;
        this.signs = new float[size];
        long state = seed;
        for (int i = 0; i < size; i++) {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z = z ^ (z >>> 31);
            signs[i] = z < 0 ? -1f : 1f;
        }
        this.norm = (float) (1 / Math.sqrt(block));
    }

    /**
     * The rotation of ℝ^size with the largest power-of-two block that divides size.
     *
     * @throws IllegalArgumentException for size &lt; 1
     */
    public static HadamardRotation of(int size, long seed) {
        return of(size, Integer.MAX_VALUE, seed);
    }

    /**
     * The rotation of ℝ^size with blocks of the largest power of two that divides size and is at most maxBlock.
     *
     * @throws IllegalArgumentException for size &lt; 1 or maxBlock &lt; 1
     */
    public static HadamardRotation of(int size, int maxBlock, long seed) {
        if (size < 1) {
            throw new IllegalArgumentException("Hadamard rotation: size must be >= 1, got " + size);
        }
        if (maxBlock < 1) {
            throw new IllegalArgumentException("Hadamard rotation: maxBlock must be >= 1, got " + maxBlock);
        }
        int b = Integer.lowestOneBit(size);
        while (b > maxBlock) {
            b >>>= 1;
        }
        return new HadamardRotation(size, b, seed);
    }

    /** Dimension n. */
    public int size() {
        return size;
    }

    /** Block size b (a power of two dividing n). */
    public int block() {
        return block;
    }

    /** The seed of the signs. */
    public long seed() {
        return seed;
    }

    /** The sign D_ii (±1). */
    public float sign(int i) {
        return signs[Objects.checkIndex(i, size)];
    }

    /** v[off .. off+n) ← R·v in place. */
    public void apply(float[] v, int off) {
        Objects.checkFromIndexSize(off, size, v.length);
        for (int i = 0; i < size; i++) {
            v[off + i] *= signs[i];
        }
        for (int b0 = 0; b0 < size; b0 += block) {
            fwht(v, off + b0, block);
        }
        scale(v, off);
    }

    /** v[off .. off+n) ← Rᵀ·v in place (the inverse). */
    public void applyInverse(float[] v, int off) {
        Objects.checkFromIndexSize(off, size, v.length);
        for (int b0 = 0; b0 < size; b0 += block) {
            fwht(v, off + b0, block);
        }
        for (int i = 0; i < size; i++) {
            v[off + i] *= signs[i] * norm;
        }
    }

    /** Applies R to each of the {@code count} consecutive rows of length n in {@code rows} (W ← W·Rᵀ, X ← X·Rᵀ). */
    public void applyToRows(float[] rows, int count) {
        checkRows(rows, count);
        for (int r = 0; r < count; r++) {
            apply(rows, r * size);
        }
    }

    /** Applies Rᵀ to each of the {@code count} consecutive rows of length n. */
    public void applyInverseToRows(float[] rows, int count) {
        checkRows(rows, count);
        for (int r = 0; r < count; r++) {
            applyInverse(rows, r * size);
        }
    }

    private void checkRows(float[] rows, int count) {
        if (count < 0 || (long) count * size > rows.length) {
            throw new IllegalArgumentException("Hadamard rotation: " + count + " rows of " + size + " need "
                    + (long) count * size + " values, the array has " + rows.length);
        }
    }

    private void scale(float[] v, int off) {
        for (int i = 0; i < size; i++) {
            v[off + i] *= norm;
        }
    }

    /**
     * Unnormalized fast Walsh–Hadamard transform of v[off .. off+n), n a power of two: v ← H_n·v (Sylvester order).
     *
     * @throws IllegalArgumentException when n is not a power of two
     */
    public static void fwht(float[] v, int off, int n) {
        if (n < 1 || Integer.bitCount(n) != 1) {
            throw new IllegalArgumentException("fast Walsh-Hadamard transform needs a power-of-two length, got " + n);
        }
        Objects.checkFromIndexSize(off, n, v.length);
        for (int h = 1; h < n; h <<= 1) {
            for (int i = off; i < off + n; i += h << 1) {
                for (int j = i; j < i + h; j++) {
                    float a = v[j];
                    float b = v[j + h];
                    v[j] = a + b;
                    v[j + h] = a - b;
                }
            }
        }
    }

    @Override
    public String toString() {
        return "HadamardRotation[n=" + size + ", block=" + block + ", seed=" + seed + "]";
    }
}

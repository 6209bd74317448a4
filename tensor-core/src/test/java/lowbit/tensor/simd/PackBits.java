package lowbit.tensor.simd;

/**
 * The packed layout written straight from its definition, one bit at a time, for tests: code {@code c} of width n
 * occupies stream bits {@code [c·n, c·n + n)}, and stream bit {@code k} is bit {@code k mod 8} of byte {@code k / 8}.
 * Deliberately nothing like the kernels (no buffers, no masks over whole codes), so that it can judge them.
 */
public final class PackBits {
    private PackBits() {
    }

    /** Stream bit {@code k} of {@code bytes}. */
    public static int bit(byte[] bytes, long k) {
        return (bytes[(int) (k / 8)] >> (int) (k % 8)) & 1;
    }

    /** Sets stream bit {@code k} of {@code bytes} to {@code value} (0 or 1). */
    public static void setBit(byte[] bytes, long k, int value) {
        int b = (int) (k / 8);
        int m = 1 << (int) (k % 8);
        bytes[b] = (byte) (value == 0 ? bytes[b] & ~m : bytes[b] | m);
    }

    /** Code {@code index}: bit j of the code is stream bit index·n + j; signed codes weigh their top bit −2^(n−1). */
    public static int code(byte[] bytes, long index, int bits, boolean signed) {
        int v = 0;
        for (int j = 0; j < bits; j++) {
            int weight = (signed && j == bits - 1) ? -(1 << j) : 1 << j;
            v += bit(bytes, index * bits + j) * weight;
        }
        return v;
    }

    /** Writes {@code codes[i]} as code {@code first + i} into {@code bytes}, bit by bit, touching no other bit. */
    public static void write(byte[] bytes, long first, int bits, int[] codes) {
        for (int i = 0; i < codes.length; i++) {
            for (int j = 0; j < bits; j++) {
                // bit j of the n-bit two's-complement pattern of the code
                setBit(bytes, (first + i) * bits + j, (codes[i] >> j) & 1);
            }
        }
    }

    /** Smallest code of the width: −2^(n−1) signed, 0 unsigned. */
    public static int min(int bits, boolean signed) {
        return signed ? -(1 << (bits - 1)) : 0;
    }

    /** Largest code of the width: 2^(n−1) − 1 signed, 2^n − 1 unsigned. */
    public static int max(int bits, boolean signed) {
        return signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    }

    /** n random codes uniform over the width's range. */
    public static int[] randomCodes(java.util.Random r, int n, int bits, boolean signed) {
        int[] c = new int[n];
        for (int i = 0; i < n; i++) {
            c[i] = min(bits, signed) + r.nextInt(1 << bits);
        }
        return c;
    }
}

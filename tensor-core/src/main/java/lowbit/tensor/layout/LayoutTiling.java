package lowbit.tensor.layout;

/**
 * Task sizes shared by the packed layouts' products ({@link GroupwiseAffine}, {@link Codebook4Matrix}); they depend
 * only on the shape, so results do not depend on the thread count.
 */
final class LayoutTiling {
    private LayoutTiling() {
    }

    /** GEMV rows per task: whole groups of four rows (the kernels' row blocking), about 64K weights. */
    static int gemvGrain(int cols) {
        return Math.max(4, ((1 << 16) / Math.max(1, cols) + 3) & ~3);
    }

    /**
     * GEMM rows of W dequantized per task (n &gt; 8): about 2^20 floats (4 MiB), so that the dense kernel multiplies X
     * by a wide tile (64K-float tiles made it re-pack X every 16 rows: 3x slower at n = 512).
     */
    static int gemmTileRows(int rows, int cols) {
        long g = Math.max(1, (1 << 20) / Math.max(1, cols));
        return (int) Math.min(rows == 0 ? 1 : rows, g >= 8 ? g & ~7L : g);
    }
}

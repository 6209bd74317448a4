package lowbit.nn.sparse;

import java.util.ArrayList;
import java.util.List;

/**
 * An N:M semi-structured sparsity pattern: in every group of M consecutive weights along a row's input dimension, N
 * are kept and M − N pruned (NVIDIA's 2:4 keeps two of every four; Mishra et al. 2021). N counts <em>kept</em>
 * weights, as NVIDIA and MaskLLM write it; note that the {@code prune_n} of the SparseGPT, Wanda and RIA scripts
 * counts pruned ones (the same number for 2:4 and 4:8, the patterns they use).
 *
 * @param n kept weights per group, 1 ≤ n &lt; m
 * @param m group size, 2 ≤ m ≤ 256
 */
public record NmPattern(int n, int m) {
    /** 2:4, the pattern of sparse tensor cores. */
    public static final NmPattern TWO_FOUR = new NmPattern(2, 4);
    /** 4:8. */
    public static final NmPattern FOUR_EIGHT = new NmPattern(4, 8);

    /**
     * @throws IllegalArgumentException unless 1 ≤ n &lt; m ≤ 256
     */
    public NmPattern {
        if (m < 2 || m > 256 || n < 1 || n >= m) {
            throw new IllegalArgumentException("N:M pattern " + n + ":" + m + " needs 1 <= N < M <= 256 (N kept weights "
                    + "in every group of M)");
        }
    }

    /** The pattern N:M. */
    public static NmPattern of(int n, int m) {
        return new NmPattern(n, m);
    }

    /**
     * Parses {@code "2:4"}.
     *
     * @throws IllegalArgumentException for anything else than two integers around a colon, or a bad pattern
     */
    public static NmPattern parse(String s) {
        String[] p = s.trim().split(":");
        if (p.length != 2) {
            throw new IllegalArgumentException("N:M pattern must look like 2:4, got '" + s + "'");
        }
        try {
            return new NmPattern(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("N:M pattern must look like 2:4, got '" + s + "'");
        }
    }

    /** The fraction of weights pruned, 1 − N/M. */
    public double sparsity() {
        return 1 - (double) n / m;
    }

    /** Bits of an in-group index, ⌈log₂ M⌉. */
    public int indexBits() {
        return 32 - Integer.numberOfLeadingZeros(m - 1);
    }

    /**
     * Checks that a [rows, cols] weight can carry the pattern along its columns.
     *
     * @throws IllegalArgumentException when cols is not a multiple of M (or a dimension is negative)
     */
    public void checkShape(int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        }
        if (cols % m != 0) {
            throw new IllegalArgumentException(this + " sparsity needs the input dimension to be a multiple of M = " + m
                    + ", got cols = " + cols);
        }
    }

    /** Number of candidate masks of one group, C(M, N). */
    public long candidateCount() {
        long c = 1;
        for (int i = 0; i < n; i++) {
            c = c * (m - i) / (i + 1);
        }
        return c;
    }

    /**
     * The C(M, N) candidate masks of one group as lists of kept in-group positions, in lexicographic order (for 2:4:
     * {0,1} {0,2} {0,3} {1,2} {1,3} {2,3}, MaskLLM's order of {@code mask_options}).
     *
     * @throws IllegalArgumentException when there are more than {@code limit} candidates
     */
    public int[][] candidates(int limit) {
        long count = candidateCount();
        if (count > limit) {
            throw new IllegalArgumentException(this + " has " + count + " candidate masks per group, more than " + limit);
        }
        List<int[]> out = new ArrayList<>();
        int[] c = new int[n];
        for (int i = 0; i < n; i++) {
            c[i] = i;
        }
        while (true) {
            out.add(c.clone());
            int i = n - 1;
            while (i >= 0 && c[i] == m - n + i) {
                i--;
            }
            if (i < 0) {
                break;
            }
            c[i]++;
            for (int j = i + 1; j < n; j++) {
                c[j] = c[j - 1] + 1;
            }
        }
        return out.toArray(new int[0][]);
    }

    @Override
    public String toString() {
        return n + ":" + m;
    }
}

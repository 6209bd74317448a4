package lowbit.nn.sparse;

/**
 * Selection of the k largest scores with ties broken toward the lower index: the total order "score descending, then
 * index ascending" that every mask of this package uses, so a selection never depends on sorting stability or
 * thread count. Linear time (a quickselect for the k-th largest value on a scratch copy, then one scan).
 */
final class TopK {
    private TopK() {
    }

    /**
     * Marks in {@code keep[keepOff + i]} (for i in [0, len)) whether score {@code s[off + i]} is among the k largest.
     * Scores must be non-NaN (callers validate).
     */
    static void mark(float[] s, int off, int len, int k, boolean[] keep, int keepOff, float[] scratch) {
        if (k <= 0) {
            java.util.Arrays.fill(keep, keepOff, keepOff + len, false);
            return;
        }
        if (k >= len) {
            java.util.Arrays.fill(keep, keepOff, keepOff + len, true);
            return;
        }
        float t = kthLargest(s, off, len, k, scratch);
        int above = 0;
        for (int i = 0; i < len; i++) {
            if (s[off + i] > t) {
                above++;
            }
        }
        int ties = k - above;
        for (int i = 0; i < len; i++) {
            float v = s[off + i];
            boolean take = v > t || (v == t && ties-- > 0);
            keep[keepOff + i] = take;
        }
    }

    /** The selected indices (k of them, ascending) into {@code out}; returns k' = min(k, len). */
    static int select(float[] s, int off, int len, int k, int[] out, float[] scratch) {
        k = Math.max(0, Math.min(k, len));
        if (k == 0) {
            return 0;
        }
        float t = k == len ? Float.NEGATIVE_INFINITY : kthLargest(s, off, len, k, scratch);
        int above = 0;
        if (k < len) {
            for (int i = 0; i < len; i++) {
                if (s[off + i] > t) {
                    above++;
                }
            }
        }
        int ties = k - above;
        int c = 0;
        for (int i = 0; i < len; i++) {
            float v = s[off + i];
            if (k == len || v > t || (v == t && ties-- > 0)) {
                out[c++] = i;
            }
        }
        return c;
    }

    /** The k-th largest of s[off .. off+len) (1 ≤ k ≤ len), on a scratch copy (tensor-quant's quickselect). */
    static float kthLargest(float[] s, int off, int len, int k, float[] scratch) {
        float[] a = scratch != null && scratch.length == len ? scratch : new float[len];
        System.arraycopy(s, off, a, 0, len);
        return lowbit.quant.OutlierSelector.kthLargest(a, k);
    }
}

package lowbit.nn.adapter;

import java.util.SplittableRandom;

/**
 * Inverted dropout on the adapter input ({@code nn.Dropout}): each element is kept with probability 1 − p and then
 * scaled by 1/(1 − p), else zeroed. The mask of one forward pass is a pure function of a per-pass seed drawn from the
 * adapter's seeded generator, so backward regenerates it instead of storing it.
 */
final class Dropout {
    final double p;
    private final SplittableRandom rng;

    Dropout(double p, long seed) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        this.p = p;
        this.rng = new SplittableRandom(seed);
    }

    boolean active() {
        return p > 0;
    }

    long nextSeed() {
        return rng.nextLong();
    }

    /** A new array holding x ⊙ mask/(1 − p) for the first len elements. */
    float[] apply(float[] x, int len, long seed) {
        float[] d = new float[len];
        System.arraycopy(x, 0, d, 0, len);
        maskInPlace(d, len, seed);
        return d;
    }

    /** a ⊙ mask/(1 − p) in place. */
    void maskInPlace(float[] a, int len, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float scale = (float) (1 / (1 - p));
        for (int i = 0; i < len; i++) {
            a[i] = r.nextDouble() < p ? 0f : a[i] * scale;
        }
    }
}

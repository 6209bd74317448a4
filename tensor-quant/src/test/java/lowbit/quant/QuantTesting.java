package lowbit.quant;

import java.util.SplittableRandom;

/** Shared test data. */
final class QuantTesting {
    private QuantTesting() {
    }

    /** Gaussian weights N(0, sigma²) with a few heavy outliers (|w| up to outlierScale·sigma), seeded. */
    static float[] weights(int rows, int cols, long seed, float sigma, int outliers, float outlierScale) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (gaussian(rnd) * sigma);
        }
        for (int k = 0; k < outliers; k++) {
            int i = rnd.nextInt(w.length);
            w[i] = (float) ((rnd.nextBoolean() ? 1 : -1) * (0.5 + 0.5 * rnd.nextDouble()) * outlierScale * sigma);
        }
        return w;
    }

    static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    /** Σ (a − b)² in double. */
    static double squaredError(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += d * d;
        }
        return s;
    }
}

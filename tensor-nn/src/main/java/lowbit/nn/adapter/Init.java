package lowbit.nn.adapter;

import java.util.SplittableRandom;

/** Random initialisations used by PEFT's adapters (values drawn from a seeded generator; PyTorch's own RNG differs). */
final class Init {
    private Init() {
    }

    /**
     * {@code nn.init.kaiming_uniform_(t, a=√5)} for a matrix [rows, fanIn]: U(−b, b) with b = gain·√(3/fanIn),
     * gain = √(2/(1 + a²)) = √(1/3), so b = 1/√fanIn (the default init of {@code nn.Linear} and of LoRA's A).
     */
    static float[] kaimingUniform(int rows, int fanIn, SplittableRandom rng) {
        float[] a = new float[Math.multiplyExact(rows, fanIn)];
        double bound = 1 / Math.sqrt(fanIn);
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        return a;
    }

    /** N(0, std²) entries. */
    static float[] gaussian(int n, double std, SplittableRandom rng) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (gaussian(rng) * std);
        }
        return a;
    }

    /** A standard normal deviate (Box–Muller on two uniforms). */
    static double gaussian(SplittableRandom rng) {
        double u1 = rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u1)) * Math.cos(2 * Math.PI * u2);
    }
}

package lowbit.tensor.simd;

import java.util.Random;
import java.util.stream.IntStream;

/** Shared test inputs: lengths that hit every tail case at every vector width, and seeded random data. */
public final class SimdTesting {
    private SimdTesting() {
    }

    /** 0..300 (every tail at every width, and the short-length paths) plus larger odd and even sizes. */
    public static int[] lengths() {
        return IntStream.concat(IntStream.rangeClosed(0, 300),
                IntStream.of(511, 512, 513, 702, 1023, 1024, 1536, 2046, 2048, 4095, 4096, 4098, 10_007, 65_536 + 3))
                .toArray();
    }

    /** n floats uniform in [-scale, scale). */
    public static float[] randomFloats(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (r.nextFloat() * 2f - 1f) * scale;
        }
        return a;
    }

    /** The provider the kernels under test come from, for messages. */
    public static String providerName() {
        return VectorizationProvider.get().toString();
    }
}

package lowbit.examples.minilm;

/** The fp32 model, loaded once per test JVM (Surefire runs all test classes of the module in one JVM). */
final class SharedModel {
    private SharedModel() {
    }

    private static MiniLm model;

    static synchronized MiniLm get() {
        if (model == null) {
            long t0 = System.nanoTime();
            model = MiniLm.load();
            System.out.printf("all-MiniLM-L6-v2 loaded in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
        return model;
    }
}

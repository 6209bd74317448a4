package lowbit.tensor.simd;

import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * Chooses, once per JVM, which implementation of lowbit's kernels runs: the Vector API ("panama") one or the plain
 * scalar one, and with which vector width.
 *
 * <p>The choice: scalar when {@code jdk.incubator.vector} is not in the boot module layer (start the JVM with
 * {@code --add-modules jdk.incubator.vector} to get SIMD speed), when the C2 compiler is off (the Vector API is then
 * far slower than scalar code), or when the machine's preferred vector is narrower than 128 bits; otherwise panama.
 * The decision is logged once through {@link System.Logger} (logger name {@code lowbit.tensor.simd}).
 *
 * <p>System properties (read once, at first use):
 * <ul>
 *   <li>{@value #PROVIDER_PROPERTY} = {@code auto} (default) | {@code scalar} | {@code panama}. Forcing
 *       {@code panama} without the module fails with an {@link IllegalStateException}.</li>
 *   <li>{@value #BITS_PROPERTY} = {@code 128} | {@code 256} | {@code 512}: the vector width of the panama kernels
 *       (default: the machine's preferred width). A width wider than the hardware's is honoured but emulated and slow:
 *       it exists so that tests can cover every width on any machine.</li>
 * </ul>
 *
 * <p>No type of {@code jdk.incubator.vector} appears in this class or in any public signature, so the library loads
 * and works without the module.
 */
public abstract class VectorizationProvider {

    /** System property selecting the implementation: {@code auto}, {@code scalar} or {@code panama}. */
    public static final String PROVIDER_PROPERTY = "lowbit.vectorization";
    /** System property forcing the vector width in bits of the panama kernels: 128, 256 or 512. */
    public static final String BITS_PROPERTY = "lowbit.vector.bits";
    /**
     * System property overriding how many vector registers the panama kernels may assume (16 or 32), which shapes
     * their register tiles; by default 16 on x86 without AVX-512, else 32.
     */
    public static final String REGISTERS_PROPERTY = "lowbit.vector.registers";

    static final System.Logger LOG = System.getLogger("lowbit.tensor.simd");
    private static final String PANAMA_CLASS = "lowbit.tensor.simd.panama.PanamaProvider";

    /** For subclasses: the two implementations shipped with lowbit. */
    protected VectorizationProvider() {
    }

    /** The provider chosen for this JVM. */
    public static VectorizationProvider get() {
        return Holder.INSTANCE;
    }

    /** {@code "panama"} or {@code "scalar"}. */
    public abstract String name();

    /** Width in bits of the vectors the kernels use: 128, 256 or 512, or 0 for the scalar implementation. */
    public abstract int vectorBitSize();

    /** The float-array and float-segment kernels (dot, axpy, scale, reductions). */
    public abstract FloatKernels floats();

    /** The dense matrix kernels (GEMV rows, GEMM) over F32/F16/BF16 weights. */
    public abstract DenseKernels dense();

    /** The packed n-bit integer kernels (bulk pack and unpack of 1..8-bit codes). */
    public abstract PackKernels packing();

    /** The ggml block-format kernels (Q4_0/Q8_0 encoders, integer dot products). */
    public abstract GgmlKernels ggml();

    /** The F16/BF16 &harr; F32 storage conversions. */
    public abstract HalfKernels halves();

    /** The ggml k-quant kernels (Q8_K encoder, Q2_K..Q6_K &times; Q8_K integer dot products). */
    public abstract KQuantKernels kquants();

    /** The group-wise affine layout's kernels (dequantize and GEMV over packed 2..8-bit codes). */
    public abstract AffineKernels affine();

    /** The kernels that fit affine grids: group ranges, codes with errors, quantizers' per-candidate sums. */
    public abstract AffineFitKernels affineFit();

    /** The 4-bit codebook layouts' kernels (NF4, FP4). */
    public abstract CodebookKernels codebooks();

    /** The double-precision kernels (dot, axpy, GEMM) of the small dense linear algebra (Cholesky). */
    public abstract DoubleKernels doubles();

    /** The sparse layouts' kernels (N:M compressed rows, plain and quantized; column-subset GEMV). */
    public abstract SparseKernels sparse();

    @Override
    public String toString() {
        return vectorBitSize() == 0 ? name() : name() + " (" + vectorBitSize() + "-bit vectors)";
    }

    private static final class Holder {
        static final VectorizationProvider INSTANCE = lookup();
    }

    private static VectorizationProvider lookup() {
        String mode = System.getProperty(PROVIDER_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        if (!mode.equals("auto") && !mode.equals("scalar") && !mode.equals("panama")) {
            throw new IllegalArgumentException(
                    "system property " + PROVIDER_PROPERTY + " must be auto, scalar or panama, got '" + mode + "'");
        }
        int bits = requestedBits();
        checkRegisters();
        if (mode.equals("scalar")) {
            LOG.log(System.Logger.Level.INFO, "lowbit: scalar kernels (forced by -D" + PROVIDER_PROPERTY + "=scalar)");
            return new ScalarProvider();
        }
        String whyNot = null;
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            whyNot = "jdk.incubator.vector is not available; start the JVM with --add-modules jdk.incubator.vector for SIMD kernels";
        } else if (!c2Enabled()) {
            whyNot = "the C2 compiler is disabled (the Vector API would be slower than scalar code)";
        }
        if (whyNot == null) {
            try {
                Class<?> c = Class.forName(PANAMA_CLASS);
                VectorizationProvider p = (VectorizationProvider) c.getDeclaredConstructor(int.class).newInstance(bits);
                LOG.log(System.Logger.Level.INFO, "lowbit: Vector API kernels, " + p.vectorBitSize() + "-bit vectors");
                return p;
            } catch (java.lang.reflect.InvocationTargetException e) {
                whyNot = String.valueOf(e.getCause().getMessage());
            } catch (ReflectiveOperationException | LinkageError e) {
                whyNot = "the Vector API implementation could not be loaded: " + e;
            }
        }
        if (mode.equals("panama")) {
            throw new IllegalStateException(PROVIDER_PROPERTY + "=panama was requested but " + whyNot);
        }
        LOG.log(System.Logger.Level.WARNING, "lowbit: scalar kernels, because " + whyNot);
        return new ScalarProvider();
    }

    /** The width asked for with {@value #BITS_PROPERTY}, or 0 for the machine's preferred one. */
    private static int requestedBits() {
        String s = System.getProperty(BITS_PROPERTY);
        if (s == null || s.isBlank()) {
            return 0;
        }
        int bits;
        try {
            bits = Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            bits = -1;
        }
        if (bits != 128 && bits != 256 && bits != 512) {
            throw new IllegalArgumentException("system property " + BITS_PROPERTY + " must be 128, 256 or 512, got '" + s + "'");
        }
        return bits;
    }

    /**
     * Rejects a {@value #REGISTERS_PROPERTY} other than 16 or 32 here, with its value, rather than letting the
     * kernels' static initialiser fail and the provider fall back to scalar code with a warning.
     */
    private static void checkRegisters() {
        String s = System.getProperty(REGISTERS_PROPERTY);
        if (s != null && !s.isBlank() && !s.trim().equals("16") && !s.trim().equals("32")) {
            throw new IllegalArgumentException("system property " + REGISTERS_PROPERTY + " must be 16 or 32, got '" + s + "'");
        }
    }

    /** False when the JVM runs without C2 (-XX:TieredStopAtLevel below 4, or the interpreter only). */
    private static boolean c2Enabled() {
        try {
            var bean = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            if (bean == null) {
                return true;
            }
            if (!Boolean.parseBoolean(bean.getVMOption("UseCompiler").getValue())) {
                return false;
            }
            boolean tiered = Boolean.parseBoolean(bean.getVMOption("TieredCompilation").getValue());
            int stopAt = Integer.parseInt(bean.getVMOption("TieredStopAtLevel").getValue());
            return !tiered || stopAt >= 4;
        } catch (RuntimeException | LinkageError e) {
            return true; // not HotSpot, or no management module: assume a full JIT
        }
    }

    /** The fallback: plain Java loops. */
    static final class ScalarProvider extends VectorizationProvider {
        private final FloatKernels floats = new ScalarFloatKernels();
        private final DenseKernels dense = new ScalarDenseKernels();
        private final PackKernels packing = new ScalarPackKernels();
        private final GgmlKernels ggml = new ScalarGgmlKernels();
        private final HalfKernels halves = new ScalarHalfKernels();
        private final KQuantKernels kquants = new ScalarKQuantKernels();
        private final AffineKernels affine = new ScalarAffineKernels();
        private final AffineFitKernels affineFit = new ScalarAffineFitKernels();
        private final CodebookKernels codebooks = new ScalarCodebookKernels();
        private final DoubleKernels doubles = new ScalarDoubleKernels();
        private final SparseKernels sparse = new ScalarSparseKernels();

        @Override
        public String name() {
            return "scalar";
        }

        @Override
        public int vectorBitSize() {
            return 0;
        }

        @Override
        public FloatKernels floats() {
            return floats;
        }

        @Override
        public DenseKernels dense() {
            return dense;
        }

        @Override
        public PackKernels packing() {
            return packing;
        }

        @Override
        public GgmlKernels ggml() {
            return ggml;
        }

        @Override
        public HalfKernels halves() {
            return halves;
        }

        @Override
        public KQuantKernels kquants() {
            return kquants;
        }

        @Override
        public AffineKernels affine() {
            return affine;
        }

        @Override
        public AffineFitKernels affineFit() {
            return affineFit;
        }

        @Override
        public CodebookKernels codebooks() {
            return codebooks;
        }

        @Override
        public DoubleKernels doubles() {
            return doubles;
        }

        @Override
        public SparseKernels sparse() {
            return sparse;
        }
    }
}

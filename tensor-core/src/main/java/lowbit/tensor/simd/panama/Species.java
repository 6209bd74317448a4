package lowbit.tensor.simd.panama;

import java.lang.management.ManagementFactory;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species every panama kernel uses, fixed once per JVM as static finals (so C2 folds them to constants).
 * The width is {@code -Dlowbit.vector.bits} when set, else the machine's preferred width. Loaded only by
 * {@link PanamaProvider}, after it has checked that the module is present.
 */
public final class Species {
    private Species() {
    }

    /** Vector width in bits. */
    public static final int BITS = chooseBits();
    /** Hardware's preferred width in bits. */
    public static final int PREFERRED_BITS = VectorShape.preferredShape().vectorBitSize();

    private static final VectorShape SHAPE = VectorShape.forBitSize(BITS);
    /** Floats at the chosen width. */
    public static final VectorSpecies<Float> F = VectorSpecies.of(float.class, SHAPE);
    /** Doubles at the chosen width. */
    public static final VectorSpecies<Double> D = VectorSpecies.of(double.class, SHAPE);
    /** Ints at the chosen width. */
    public static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, SHAPE);
    /** Shorts at the chosen width. */
    public static final VectorSpecies<Short> S = VectorSpecies.of(short.class, SHAPE);
    /** Bytes at the chosen width. */
    public static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, SHAPE);

    /**
     * Vector registers the JIT can allocate: 16 on x86 without AVX-512 (ymm0–15 / xmm0–15), else 32 (AVX-512's
     * zmm0–31, AArch64's v0–31). Register-tiled kernels size their tiles and row counts by it. AVX-512 is taken to be
     * present when the preferred vector width is 512 bits, so a JVM capped below that (-XX:MaxVectorSize,
     * -XX:UseAVX) counts as 16. {@code -Dlowbit.vector.registers=16|32} overrides it (the tests use this to run both
     * kernel shapes on one machine; a wrong value costs speed, never correctness).
     */
    public static final int VECTOR_REGISTERS = vectorRegisters();

    /**
     * Whether a two-vector {@code selectFrom} is one instruction (vpermt2d/vpermt2ps with AVX-512, tbl on AArch64):
     * taken to hold exactly where there are 32 vector registers. Without it (x86 with AVX2 only) C2 lowers each such
     * select to two vpermd, a compare and a blend, and the kernels that rely on it (the 2:4 GEMVs' input select, the
     * GEMM packing zips) switch to in-lane blends and one-source permutes instead.
     */
    public static final boolean TWO_SOURCE_PERMUTE = VECTOR_REGISTERS >= 32;

    /** Whether fused multiply-add is fast here (HotSpot's UseFMA); without it FloatVector.fma is emulated and slow. */
    public static final boolean FMA = hasFastFma();

    private static int chooseBits() {
        String s = System.getProperty("lowbit.vector.bits");
        if (s != null && !s.isBlank()) {
            return Integer.parseInt(s.trim()); // validated by VectorizationProvider before this class loads
        }
        return VectorShape.preferredShape().vectorBitSize();
    }

    private static int vectorRegisters() {
        String set = System.getProperty("lowbit.vector.registers");
        if (set != null && !set.isBlank()) {
            return Integer.parseInt(set.trim()); // 16 or 32, validated by VectorizationProvider before this class loads
        }
        String arch = System.getProperty("os.arch", "");
        boolean x86 = arch.equals("amd64") || arch.equals("x86_64") || arch.equals("x86") || arch.equals("i386");
        return x86 && PREFERRED_BITS < 512 ? 16 : 32;
    }

    private static boolean hasFastFma() {
        try {
            var bean = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return bean == null || Boolean.parseBoolean(bean.getVMOption("UseFMA").getValue());
        } catch (RuntimeException | LinkageError e) {
            return true;
        }
    }
}

package lowbit.tensor.simd.panama;

import static lowbit.tensor.simd.ScalarKQuantKernels.F32_LE;
import static lowbit.tensor.simd.ScalarKQuantKernels.I16_LE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A Q8_K activation row unpacked once per kernel call for the k-quant dots: the codes widened to shorts (so the inner
 * loops load 16-bit lanes directly instead of widening the same activation bytes again for every weight row), the
 * scales d, the 16 block sums and their pairs bsums[2k] + bsums[2k+1] (the sums over 32-element sub-blocks). One
 * instance per thread, grown as needed; exact copies of the Q8_K values, so results do not depend on it.
 */
final class Q8KRow {
    private static final VectorSpecies<Short> S = Species.S;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Species.BITS / 2));
    private static final ThreadLocal<Q8KRow> LOCAL = ThreadLocal.withInitial(Q8KRow::new);

    short[] q = new short[0];
    float[] d = new float[0];
    int[] bsums = new int[0];
    int[] bs2 = new int[0];
    /** Codes 2i and 2i+1 as one int (low and high 16 bits), the pairs the interleaved kernels broadcast. */
    int[] pairs = new int[0];
    private final short[] sums = new short[16];

    /** This thread's instance holding the {@code nBlocks} Q8_K blocks at byte {@code off} of {@code a}. */
    static Q8KRow of(MemorySegment a, long off, int nBlocks) {
        Q8KRow r = LOCAL.get();
        r.load(a, off, nBlocks);
        return r;
    }

    private void load(MemorySegment a, long off, int nb) {
        if (d.length < nb) {
            q = new short[256 * nb];
            d = new float[nb];
            bsums = new int[16 * nb];
            bs2 = new int[8 * nb];
            pairs = new int[128 * nb];
        }
        for (int b = 0; b < nb; b++) {
            long ab = off + 292L * b;
            d[b] = a.get(F32_LE, ab);
            for (int j = 0; j < 256; j += S.length()) {
                ((ShortVector) ByteVector.fromMemorySegment(B, a, ab + 4 + j, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2S, S, 0)).intoArray(q, 256 * b + j);
            }
            for (int i = 0; i < 128; i++) {
                pairs[128 * b + i] = (q[256 * b + 2 * i] & 0xFFFF) | (q[256 * b + 2 * i + 1] << 16);
            }
            MemorySegment.copy(a, I16_LE, ab + 260, sums, 0, 16); // one bulk copy instead of 16 bounds-checked reads
            for (int j = 0; j < 16; j++) {
                bsums[16 * b + j] = sums[j];
            }
            for (int k = 0; k < 8; k++) {
                bs2[8 * b + k] = sums[2 * k] + sums[2 * k + 1];
            }
        }
    }
}

package lowbit.tensor.simd.panama;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import lowbit.tensor.simd.PackKernels;
import lowbit.tensor.simd.ScalarPackKernels;

/**
 * Vector API pack/unpack for the widths that divide a byte (1, 2, 4 and 8 bits); 3, 5, 6 and 7 bits go to
 * {@link ScalarPackKernels}.
 *
 * <p>A run of codes is split into a scalar head (up to the first code that starts a byte), a vector body and a scalar
 * tail. In the body, one int vector of {@code L} lanes holds {@code L} consecutive codes, which occupy
 * {@code L·n} bits of the stream starting on a byte boundary (or, for 1-bit codes at 128 bits, on a nibble):
 * <ul>
 *   <li>{@code L·n ≤ 32}: those bits are read as one little-endian int, broadcast to every lane and shifted right by
 *       {@code n·lane} (no shuffles).</li>
 *   <li>{@code L·n = 64} (4-bit codes at 512 bits): a little-endian long; its low half goes to the first half of the
 *       lanes and its high half to the rest (a blend), then the same shifts.</li>
 *   <li>8-bit codes when a vector has at least 8 lanes: a byte vector widened with B2I.</li>
 * </ul>
 * Signed codes are shifted left so that the code's top bit becomes bit 31, then arithmetically right by
 * {@code 32 − n}. Packing runs the other way: mask, shift left by {@code n·lane}, OR-reduce the lanes into an int (or
 * two halves into a long), and store whole 64-bit words; 8-bit codes narrow with I2B.
 *
 * <p>Byte arrays are viewed as heap segments, so both forms share one implementation.
 */
final class PanamaPackKernels implements PackKernels {
    private static final ScalarPackKernels SCALAR = new ScalarPackKernels();
    private static final VectorSpecies<Integer> I = Species.I;
    private static final int L = I.length();
    /** Bytes with as many lanes as an int vector (8-bit paths), or null at 128 bits where no 32-bit shape exists. */
    private static final VectorSpecies<Byte> BQ = L >= 8 ? VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L)) : null;
    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);

    /** SHIFT[n][lane] = (n·lane) mod 32: where the lane's code starts in its 32-bit word. */
    private static final int[][] SHIFT = new int[9][];
    /** UP[n][lane] = 32 − n − SHIFT[n][lane]: the left shift that puts the code's top bit at bit 31. */
    private static final int[][] UP = new int[9][];
    /** Lanes [L/2, L): those filled from the high half of a 64-bit word. */
    private static final boolean[] HIGH_HALF = new boolean[L];

    static {
        for (int n : new int[] {1, 2, 4, 8}) {
            SHIFT[n] = new int[L];
            UP[n] = new int[L];
            for (int lane = 0; lane < L; lane++) {
                SHIFT[n][lane] = (n * lane) % 32;
                UP[n][lane] = 32 - n - SHIFT[n][lane];
            }
        }
        for (int lane = L / 2; lane < L; lane++) {
            HIGH_HALF[lane] = true;
        }
    }

    private static boolean fast(int bits) {
        return bits == 1 || bits == 2 || bits == 4 || bits == 8;
    }

    /** Codes from {@code first} until the first code that starts a byte (at most count). */
    private static int head(long first, int bits, int count) {
        int perByte = 8 / bits;
        return (int) Math.min(count, (perByte - first % perByte) % perByte);
    }

    /**
     * How many whole vectors of codes the body may read: at most {@code codes / L}, and no load may pass the end of
     * the {@code avail} bytes from the body's first byte.
     */
    private static int readableVectors(long avail, int codes, int bits) {
        int bpv = bits * L;
        int loadBytes = bits == 8 && L >= 8 ? L : bpv <= 32 ? Integer.BYTES : Long.BYTES;
        if (avail < loadBytes) {
            return 0;
        }
        return (int) Math.min(codes / L, (avail - loadBytes) * 8 / bpv + 1);
    }

    // ---- unpack ----

    @Override
    public void unpack(byte[] src, long first, int bits, boolean signed, int[] dst, int dstOff, int count) {
        unpack(MemorySegment.ofArray(src), first, bits, signed, dst, dstOff, count);
    }

    @Override
    public void unpack(MemorySegment src, long first, int bits, boolean signed, int[] dst, int dstOff, int count) {
        if (!fast(bits) || count < 2 * L) {
            SCALAR.unpack(src, first, bits, signed, dst, dstOff, count);
            return;
        }
        int head = head(first, bits, count);
        SCALAR.unpack(src, first, bits, signed, dst, dstOff, head);
        long byteOff = (first + head) * bits >>> 3;
        int vecs = readableVectors(src.byteSize() - byteOff, count - head, bits);
        IntVector shift = IntVector.fromArray(I, signed ? UP[bits] : SHIFT[bits], 0);
        VectorMask<Integer> high = VectorMask.fromArray(I, HIGH_HALF, 0);
        int o = dstOff + head;
        for (int j = 0; j < vecs; j++, o += L) {
            codes(src, byteOff, j, bits, signed, shift, high).intoArray(dst, o);
        }
        int done = head + vecs * L;
        SCALAR.unpack(src, first + done, bits, signed, dst, dstOff + done, count - done);
    }

    @Override
    public void unpackToBytes(byte[] src, long first, int bits, boolean signed, byte[] dst, int dstOff, int count) {
        unpackToBytes(MemorySegment.ofArray(src), first, bits, signed, dst, dstOff, count);
    }

    @Override
    public void unpackToBytes(MemorySegment src, long first, int bits, boolean signed, byte[] dst, int dstOff,
            int count) {
        if (bits == 8) { // the codes already are bytes
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, first, dst, dstOff, count);
            return;
        }
        if (!fast(bits) || count < 2 * L) {
            SCALAR.unpackToBytes(src, first, bits, signed, dst, dstOff, count);
            return;
        }
        int head = head(first, bits, count);
        SCALAR.unpackToBytes(src, first, bits, signed, dst, dstOff, head);
        long byteOff = (first + head) * bits >>> 3;
        int vecs = readableVectors(src.byteSize() - byteOff, count - head, bits);
        IntVector shift = IntVector.fromArray(I, signed ? UP[bits] : SHIFT[bits], 0);
        VectorMask<Integer> high = VectorMask.fromArray(I, HIGH_HALF, 0);
        int o = dstOff + head;
        if (BQ != null) {
            for (int j = 0; j < vecs; j++, o += L) {
                codes(src, byteOff, j, bits, signed, shift, high)
                        .convertShape(VectorOperators.I2B, BQ, 0).reinterpretAsBytes().intoArray(dst, o);
            }
        } else { // 128 bits: two 4-lane int vectors narrow into the two halves of one 8-byte vector
            vecs &= ~1;
            for (int j = 0; j < vecs; j += 2, o += 2 * L) {
                ByteVector lo = codes(src, byteOff, j, bits, signed, shift, high)
                        .convertShape(VectorOperators.I2B, B64, 0).reinterpretAsBytes();
                ByteVector hi = codes(src, byteOff, j + 1, bits, signed, shift, high)
                        .convertShape(VectorOperators.I2B, B64, -1).reinterpretAsBytes();
                lo.or(hi).intoArray(dst, o);
            }
        }
        int done = head + vecs * L;
        SCALAR.unpackToBytes(src, first + done, bits, signed, dst, dstOff + done, count - done);
    }

    /**
     * Codes {@code j·L .. j·L + L − 1} of the body that starts at byte {@code byteOff}, extracted and (if signed)
     * sign-extended. {@code shift} is SHIFT[bits] for unsigned codes and UP[bits] for signed ones.
     */
    private static IntVector codes(MemorySegment src, long byteOff, int j, int bits, boolean signed, IntVector shift,
            VectorMask<Integer> high) {
        IntVector v;
        if (bits == 8 && L >= 8) {
            v = (IntVector) ByteVector.fromMemorySegment(BQ, src, byteOff + (long) j * L, LE)
                    .convertShape(VectorOperators.B2I, I, 0);
            return signed ? v : v.and(0xFF);
        }
        long bit = (long) j * bits * L;
        if (bits * L <= 32) {
            v = IntVector.broadcast(I, src.get(INT_LE, byteOff + (bit >>> 3)) >>> (bit & 7));
        } else {
            long w = src.get(LONG_LE, byteOff + (bit >>> 3));
            v = IntVector.broadcast(I, (int) w).blend((int) (w >>> 32), high);
        }
        return signed
                ? v.lanewise(VectorOperators.LSHL, shift).lanewise(VectorOperators.ASHR, 32 - bits)
                : v.lanewise(VectorOperators.LSHR, shift).and((1 << bits) - 1);
    }

    // ---- pack ----

    @Override
    public void pack(int[] src, int srcOff, int count, int bits, byte[] dst, long first) {
        pack(src, srcOff, count, bits, MemorySegment.ofArray(dst), first);
    }

    @Override
    public void pack(int[] src, int srcOff, int count, int bits, MemorySegment dst, long first) {
        if (!fast(bits) || count < 2 * L) {
            SCALAR.pack(src, srcOff, count, bits, dst, first);
            return;
        }
        int head = head(first, bits, count);
        SCALAR.pack(src, srcOff, head, bits, dst, first);
        long byteOff = (first + head) * bits >>> 3;
        int s = srcOff + head;
        int vecs;
        if (bits == 8 && L >= 8) {
            vecs = (count - head) / L;
            for (int j = 0; j < vecs; j++, s += L) {
                IntVector.fromArray(I, src, s).convertShape(VectorOperators.I2B, BQ, 0).reinterpretAsBytes()
                        .intoMemorySegment(dst, byteOff + (long) j * L, LE);
            }
        } else {
            int bpv = bits * L;
            int mask = (1 << bits) - 1;
            IntVector shift = IntVector.fromArray(I, SHIFT[bits], 0);
            if (bpv <= 32) { // 64/bpv vectors fill one long
                int group = 64 / bpv;
                int words = (count - head) / L / group;
                vecs = words * group;
                for (int w = 0; w < words; w++) {
                    long acc = 0;
                    for (int g = 0; g < group; g++, s += L) {
                        int bitsOfVector = IntVector.fromArray(I, src, s).and(mask).lanewise(VectorOperators.LSHL, shift)
                                .reduceLanes(VectorOperators.OR);
                        acc |= (bitsOfVector & 0xFFFF_FFFFL) << (g * bpv);
                    }
                    dst.set(LONG_LE, byteOff + 8L * w, acc);
                }
            } else { // one vector fills one long: the low lanes make its low half, the high lanes its high half
                VectorMask<Integer> high = VectorMask.fromArray(I, HIGH_HALF, 0);
                VectorMask<Integer> low = high.not();
                vecs = (count - head) / L;
                for (int j = 0; j < vecs; j++, s += L) {
                    IntVector x = IntVector.fromArray(I, src, s).and(mask).lanewise(VectorOperators.LSHL, shift);
                    long lo = x.reduceLanes(VectorOperators.OR, low) & 0xFFFF_FFFFL;
                    long hi = x.reduceLanes(VectorOperators.OR, high);
                    dst.set(LONG_LE, byteOff + 8L * j, lo | hi << 32);
                }
            }
        }
        int done = head + vecs * L;
        SCALAR.pack(src, srcOff + done, count - done, bits, dst, first + done);
    }
}

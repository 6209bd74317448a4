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
 * Codes are shifted left so that the code's top bit becomes bit 31, then arithmetically right by
 * {@code 32 − n}, then masked to {@code n} bits if unsigned. Packing runs the other way: mask, shift left by {@code n·lane}, OR-reduce the lanes into an int (or
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
        int keep = keepMask(bits, signed);
        int o = dstOff + head;
        // One loop method per way of loading, chosen before the loop, so each compiles with its own profile: with the
        // loops inlined in one method, whichever width came third after two others ran at 1/3 to 1/10 of its speed
        // (measured: deoptimization and recompilation left its vectors boxed).
        if (bits == 8 && L >= 8) {
            unpackBytes(src, byteOff, vecs, keep, dst, o);
        } else if (bits * L <= 32) {
            unpackFromInts(src, byteOff, vecs, bits, keep, dst, o);
        } else {
            unpackFromLongs(src, byteOff, vecs, bits, keep, dst, o);
        }
        int done = head + vecs * L;
        SCALAR.unpack(src, first + done, bits, signed, dst, dstOff + done, count - done);
    }

    private static void unpackBytes(MemorySegment src, long byteOff, int vecs, int keep, int[] dst, int o) {
        for (int j = 0; j < vecs; j++, o += L) {
            bytesAsInts(src, byteOff, j).and(keep).intoArray(dst, o);
        }
    }

    private static void unpackFromInts(MemorySegment src, long byteOff, int vecs, int bits, int keep, int[] dst, int o) {
        IntVector up = IntVector.fromArray(I, UP[bits], 0);
        for (int j = 0; j < vecs; j++, o += L) {
            extract(fromInt(src, byteOff, j, bits), up, bits, keep).intoArray(dst, o);
        }
    }

    private static void unpackFromLongs(MemorySegment src, long byteOff, int vecs, int bits, int keep, int[] dst, int o) {
        IntVector up = IntVector.fromArray(I, UP[bits], 0);
        VectorMask<Integer> high = VectorMask.fromArray(I, HIGH_HALF, 0);
        for (int j = 0; j < vecs; j++, o += L) {
            extract(fromLong(src, byteOff, j, bits, high), up, bits, keep).intoArray(dst, o);
        }
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
        int keep = keepMask(bits, signed);
        int o = dstOff + head;
        if (BQ == null) { // 128 bits: pairs of vectors
            vecs &= ~1;
            unpackBytesPairsFromInts(src, byteOff, vecs, bits, keep, dst, o);
        } else if (bits * L <= 32) { // one loop method per load path, as in unpack
            unpackBytesFromInts(src, byteOff, vecs, bits, keep, dst, o);
        } else {
            unpackBytesFromLongs(src, byteOff, vecs, bits, keep, dst, o);
        }
        int done = head + vecs * L;
        SCALAR.unpackToBytes(src, first + done, bits, signed, dst, dstOff + done, count - done);
    }

    private static void unpackBytesFromInts(MemorySegment src, long byteOff, int vecs, int bits, int keep, byte[] dst,
            int o) {
        IntVector up = IntVector.fromArray(I, UP[bits], 0);
        for (int j = 0; j < vecs; j++, o += L) {
            extract(fromInt(src, byteOff, j, bits), up, bits, keep)
                    .convertShape(VectorOperators.I2B, BQ, 0).reinterpretAsBytes().intoArray(dst, o);
        }
    }

    private static void unpackBytesFromLongs(MemorySegment src, long byteOff, int vecs, int bits, int keep, byte[] dst,
            int o) {
        IntVector up = IntVector.fromArray(I, UP[bits], 0);
        VectorMask<Integer> high = VectorMask.fromArray(I, HIGH_HALF, 0);
        for (int j = 0; j < vecs; j++, o += L) {
            extract(fromLong(src, byteOff, j, bits, high), up, bits, keep)
                    .convertShape(VectorOperators.I2B, BQ, 0).reinterpretAsBytes().intoArray(dst, o);
        }
    }

    /** 128 bits (one int per vector): two 4-lane vectors narrow into the two halves of one 8-byte vector. */
    private static void unpackBytesPairsFromInts(MemorySegment src, long byteOff, int vecs, int bits, int keep,
            byte[] dst, int o) {
        IntVector up = IntVector.fromArray(I, UP[bits], 0);
        for (int j = 0; j < vecs; j += 2, o += 2 * L) {
            ByteVector lo = extract(fromInt(src, byteOff, j, bits), up, bits, keep)
                    .convertShape(VectorOperators.I2B, B64, 0).reinterpretAsBytes();
            ByteVector hi = extract(fromInt(src, byteOff, j + 1, bits), up, bits, keep)
                    .convertShape(VectorOperators.I2B, B64, -1).reinterpretAsBytes();
            lo.or(hi).intoArray(dst, o);
        }
    }

    /** All ones for signed codes (keep the sign extension), the low {@code bits} ones for unsigned codes. */
    private static int keepMask(int bits, boolean signed) {
        return signed ? -1 : (1 << bits) - 1;
    }

    /** Bytes {@code j·L .. j·L + L − 1} of the body, sign-extended into int lanes (8-bit codes). */
    private static IntVector bytesAsInts(MemorySegment src, long byteOff, int j) {
        return (IntVector) ByteVector.fromMemorySegment(BQ, src, byteOff + (long) j * L, LE)
                .convertShape(VectorOperators.B2I, I, 0);
    }

    /** Vector {@code j} of the body when its L·n bits fit one int: that int, broadcast to every lane. */
    private static IntVector fromInt(MemorySegment src, long byteOff, int j, int bits) {
        long bit = (long) j * bits * L;
        return IntVector.broadcast(I, src.get(INT_LE, byteOff + (bit >>> 3)) >>> (bit & 7));
    }

    /** Vector {@code j} of the body when its L·n = 64 bits: the long's low half in the low lanes, high half above. */
    private static IntVector fromLong(MemorySegment src, long byteOff, int j, int bits, VectorMask<Integer> high) {
        long w = src.get(LONG_LE, byteOff + (((long) j * bits * L) >>> 3));
        return IntVector.broadcast(I, (int) w).blend((int) (w >>> 32), high);
    }

    /**
     * Each lane's code from its broadcast word: shifted left by UP so the code's top bit is bit 31, then arithmetically
     * right by 32 − n (sign extension), then ANDed with {@link #keepMask} (which undoes it for unsigned codes).
     */
    private static IntVector extract(IntVector words, IntVector up, int bits, int keep) {
        return words.lanewise(VectorOperators.LSHL, up).lanewise(VectorOperators.ASHR, 32 - bits).and(keep);
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
        if (bits == 8 && L >= 8) { // one loop method per store path, as in unpack
            vecs = (count - head) / L;
            packBytes(src, s, vecs, dst, byteOff);
        } else if (bits * L <= 32) {
            int group = 64 / (bits * L); // vectors per 64-bit word
            int words = (count - head) / L / group;
            vecs = words * group;
            packIntoLongs(src, s, words, group, bits, dst, byteOff);
        } else {
            vecs = (count - head) / L;
            packOneLongPerVector(src, s, vecs, bits, dst, byteOff);
        }
        int done = head + vecs * L;
        SCALAR.pack(src, srcOff + done, count - done, bits, dst, first + done);
    }

    private static void packBytes(int[] src, int s, int vecs, MemorySegment dst, long byteOff) {
        for (int j = 0; j < vecs; j++, s += L) {
            IntVector.fromArray(I, src, s).convertShape(VectorOperators.I2B, BQ, 0).reinterpretAsBytes()
                    .intoMemorySegment(dst, byteOff + (long) j * L, LE);
        }
    }

    /** L·n ≤ 32: each vector's codes OR-reduce into one int; {@code group} of them fill one little-endian long. */
    private static void packIntoLongs(int[] src, int s, int words, int group, int bits, MemorySegment dst, long byteOff) {
        int bpv = bits * L;
        int mask = (1 << bits) - 1;
        IntVector shift = IntVector.fromArray(I, SHIFT[bits], 0);
        for (int w = 0; w < words; w++) {
            long acc = 0;
            for (int g = 0; g < group; g++, s += L) {
                int bitsOfVector = IntVector.fromArray(I, src, s).and(mask).lanewise(VectorOperators.LSHL, shift)
                        .reduceLanes(VectorOperators.OR);
                acc |= (bitsOfVector & 0xFFFF_FFFFL) << (g * bpv);
            }
            dst.set(LONG_LE, byteOff + 8L * w, acc);
        }
    }

    /** L·n = 64: the low lanes make the low half of one long, the high lanes its high half. */
    private static void packOneLongPerVector(int[] src, int s, int vecs, int bits, MemorySegment dst, long byteOff) {
        int mask = (1 << bits) - 1;
        IntVector shift = IntVector.fromArray(I, SHIFT[bits], 0);
        VectorMask<Integer> high = VectorMask.fromArray(I, HIGH_HALF, 0);
        VectorMask<Integer> low = high.not();
        for (int j = 0; j < vecs; j++, s += L) {
            IntVector x = IntVector.fromArray(I, src, s).and(mask).lanewise(VectorOperators.LSHL, shift);
            long lo = x.reduceLanes(VectorOperators.OR, low) & 0xFFFF_FFFFL;
            long hi = x.reduceLanes(VectorOperators.OR, high);
            dst.set(LONG_LE, byteOff + 8L * j, lo | hi << 32);
        }
    }
}

package lowbit.tensor.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The scalar reference for {@link PackKernels}, correct for every width 1..8: a bit buffer that takes in one byte
 * at a time and hands out (or, when packing, collects) one code at a time. It is the fallback implementation and the
 * twin the SIMD kernels are tested against.
 *
 * <p>The buffer holds fewer than 16 valid bits, low bits first, so a code of at most 8 bits never needs more than one
 * new byte. Packing reads the first and last touched bytes to keep the bits of neighbouring codes.
 */
public final class ScalarPackKernels implements PackKernels {
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** Creates the (stateless) scalar kernels. */
    public ScalarPackKernels() {
    }

    @Override
    public void unpack(byte[] src, long first, int bits, boolean signed, int[] dst, int dstOff, int count) {
        if (count == 0) {
            return;
        }
        long bit = first * bits;
        int b = (int) (bit >>> 3);
        int skip = (int) (bit & 7);
        int mask = (1 << bits) - 1;
        int up = 32 - bits;
        int buf = (src[b++] & 0xFF) >>> skip;
        int have = 8 - skip;
        for (int i = 0; i < count; i++) {
            if (have < bits) {
                buf |= (src[b++] & 0xFF) << have;
                have += 8;
            }
            int v = buf & mask;
            buf >>>= bits;
            have -= bits;
            dst[dstOff + i] = signed ? (v << up) >> up : v;
        }
    }

    @Override
    public void unpack(MemorySegment src, long first, int bits, boolean signed, int[] dst, int dstOff, int count) {
        if (count == 0) {
            return;
        }
        long bit = first * bits;
        long b = bit >>> 3;
        int skip = (int) (bit & 7);
        int mask = (1 << bits) - 1;
        int up = 32 - bits;
        int buf = (src.get(BYTE, b++) & 0xFF) >>> skip;
        int have = 8 - skip;
        for (int i = 0; i < count; i++) {
            if (have < bits) {
                buf |= (src.get(BYTE, b++) & 0xFF) << have;
                have += 8;
            }
            int v = buf & mask;
            buf >>>= bits;
            have -= bits;
            dst[dstOff + i] = signed ? (v << up) >> up : v;
        }
    }

    @Override
    public void unpackToBytes(byte[] src, long first, int bits, boolean signed, byte[] dst, int dstOff, int count) {
        if (count == 0) {
            return;
        }
        long bit = first * bits;
        int b = (int) (bit >>> 3);
        int skip = (int) (bit & 7);
        int mask = (1 << bits) - 1;
        int up = 32 - bits;
        int buf = (src[b++] & 0xFF) >>> skip;
        int have = 8 - skip;
        for (int i = 0; i < count; i++) {
            if (have < bits) {
                buf |= (src[b++] & 0xFF) << have;
                have += 8;
            }
            int v = buf & mask;
            buf >>>= bits;
            have -= bits;
            dst[dstOff + i] = (byte) (signed ? (v << up) >> up : v);
        }
    }

    @Override
    public void unpackToBytes(MemorySegment src, long first, int bits, boolean signed, byte[] dst, int dstOff,
            int count) {
        if (count == 0) {
            return;
        }
        long bit = first * bits;
        long b = bit >>> 3;
        int skip = (int) (bit & 7);
        int mask = (1 << bits) - 1;
        int up = 32 - bits;
        int buf = (src.get(BYTE, b++) & 0xFF) >>> skip;
        int have = 8 - skip;
        for (int i = 0; i < count; i++) {
            if (have < bits) {
                buf |= (src.get(BYTE, b++) & 0xFF) << have;
                have += 8;
            }
            int v = buf & mask;
            buf >>>= bits;
            have -= bits;
            dst[dstOff + i] = (byte) (signed ? (v << up) >> up : v);
        }
    }

    @Override
    public void pack(int[] src, int srcOff, int count, int bits, byte[] dst, long first) {
        if (count == 0) {
            return;
        }
        long bit = first * bits;
        int b = (int) (bit >>> 3);
        int fill = (int) (bit & 7);
        int mask = (1 << bits) - 1;
        int buf = dst[b] & ((1 << fill) - 1); // the codes before `first` in its byte
        for (int i = 0; i < count; i++) {
            buf |= (src[srcOff + i] & mask) << fill;
            fill += bits;
            if (fill >= 8) {
                dst[b++] = (byte) buf;
                buf >>>= 8;
                fill -= 8;
            }
        }
        if (fill > 0) { // a partly covered last byte: keep its high bits
            int low = (1 << fill) - 1;
            dst[b] = (byte) ((buf & low) | (dst[b] & ~low));
        }
    }

    @Override
    public void pack(int[] src, int srcOff, int count, int bits, MemorySegment dst, long first) {
        if (count == 0) {
            return;
        }
        long bit = first * bits;
        long b = bit >>> 3;
        int fill = (int) (bit & 7);
        int mask = (1 << bits) - 1;
        int buf = dst.get(BYTE, b) & ((1 << fill) - 1);
        for (int i = 0; i < count; i++) {
            buf |= (src[srcOff + i] & mask) << fill;
            fill += bits;
            if (fill >= 8) {
                dst.set(BYTE, b++, (byte) buf);
                buf >>>= 8;
                fill -= 8;
            }
        }
        if (fill > 0) {
            int low = (1 << fill) - 1;
            dst.set(BYTE, b, (byte) ((buf & low) | (dst.get(BYTE, b) & ~low)));
        }
    }
}

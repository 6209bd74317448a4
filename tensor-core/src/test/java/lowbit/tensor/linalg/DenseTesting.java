package lowbit.tensor.linalg;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import lowbit.tensor.DType;

/** Test helpers for the dense kernels: weights in every storage, and the error bound of float dot products. */
final class DenseTesting {
    private DenseTesting() {
    }

    static final double U = 0x1p-24;

    /** γ_n = n·u/(1 − n·u) (Higham eq. 3.4). */
    static double gamma(long n) {
        return n * U / (1 - n * U);
    }

    /** A weight: its float values (the exact values the half bits stand for) and its stored forms. */
    record Weight(DType type, float[] values, float[] f32, short[] halves) {
        /** The weight copied into a fresh little-endian segment, preceded by {@code pad} elements of garbage. */
        MemorySegment segment(Arena arena, int pad) {
            int bytes = type.bits() / 8;
            MemorySegment s = arena.allocate((long) (values.length + pad) * bytes + 3, 1).asSlice(3);
            for (int i = 0; i < pad; i++) {
                s.set(ValueLayout.JAVA_BYTE, (long) i * bytes, (byte) 0x7f);
            }
            for (int i = 0; i < values.length; i++) {
                long at = (long) (i + pad) * bytes;
                if (type == DType.F32) {
                    s.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at, f32[i]);
                } else {
                    s.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at, halves[i]);
                }
            }
            return s;
        }
    }

    /** n random weights in [-scale, scale) rounded to {@code type}. */
    static Weight weight(Random r, DType type, int n, float scale) {
        float[] v = new float[n];
        short[] h = type == DType.F32 ? null : new short[n];
        for (int i = 0; i < n; i++) {
            float f = (r.nextFloat() * 2f - 1f) * scale;
            if (type == DType.F16) {
                h[i] = Float.floatToFloat16(f);
                v[i] = Float.float16ToFloat(h[i]);
            } else if (type == DType.BF16) {
                h[i] = (short) (Float.floatToRawIntBits(f) >>> 16);
                v[i] = Float.intBitsToFloat(h[i] << 16);
            } else {
                v[i] = f;
            }
        }
        return new Weight(type, v, type == DType.F32 ? v : null, h);
    }

    static float[] floats(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (r.nextFloat() * 2f - 1f) * scale;
        }
        return a;
    }
}

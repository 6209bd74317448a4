package lowbit.tensor.io;

import java.util.Arrays;

/** A growable little-endian byte buffer for building file headers. */
final class LeBuffer {
    private byte[] buf = new byte[256];
    private int size;

    int size() {
        return size;
    }

    byte[] toByteArray() {
        return Arrays.copyOf(buf, size);
    }

    LeBuffer u8(int v) {
        ensure(1);
        buf[size++] = (byte) v;
        return this;
    }

    LeBuffer u16(int v) {
        return le(v, 2);
    }

    LeBuffer u32(long v) {
        return le(v, 4);
    }

    LeBuffer u64(long v) {
        return le(v, 8);
    }

    LeBuffer le(long v, int bytes) {
        ensure(bytes);
        for (int i = 0; i < bytes; i++) {
            buf[size++] = (byte) (v >>> (8 * i));
        }
        return this;
    }

    LeBuffer bytes(byte[] b, int off, int len) {
        ensure(len);
        System.arraycopy(b, off, buf, size, len);
        size += len;
        return this;
    }

    /** A GGUF string: u64 byte length, then the bytes. */
    LeBuffer string(byte[] utf8) {
        u64(utf8.length);
        return bytes(utf8, 0, utf8.length);
    }

    /** Zero bytes up to the next multiple of {@code alignment}. */
    LeBuffer pad(int alignment) {
        while (size % alignment != 0) {
            u8(0);
        }
        return this;
    }

    private void ensure(int more) {
        if (more > Integer.MAX_VALUE - 16 - size) {
            throw new IllegalArgumentException("a header of more than 2 GiB cannot be built in memory");
        }
        if (size + more > buf.length) {
            buf = Arrays.copyOf(buf, (int) Math.min(Integer.MAX_VALUE - 16, Math.max(size + more, 2L * buf.length)));
        }
    }
}

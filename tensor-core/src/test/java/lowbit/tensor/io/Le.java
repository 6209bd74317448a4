package lowbit.tensor.io;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A test-only little-endian byte builder, written independently of the production encoders, to assemble model files
 * by hand from their format definitions.
 */
final class Le {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Le u8(int v) {
        out.write(v);
        return this;
    }

    Le u16(int v) {
        return u8(v & 0xFF).u8(v >>> 8 & 0xFF);
    }

    Le u32(long v) {
        for (int i = 0; i < 4; i++) {
            u8((int) (v >>> (8 * i)) & 0xFF);
        }
        return this;
    }

    Le u64(long v) {
        for (int i = 0; i < 8; i++) {
            u8((int) (v >>> (8 * i)) & 0xFF);
        }
        return this;
    }

    Le f32(float f) {
        return u32(Float.floatToRawIntBits(f));
    }

    Le f64(double d) {
        return u64(Double.doubleToRawLongBits(d));
    }

    Le bytes(byte... b) {
        out.writeBytes(b);
        return this;
    }

    Le ascii(String s) {
        return bytes(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A GGUF string: u64 length and UTF-8 bytes. */
    Le str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return u64(b.length).bytes(b);
    }

    /** Zeros up to a multiple of {@code a}. */
    Le padTo(int a) {
        while (out.size() % a != 0) {
            u8(0);
        }
        return this;
    }

    int size() {
        return out.size();
    }

    byte[] toBytes() {
        return out.toByteArray();
    }

    /** A safetensors file: u64 length of {@code json} padded with spaces to a multiple of 8, the JSON, the data. */
    static byte[] safetensors(String json, byte[] data) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        Le b = new Le().u64(padded).bytes(h);
        for (int i = h.length; i < padded; i++) {
            b.u8(' ');
        }
        return b.bytes(data).toBytes();
    }

    /** A safetensors file with an unpadded header. */
    static byte[] safetensorsUnpadded(String json, byte[] data) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        return new Le().u64(h.length).bytes(h).bytes(data).toBytes();
    }
}

package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.ggml.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hand-built hostile GGUF files: each is rejected with a TensorFormatException naming tensor and field. */
class GgufMaliciousTest {
    @TempDir
    Path dir;

    private static TensorFormatException reject(byte[] file) {
        TensorFormatException e = catchThrowableOfType(TensorFormatException.class,
                () -> GgufFile.read(MemorySegment.ofArray(file), "evil.gguf"));
        assertThat(e).as("expected a TensorFormatException").isNotNull();
        assertThat(e.getMessage()).startsWith("evil.gguf: ");
        return e;
    }

    private static void rejects(Le file, String tensor, String field, String fragment) {
        TensorFormatException e = reject(file.toBytes());
        assertThat(e.getMessage()).contains(fragment);
        assertThat(e.tensor()).isEqualTo(tensor);
        assertThat(e.field()).isEqualTo(field);
    }

    private static Le header(long nTensors, long nKv) {
        return new Le().ascii("GGUF").u32(3).u64(nTensors).u64(nKv);
    }

    @Test
    void magicAndVersion() {
        rejects(new Le().ascii("GGUG").u32(3).u64(0).u64(0), null, "magic", "47 47 55 47");
        rejects(new Le().ascii("GG"), null, "magic", "needs 4 bytes");
        rejects(new Le().ascii("GGUF").u32(1).u32(0).u32(0), null, "version", "v1");
        rejects(new Le().ascii("GGUF").u32(0x0300_0000).u64(0).u64(0), null, "version", "big-endian");
        rejects(new Le().ascii("GGUF").u32(4).u64(0).u64(0), null, "version", "unsupported version 4");
        rejects(new Le().ascii("GGUF").u32(0).u64(0).u64(0), null, "version", "unsupported version 0");
    }

    @Test
    void countsAreCheckedAgainstTheBytesThatRemain() {
        rejects(header(Long.MIN_VALUE, 0), null, "tensor_count", "9223372036854775808 is more than lowbit's limit");
        rejects(header(GgufParser.MAX_TENSORS + 1, 0), null, "tensor_count", "limit");
        rejects(header(1000, 0).bytes(new byte[100]), null, "tensor_count", "1000 entries need at least 24000 bytes");
        rejects(header(0, -1), null, "kv_count", "18446744073709551615");
        rejects(header(0, 10).bytes(new byte[20]), null, "kv_count", "need at least 140 bytes");
    }

    @Test
    void stringLengthsThatLieAllocateNothing() {
        // a key length of 2^63: no allocation, just a message
        rejects(header(0, 1).u64(Long.MIN_VALUE).bytes(new byte[16]), null, "key 0", "string length 9223372036854775808 exceeds");
        rejects(header(0, 1).u64(1L << 40).bytes(new byte[16]), null, "key 0", "exceeds ggml's limit of 1073741824");
        rejects(header(0, 1).u64(1000).bytes(new byte[16]), null, "key 0", "string length 1000 at offset 24 runs past the end");
        rejects(header(0, 1).str("k").u32(8).u64(Long.MAX_VALUE).bytes(new byte[4]), null, "metadata 'k'", "string length");
        rejects(header(0, 1).str("k").u32(8).u64(5).ascii("ab"), null, "metadata 'k'", "runs past the end");
    }

    @Test
    void keysAndValueTypes() {
        rejects(header(0, 1).str("").u32(0).u8(1).u8(0), null, "key 0", "is empty");
        rejects(header(0, 2).str("a").u32(0).u8(1).str("a").u32(0).u8(1), null, "metadata 'a'", "appears twice");
        rejects(header(0, 1).u64(2).bytes((byte) 0xC3, (byte) 0x28).u32(0).u8(1), null, "key 0", "not valid UTF-8");
        rejects(header(0, 1).str("k").u32(13).u8(1), null, "metadata 'k'", "unknown value type 13");
        rejects(header(0, 1).str("k").u32(0xFFFF_FFFFL).u8(1), null, "metadata 'k'", "unknown value type 4294967295");
        rejects(header(0, 1).str("k").u32(4).u16(1), null, "metadata 'k'", "needs 4 bytes");
    }

    @Test
    void arraysThatLie() {
        rejects(header(0, 1).str("a").u32(9).u32(77).u64(0), null, "metadata 'a'", "unknown value type 77");
        rejects(header(0, 1).str("a").u32(9).u32(5).u64(1L << 62).bytes(new byte[8]), null, "metadata 'a'", "exceeds ggml's limit");
        rejects(header(0, 1).str("a").u32(9).u32(5).u64(-1), null, "metadata 'a'", "array count 18446744073709551615");
        rejects(header(0, 1).str("a").u32(9).u32(12).u64(100_000_000).bytes(new byte[64]), null, "metadata 'a'",
                "needs at least 800000000 bytes");
        rejects(header(0, 1).str("a").u32(9).u32(8).u64(3).str("x").u64(1 << 20).bytes(new byte[16]), null, "metadata 'a'",
                "string length 1048576 at offset 58 runs past the end"); // 24 header + 9 key + 4 + 4 + 8 + 9 for "x"
        Le deep = header(0, 1).str("a").u32(9);
        for (int i = 0; i < 12; i++) {
            deep.u32(9).u64(1);
        }
        deep.u32(0).u64(0);
        rejects(deep, null, "metadata 'a'", "nest deeper than 8");
    }

    @Test
    void alignment() {
        rejects(header(0, 1).str("general.alignment").u32(10).u64(32), null, "metadata 'general.alignment'", "must be UINT32, is UINT64");
        rejects(header(0, 1).str("general.alignment").u32(4).u32(24), null, "metadata 'general.alignment'", "24 is not a power of two");
        rejects(header(0, 1).str("general.alignment").u32(4).u32(0), null, "metadata 'general.alignment'", "0 is not a power of two");
    }

    /** A file with one tensor info and {@code data} bytes after the aligned data start. */
    private static Le oneTensor(String name, long[] ne, long type, long offset, int data) {
        Le b = header(1, 0).str(name).u32(ne.length);
        for (long d : ne) {
            b.u64(d);
        }
        return b.u32(type).u64(offset).padTo(32).bytes(new byte[data]);
    }

    @Test
    void tensorInfos() {
        rejects(oneTensor("t", new long[] {1, 1, 1, 1, 1}, 0, 0, 4), "t", "n_dims", "5 dimensions, ggml allows at most 4");
        rejects(oneTensor("t", new long[] {-4}, 0, 0, 4), "t", "ne[0]", "18446744073709551612 is not in [0, 2^63)");
        rejects(oneTensor("t", new long[] {1L << 32, 1L << 32}, 0, 0, 4), "t", "ne[1]", "overflows a long");
        rejects(oneTensor("t", new long[] {1L << 61}, 0, 0, 4), "t", "type", "overflows a long");
        rejects(oneTensor("t", new long[] {256}, 16, 0, 4), "t", "type", "ggml type 16 (IQ2_XXS) is not supported");
        rejects(oneTensor("t", new long[] {32}, 4, 0, 4), "t", "type", "(removed from ggml)");
        rejects(oneTensor("t", new long[] {32}, 0xFFFF_FFFFL, 0, 4), "t", "type", "ggml type 4294967295");
        rejects(oneTensor("t", new long[] {33, 2}, GgmlType.Q4_0.id(), 0, 40), "t", "ne[0]", "33 elements per row is not a multiple of Q4_0's block size 32");
        rejects(oneTensor("t", new long[] {2}, 0, -32, 8), "t", "offset", "18446744073709551584 is not in [0, 2^63)");
        rejects(oneTensor("t", new long[] {2}, 0, 16, 32), "t", "offset", "16 is not a multiple of the alignment 32");
        rejects(oneTensor("t", new long[] {2}, 0, 32, 64), "t", "offset", "32: the first tensor must be at offset 0");
        rejects(oneTensor("t", new long[] {4, 4}, 0, 0, 63), "t", "offset", "data [0, 64) runs past the end of the 63-byte data section");
        rejects(oneTensor("t", new long[] {1L << 40}, 0, 0, 8), "t", "offset", "runs past the end");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(
                () -> new GgufTensorSpec("t", GgmlType.F32, Shape.of(1L << 61)))).hasMessageContaining("overflows");
        Le bad = header(1, 0).u64(1).bytes((byte) 0xFF).u32(0).u32(0).u64(0);
        rejects(bad, "#0", "name", "not valid UTF-8");
    }

    @Test
    void tensorsMustFollowEachOtherInInfoOrder() {
        Le two = header(2, 0).str("a").u32(1).u64(3).u32(0).u64(0).str("b").u32(1).u64(1).u32(0);
        rejects(copy(two).u64(0).padTo(32).bytes(new byte[64]), "b", "offset", "0 overlaps tensor 'a', which with its padding ends at 32");
        rejects(copy(two).u64(64).padTo(32).bytes(new byte[96]), "b", "offset", "64 leaves a gap after tensor 'a'");
        Le dup = header(2, 0).str("a").u32(1).u64(3).u32(0).u64(0).str("a").u32(1).u64(1).u32(0).u64(32).padTo(32)
                .bytes(new byte[64]);
        rejects(dup, "a", "name", "appears twice");
        // the padding to the data section must exist when there are tensors
        byte[] noPad = header(1, 0).str("z").u32(1).u64(0).u32(0).u64(0).toBytes();
        assertThat(noPad.length % 32).isNotZero();
        assertThat(reject(noPad).getMessage()).contains("padding to the 32-byte aligned data section");
    }

    private static Le copy(Le b) {
        return new Le().bytes(b.toBytes());
    }

    @Test
    void everyTruncationOfAValidFileIsRejectedCleanly() throws IOException {
        Path p = dir.resolve("ok.gguf");
        try (GgufWriter w = GgufWriter.create(p, GgufTest.everyType(), List.of(
                new GgufTensorSpec("w", GgmlType.Q8_0, Shape.of(2, 32)), new GgufTensorSpec("v", GgmlType.F32, Shape.of(3))))) {
            w.write("w", MemorySegment.ofArray(new byte[68]));
            w.write("v", Tensor.ofFloats(new float[] {1, 2, 3}, 3));
        }
        byte[] ok = Files.readAllBytes(p);
        GgufFile.read(MemorySegment.ofArray(ok), "ok"); // the whole file is fine
        // without the final padding it is still fine; any shorter prefix is rejected
        int lastEnd = (int) (GgufFile.read(MemorySegment.ofArray(ok), "ok").dataStart() + 96 + 12);
        GgufFile.read(MemorySegment.ofArray(Arrays.copyOf(ok, lastEnd)), "ok");
        for (int n = 0; n < lastEnd; n++) {
            assertThat(reject(Arrays.copyOf(ok, n))).as("prefix of %d bytes", n).isNotNull();
        }
    }

    @Test
    void aFileOnDiskIsNamedInTheMessage() throws IOException {
        Path p = dir.resolve("lying.gguf");
        Files.write(p, oneTensor("blk.0.attn_q.weight", new long[] {32, 2}, GgmlType.Q4_0.id(), 0, 10).toBytes());
        TensorFormatException e = catchThrowableOfType(TensorFormatException.class, () -> GgufFile.open(p));
        assertThat(e.getMessage()).startsWith(p + ": tensor 'blk.0.attn_q.weight': offset: data [0, 36) runs past the end");
    }
}

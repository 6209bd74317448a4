package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hand-built hostile safetensors files: each is rejected with a TensorFormatException naming tensor and field. */
class SafetensorsMaliciousTest {
    private static final String OK_T = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    @TempDir
    Path dir;

    private static TensorFormatException reject(byte[] file) {
        TensorFormatException e = catchThrowableOfType(TensorFormatException.class,
                () -> SafetensorsFile.read(MemorySegment.ofArray(file), "evil.safetensors"));
        assertThat(e).as("expected a TensorFormatException").isNotNull();
        assertThat(e.getMessage()).startsWith("evil.safetensors: ");
        assertThat(e.source()).isEqualTo("evil.safetensors");
        return e;
    }

    private static TensorFormatException reject(String json, int dataBytes) {
        return reject(Le.safetensors(json, new byte[dataBytes]));
    }

    private static void rejects(String json, int dataBytes, String tensor, String field, String fragment) {
        TensorFormatException e = reject(json, dataBytes);
        assertThat(e.tensor()).isEqualTo(tensor);
        assertThat(e.field()).isEqualTo(field);
        assertThat(e.getMessage()).contains(fragment);
    }

    @Test
    void headerLengthIsCheckedBeforeAnythingIsAllocated() {
        assertThat(reject(new byte[5]).getMessage()).contains("header length").contains("5 bytes");
        // N = 2^63 + 16 (negative as a signed long), N just over the cap, N past the end of the file
        assertThat(reject(new Le().u64(Long.MIN_VALUE + 16).bytes(new byte[16]).toBytes()).getMessage())
                .contains("9223372036854775824 bytes exceeds the cap");
        assertThat(reject(new Le().u64(SafetensorsFile.MAX_HEADER_BYTES + 1).bytes(new byte[16]).toBytes()).field())
                .isEqualTo("header length");
        assertThat(reject(new Le().u64(17).ascii("{}").toBytes()).getMessage()).contains("17 bytes run past the end of the 10-byte file");
    }

    @Test
    void headerMustBeOneValidJsonObject() {
        assertThat(reject(new Le().u64(0).toBytes()).field()).isEqualTo("header");
        assertThat(reject("[1,2]", 0).getMessage()).contains("not a JSON object");
        assertThat(reject("{\"a\":" + OK_T, 8).getMessage()).contains("invalid JSON");
        assertThat(reject("{} {}", 0).getMessage()).contains("content after the JSON object");
        assertThat(reject("{}x", 0).getMessage()).contains("invalid JSON");
        assertThat(reject("{\"a\":" + OK_T + ",\"a\":" + OK_T + "}", 8).getMessage()).contains("Duplicate field 'a'");
        assertThat(reject("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8).getMessage())
                .contains("Duplicate field 'dtype'");
        byte[] badUtf8 = new Le().u64(8).ascii("{\"").bytes((byte) 0xC3, (byte) 0x28).ascii("\":1}").toBytes();
        assertThat(reject(badUtf8).getMessage()).contains("header: is not valid UTF-8");
        // zero bytes must not make the parser guess UTF-16 or UTF-32 (found by fuzzing)
        byte[] utf32 = Le.safetensors("\u0000\u0000\u0000{\"a\":1}", new byte[0]);
        assertThat(reject(utf32).getMessage()).contains("invalid JSON");
        String deep = "{\"a\":{\"dtype\":\"F32\",\"x\":" + "[".repeat(100) + "]".repeat(100) + "}}";
        assertThat(reject(deep, 0).getMessage()).contains("nesting depth");
        assertThat(reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[" + "9".repeat(40) + "],\"data_offsets\":[0,8]}}", 8)
                .getMessage()).containsIgnoringCase("number");
    }

    @Test
    void tensorFieldsAreTypedAndComplete() {
        rejects("{\"a\":3}", 0, "a", null, "must be an object");
        rejects("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a", "dtype", "missing");
        rejects("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "a", "shape", "missing");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "a", "data_offsets", "missing");
        rejects("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a", "dtype", "must be a string");
        rejects("{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "", "name", "empty name");
        rejects("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a", "dtype", "unknown dtype \"F33\"");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "a", "shape", "must be an array");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "a", "shape", "(-2) is not an integer in [0, 2^63)");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "a", "shape", "not an integer");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "a", "shape", "not an integer");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,8]}}", 8, "a", "shape",
                "not an integer in [0, 2^63)");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8, "a", "data_offsets", "has 3 elements, needs 2");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "a", "data_offsets", "has 1 elements");
        rejects("{\"__metadata__\":[1]}", 0, null, "__metadata__", "must be an object of strings");
        rejects("{\"__metadata__\":{\"k\":1}}", 0, null, "__metadata__", "value of \"k\" must be a string");
    }

    @Test
    void countsThatOverflowAreRejected() {
        // 2^32 · 2^32 elements overflow a long; 2^61 F32 elements overflow the bit count
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "a", "shape", "overflows a long");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}}", 8, "a", "shape",
                "overflow a long bit count");
        // the product may become tiny again modulo 2^64: 2^33 · 2^31 = 2^64 = 0 (mod 2^64) must not pass as empty
        rejects("{\"a\":{\"dtype\":\"U8\",\"shape\":[8589934592,2147483648],\"data_offsets\":[0,0]}}", 0, "a", "shape", "overflows");
        rejects("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "a", "shape", "byte boundary");
    }

    @Test
    void offsetsMustMatchSizesAndTileTheDataRegion() {
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "a", "data_offsets", "ends before it begins");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,7]}}", 7, "a", "data_offsets", "holds 7 bytes, but [2] of F32 needs 8");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "a", "data_offsets", "past the end of the 4-byte data region");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775800,9223372036854775807]}}", 8, "a",
                "data_offsets", "holds 7 bytes");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "a", "data_offsets", "the first tensor must start at 0");
        rejects("{\"a\":" + OK_T + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "b", "data_offsets",
                "overlaps tensor 'a', which ends at 8");
        rejects("{\"a\":" + OK_T + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16, "b", "data_offsets",
                "leaves a gap of 4 bytes after tensor 'a'");
        rejects("{\"a\":" + OK_T + "}", 9, null, "data region", "cover 8 bytes, but the data region after the header has 9");
        // a huge tensor whose offsets are consistent but whose data is not in the file
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000000000],\"data_offsets\":[0,4000000000000]}}", 8, "a", "data_offsets",
                "past the end");
    }

    @Test
    void aFileOnDiskIsNamedInTheMessage() throws IOException {
        Path p = dir.resolve("lying.safetensors");
        Files.write(p, Le.safetensors("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,4]}}", new byte[4]));
        assertThatThrownBy(() -> SafetensorsFile.open(p)).isInstanceOf(TensorFormatException.class)
                .hasMessageStartingWith(p + ": tensor 'w': data_offsets: ");
    }

    @Test
    void everyTruncationOfAValidFileIsRejectedCleanly() throws IOException {
        Path p = dir.resolve("ok.safetensors");
        SafetensorsWriter.write(p, java.util.Map.of("a", lowbit.tensor.Tensor.ofFloats(new float[] {1, 2, 3}, 3),
                "b", lowbit.tensor.Tensor.ofCodes(lowbit.tensor.DType.I16, new int[] {4}, lowbit.tensor.Shape.of(1))),
                java.util.Map.of("k", "v"));
        byte[] ok = Files.readAllBytes(p);
        for (int n = 0; n < ok.length; n++) {
            byte[] cut = java.util.Arrays.copyOf(ok, n);
            assertThat(reject(cut)).as("prefix of %d bytes", n).isNotNull();
        }
        assertThat(new String(ok, 8, 8, StandardCharsets.UTF_8)).startsWith("{\"__meta");
    }
}

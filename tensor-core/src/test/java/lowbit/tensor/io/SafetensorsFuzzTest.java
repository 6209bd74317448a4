package lowbit.tensor.io;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer fuzz test of the safetensors reader ({@link FuzzChecks#safetensors}: nothing but TensorFormatException may
 * escape). Without {@code JAZZER_FUZZ} it replays the seeds in {@code SafetensorsFuzzTestInputs/safetensors} as a
 * regression test; the Surefire execution {@code fuzz-safetensors} fuzzes it for {@code fuzz.duration} (see README).
 */
class SafetensorsFuzzTest {
    @FuzzTest(maxDuration = "10s")
    @DictionaryEntries({"{", "}", "[", "]", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"",
        "\"F16\"", "\"BF16\"", "\"F64\"", "\"I64\"", "\"I32\"", "\"I16\"", "\"I8\"", "\"U8\"", "\"BOOL\"", "\"F8_E4M3\"",
        "\"F8_E5M2\"", "\"F4\"", "\"F6_E2M3\"", "\"U64\"", "18446744073709551615", "9223372036854775807", "-1"})
    void safetensors(byte[] data) {
        FuzzChecks.safetensors(data);
    }
}

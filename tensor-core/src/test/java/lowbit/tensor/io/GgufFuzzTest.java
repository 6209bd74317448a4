package lowbit.tensor.io;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer fuzz test of the GGUF reader ({@link FuzzChecks#gguf}: nothing but TensorFormatException may escape).
 * Without {@code JAZZER_FUZZ} it replays the seeds in {@code GgufFuzzTestInputs/gguf}; the Surefire execution
 * {@code fuzz-gguf} fuzzes it for {@code fuzz.duration} (see README).
 */
class GgufFuzzTest {
    @FuzzTest(maxDuration = "10s")
    @DictionaryEntries({"GGUF", "general.alignment", "general.architecture", "general.quantization_version"})
    void gguf(byte[] data) {
        FuzzChecks.gguf(data);
    }
}

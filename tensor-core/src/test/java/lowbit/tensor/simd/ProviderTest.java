package lowbit.tensor.simd;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Fails the run when the build asked for one provider or width (Surefire sets lowbit.expect.*) and the JVM picked
 * another: a SIMD test run that silently fell back to scalar would prove nothing.
 */
@Tag("simd")
class ProviderTest {
    @Test
    void chosenProviderIsTheOneTheBuildExpects() {
        VectorizationProvider p = VectorizationProvider.get();
        String expected = System.getProperty("lowbit.expect.provider");
        if (expected != null) {
            assertThat(p.name()).as("provider").isEqualTo(expected);
        }
        String bits = System.getProperty("lowbit.expect.vector.bits");
        if (bits != null) {
            assertThat(p.vectorBitSize()).as("vector width").isEqualTo(Integer.parseInt(bits));
        }
        if (p.name().equals("scalar")) {
            assertThat(p.vectorBitSize()).isZero();
        } else {
            assertThat(p.vectorBitSize()).isIn(128, 256, 512);
        }
    }
}

package lowbit.tensor.simd.panama;

import static org.assertj.core.api.Assertions.assertThat;

import lowbit.tensor.simd.VectorizationProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The GEMM register tile this JVM runs: the one the build asked for (Surefire's simd-* executions set
 * lowbit.vector.registers and lowbit.expect.gemm.rows, so that both tiles are tested on every machine), and in any
 * case the one the register count calls for; and block heights that hold whole micro-panels, so only the last
 * micro-panel of op(A) is ever partial (an interior partial one would round its tile separately and change the bits). Skipped when the
 * scalar provider is in use (no Vector API module).
 */
@Tag("simd")
class GemmTileTest {
    @BeforeEach
    void needsTheVectorApi() {
        Assumptions.assumeTrue(VectorizationProvider.get().name().equals("panama"), "needs the Vector API");
    }

    @Test
    void tileRowsAreTheOnesExpected() {
        String expected = System.getProperty("lowbit.expect.gemm.rows");
        if (expected != null) {
            assertThat(PanamaGemm.MR).as("tile rows").isEqualTo(Integer.parseInt(expected));
        }
        assertThat(PanamaGemm.MR).as("tile rows for %d vector registers", Species.VECTOR_REGISTERS)
                .isEqualTo(Species.VECTOR_REGISTERS >= 32 ? 8 : 6);
    }

    @Test
    void blocksHoldWholeMicroPanels() {
        assertThat(PanamaGemm.MC % PanamaGemm.MR).isZero();
        assertThat(PanamaGemm.MC_PACKED % PanamaGemm.MR).isZero();
        assertThat(PanamaGemm.NC % PanamaGemm.NR).isZero();
    }
}

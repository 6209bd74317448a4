package lowbit.examples.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every adapter method learns its teacher: within a fixed, seeded budget (Linear 512 → 512, 200 AdamW steps of 16
 * rows; DyLoRA 400, Bone/Bat/PaCA 100) each recovers at least 90 % of the teacher's delta (relative drop of the evaluation loss), and the loss
 * curves are written to {@code target/adapter-loss-curves.png}.
 */
class AdapterLearningTest {
    @Test
    void everyMethodRecoversNinetyPercentOfItsTeachersDelta() throws Exception {
        System.setProperty("java.awt.headless", "true");
        List<AdapterLearningCurves.Curve> curves = AdapterLearningCurves.standard();
        for (AdapterLearningCurves.Curve c : curves) {
            System.out.printf("%-18s recovered %6.2f %%%n", c.method(), 100 * c.recovered());
        }
        Path png = Path.of("target/adapter-loss-curves.png");
        AdapterLearningCurves.writePng(curves, png, AdapterLearningCurves.TITLE);
        assertThat(Files.size(png)).isGreaterThan(10_000);
        for (AdapterLearningCurves.Curve c : curves) {
            assertThat(c.recovered()).as(c.method() + " (seed 42)").isGreaterThanOrEqualTo(0.9);
        }
    }
}

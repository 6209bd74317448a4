package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class MiniLmAnchorTest {
    @Test
    void modelCardCosine() {
        MiniLm m = MiniLm.load();
        float[][] e = m.embed(List.of("A man is eating food.", "A man is eating a piece of bread."));
        double cos = MiniLm.cosine(e[0], e[1]);
        System.out.println("cos = " + cos);
        assertThat(Math.round(cos * 10000) / 10000.0).isEqualTo(0.7553);
    }
}

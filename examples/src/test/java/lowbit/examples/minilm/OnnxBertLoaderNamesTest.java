package lowbit.examples.minilm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** {@link OnnxBertLoader#moduleName}: lowbit's Linear names to HuggingFace BertModel module paths. */
class OnnxBertLoaderNamesTest {
    @Test
    void everyRole() {
        assertThat(OnnxBertLoader.moduleName("layer.0.attention.query")).isEqualTo("encoder.layer.0.attention.self.query");
        assertThat(OnnxBertLoader.moduleName("layer.3.attention.key")).isEqualTo("encoder.layer.3.attention.self.key");
        assertThat(OnnxBertLoader.moduleName("layer.5.attention.value")).isEqualTo("encoder.layer.5.attention.self.value");
        assertThat(OnnxBertLoader.moduleName("layer.1.attention.output")).isEqualTo("encoder.layer.1.attention.output.dense");
        assertThat(OnnxBertLoader.moduleName("layer.2.ffn.up")).isEqualTo("encoder.layer.2.intermediate.dense");
        assertThat(OnnxBertLoader.moduleName("layer.11.ffn.down")).isEqualTo("encoder.layer.11.output.dense");
    }

    @Test
    void badNames() {
        for (String bad : new String[] {"layer.x.ffn.up", "layer.0.ffn.gate", "encoder.layer.0.ffn.up", "layer.",
            "layer..ffn.up"}) {
            assertThatThrownBy(() -> OnnxBertLoader.moduleName(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(bad);
        }
    }
}

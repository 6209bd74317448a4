package lowbit.tensor.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import lowbit.tensor.DType;
import lowbit.tensor.Shape;
import lowbit.tensor.Tensor;
import lowbit.tensor.layout.AffineSpec;
import lowbit.tensor.layout.GroupwiseAffine;
import lowbit.tensor.layout.Outliers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** lowbit's own checkpoint format: tensors checked byte by byte against the documented layout, then round trips. */
class LowbitCheckpointTest {
    private static final String P = "mlp.down_proj";

    @TempDir
    Path dir;

    /** 2 × 8, u4 asym, groups of 4, codes r·8 + c + 1 (mod 16), zeros 3 + grid index, scales 0.5·(index + 1). */
    private static GroupwiseAffine small() {
        int[] q = new int[16];
        for (int i = 0; i < 16; i++) {
            q[i] = (i + 1) % 16;
        }
        return GroupwiseAffine.of(2, 8, AffineSpec.groupsAlongIn(4, 4, false), q, new float[] {0.5f, 1, 1.5f, 2},
                new int[] {3, 4, 5, 6});
    }

    @Test
    void tensorsFollowTheDocumentedLayout() {
        Map<String, Tensor> t = LowbitCheckpoint.tensors(P, LowbitCheckpoint.Entry.of(small()));
        assertThat(t.keySet()).containsExactly(P + ".lowbit_codes", P + ".lowbit_scales", P + ".lowbit_zeros");
        Tensor codes = t.get(P + ".lowbit_codes");
        assertThat(codes.dtype()).isEqualTo(DType.U8);
        assertThat(codes.shape()).isEqualTo(Shape.of(2, 4));
        // code 2j in the low nibble of byte j: row 0 codes 1..8, row 1 codes 9..15, 0
        assertThat(codes.segment().toArray(ValueLayout.JAVA_BYTE)).containsExactly(0x21, 0x43, 0x65, 0x87, 0xa9,
                0xcb, 0xed, 0x0f);
        Tensor scales = t.get(P + ".lowbit_scales");
        assertThat(scales.dtype()).isEqualTo(DType.F32);
        assertThat(scales.shape()).isEqualTo(Shape.of(2, 2));
        assertThat(scales.toFloatArray()).containsExactly(0.5f, 1, 1.5f, 2);
        assertThat(t.get(P + ".lowbit_zeros").toIntArray()).containsExactly(3, 4, 5, 6);
        assertThat(LowbitCheckpoint.metadata(P, LowbitCheckpoint.Entry.of(small()))).containsExactly(Map.entry(
                "lowbit.quant." + P, "{\"format\":\"lowbit-affine\",\"version\":1,\"bits\":4,\"symmetric\":false,"
                        + "\"granularity\":\"GROUP_ALONG_IN\",\"group_size\":4,\"rows\":2,\"cols\":8}"));
    }

    private Path write(String prefix, LowbitCheckpoint.Entry e, Map<String, Tensor> extra) throws Exception {
        Map<String, Tensor> t = new LinkedHashMap<>(LowbitCheckpoint.tensors(prefix, e));
        t.putAll(extra);
        Path f = dir.resolve("q.safetensors");
        SafetensorsWriter.write(f, t, LowbitCheckpoint.metadata(prefix, e));
        return f;
    }

    @Test
    void roundTripWithActOrderOutliersAndTransform() throws Exception {
        int rows = 6;
        int cols = 16;
        int[] q = new int[rows * cols];
        for (int i = 0; i < q.length; i++) {
            q[i] = (i * 5) % 8;
        }
        int[] gIdx = new int[cols];
        for (int c = 0; c < cols; c++) {
            gIdx[c] = (c * 3) % 2;
        }
        float[] s = new float[rows * 2];
        int[] z = new int[rows * 2];
        for (int i = 0; i < s.length; i++) {
            s[i] = 0.25f * (i + 1);
            z[i] = i % 8;
        }
        Outliers o = Outliers.of(rows, cols, new int[] {0, 5}, new int[] {3, 15}, new float[] {7.5f, -2.25f}, DType.F16);
        AffineSpec spec = AffineSpec.groupsAlongIn(3, 8, false).withScaleType(DType.F16);
        GroupwiseAffine m = GroupwiseAffine.of(rows, cols, spec, q, s, z, gIdx, o);
        float[] mult = new float[cols];
        for (int c = 0; c < cols; c++) {
            mult[c] = 1 + c;
        }
        float[] bias = {1, 2, 3, 4, 5, 6};
        LowbitCheckpoint.Entry e = new LowbitCheckpoint.Entry(m, mult, 8, -1234567890123L, bias, "awq");
        Path f = write(P, e, Map.of("other.weight", Tensor.ofFloats(new float[] {1}, 1)));
        try (SafetensorsFile in = SafetensorsFile.open(f)) {
            assertThat(LowbitCheckpoint.prefixes(in)).containsExactly(P);
            LowbitCheckpoint.Entry back = LowbitCheckpoint.read(in, P);
            GroupwiseAffine b = back.matrix();
            assertThat(b.spec()).isEqualTo(spec);
            assertThat(b.codes()).isEqualTo(q);
            assertThat(b.scales()).isEqualTo(m.scales());
            assertThat(b.zeros()).isEqualTo(z);
            assertThat(b.gIdx()).isEqualTo(gIdx);
            assertThat(b.outliers().count()).isEqualTo(2);
            assertThat(b.outliers().valueType()).isEqualTo(DType.F16);
            assertThat(b.dequantize()).isEqualTo(m.dequantize());
            assertThat(back.inputMultiplier()).isEqualTo(mult);
            assertThat(back.outputBias()).isEqualTo(bias);
            assertThat(back.rotationBlock()).isEqualTo(8);
            assertThat(back.rotationSeed()).isEqualTo(-1234567890123L);
            assertThat(back.method()).isEqualTo("awq");
        }
    }

    @Test
    void symmetricPerRowHasNoZeros() throws Exception {
        int[] q = {0, 7, 3, 4, 1, 6};
        GroupwiseAffine m = GroupwiseAffine.of(2, 3, AffineSpec.perOutputChannel(3, true), q, new float[] {1, 2}, null);
        Path f = write("w", LowbitCheckpoint.Entry.of(m), Map.of());
        try (SafetensorsFile in = SafetensorsFile.open(f)) {
            assertThat(in.contains("w.lowbit_zeros")).isFalse();
            GroupwiseAffine b = LowbitCheckpoint.read(in, "w").matrix();
            assertThat(b.codes()).isEqualTo(q);
            assertThat(b.zeros()).isNull();
            assertThat(b.dequantize()).containsExactly(-4, 3, -1, 0, -6, 4); // s·(q − 4)
            assertThat(LowbitCheckpoint.read(in, "w").hasTransform()).isFalse();
        }
    }

    @Test
    void badFilesNameTheProblem() throws Exception {
        LowbitCheckpoint.Entry e = LowbitCheckpoint.Entry.of(small());
        Map<String, Tensor> t = new LinkedHashMap<>(LowbitCheckpoint.tensors(P, e));
        Path f = dir.resolve("bad.safetensors");
        // no metadata
        SafetensorsWriter.write(f, t, Map.of());
        try (SafetensorsFile in = SafetensorsFile.open(f)) {
            assertThatThrownBy(() -> LowbitCheckpoint.read(in, P)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining("not a lowbit-quantized weight");
        }
        // a future version
        Map<String, String> meta = new LinkedHashMap<>(LowbitCheckpoint.metadata(P, e));
        meta.replaceAll((k, v) -> v.replace("\"version\":1", "\"version\":2"));
        SafetensorsWriter.write(f, t, meta);
        try (SafetensorsFile in = SafetensorsFile.open(f)) {
            assertThatThrownBy(() -> LowbitCheckpoint.read(in, P)).hasMessageContaining("version: 2 is not supported");
        }
        // codes of the wrong shape
        Map<String, Tensor> t2 = new LinkedHashMap<>(t);
        t2.put(P + ".lowbit_codes", Tensor.wrap(java.lang.foreign.MemorySegment.ofArray(new byte[6]), DType.U8,
                Shape.of(2, 3)));
        SafetensorsWriter.write(f, t2, LowbitCheckpoint.metadata(P, e));
        try (SafetensorsFile in = SafetensorsFile.open(f)) {
            assertThatThrownBy(() -> LowbitCheckpoint.read(in, P)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining(P + ".lowbit_codes").hasMessageContaining("[2, 3]");
        }
        // a zero point outside the 4-bit range
        Map<String, Tensor> t3 = new LinkedHashMap<>(t);
        t3.put(P + ".lowbit_zeros", Tensor.wrap(java.lang.foreign.MemorySegment.ofArray(new byte[] {3, 4, 5, 99}),
                DType.U8, Shape.of(2, 2)));
        SafetensorsWriter.write(f, t3, LowbitCheckpoint.metadata(P, e));
        try (SafetensorsFile in = SafetensorsFile.open(f)) {
            assertThatThrownBy(() -> LowbitCheckpoint.read(in, P)).isInstanceOf(TensorFormatException.class)
                    .hasMessageContaining("99");
        }
        // a missing tensor
        Map<String, Tensor> t4 = new LinkedHashMap<>(t);
        t4.remove(P + ".lowbit_scales");
        SafetensorsWriter.write(f, t4, LowbitCheckpoint.metadata(P, e));
        try (SafetensorsFile in = SafetensorsFile.open(f)) {
            assertThatThrownBy(() -> LowbitCheckpoint.read(in, P)).hasMessageContaining(P + ".lowbit_scales")
                    .hasMessageContaining("missing");
        }
    }

    @Test
    void entryValidatesItsVectors() {
        assertThatThrownBy(() -> new LowbitCheckpoint.Entry(small(), new float[3], 0, 0, null, null))
                .hasMessageContaining("input multiplier has 3 entries, expected 8");
        assertThatThrownBy(() -> new LowbitCheckpoint.Entry(small(), null, 3, 0, null, null))
                .hasMessageContaining("rotation block 3");
        assertThatThrownBy(() -> new LowbitCheckpoint.Entry(small(), null, 0, 0, new float[] {Float.NaN, 0}, null))
                .hasMessageContaining("output bias[0] is NaN");
    }
}

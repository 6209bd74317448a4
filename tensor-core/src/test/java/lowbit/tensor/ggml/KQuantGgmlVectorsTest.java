package lowbit.tensor.ggml;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Byte identity with ggml itself across the iterative scale searches: {@code kquant-ggml-vectors.txt} holds the bytes
 * ggml's own {@code quantize_row_*_ref} produced (and the float bits of its generic dot products) for inputs from
 * {@link Gen}; how the file was made is written at its top. The hand-derived vectors of {@link KQuantVectorsTest}
 * check the rules one at a time; these check that the whole search, with its float rounding, is ggml's. The encoders
 * of the provider chosen for the run are tested (Vector API in the default run, scalar in the fallback run); the
 * k-quant kernel tests compare the two at every vector width.
 */
class KQuantGgmlVectorsTest {
    /** Types whose encoders and scalar dots lowbit has; a vector line of another type fails the test. */
    static final Set<GgmlType> TYPES = EnumSet.of(GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K,
            GgmlType.Q6_K, GgmlType.Q8_K);

    /**
     * The input generator, exactly as the C harness that produced the vectors: splitmix64 from the state
     * seed·1000003 + kind; u24 = the top 24 bits of the next output; gauss = four u24 summed minus 2^25 (|g| &lt; 2^25).
     * Kinds: 0 gauss·2^-25 (≈ N(0, 0.33)); 1 the same with a random exponent −25−(0..15) per 32 elements; 2 u24·2^-24
     * (all &ge; 0); 3 −(u24+1)·2^-24 (all &lt; 0); 4 kind 0 with −128 at every index 77 mod 256 (a spike); 5 kind 0
     * with every third 32-element sub-block zero; 6 gauss·2^-49 (fp16 scales underflow to 0); 7 gauss·2^-39 (fp16
     * subnormal scales); 8 gauss·2^-1 (fp16 scales overflow to &infin;); 9 (0..8 − 4)/2 (many ties); 10 the constant
     * 0.75; 11 kind 0 at one element in 16 on average, else 0; 12 gauss·2^25 (the searches' sums overflow); 13 kind 0
     * with NaN at i ≡ 5 (mod 97) and +&infin; at i ≡ 3 (mod 89).
     */
    static final class Gen {
        private long st;

        static float[] row(int kind, long seed, int n) {
            Gen g = new Gen();
            g.st = seed * 1000003L + kind;
            float[] x = new float[n];
            int e = 0;
            for (int i = 0; i < n; i++) {
                int sub = i / 32;
                float v;
                switch (kind) {
                    case 0 -> v = g.gauss() * 0x1p-25f;
                    case 1 -> {
                        if (i % 32 == 0) {
                            e = -25 - (int) (g.next() >>> 60);
                        }
                        v = g.gauss() * Math.scalb(1f, e);
                    }
                    case 2 -> v = g.u24() * 0x1p-24f;
                    case 3 -> v = -(float) (g.u24() + 1) * 0x1p-24f;
                    case 4 -> v = (i % 256 == 77) ? -128f : g.gauss() * 0x1p-25f;
                    case 5 -> {
                        int gg = g.gauss();
                        v = ((sub * 7 + (int) seed) % 3 == 0) ? 0f : gg * 0x1p-25f;
                    }
                    case 6 -> v = g.gauss() * 0x1p-49f;
                    case 7 -> v = g.gauss() * 0x1p-39f;
                    case 8 -> v = g.gauss() * 0x1p-1f;
                    case 9 -> v = ((int) Long.remainderUnsigned(g.next(), 9) - 4) * 0.5f;
                    case 10 -> v = 0.75f;
                    case 11 -> {
                        int gg = g.gauss();
                        v = Long.remainderUnsigned(g.next(), 16) == 0 ? gg * 0x1p-25f : 0f;
                    }
                    case 12 -> v = g.gauss() * 0x1p25f;
                    case 13 -> {
                        int gg = g.gauss();
                        v = (i % 97 == 5) ? Float.NaN : (i % 89 == 3) ? Float.POSITIVE_INFINITY : gg * 0x1p-25f;
                    }
                    default -> throw new IllegalArgumentException("kind " + kind);
                }
                x[i] = v;
            }
            return x;
        }

        long next() {
            long z = (st += 0x9E3779B97F4A7C15L);
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        int u24() {
            return (int) (next() >>> 40);
        }

        int gauss() {
            return u24() + u24() + u24() + u24() - (1 << 25);
        }
    }

    static List<String[]> lines(String tag) throws IOException {
        List<String[]> out = new ArrayList<>();
        try (var in = KQuantGgmlVectorsTest.class.getResourceAsStream("kquant-ggml-vectors.txt")) {
            assertThat(in).as("test resource kquant-ggml-vectors.txt").isNotNull();
            var r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith(tag + " ")) {
                    out.add(line.split(" "));
                }
            }
        }
        return out;
    }

    /** Encodes with ggml's behaviour for non-finite input (kind 13). */
    static void encode(GgmlType t, float[] x, MemorySegment dst) {
        NonFinitePolicy p = NonFinitePolicy.ENCODE_LIKE_GGML;
        switch (t) {
            case Q2_K -> Q2_K.quantizeRow(x, 0, dst, 0, x.length, p);
            case Q3_K -> Q3_K.quantizeRow(x, 0, dst, 0, x.length, p);
            case Q4_K -> Q4_K.quantizeRow(x, 0, dst, 0, x.length, p);
            case Q5_K -> Q5_K.quantizeRow(x, 0, dst, 0, x.length, p);
            case Q6_K -> Q6_K.quantizeRow(x, 0, dst, 0, x.length, p);
            case Q8_K -> Q8_K.quantizeRow(x, 0, dst, 0, x.length, p);
            default -> throw new IllegalArgumentException("no encoder for " + t);
        }
    }

    @Test
    void encodersReproduceGgmlsBytes() throws IOException {
        int checked = 0;
        for (String[] f : lines("ENC")) {
            GgmlType t = GgmlType.valueOf(f[1]);
            int kind = Integer.parseInt(f[2]);
            long seed = Long.parseLong(f[3]);
            int nb = Integer.parseInt(f[4]);
            if (!TYPES.contains(t)) {
                continue;
            }
            float[] x = Gen.row(kind, seed, 256 * nb);
            MemorySegment got = MemorySegment.ofArray(new byte[nb * t.blockBytes()]);
            encode(t, x, got);
            assertThat(HexFormat.of().formatHex(got.toArray(ValueLayout.JAVA_BYTE)))
                    .as("%s kind %d seed %d (%d blocks)", t, kind, seed, nb).isEqualTo(f[5]);
            checked++;
        }
        assertThat(checked).as("vector lines checked").isEqualTo(28 * TYPES.size());
    }

    @Test
    void longRowsReproduceGgmlsDigest() throws Exception {
        int checked = 0;
        for (String[] f : lines("SHA")) {
            GgmlType t = GgmlType.valueOf(f[1]);
            if (!TYPES.contains(t)) {
                continue;
            }
            int kind = Integer.parseInt(f[2]);
            long seed = Long.parseLong(f[3]);
            int nb = Integer.parseInt(f[4]);
            float[] x = Gen.row(kind, seed, 256 * nb);
            MemorySegment got = MemorySegment.ofArray(new byte[nb * t.blockBytes()]);
            encode(t, x, got);
            byte[] sha = java.security.MessageDigest.getInstance("SHA-256").digest(got.toArray(ValueLayout.JAVA_BYTE));
            assertThat(HexFormat.of().formatHex(sha)).as("%s kind %d seed %d (%d blocks)", t, kind, seed, nb)
                    .isEqualTo(f[5]);
            checked++;
        }
        assertThat(checked).as("digest lines checked").isEqualTo(3 * TYPES.size());
    }

    /** The scalar twin of every k-quant dot gives ggml's generic C function's float bits. */
    @Test
    void scalarDotsHaveGgmlsGenericBits() throws IOException {
        var scalar = new lowbit.tensor.simd.ScalarKQuantKernels();
        int checked = 0;
        for (String[] f : lines("DOT")) {
            GgmlType t = GgmlType.valueOf(f[1]);
            if (!TYPES.contains(t)) {
                continue;
            }
            int kind = Integer.parseInt(f[2]);
            int nb = Integer.parseInt(f[3]);
            MemorySegment w = MemorySegment.ofArray(new byte[nb * t.blockBytes()]);
            encode(t, Gen.row(kind, 3, 256 * nb), w);
            MemorySegment a = MemorySegment.ofArray(new byte[nb * 292]);
            encode(GgmlType.Q8_K, Gen.row(0, 4, 256 * nb), a);
            float got = switch (t) {
                case Q2_K -> scalar.dotQ2_KQ8_K(w, 0, a, 0, nb);
                case Q3_K -> scalar.dotQ3_KQ8_K(w, 0, a, 0, nb);
                case Q4_K -> scalar.dotQ4_KQ8_K(w, 0, a, 0, nb);
                case Q5_K -> scalar.dotQ5_KQ8_K(w, 0, a, 0, nb);
                default -> scalar.dotQ6_KQ8_K(w, 0, a, 0, nb);
            };
            assertThat(String.format("%08x", Float.floatToRawIntBits(got))).as("%s kind %d (%d blocks): %s", t, kind, nb,
                    got).isEqualTo(f[4]);
            checked++;
        }
        assertThat(checked).as("dot lines checked").isEqualTo(13 * (TYPES.size() - 1));
    }

    @Test
    void generatorMatchesTheHarness() {
        // A wrong mirror of the generator shows up as byte mismatches above; this pins the documented ranges of kinds
        // 2 and 3 and the NaN/Inf positions of kind 13 so such a mismatch is told apart from an encoder bug.
        float[] k2 = Gen.row(2, 1, 256), k3 = Gen.row(3, 1, 256), k13 = Gen.row(13, 1, 256);
        for (int i = 0; i < 256; i++) {
            assertThat(k2[i]).isBetween(0f, 1f - 0x1p-24f);
            assertThat(k3[i]).isBetween(-1f, -0x1p-24f);
            assertThat(Float.isNaN(k13[i])).isEqualTo(i % 97 == 5);
            assertThat(k13[i] == Float.POSITIVE_INFINITY).isEqualTo(i % 97 != 5 && i % 89 == 3);
        }
    }
}

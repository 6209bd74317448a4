package lowbit.examples.minilm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Two small corpora of real English sentences shipped with the examples module: {@link #calibration()} (136
 * sentences) for collecting activations, and {@link #evaluation()} (132 sentences, disjoint from it) for scoring.
 * Everyday topics, news, science, questions, instructions, opinions and short messages, 5 to 25 words each; written
 * for lowbit (public domain) except seven example sentences of the sentence-transformers documentation at the top
 * of the evaluation set.
 */
public final class Corpus {
    private Corpus() {
    }

    /** The calibration sentences, in file order. */
    public static List<String> calibration() {
        return read("calibration.txt");
    }

    /** The evaluation sentences, in file order (no sentence is also a calibration sentence). */
    public static List<String> evaluation() {
        return read("evaluation.txt");
    }

    private static List<String> read(String name) {
        try (InputStream in = Corpus.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("resource lowbit/examples/minilm/" + name + " is missing");
            }
            List<String> out = new ArrayList<>();
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null;) {
                String s = line.strip();
                if (!s.isEmpty() && !s.startsWith("#")) {
                    out.add(s);
                }
            }
            return List.copyOf(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

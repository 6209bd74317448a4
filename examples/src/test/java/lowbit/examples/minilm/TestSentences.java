package lowbit.examples.minilm;

import java.util.List;

/** Sentences for the comparisons with onnxruntime and HuggingFace's tokenizer: varied length, case, punctuation, script. */
final class TestSentences {
    private TestSentences() {
    }

    static final List<String> ENGLISH = List.of(
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
            "A man is riding a horse.",
            "A woman is playing violin.",
            "Two men pushed carts through the woods.",
            "A man is riding a white horse on an enclosed ground.",
            "A monkey is playing drums.",
            "Someone in a gorilla costume is playing a set of drums.",
            "The quick brown fox jumps over the lazy dog!",
            "How do I reset my password? I've tried everything...",
            "Stock markets fell sharply on Monday after the central bank raised interest rates by 0.75%.",
            "She said: \"Don't forget the keys\" -- and left.",
            "e-mail me at someone@example.com, or call +1 (555) 010-9999.",
            "Photosynthesis converts light energy into chemical energy stored in glucose.",
            "Unbelievably, the antidisestablishmentarianism debate resurfaced.",
            "Crème brûlée is a French dessert; naïve café owners serve it cold.",
            "ÉCOLE NORMALE SUPÉRIEURE, Zürich and São Paulo.",
            "東京は日本の首都です。",
            "Emoji are unknown to this vocabulary 🙂🚀 but text around them is not.",
            "tabs\tand\nnewlines\r\nare whitespace",
            "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness,"
                    + " it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was"
                    + " the season of Darkness.",
            "",
            "OK");
}

package lowbit.examples.minilm;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProfileScratch {
    @Test
    void run() {
        MiniLm m = SharedModel.get();
        List<int[]> batch = new ArrayList<>();
        for (String s : Corpus.evaluation()) {
            int[] t = m.tokenizer().encode(s);
            if (t.length >= 12 && t.length <= 20 && batch.size() < 32) batch.add(t);
        }
        int iters = Integer.getInteger("iters", 200);
        for (int i = 0; i < iters; i++) {
            long t0 = System.nanoTime();
            m.embedIds(batch, null);
            if (i % 20 == 19) System.out.printf("batch %d: %.1f ms%n", i, (System.nanoTime() - t0) / 1e6);
        }
    }
}

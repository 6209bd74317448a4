package lowbit.nn.adapter;

import java.util.SplittableRandom;
import lowbit.nn.Parameter;

/**
 * DyLoRA (Valipour et al. 2023), as the authors' {@code loralib} layer: nested ranks in one pair A [r_max, in]
 * ({@code lora_A.weight}, Kaiming-uniform), B [out, r_max] ({@code lora_B.weight}, zero). Each training forward
 * samples b uniformly from {r_min..r_max} (the reference's {@code random.randint(min_rank, max_rank-1)} as a 0-based
 * index) and uses the truncation
 * <pre>
 *   Δy = (α/b)·(drop(x)·A_{1..b}ᵀ)·B_{:,1..b}ᵀ
 * </pre>
 * (the reference scales A and B each by √(r_max/b) on top of α/r_max: the same α/b). In {@code frozen} mode only row b
 * of A and column b of B receive gradient (the lower ranks are detached); otherwise all of 1..b do. Inference and
 * merge use a fixed rank, {@link #inferenceRank()} (r_max unless set): any b ≤ r_max can be chosen after training,
 * and the first b ranks then form a plain rank-b LoRA with α/b·B_b·A_b.
 */
public final class DyLoraAdapter extends Adapter {
    private final DyLoraConfig config;
    private final Parameter a;
    private final Parameter b;
    private final Dropout dropout;
    private final SplittableRandom rankRng;
    private int inferenceRank;
    private int lastRank;

    private DyLoraAdapter(String name, String module, int in, int out, DyLoraConfig c, float[] a0, float[] b0) {
        super(name, module, in, out);
        this.config = c;
        this.a = register("lora_A.weight", a0, c.rMax(), in);
        this.b = register("lora_B.weight", b0, out, c.rMax());
        this.dropout = new Dropout(c.dropout(), c.seed() ^ 0x9E3779B97F4A7C15L);
        this.rankRng = new SplittableRandom(c.seed() ^ 0xD1B54A32D192ED03L);
        this.inferenceRank = c.rMax();
    }

    static DyLoraAdapter create(String name, String module, Base base, DyLoraConfig c) {
        LoraAdapter.checkRank("DyLoRA", c.rMax(), base.in, base.out);
        float[] a0 = Init.kaimingUniform(c.rMax(), base.in, new SplittableRandom(c.seed()));
        return new DyLoraAdapter(name, module, base.in, base.out, c, a0, new float[base.out * c.rMax()]);
    }

    @Override
    public String method() {
        return "dylora";
    }

    /** r_max. */
    @Override
    public int rank() {
        return config.rMax();
    }

    public DyLoraConfig config() {
        return config;
    }

    public Parameter a() {
        return a;
    }

    public Parameter b() {
        return b;
    }

    /** The rank used by inference forward and merge. */
    public int inferenceRank() {
        return inferenceRank;
    }

    /**
     * Chooses the rank for inference and merge.
     *
     * @throws IllegalArgumentException unless 1 ≤ rank ≤ r_max
     */
    public void setInferenceRank(int rank) {
        if (rank < 1 || rank > config.rMax()) {
            throw new IllegalArgumentException("DyLoRA inference rank " + rank + " is outside [1, r_max = "
                    + config.rMax() + "]");
        }
        inferenceRank = rank;
    }

    /** The rank sampled by the last training forward (0 before any). */
    public int lastTrainingRank() {
        return lastRank;
    }

    /** α/b. */
    public float scaling(int rank) {
        return (float) (config.alpha() / rank);
    }

    record Saved(float[] xd, boolean dropped, long seed, float[] xa, int rank) {
    }

    @Override
    Object forward(Pass p, float weight, float[] y) {
        int in = inFeatures(), out = outFeatures();
        int rb = inferenceRank;
        if (p.training) {
            rb = config.rMin() + rankRng.nextInt(config.rMax() - config.rMin() + 1);
            lastRank = rb;
        }
        boolean drop = p.training && dropout.active();
        long seed = drop ? dropout.nextSeed() : 0;
        float[] xd = drop ? dropout.apply(p.x, p.n * in, seed) : p.x;
        float[] xa = LowRank.down(xd, p.n, in, a.data(), rb);
        LowRank.up(xa, p.n, rb, weight * scaling(rb), b.data(), config.rMax(), out, y);
        return p.training ? new Saved(xd, drop, seed, xa, rb) : null;
    }

    @Override
    void backward(Base base, Object saved, float[] dy, float weight, float[] dx) {
        Saved s = (Saved) saved;
        int in = inFeatures(), out = outFeatures(), rb = s.rank(), rMax = config.rMax();
        int n = s.xa().length / rb;
        float c = weight * scaling(rb);
        int k0 = config.frozen() ? rb - 1 : 0;
        LowRank.gradB(dy, n, out, s.xa(), rb, k0, rb, c, b.grad(), rMax);
        float[] g = LowRank.back(dy, n, out, b.data(), rMax, rb);
        LowRank.gradA(g, n, rb, k0, rb, c, s.xd(), in, a.grad());
        if (dx != null) {
            LowRank.gradX(g, n, rb, c, a.data(), in, dx, s.dropped() ? dropout : null, s.seed());
        }
    }

    @Override
    boolean mergesByRows() {
        return true;
    }

    @Override
    void mergeRows(int r0, int r1, float[] w, int off, float weight) {
        int rb = inferenceRank, rMax = config.rMax();
        lowbit.tensor.linalg.Gemm.gemm(false, false, r1 - r0, inFeatures(), rb, weight * scaling(rb), b.data(),
                r0 * rMax, rMax, a.data(), 0, inFeatures(), 1f, w, off, inFeatures());
    }

    @Override
    void mergeInto(Base base, float[] w0, float[] w, float weight) {
        mergeRows(0, outFeatures(), w, 0, weight);
    }

    @Override
    void unmergeFrom(Base base, float[] w, float weight) {
        mergeRows(0, outFeatures(), w, 0, -weight);
    }
}

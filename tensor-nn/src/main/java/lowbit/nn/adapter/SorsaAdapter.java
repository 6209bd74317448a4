package lowbit.nn.adapter;

import lowbit.nn.Parameter;

/**
 * SORSA (Cao 2024) as the authors' {@code sorsalib} layer: from the SVD W = U Σ Vᵀ, trainable
 * {@code sorsa_A} = V_rᵀ [r, in], {@code sorsa_S} = σ_1..r [r], {@code sorsa_B} = U_r [out, r]; the frozen base
 * becomes W_r = W − s·(B·diag(S))·A, so the layer is unchanged at init. Forward:
 * {@code y = x·W_rᵀ + s·drop(x)·((B·diag(S))·A)ᵀ (+ bias)}, computed as two thin products.
 *
 * <p>Gradients (X̃ = drop(x), XA = X̃·Aᵀ, G = dY·B): dB = s·dYᵀ·(XA ⊙ S), dS_k = s·Σ_i G_ik·XA_ik,
 * dA = s·(G ⊙ S)ᵀ·X̃, dX = dY·W_r + mask ⊙ (s·(G ⊙ S)·A). The orthonormality regulariser is
 * {@link SorsaRegularizer}.
 */
public final class SorsaAdapter extends Adapter {
    private final SorsaConfig config;
    private final int r;
    private final float scaling;
    private final Parameter a;
    private final Parameter s;
    private final Parameter b;
    private final Dropout dropout;
    /** The factors at init (the base is W − s·B₀·diag(S₀)·A₀): for saving relative to the original W. */
    final float[] initialA;
    final float[] initialS;
    final float[] initialB;

    record Start(float[] a, float[] s, float[] b, double[] residual) {
    }

    static Start start(Base base, SorsaConfig c) {
        int in = base.in, out = base.out, r = c.r();
        LoraAdapter.checkRank("SORSA", r, in, out);
        LoraAdapter.requireDense(base, "SORSA");
        float[] w = base.dense();
        Svd.Result svd = c.niter() < 0 ? Svd.exact(w, out, in, r)
                : Svd.randomized(w, out, in, r, LoraAdapter.PISSA_OVERSAMPLING, c.niter(), c.seed());
        float[] a = new float[r * in], sv = new float[r], b = new float[out * r], bs = new float[out * r];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) svd.vt()[i];
        }
        for (int k = 0; k < r; k++) {
            sv[k] = (float) svd.s()[k];
        }
        for (int o = 0; o < out; o++) {
            for (int k = 0; k < r; k++) {
                b[o * r + k] = (float) svd.u()[o * r + k];
                bs[o * r + k] = b[o * r + k] * sv[k];
            }
        }
        return new Start(a, sv, b, LoraAdapter.residual(w, bs, a, out, in, r, c.scaling()));
    }

    SorsaAdapter(String name, String module, int in, int out, SorsaConfig config, Start st) {
        super(name, module, in, out);
        this.config = config;
        this.r = config.r();
        this.scaling = (float) config.scaling();
        this.a = register("sorsa_A", st.a(), r, in);
        this.s = register("sorsa_S", st.s(), r);
        this.b = register("sorsa_B", st.b(), out, r);
        this.dropout = new Dropout(config.dropout(), config.seed() ^ 0x2545F4914F6CDD1DL);
        this.initialA = st.a().clone();
        this.initialS = st.s().clone();
        this.initialB = st.b().clone();
    }

    @Override
    public String method() {
        return "sorsa";
    }

    @Override
    public int rank() {
        return r;
    }

    public SorsaConfig config() {
        return config;
    }

    public float scaling() {
        return scaling;
    }

    /** sorsa_A [r, in]. */
    public Parameter a() {
        return a;
    }

    /** sorsa_S [r]. */
    public Parameter s() {
        return s;
    }

    /** sorsa_B [out, r]. */
    public Parameter b() {
        return b;
    }

    record Saved(float[] xd, boolean dropped, long seed, float[] xa) {
    }

    private float[] scaled(float[] xa) {
        float[] t = xa.clone();
        float[] sv = s.data();
        for (int i = 0; i < t.length; i++) {
            t[i] *= sv[i % r];
        }
        return t;
    }

    @Override
    Object forward(Pass p, float weight, float[] y) {
        int in = inFeatures(), out = outFeatures();
        boolean drop = p.training && dropout.active();
        long seed = drop ? dropout.nextSeed() : 0;
        float[] xd = drop ? dropout.apply(p.x, p.n * in, seed) : p.x;
        float[] xa = LowRank.down(xd, p.n, in, a.data(), r);
        LowRank.up(scaled(xa), p.n, r, weight * scaling, b.data(), r, out, y);
        return p.training ? new Saved(xd, drop, seed, xa) : null;
    }

    @Override
    void backward(Base base, Object saved, float[] dy, float weight, float[] dx) {
        Saved st = (Saved) saved;
        int in = inFeatures(), out = outFeatures(), n = st.xa().length / r;
        float c = weight * scaling;
        LowRank.gradB(dy, n, out, scaled(st.xa()), r, 0, r, c, b.grad(), r);
        float[] g = LowRank.back(dy, n, out, b.data(), r, r);
        float[] gs = s.grad();
        for (int i = 0; i < g.length; i++) {
            gs[i % r] += c * g[i] * st.xa()[i];
        }
        float[] gS = scaled(g);
        LowRank.gradA(gS, n, r, 0, r, c, st.xd(), in, a.grad());
        if (dx != null) {
            LowRank.gradX(gS, n, r, c, a.data(), in, dx, st.dropped() ? dropout : null, st.seed());
        }
    }

    private float[] bs() {
        float[] t = b.data().clone();
        float[] sv = s.data();
        for (int i = 0; i < t.length; i++) {
            t[i] *= sv[i % r];
        }
        return t;
    }

    @Override
    boolean mergesByRows() {
        return true;
    }

    @Override
    void mergeRows(int r0, int r1, float[] w, int off, float weight) {
        lowbit.tensor.linalg.Gemm.gemm(false, false, r1 - r0, inFeatures(), r, weight * scaling, bs(), r0 * r, r,
                a.data(), 0, inFeatures(), 1f, w, off, inFeatures());
    }

    @Override
    void mergeInto(Base base, float[] w0, float[] w, float weight) {
        LowRank.addProduct(bs(), r, a.data(), r, outFeatures(), inFeatures(), weight * scaling, w);
    }

    @Override
    void unmergeFrom(Base base, float[] w, float weight) {
        LowRank.addProduct(bs(), r, a.data(), r, outFeatures(), inFeatures(), -weight * scaling, w);
    }
}

package lowbit.nn.adapter;

import java.util.SplittableRandom;
import lowbit.nn.Parameter;

/**
 * LoRA (Hu et al. 2021) as HF PEFT's {@code lora.Linear}: {@code y = base(x) + s·(drop(x)·Aᵀ)·Bᵀ} with
 * A [r, in] ({@code lora_A.weight}), B [out, r] ({@code lora_B.weight}), s = α/r or α/√r (rsLoRA). The update is
 * never formed as a matrix in the forward pass: the base runs its own (possibly quantized, fused) kernel once and the
 * adapter adds two thin products of cost n·r·(in + out).
 *
 * <p>Gradients for upstream dY (X̃ = drop(x)): dA = s·(dY·B)ᵀ·X̃, dB = s·dYᵀ·(X̃·Aᵀ), and the input gradient
 * dX = dY·W + mask ⊙ (s·dY·B·A). Merge adds s·B·A to a dense copy of W. Initialisations: {@link LoraInit}.
 */
public class LoraAdapter extends Adapter {
    final LoraConfig config;
    final float scaling;
    final Parameter a;
    final Parameter b;
    final Dropout dropout;
    final int r;
    /** A₀ and B₀ when the init replaced the base by W − s·B₀·A₀ (PiSSA, OLoRA), else null: for saving relative to W. */
    float[] initialA;
    float[] initialB;
    /** Extra basis columns of the randomized SVD for PiSSA ({@code torch.svd_lowrank} as PEFT calls it uses none). */
    static final int PISSA_OVERSAMPLING = 8;

    LoraAdapter(String name, String module, int in, int out, LoraConfig config, float[] a0, float[] b0) {
        super(name, module, in, out);
        this.config = config;
        this.r = config.r();
        this.scaling = (float) config.scaling();
        this.a = register("lora_A.weight", a0, r, in);
        this.b = register("lora_B.weight", b0, out, r);
        this.dropout = new Dropout(config.dropout(), config.seed() ^ 0x5DEECE66DL);
    }

    /** The initial A, B and (for PiSSA/OLoRA) the residual base weight W − s·B·A [out, in] in double. */
    record Start(float[] a, float[] b, double[] residual) {
    }

    /** Checks 1 ≤ r ≤ min(in, out) with a message naming the method. */
    static void checkRank(String method, int r, int in, int out) {
        if (r < 1 || r > Math.min(in, out)) {
            throw new IllegalArgumentException(method + " rank r = " + r + " must be in [1, min(in_features, "
                    + "out_features)] = [1, min(" + in + ", " + out + ")] = [1, " + Math.min(in, out) + "]");
        }
    }

    static Start start(Base base, LoraConfig c) {
        int in = base.in, out = base.out, r = c.r();
        checkRank(c.dora() ? "DoRA" : "LoRA", r, in, out);
        SplittableRandom rng = new SplittableRandom(c.seed());
        double s = c.scaling();
        switch (c.init().kind()) {
            case DEFAULT:
                return new Start(Init.kaimingUniform(r, in, rng), new float[out * r], null);
            case GAUSSIAN:
                return new Start(Init.gaussian(r * in, 1.0 / r, rng), new float[out * r], null);
            case RANDOM:
                return new Start(Init.kaimingUniform(r, in, rng), Init.kaimingUniform(out, r, rng), null);
            case PISSA:
            case PISSA_RANDOMIZED: {
                requireDense(base, "PiSSA");
                float[] w = base.dense();
                Svd.Result svd = c.init().kind() == LoraInit.Kind.PISSA ? Svd.exact(w, out, in, r)
                        : Svd.randomized(w, out, in, r, PISSA_OVERSAMPLING, c.init().powerIterations(), rng.nextLong());
                float[] a = new float[r * in], bm = new float[out * r];
                for (int k = 0; k < r; k++) {
                    double f = Math.sqrt(svd.s()[k] / s); // √(σ_k/s): A = diag(√(Σ/s))·Vᵀ, B = U·diag(√(Σ/s))
                    for (int j = 0; j < in; j++) {
                        a[k * in + j] = (float) (f * svd.vt()[k * in + j]);
                    }
                    for (int o = 0; o < out; o++) {
                        bm[o * r + k] = (float) (f * svd.u()[o * r + k]);
                    }
                }
                return new Start(a, bm, residual(w, bm, a, out, in, r, s));
            }
            case OLORA: {
                requireDense(base, "OLoRA");
                float[] w = base.dense();
                double[] wd = new double[w.length];
                for (int i = 0; i < w.length; i++) {
                    wd[i] = w[i];
                }
                HouseholderQr.Result qr = HouseholderQr.leading(wd, out, in, r);
                float[] a = new float[r * in], bm = new float[out * r];
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) qr.r()[i];
                }
                for (int i = 0; i < bm.length; i++) {
                    bm[i] = (float) qr.q()[i];
                }
                return new Start(a, bm, residual(w, bm, a, out, in, r, s));
            }
            default:
                throw new AssertionError(c.init());
        }
    }

    static void requireDense(Base base, String method) {
        if (base.quantized()) {
            throw new IllegalArgumentException(method + " initialises from the SVD/QR of W and writes a residual base, "
                    + "which needs a dense (F32/F16/BF16) base; got " + base + ". Initialise on the dense weight, then "
                    + "quantize the residual (PiSSA's recommended order)");
        }
    }

    /** W − s·B·A in double from the float factors the adapter will hold. */
    static double[] residual(float[] w, float[] bm, float[] a, int out, int in, int r, double s) {
        double[] res = new double[w.length];
        double[] row = new double[in];
        for (int o = 0; o < out; o++) {
            java.util.Arrays.fill(row, 0);
            for (int k = 0; k < r; k++) {
                double bk = bm[o * r + k];
                for (int j = 0; j < in; j++) {
                    row[j] += bk * a[k * in + j];
                }
            }
            for (int j = 0; j < in; j++) {
                res[o * in + j] = w[o * in + j] - s * row[j];
            }
        }
        return res;
    }

    @Override
    public String method() {
        return "lora";
    }

    @Override
    public int rank() {
        return r;
    }

    /** The configuration it was created with. */
    public LoraConfig config() {
        return config;
    }

    /** s = α/r (or α/√r). */
    public float scaling() {
        return scaling;
    }

    /** lora_A.weight [r, in]. */
    public Parameter a() {
        return a;
    }

    /** lora_B.weight [out, r]. */
    public Parameter b() {
        return b;
    }

    record Saved(float[] xd, boolean dropped, long seed, float[] xa) {
    }

    @Override
    Object forward(Pass p, float weight, float[] y) {
        int in = inFeatures(), out = outFeatures();
        boolean drop = p.training && dropout.active();
        long seed = drop ? dropout.nextSeed() : 0;
        float[] xd = drop ? dropout.apply(p.x, p.n * in, seed) : p.x;
        float[] xa = LowRank.down(xd, p.n, in, a.data(), r);
        LowRank.up(xa, p.n, r, weight * scaling, b.data(), r, out, y);
        return p.training ? new Saved(xd, drop, seed, xa) : null;
    }

    @Override
    void backward(Base base, Object saved, float[] dy, float weight, float[] dx) {
        Saved s = (Saved) saved;
        int in = inFeatures(), out = outFeatures(), n = s.xa().length / r;
        float c = weight * scaling;
        LowRank.gradB(dy, n, out, s.xa(), r, 0, r, c, b.grad(), r);
        float[] g = LowRank.back(dy, n, out, b.data(), r, r);
        LowRank.gradA(g, n, r, 0, r, c, s.xd(), in, a.grad());
        if (dx != null) {
            LowRank.gradX(g, n, r, c, a.data(), in, dx, s.dropped() ? dropout : null, s.seed());
        }
    }

    @Override
    void mergeInto(Base base, float[] w0, float[] w, float weight) {
        LowRank.addProduct(b.data(), r, a.data(), r, outFeatures(), inFeatures(), weight * scaling, w);
    }

    @Override
    boolean mergesByRows() {
        return true;
    }

    @Override
    void mergeRows(int r0, int r1, float[] w, int off, float weight) {
        lowbit.tensor.linalg.Gemm.gemm(false, false, r1 - r0, inFeatures(), r, weight * scaling, b.data(), r0 * r, r,
                a.data(), 0, inFeatures(), 1f, w, off, inFeatures());
    }

    @Override
    void unmergeFrom(Base base, float[] w, float weight) {
        LowRank.addProduct(b.data(), r, a.data(), r, outFeatures(), inFeatures(), -weight * scaling, w);
    }
}

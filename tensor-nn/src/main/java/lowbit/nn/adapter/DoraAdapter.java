package lowbit.nn.adapter;

import lowbit.nn.Parameter;
import lowbit.tensor.linalg.Gemm;

/**
 * DoRA (Liu et al., <i>DoRA: Weight-Decomposed Low-Rank Adaptation</i>, ICML 2024) as PEFT's {@code use_dora=True}:
 * the adapted weight is {@code W' = m ⊙ (W + s·B·A) / ‖W + s·B·A‖_row}, the norm taken per output row (PEFT's
 * {@code dim=1}), the magnitude m [out] ({@code lora_magnitude_vector}) initialised to that norm (so W' = W at init).
 * As in the paper (§4.3) and PEFT, the norm is treated as a constant in backward (detached).
 *
 * <p>Forward, with c = m/‖W + s·B·A‖ per output and the base output X·Wᵀ reused:
 * {@code y = base(x) + (c − 1) ⊙ (X̃·Wᵀ) + c ⊙ s·(X̃·Aᵀ)·Bᵀ}. Without dropout X̃ = X and X̃·Wᵀ is the base output
 * already computed (no second pass over W); with dropout in training X̃ = drop(X) and, exactly as PEFT, X̃·Wᵀ is an
 * extra base product. Gradients: dm = Σ_rows dY ⊙ (X̃·(W + sBA)ᵀ) / ‖·‖, and A, B, X through dY ⊙ c.
 * The norm is recomputed, tile by tile over W's rows, only when A or B changed since the last pass.
 */
public final class DoraAdapter extends LoraAdapter {
    final Parameter magnitude;
    private float[] norms;
    private long normVersionA = -1;
    private long normVersionB = -1;
    private Base normBase;
    private float[] mergedNorms;

    DoraAdapter(String name, String module, Base base, LoraConfig config, float[] a0, float[] b0) {
        super(name, module, base.in, base.out, config, a0, b0);
        float[] m0 = computeNorms(base).clone();
        this.magnitude = register("lora_magnitude_vector", m0, base.out);
    }

    @Override
    public String method() {
        return "dora";
    }

    /** lora_magnitude_vector [out]. */
    public Parameter magnitude() {
        return magnitude;
    }

    /** ‖W + s·B·A‖ per output row (cached until A or B change). */
    float[] norms(Base base) {
        if (norms == null || normBase != base || normVersionA != a.version() || normVersionB != b.version()) {
            norms = computeNorms(base);
        }
        return norms;
    }

    private float[] computeNorms(Base base) {
        int in = base.in, out = base.out, tr = base.tileRows();
        float[] tile = new float[tr * in];
        float[] nrm = new float[out];
        for (int r0 = 0; r0 < out; r0 += tr) {
            int rows = Math.min(tr, out - r0);
            base.rows(r0, r0 + rows, tile);
            Gemm.gemm(false, false, rows, in, r, scaling, b.data(), r0 * r, r, a.data(), 0, in, 1f, tile, 0, in);
            for (int i = 0; i < rows; i++) {
                double ss = 0;
                for (int j = 0; j < in; j++) {
                    double v = tile[i * in + j];
                    ss += v * v;
                }
                nrm[r0 + i] = (float) Math.sqrt(ss);
            }
        }
        normBase = base;
        normVersionA = a.version();
        normVersionB = b.version();
        norms = nrm;
        return nrm;
    }

    private float[] factors(float[] nrm) {
        float[] c = new float[nrm.length];
        float[] m = magnitude.data();
        for (int o = 0; o < c.length; o++) {
            c[o] = m[o] / nrm[o];
        }
        return c;
    }

    record DoraSaved(float[] xd, boolean dropped, long seed, float[] xa, float[] z, float[] c, float[] nrm) {
    }

    @Override
    boolean needsBaseOutput(boolean training) {
        return !(training && dropout.active());
    }

    @Override
    Object forward(Pass p, float weight, float[] y) {
        int in = inFeatures(), out = outFeatures(), n = p.n;
        boolean drop = p.training && dropout.active();
        long seed = drop ? dropout.nextSeed() : 0;
        float[] xd = drop ? dropout.apply(p.x, n * in, seed) : p.x;
        float[] base0;
        if (drop) {
            base0 = new float[n * out];
            p.base.forwardNoBias(xd, n, base0);
        } else {
            base0 = p.baseOutput();
        }
        float[] nrm = norms(p.base);
        float[] c = factors(nrm);
        float[] xa = LowRank.down(xd, n, in, a.data(), r);
        float[] z = new float[n * out];
        LowRank.up(xa, n, r, scaling, b.data(), r, out, z); // z = s·X̃·Aᵀ·Bᵀ
        for (int i = 0; i < n; i++) {
            int row = i * out;
            for (int o = 0; o < out; o++) {
                float bo = base0[row + o];
                y[row + o] += weight * ((c[o] - 1) * bo + c[o] * z[row + o]);
                z[row + o] += bo; // z = X̃·(W + sBA)ᵀ
            }
        }
        return p.training ? new DoraSaved(xd, drop, seed, xa, z, c, nrm) : null;
    }

    @Override
    boolean changesBaseGradient(Object saved) {
        return !((DoraSaved) saved).dropped();
    }

    @Override
    void addBaseGradient(Object saved, float[] dy, float weight, float[] dyBase) {
        float[] c = ((DoraSaved) saved).c();
        int out = outFeatures();
        for (int i = 0; i < dy.length; i++) {
            dyBase[i] += weight * (c[i % out] - 1) * dy[i];
        }
    }

    @Override
    void backward(Base base, Object saved, float[] dy, float weight, float[] dx) {
        DoraSaved s = (DoraSaved) saved;
        int in = inFeatures(), out = outFeatures(), n = s.xa().length / r;
        float[] gm = magnitude.grad();
        float[] gc = new float[dy.length];
        for (int i = 0; i < n; i++) {
            int row = i * out;
            for (int o = 0; o < out; o++) {
                float d = weight * dy[row + o];
                gm[o] += d * s.z()[row + o] / s.nrm()[o];
                gc[row + o] = d * s.c()[o];
            }
        }
        LowRank.gradB(gc, n, out, s.xa(), r, 0, r, scaling, b.grad(), r);
        float[] g = LowRank.back(gc, n, out, b.data(), r, r);
        LowRank.gradA(g, n, r, 0, r, scaling, s.xd(), in, a.grad());
        if (dx == null) {
            return;
        }
        if (!s.dropped()) {
            LowRank.gradX(g, n, r, scaling, a.data(), in, dx, null, 0);
            return;
        }
        // with dropout the base path of the delta, (c − 1) ⊙ X̃·Wᵀ, has its own product: t = (w·dY ⊙ (c − 1))·W
        float[] gb = new float[dy.length];
        for (int i = 0; i < dy.length; i++) {
            gb[i] = weight * dy[i] * (s.c()[i % out] - 1);
        }
        float[] t = new float[dx.length];
        base.weight().backwardInput(gb, n, t);
        Gemm.gemm(false, false, n, in, r, scaling, g, 0, r, a.data(), 0, in, 1f, t, 0, in);
        dropout.maskInPlace(t, t.length, s.seed());
        for (int i = 0; i < t.length; i++) {
            dx[i] += t[i];
        }
    }

    @Override
    boolean mergesByRows() {
        return false;
    }

    @Override
    boolean deltaDependsOnBase() {
        return true;
    }

    @Override
    void mergeInto(Base base, float[] w0, float[] w, float weight) {
        int in = inFeatures(), out = outFeatures();
        float[] nrm = norms(base).clone();
        mergedNorms = nrm;
        float[] c = factors(nrm);
        float[] t = w0.clone();
        LowRank.addProduct(b.data(), r, a.data(), r, out, in, scaling, t); // W0 + s·B·A
        for (int o = 0; o < out; o++) {
            for (int j = o * in; j < (o + 1) * in; j++) {
                w[j] += weight * (c[o] * t[j] - w0[j]);
            }
        }
    }

    @Override
    void unmergeFrom(Base base, float[] w, float weight) {
        // W' = (1 − w + w·c) ⊙ W0 + w·c ⊙ s·B·A per row, c from the norms of the merge (PEFT caches them likewise)
        int in = inFeatures(), out = outFeatures();
        float[] c = factors(mergedNorms != null ? mergedNorms : norms(base));
        float[] ba = new float[out * in];
        LowRank.addProduct(b.data(), r, a.data(), r, out, in, scaling, ba);
        for (int o = 0; o < out; o++) {
            float wc = weight * c[o];
            float div = 1 - weight + wc;
            for (int j = o * in; j < (o + 1) * in; j++) {
                w[j] = (w[j] - wc * ba[j]) / div;
            }
        }
    }
}

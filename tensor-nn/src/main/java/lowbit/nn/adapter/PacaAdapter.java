package lowbit.nn.adapter;

import java.util.SplittableRandom;
import lowbit.nn.Parameter;
import lowbit.tensor.linalg.Gemm;

/**
 * PaCA (Woo et al. 2025): a seeded random subset P of r input columns of W (the reference's
 * {@code torch.randperm(in)[:r]}, kept in that order) is trained in place — no adapter matrices: the parameter
 * {@code paca_w} [out, r] holds W_:,P/s (s = α/r, 1 by default) and the layer computes with W whose columns P are
 * s·paca_w. Backward keeps only X_:,P [n, r] (not X) and gives {@code d paca_w = s·dYᵀ·X_:,P}; the input gradient is
 * dY·W' as for the plain layer.
 *
 * <p>lowbit never writes into a base's storage (it may be quantized, half precision or memory-mapped), so the
 * unmerged forward is the base product plus the column correction {@code X_:,P·(s·paca_w − Ŵ_:,P)ᵀ} (n·r·out extra
 * multiply-adds, 0.4 % of the base at r = 16, in = 4096); {@link AdaptedLinear#merged} writes the trained columns
 * into the dense copy, giving exactly the paper's plain layer. The column indices are {@link #indices()} (PaCA's
 * {@code paca_indices}).
 */
public final class PacaAdapter extends Adapter {
    private final PacaConfig config;
    private final int r;
    private final float scaling;
    private final int[] cols;
    private final float[] original;
    private final Parameter w;
    private float[] diff;
    private long diffVersion = -1;

    private PacaAdapter(String name, String module, int in, int out, PacaConfig c, int[] cols, float[] original) {
        super(name, module, in, out);
        this.config = c;
        this.r = c.r();
        this.scaling = (float) c.scaling();
        this.cols = cols;
        this.original = original;
        float[] v = new float[out * r];
        for (int i = 0; i < v.length; i++) {
            v[i] = original[i] / scaling;
        }
        this.w = register("paca_w", v, out, r);
    }

    static PacaAdapter create(String name, String module, Base base, PacaConfig c) {
        if (c.r() > base.in) {
            throw new IllegalArgumentException("PaCA r = " + c.r() + " columns exceed in_features = " + base.in);
        }
        int[] perm = new int[base.in];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(c.seed());
        for (int i = 0; i < c.r(); i++) { // partial Fisher–Yates: the first r of a uniform random permutation
            int j = i + rng.nextInt(perm.length - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return withColumns(name, module, base, c, java.util.Arrays.copyOf(perm, c.r()));
    }

    /** A PaCA adapter over the given distinct columns (loaded from a file). */
    static PacaAdapter withColumns(String name, String module, Base base, PacaConfig c, int[] cols) {
        int in = base.in, out = base.out;
        boolean[] seen = new boolean[in];
        for (int k : cols) {
            if (k < 0 || k >= in || seen[k]) {
                throw new IllegalArgumentException("PaCA column index " + k + " is out of [0, " + in + ") or repeated");
            }
            seen[k] = true;
        }
        float[] orig = new float[out * cols.length];
        int tr = base.tileRows();
        float[] tile = new float[tr * in];
        for (int r0 = 0; r0 < out; r0 += tr) {
            int rows = Math.min(tr, out - r0);
            base.rows(r0, r0 + rows, tile);
            for (int i = 0; i < rows; i++) {
                for (int k = 0; k < cols.length; k++) {
                    orig[(r0 + i) * cols.length + k] = tile[i * in + cols[k]];
                }
            }
        }
        return new PacaAdapter(name, module, in, out, c, cols.clone(), orig);
    }

    @Override
    public String method() {
        return "paca";
    }

    @Override
    public int rank() {
        return r;
    }

    public PacaConfig config() {
        return config;
    }

    /** The trained input columns P (a copy), in the order of paca_w's columns. */
    public int[] indices() {
        return cols.clone();
    }

    /** paca_w [out, r] = W_:,P/s. */
    public Parameter columns() {
        return w;
    }

    public float scaling() {
        return scaling;
    }

    /** D = s·paca_w − Ŵ_:,P [out, r] (cached per version). */
    private float[] diff() {
        if (diff == null || diffVersion != w.version()) {
            float[] v = w.data();
            float[] d = new float[v.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = scaling * v[i] - original[i];
            }
            diff = d;
            diffVersion = w.version();
        }
        return diff;
    }

    @Override
    Object forward(Pass p, float weight, float[] y) {
        int in = inFeatures(), out = outFeatures(), n = p.n;
        float[] xp = new float[n * r];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < r; k++) {
                xp[i * r + k] = p.x[i * in + cols[k]];
            }
        }
        Gemm.gemm(false, true, n, out, r, weight, xp, 0, r, diff(), 0, r, 1f, y, 0, out);
        return p.training ? xp : null;
    }

    @Override
    void backward(Base base, Object saved, float[] dy, float weight, float[] dx) {
        float[] xp = (float[]) saved;
        int in = inFeatures(), out = outFeatures(), n = xp.length / r;
        Gemm.gemm(true, false, out, r, n, weight * scaling, dy, 0, out, xp, 0, r, 1f, w.grad(), 0, r);
        if (dx != null) {
            float[] g = new float[n * r];
            Gemm.gemm(false, false, n, r, out, weight, dy, 0, out, diff(), 0, r, 0f, g, 0, r);
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < r; k++) {
                    dx[i * in + cols[k]] += g[i * r + k];
                }
            }
        }
    }

    @Override
    boolean mergesByRows() {
        return true;
    }

    @Override
    void mergeRows(int r0, int r1, float[] wt, int off, float weight) {
        int in = inFeatures();
        float[] d = diff();
        for (int o = r0; o < r1; o++) {
            for (int k = 0; k < r; k++) {
                wt[off + (o - r0) * in + cols[k]] += weight * d[o * r + k];
            }
        }
    }

    @Override
    void mergeInto(Base base, float[] w0, float[] wt, float weight) {
        mergeRows(0, outFeatures(), wt, 0, weight);
    }

    @Override
    void unmergeFrom(Base base, float[] wt, float weight) {
        mergeRows(0, outFeatures(), wt, 0, -weight);
    }
}

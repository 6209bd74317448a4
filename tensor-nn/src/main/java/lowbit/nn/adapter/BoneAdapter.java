package lowbit.nn.adapter;

import java.util.SplittableRandom;
import lowbit.nn.Parameter;
import lowbit.tensor.linalg.Gemm;

/**
 * Bone and Bat (Kang 2024) as PEFT's {@code bone.Linear} (PEFT ≤ 0.18), one trainable tensor {@code bone_block}.
 *
 * <p><b>Bone</b> (default), block B [r, out]: pad x with zeros to a multiple of r, split it into chunks of r and sum
 * them, then {@code Δy = (Σ_k x_chunk_k)·B}. So ΔW[:, j] = B[j mod r, :]ᵀ — the merge adds B's rows column block by
 * column block (a short last block gets B's first in mod r rows), and the unmerge subtracts them exactly.
 *
 * <p><b>Bat</b>, blocks B [out/r, r, r], in and out divisible by r: with W viewed as r×r blocks W_ij (i over out/r,
 * j over in/r) the adapted block is {@code W_ij + W_ij·B_i + B_i}, B_i shared by output block-row i. The update
 * interacts with W, so ΔW is built from the (dequantized) base — cached until B changes — and applied as a dense
 * product; merge adds it, unmerge inverts: W_ij = (W'_ij − B_i)(I + B_i)⁻¹. (PEFT applies several bat adapters one
 * after another; here each delta is taken from the same base and the weighted deltas are summed.)
 */
public final class BoneAdapter extends Adapter {
    private final BoneConfig config;
    private final int r;
    private final Parameter block;
    private float[] delta;
    private long deltaVersion = -1;
    private Base deltaBase;

    private BoneAdapter(String name, String module, int in, int out, BoneConfig config, float[] b0, int... shape) {
        super(name, module, in, out);
        this.config = config;
        this.r = config.r();
        this.block = register("bone_block", b0, shape);
    }

    static BoneAdapter create(String name, String module, Base base, BoneConfig c) {
        int in = base.in, out = base.out, r = c.r();
        if (c.variant() == BoneConfig.Variant.BAT) {
            if (in % r != 0 || out % r != 0) {
                throw new IllegalArgumentException("Bone \"bat\" block size r = " + r + " must divide in_features = " + in
                        + " and out_features = " + out + " (the weight must split into [r, r] blocks)");
            }
            return new BoneAdapter(name, module, in, out, c, new float[out * r], out / r, r, r);
        }
        if (r > in) {
            throw new IllegalArgumentException("Bone block size r = " + r + " exceeds in_features = " + in);
        }
        float[] b0 = c.zeroInit() ? new float[r * out] : Init.kaimingUniform(r, out, new SplittableRandom(c.seed()));
        return new BoneAdapter(name, module, in, out, c, b0, r, out);
    }

    @Override
    public String method() {
        return config.variant() == BoneConfig.Variant.BAT ? "bat" : "bone";
    }

    @Override
    public int rank() {
        return r;
    }

    public BoneConfig config() {
        return config;
    }

    /** bone_block: [r, out] (Bone) or [out/r, r, r] (Bat). */
    public Parameter block() {
        return block;
    }

    private boolean bat() {
        return config.variant() == BoneConfig.Variant.BAT;
    }

    @Override
    Object forward(Pass p, float weight, float[] y) {
        int in = inFeatures(), out = outFeatures(), n = p.n;
        if (bat()) {
            Gemm.gemm(false, true, n, out, in, weight, p.x, 0, in, batDelta(p.base), 0, in, 1f, y, 0, out);
            return p.training ? p.x : null;
        }
        float[] f = fold(p.x, n, in);
        Gemm.gemm(false, false, n, out, r, weight, f, 0, r, block.data(), 0, out, 1f, y, 0, out);
        return p.training ? f : null;
    }

    /** f[i, k] = Σ_{j ≡ k (mod r)} x[i, j] (the zero-padded chunk sum). */
    private float[] fold(float[] x, int n, int in) {
        float[] f = new float[n * r];
        for (int i = 0; i < n; i++) {
            for (int j0 = 0; j0 < in; j0 += r) {
                int len = Math.min(r, in - j0);
                for (int k = 0; k < len; k++) {
                    f[i * r + k] += x[i * in + j0 + k];
                }
            }
        }
        return f;
    }

    @Override
    void backward(Base base, Object saved, float[] dy, float weight, float[] dx) {
        int in = inFeatures(), out = outFeatures();
        if (bat()) {
            batBackward(base, (float[]) saved, dy, weight, dx);
            return;
        }
        float[] f = (float[]) saved;
        int n = f.length / r;
        Gemm.gemm(true, false, r, out, n, weight, f, 0, r, dy, 0, out, 1f, block.grad(), 0, out);
        if (dx != null) {
            float[] g = new float[n * r];
            Gemm.gemm(false, true, n, r, out, weight, dy, 0, out, block.data(), 0, out, 0f, g, 0, r);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < in; j++) {
                    dx[i * in + j] += g[i * r + j % r];
                }
            }
        }
    }

    /** ΔW [out, in] of Bat: ΔW_ij = W_ij·B_i + B_i, cached per base and B version. */
    float[] batDelta(Base base) {
        if (delta != null && deltaBase == base && deltaVersion == block.version()) {
            return delta;
        }
        int in = inFeatures(), out = outFeatures();
        float[] w = base.dense();
        float[] d = new float[out * in];
        float[] b = block.data();
        for (int i = 0; i < out / r; i++) {
            int off = i * r * in;
            // rows i·r.. of W seen as in rows of r: row (a·in/r + j) is W_ij[a, :]; times B_i
            Gemm.gemm(false, false, in, r, r, 1f, w, off, r, b, i * r * r, r, 0f, d, off, r);
            for (int a = 0; a < r; a++) {
                int row = off + a * in;
                for (int j0 = 0; j0 < in; j0 += r) {
                    for (int c = 0; c < r; c++) {
                        d[row + j0 + c] += b[i * r * r + a * r + c];
                    }
                }
            }
        }
        delta = d;
        deltaBase = base;
        deltaVersion = block.version();
        return d;
    }

    private void batBackward(Base base, float[] x, float[] dy, float weight, float[] dx) {
        int in = inFeatures(), out = outFeatures(), n = x.length / in;
        float[] dd = new float[out * in];
        Gemm.gemm(true, false, out, in, n, weight, dy, 0, out, x, 0, in, 0f, dd, 0, in); // dΔW = w·dYᵀ·X
        float[] w = base.dense();
        float[] gb = block.grad();
        for (int i = 0; i < out / r; i++) {
            int off = i * r * in;
            // dB_i += M_iᵀ·dD_i (both seen as [in, r]) + Σ_j dD_ij
            Gemm.gemm(true, false, r, r, in, 1f, w, off, r, dd, off, r, 1f, gb, i * r * r, r);
            for (int a = 0; a < r; a++) {
                int row = off + a * in;
                for (int j0 = 0; j0 < in; j0 += r) {
                    for (int c = 0; c < r; c++) {
                        gb[i * r * r + a * r + c] += dd[row + j0 + c];
                    }
                }
            }
        }
        if (dx != null) {
            Gemm.gemm(false, false, n, in, out, weight, dy, 0, out, batDelta(base), 0, in, 1f, dx, 0, in);
        }
    }

    @Override
    boolean mergesByRows() {
        return !bat();
    }

    @Override
    void mergeRows(int r0, int r1, float[] w, int off, float weight) {
        addBone(r0, r1, w, off, weight);
    }

    private void addBone(int r0, int r1, float[] w, int off, float weight) {
        int in = inFeatures(), out = outFeatures();
        float[] b = block.data();
        for (int o = r0; o < r1; o++) {
            int row = off + (o - r0) * in;
            for (int j = 0; j < in; j++) {
                w[row + j] += weight * b[(j % r) * out + o];
            }
        }
    }

    @Override
    void mergeInto(Base base, float[] w0, float[] w, float weight) {
        if (!bat()) {
            addBone(0, outFeatures(), w, 0, weight);
            return;
        }
        float[] d = batDelta(base);
        for (int i = 0; i < w.length; i++) {
            w[i] += weight * d[i];
        }
    }

    @Override
    boolean deltaDependsOnBase() {
        return bat();
    }

    @Override
    void unmergeFrom(Base base, float[] w, float weight) {
        if (!bat()) {
            addBone(0, outFeatures(), w, 0, -weight);
            return;
        }
        int in = inFeatures(), out = outFeatures();
        float[] b = block.data();
        double[] row = new double[r];
        for (int i = 0; i < out / r; i++) {
            double[] m = new double[r * r];
            for (int a = 0; a < r; a++) {
                for (int c = 0; c < r; c++) {
                    m[a * r + c] = (a == c ? 1 : 0) + weight * b[i * r * r + a * r + c];
                }
            }
            double[] inv = invert(m, r, i);
            for (int a = 0; a < r; a++) {
                int base0 = (i * r + a) * in;
                for (int j0 = 0; j0 < in; j0 += r) {
                    for (int c = 0; c < r; c++) {
                        row[c] = w[base0 + j0 + c] - weight * b[i * r * r + a * r + c];
                    }
                    for (int c = 0; c < r; c++) {
                        double s = 0;
                        for (int t = 0; t < r; t++) {
                            s += row[t] * inv[t * r + c];
                        }
                        w[base0 + j0 + c] = (float) s;
                    }
                }
            }
        }
    }

    /** (I + w·B_i)⁻¹ by Gauss–Jordan elimination with partial pivoting, in double. */
    private double[] invert(double[] m, int n, int blockRow) {
        double[] a = m.clone();
        double[] inv = new double[n * n];
        for (int i = 0; i < n; i++) {
            inv[i * n + i] = 1;
        }
        for (int col = 0; col < n; col++) {
            int piv = col;
            for (int i = col + 1; i < n; i++) {
                if (Math.abs(a[i * n + col]) > Math.abs(a[piv * n + col])) {
                    piv = i;
                }
            }
            double p = a[piv * n + col];
            if (Math.abs(p) < 1e-12) {
                throw new IllegalStateException("cannot unmerge Bone \"bat\" block row " + blockRow + " of " + module()
                        + ": I + B is singular");
            }
            if (piv != col) {
                swapRows(a, n, piv, col);
                swapRows(inv, n, piv, col);
            }
            for (int c = 0; c < n; c++) {
                a[col * n + c] /= p;
                inv[col * n + c] /= p;
            }
            for (int i = 0; i < n; i++) {
                if (i != col) {
                    double f = a[i * n + col];
                    if (f != 0) {
                        for (int c = 0; c < n; c++) {
                            a[i * n + c] -= f * a[col * n + c];
                            inv[i * n + c] -= f * inv[col * n + c];
                        }
                    }
                }
            }
        }
        return inv;
    }

    private static void swapRows(double[] a, int n, int i, int j) {
        for (int c = 0; c < n; c++) {
            double t = a[i * n + c];
            a[i * n + c] = a[j * n + c];
            a[j * n + c] = t;
        }
    }
}

package lowbit.nn.adapter;

import java.util.List;
import java.util.Random;
import lowbit.nn.Linear;
import lowbit.nn.NnTesting;
import lowbit.nn.Parameter;
import lowbit.tensor.Tensor;

/**
 * Double-precision twins of every adapter's forward, written from the formulas (not from the float code), and the
 * cases the tests run: a layer with one adapter whose parameters are set to random values (so that no gradient is
 * trivially zero), and its twin y = f(W, θ, X) in double.
 */
final class Twins {
    private Twins() {
    }

    /** y [n, out] from the base weight w [out, in], the bias, the adapter parameters (in parameters() order) and x. */
    interface Twin {
        double[] forward(double[] w, double[] bias, double[][] p, double[] x, int n);
    }

    static final class Case {
        final String name;
        final AdaptedLinear layer;
        final Adapter adapter;
        final Twin twin;
        /** The twin whose value at |W|, |θ|, |x| bounds the float error (the twin itself when it has no signs). */
        Twin absTwin;
        final int in;
        final int out;
        /** DyLoRA only: the rank the twin uses (the test sets it to the sampled or the inference rank). */
        final int[] rank;

        Case(String name, AdaptedLinear layer, Adapter adapter, Twin twin) {
            this(name, layer, adapter, twin, new int[1]);
        }

        Case(String name, AdaptedLinear layer, Adapter adapter, Twin twin, int[] rank) {
            this.rank = rank;
            this.name = name;
            this.layer = layer;
            this.adapter = adapter;
            this.twin = twin;
            this.absTwin = twin;
            this.in = layer.inFeatures();
            this.out = layer.outFeatures();
        }

        double[] w() {
            return NnTesting.toDouble(layer.base().weight().toFloats());
        }

        double[] bias() {
            float[] b = layer.base().bias();
            return b == null ? new double[out] : NnTesting.toDouble(b);
        }

        double[][] params() {
            List<Parameter> ps = layer.parameters();
            double[][] p = new double[ps.size()][];
            for (int i = 0; i < p.length; i++) {
                p[i] = NnTesting.toDouble(ps.get(i).data());
            }
            return p;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    // ---- dense double helpers ----

    /** C [m, n] = A [m, k] · Bᵀ (B stored [n, k]). */
    static double[] mmT(double[] a, int m, int k, double[] b, int n) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    s += a[i * k + t] * b[j * k + t];
                }
                c[i * n + j] = s;
            }
        }
        return c;
    }

    /** C [m, n] = A [m, k] · B [k, n]. */
    static double[] mm(double[] a, int m, int k, double[] b, int n) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int t = 0; t < k; t++) {
                double av = a[i * k + t];
                for (int j = 0; j < n; j++) {
                    c[i * n + j] += av * b[t * n + j];
                }
            }
        }
        return c;
    }

    static double[] add(double[] a, double[] b) {
        double[] c = a.clone();
        for (int i = 0; i < c.length; i++) {
            c[i] += b[i];
        }
        return c;
    }

    static double[] scale(double s, double[] a) {
        double[] c = a.clone();
        for (int i = 0; i < c.length; i++) {
            c[i] *= s;
        }
        return c;
    }

    /** y = x·Wᵀ + b. */
    static double[] linear(double[] w, double[] bias, double[] x, int n, int in, int out) {
        double[] y = mmT(x, n, in, w, out);
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < out; o++) {
                y[i * out + o] += bias[o];
            }
        }
        return y;
    }

    static float[] randomize(Parameter p, Random r, double scale) {
        float[] v = NnTesting.randn(r, p.size(), scale);
        p.set(v);
        return v;
    }

    static Linear base(Random r, int out, int in) {
        return Linear.of(Tensor.ofFloats(NnTesting.randn(r, out * in, 0.5), out, in), NnTesting.randn(r, out, 0.5));
    }

    // ---- the cases ----

    static Case lora(long seed, boolean rs, LoraInit init) {
        Random r = new Random(seed);
        int in = 13, out = 11, rank = 3;
        AdaptedLinear layer = AdaptedLinear.of("m", base(r, out, in));
        LoraAdapter a = layer.addLora("default", LoraConfig.of(rank, 6).withRsLora(rs).withInit(init).withSeed(seed));
        randomize(a.b(), r, 0.3);
        randomize(a.a(), r, 0.3);
        double s = a.scaling();
        return new Case("lora" + (rs ? "-rs" : "") + "-" + init.kind(), layer, a, (w, b, p, x, n) -> add(
                linear(w, b, x, n, in, out), scale(s, mmT(mmT(x, n, in, p[0], rank), n, rank, p[1], out))));
    }

    /** DoRA's twin with the row norms held at the values they have now (PEFT detaches them). */
    static Case dora(long seed) {
        Random r = new Random(seed);
        int in = 12, out = 9, rank = 3;
        AdaptedLinear layer = AdaptedLinear.of("m", base(r, out, in));
        DoraAdapter a = (DoraAdapter) layer.addLora("default", LoraConfig.of(rank, 3).withDora(true).withSeed(seed));
        randomize(a.b(), r, 0.3);
        randomize(a.a(), r, 0.3);
        float[] m = a.magnitude().data().clone();
        for (int o = 0; o < m.length; o++) {
            m[o] *= (float) (0.7 + 0.6 * r.nextDouble());
        }
        a.magnitude().set(m);
        double s = a.scaling();
        double[] w0 = NnTesting.toDouble(layer.base().weight().toFloats());
        double[] norms = doraNorms(w0, NnTesting.toDouble(a.b().data()), NnTesting.toDouble(a.a().data()), s, out, in,
                rank);
        return new Case("dora", layer, a, (w, b, p, x, n) -> {
            double[] wp = add(w, scale(s, mm(p[1], out, rank, p[0], in)));
            double[] y = mmT(x, n, in, wp, out);
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) {
                    y[i * out + o] = p[2][o] / norms[o] * y[i * out + o] + b[o];
                }
            }
            return y;
        });
    }

    static double[] doraNorms(double[] w, double[] bm, double[] am, double s, int out, int in, int rank) {
        double[] wp = add(w, scale(s, mm(bm, out, rank, am, in)));
        double[] nr = new double[out];
        for (int o = 0; o < out; o++) {
            double ss = 0;
            for (int j = 0; j < in; j++) {
                ss += wp[o * in + j] * wp[o * in + j];
            }
            nr[o] = Math.sqrt(ss);
        }
        return nr;
    }

    static Case bone(long seed, int in, int rank) {
        Random r = new Random(seed);
        int out = 7;
        AdaptedLinear layer = AdaptedLinear.of("m", base(r, out, in));
        BoneAdapter a = layer.addBone("default", BoneConfig.bone(rank));
        randomize(a.block(), r, 0.3);
        return new Case("bone-in" + in + "-r" + rank, layer, a, (w, b, p, x, n) -> {
            double[] y = linear(w, b, x, n, in, out);
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) {
                    double s = 0;
                    for (int j = 0; j < in; j++) {
                        s += x[i * in + j] * p[0][(j % rank) * out + o]; // ΔW[o, j] = B[j mod r, o]
                    }
                    y[i * out + o] += s;
                }
            }
            return y;
        });
    }

    static Case bat(long seed) {
        Random r = new Random(seed);
        int in = 12, out = 8, rank = 4;
        AdaptedLinear layer = AdaptedLinear.of("m", base(r, out, in));
        BoneAdapter a = layer.addBone("default", BoneConfig.bat(rank));
        randomize(a.block(), r, 0.2);
        return new Case("bat", layer, a, (w, b, p, x, n) -> linear(batWeight(w, p[0], out, in, rank), b, x, n, in,
                out));
    }

    /** W'_ij = W_ij + W_ij·B_i + B_i for r×r blocks (i over out/r, j over in/r). */
    static double[] batWeight(double[] w, double[] blk, int out, int in, int rank) {
        double[] wp = w.clone();
        for (int i = 0; i < out / rank; i++) {
            for (int j = 0; j < in / rank; j++) {
                for (int a = 0; a < rank; a++) {
                    for (int c = 0; c < rank; c++) {
                        double s = blk[i * rank * rank + a * rank + c];
                        for (int t = 0; t < rank; t++) {
                            s += w[(i * rank + a) * in + j * rank + t] * blk[i * rank * rank + t * rank + c];
                        }
                        wp[(i * rank + a) * in + j * rank + c] += s;
                    }
                }
            }
        }
        return wp;
    }

    static Case sorsa(long seed) {
        Random r = new Random(seed);
        int in = 12, out = 10, rank = 3;
        AdaptedLinear layer = AdaptedLinear.of("m", base(r, out, in));
        SorsaAdapter a = layer.addSorsa("default", SorsaConfig.of(rank).withAlpha(6));
        randomize(a.a(), r, 0.3);
        randomize(a.s(), r, 1);
        randomize(a.b(), r, 0.3);
        double s = a.scaling();
        return new Case("sorsa", layer, a, (w, b, p, x, n) -> {
            double[] xa = mmT(x, n, in, p[0], rank);
            for (int i = 0; i < xa.length; i++) {
                xa[i] *= p[1][i % rank];
            }
            return add(linear(w, b, x, n, in, out), scale(s, mmT(xa, n, rank, p[2], out)));
        });
    }

    /** DyLoRA at a fixed rank b (the case's twin is for the rank the test forces). */
    static Case dylora(long seed, boolean frozen) {
        Random r = new Random(seed);
        int in = 11, out = 9, rMax = 4;
        AdaptedLinear layer = AdaptedLinear.of("m", base(r, out, in));
        DyLoraAdapter a = layer.addDyLora("default", DyLoraConfig.of(rMax, 8).withMinRank(3).withFrozen(frozen)
                .withSeed(seed));
        randomize(a.b(), r, 0.3);
        randomize(a.a(), r, 0.3);
        int[] holder = new int[1];
        Case c = new Case("dylora" + (frozen ? "-frozen" : ""), layer, a, (w, b, p, x, n) -> {
            int rb = holder[0] == 0 ? a.inferenceRank() : holder[0];
            double[] at = java.util.Arrays.copyOf(p[0], rb * in);
            double[] bt = new double[out * rb];
            for (int o = 0; o < out; o++) {
                System.arraycopy(p[1], o * rMax, bt, o * rb, rb);
            }
            return add(linear(w, b, x, n, in, out), scale(8.0 / rb, mmT(mmT(x, n, in, at, rb), n, rb, bt, out)));
        });
        return new Case(c.name, layer, a, c.twin, holder);
    }

    static Case paca(long seed) {
        Random r = new Random(seed);
        int in = 14, out = 9, cols = 4;
        AdaptedLinear layer = AdaptedLinear.of("m", base(r, out, in));
        PacaAdapter a = layer.addPaca("default", new PacaConfig(cols, 8, seed));
        randomize(a.columns(), r, 0.4);
        int[] idx = a.indices();
        double s = a.scaling();
        return new Case("paca", layer, a, (w, b, p, x, n) -> {
            double[] wp = w.clone();
            for (int o = 0; o < out; o++) {
                for (int k = 0; k < cols; k++) {
                    wp[o * in + idx[k]] = s * p[0][o * cols + k];
                }
            }
            return linear(wp, b, x, n, in, out);
        });
    }

    static List<Case> all(long seed) {
        return List.of(lora(seed, false, LoraInit.DEFAULT), lora(seed + 1, true, LoraInit.GAUSSIAN),
                lora(seed + 2, false, LoraInit.PISSA), lora(seed + 3, true, LoraInit.OLORA), dora(seed + 4),
                bone(seed + 5, 13, 4), bone(seed + 6, 12, 3), bat(seed + 7), sorsa(seed + 8), dylora(seed + 9, false),
                dylora(seed + 10, true), paca(seed + 11));
    }
}

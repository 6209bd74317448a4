package lowbit.examples.adapters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import lowbit.nn.Linear;
import lowbit.nn.Parameter;
import lowbit.nn.adapter.AdaptedLinear;
import lowbit.nn.adapter.Adapter;
import lowbit.nn.adapter.BoneConfig;
import lowbit.nn.adapter.DyLoraConfig;
import lowbit.nn.adapter.LoraConfig;
import lowbit.nn.adapter.LoraInit;
import lowbit.nn.adapter.PacaConfig;
import lowbit.nn.adapter.SorsaAdapter;
import lowbit.nn.adapter.SorsaConfig;
import lowbit.nn.adapter.SorsaRegularizer;
import lowbit.nn.optim.AdamW;
import lowbit.nn.optim.Loss;
import lowbit.nn.optim.MseLoss;
import lowbit.tensor.Tensor;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * Teacher–student learning curves of every adapter method on a Linear(dim → dim): the student is a frozen random
 * base W with the method's adapter at its initialisation θ₀; the teacher is the same layer with the adapter's
 * parameters moved to θ₀ + δ (a random low-rank or structured delta that the method can express: for LoRA a rank-r
 * ΔW, for Bone a block-periodic one, for PaCA new columns, ...), merged into a dense Linear. Training minimises the
 * MSE between student and teacher outputs on fresh seeded Gaussian inputs with AdamW (learning rate decayed
 * linearly to 0); the curve is the loss on a
 * fixed evaluation batch relative to its value at step 0, and the recovered share of the teacher's delta is
 * 1 − L_final/L_0.
 *
 * <p>{@code AdapterLearningTest} runs {@link #standard()} in {@code ./lowbit test} and writes
 * {@code examples/target/adapter-loss-curves.png}; {@link #main} does the same to a path of choice.
 */
public final class AdapterLearningCurves {
    /** The chart title of {@link #standard()}. */
    public static final String TITLE = "Teacher-student Linear(512->512): each adapter method, AdamW, batch 16, seed 42";

    private AdapterLearningCurves() {
    }

    /** One method's curve: relative evaluation loss per recorded step (step 0 = 1). */
    public record Curve(String method, int[] steps, double[] relativeLoss) {
        /** 1 − L_final/L_0. */
        public double recovered() {
            return 1 - relativeLoss[relativeLoss.length - 1];
        }
    }

    /**
     * A method: how to attach it, its learning rate, the size of the teacher's parameter move, and whether the move
     * is confined to the first rank (DyLoRA: every truncation b must express the teacher at once, and with the
     * scale α/b that is possible exactly for a delta of rank ≤ r_min — each rank then learns the same matrix).
     */
    public record Method(String name, BiFunction<AdaptedLinear, Long, Adapter> attach, double lr, double delta,
            boolean firstRankOnly, int steps) {
        Method(String name, BiFunction<AdaptedLinear, Long, Adapter> attach, double lr, double delta) {
            this(name, attach, lr, delta, false, STEPS);
        }
    }

    /**
     * AdamW steps per method: DyLoRA, which fits all its truncations at once, gets twice as many; Bone, Bat and PaCA
     * (exactly expressible, linear in their parameters) half as many.
     */
    public static final int STEPS = 200;

    /** The methods of the experiment (rank 8 or equivalent on a 512-wide layer). */
    public static List<Method> methods() {
        return List.of(
                new Method("LoRA", (l, s) -> l.addLora("d", LoraConfig.of(8, 16).withSeed(s)), 5e-3, 0.15),
                new Method("rsLoRA", (l, s) -> l.addLora("d", LoraConfig.of(8, 16).withRsLora(true).withSeed(s)),
                        2e-3, 0.05),
                new Method("LoRA gaussian", (l, s) -> l.addLora("d", LoraConfig.of(8, 16).withInit(LoraInit.GAUSSIAN)
                        .withSeed(s)), 5e-3, 0.15),
                new Method("PiSSA", (l, s) -> l.addLora("d", LoraConfig.of(8, 8).withInit(LoraInit.PISSA).withSeed(s)),
                        2e-3, 0.3),
                new Method("PiSSA (fast SVD)", (l, s) -> l.addLora("d", LoraConfig.of(8, 8)
                        .withInit(LoraInit.pissaRandomized(4)).withSeed(s)), 2e-3, 0.3),
                new Method("OLoRA", (l, s) -> l.addLora("d", LoraConfig.of(8, 8).withInit(LoraInit.OLORA).withSeed(s)),
                        2e-3, 0.3),
                new Method("DoRA", (l, s) -> l.addLora("d", LoraConfig.of(8, 16).withDora(true).withSeed(s)), 5e-3,
                        0.15),
                new Method("Bone", (l, s) -> l.addBone("d", BoneConfig.bone(8)), 1e-2, 0.05, false, STEPS / 2),
                new Method("Bat", (l, s) -> l.addBone("d", BoneConfig.bat(8)), 3e-3, 0.05, false, STEPS / 2),
                new Method("SORSA", (l, s) -> l.addSorsa("d", SorsaConfig.of(8).withRandomizedSvd(4).withSeed(s)),
                        2e-3, 0.3),
                new Method("DyLoRA", (l, s) -> l.addDyLora("d", DyLoraConfig.of(8, 16).withSeed(s)), 3e-3, 0.3, true,
                        2 * STEPS),
                new Method("PaCA", (l, s) -> l.addPaca("d", PacaConfig.of(16, s)), 1e-2, 0.5, false, STEPS / 2));
    }

    /**
     * Runs every method.
     *
     * @param dim layer width (in = out)
     * @param batch rows per step
     * @param every record the evaluation loss every this many steps
     */
    public static List<Curve> run(List<Method> methods, int dim, int batch, int every, long seed) {
        List<Curve> curves = new ArrayList<>();
        for (Method m : methods) {
            curves.add(run(m, dim, batch, every, seed));
        }
        return curves;
    }

    static Curve run(Method m, int dim, int batch, int every, long seed) {
        int steps = m.steps();
        Random r = new Random(seed);
        float[] w = gaussian(r, dim * dim, 1 / Math.sqrt(dim));
        Linear base = Linear.of(Tensor.ofFloats(w, dim, dim), gaussian(r, dim, 0.1));
        AdaptedLinear student = AdaptedLinear.of("layer", base);
        Adapter a = m.attach().apply(student, seed);
        // the teacher: θ₀ + δ, δ of relative size m.delta() (absolute 0.02·delta/√(size) for zero-initialised tensors)
        List<float[]> start = new ArrayList<>();
        for (Parameter p : a.parameters()) {
            float[] v = p.data().clone();
            start.add(v);
            double rms = 0;
            for (float f : v) {
                rms += (double) f * f;
            }
            rms = Math.sqrt(rms / v.length);
            double scale = rms > 0 ? m.delta() * rms : m.delta() * 0.5;
            float[] t = v.clone();
            int[] shape = p.shape();
            boolean bMatrix = p.name().endsWith("lora_B.weight");
            for (int i = 0; i < t.length; i++) {
                double g = scale * r.nextGaussian();
                if (!m.firstRankOnly() || bMatrix && i % shape[1] == 0) {
                    t[i] += (float) g;
                }
            }
            p.set(t);
        }
        Linear teacher = student.merged(lowbit.tensor.DType.F32);
        for (int i = 0; i < start.size(); i++) {
            a.parameters().get(i).set(start.get(i));
        }
        int evalRows = 64;
        float[] xEval = gaussian(r, evalRows * dim, 1);
        float[] yEval = teacher.forward(xEval, evalRows);
        AdamW opt = new AdamW(a.parameters(), m.lr(), 0.9, 0.999, 1e-8, 0);
        List<SorsaAdapter> sorsa = a instanceof SorsaAdapter s ? List.of(s) : List.of();
        double coefficient = sorsa.isEmpty() ? 0 : SorsaRegularizer.trainerCoefficient(1e-5, m.lr());
        int points = steps / every + 1;
        int[] at = new int[points];
        double[] rel = new double[points];
        double l0 = MseLoss.value(student.forward(xEval, evalRows), yEval);
        rel[0] = 1;
        Random data = new Random(seed ^ 0xC0FFEE);
        for (int step = 1; step <= steps; step++) {
            float[] x = gaussian(data, batch * dim, 1);
            float[] y = teacher.forward(x, batch);
            AdaptedLinear.Activations act = student.train(x, batch);
            Loss loss = MseLoss.of(act.output(), y);
            student.backward(act, loss.gradient(), false);
            if (!sorsa.isEmpty()) {
                SorsaRegularizer.addGradient(sorsa, coefficient);
            }
            opt.setLearningRate(m.lr() * (1 - (step - 1) / (double) steps)); // linear decay to 0
            opt.step();
            opt.zeroGrad();
            if (step % every == 0) {
                at[step / every] = step;
                rel[step / every] = MseLoss.value(student.forward(xEval, evalRows), yEval) / l0;
            }
        }
        return new Curve(m.name(), at, rel);
    }

    private static float[] gaussian(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextGaussian() * scale);
        }
        return a;
    }

    /** A log-scale line chart of the curves, written as a PNG. */
    public static void writePng(List<Curve> curves, Path png, String title) throws IOException {
        XYChart chart = new XYChartBuilder().width(1000).height(640).title(title).xAxisTitle("AdamW step")
                .yAxisTitle("evaluation loss / loss at step 0").build();
        chart.getStyler().setYAxisLogarithmic(true).setLegendPosition(Styler.LegendPosition.OutsideE)
                .setMarkerSize(0).setChartBackgroundColor(java.awt.Color.WHITE);
        for (Curve c : curves) {
            double[] x = new double[c.steps().length];
            for (int i = 0; i < x.length; i++) {
                x[i] = c.steps()[i];
            }
            double[] y = c.relativeLoss().clone();
            for (int i = 0; i < y.length; i++) {
                y[i] = Math.max(y[i], 1e-8);
            }
            chart.addSeries(String.format("%s (%.1f %%)", c.method(), 100 * c.recovered()), x, y);
        }
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        String name = png.toString();
        BitmapEncoder.saveBitmap(chart, name.endsWith(".png") ? name.substring(0, name.length() - 4) : name,
                BitmapEncoder.BitmapFormat.PNG);
    }

    /** The budget of the experiment and of its test: Linear 512 → 512, {@value #STEPS} AdamW steps of 16 rows, seed 42. */
    public static List<Curve> standard() {
        return run(methods(), 512, 16, 10, 42);
    }

    /** Runs {@link #standard()} and writes the PNG (default {@code target/adapter-loss-curves.png}). */
    public static void main(String[] args) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Path out = Path.of(args.length > 0 ? args[0] : "target/adapter-loss-curves.png");
        long t0 = System.nanoTime();
        List<Curve> curves = standard();
        for (Curve c : curves) {
            System.out.printf("%-18s recovered %6.2f %% of the teacher's delta%n", c.method(), 100 * c.recovered());
        }
        writePng(curves, out, TITLE);
        System.out.printf("wrote %s in %.1f s%n", out, (System.nanoTime() - t0) / 1e9);
    }
}

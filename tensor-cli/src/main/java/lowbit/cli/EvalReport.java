package lowbit.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import lowbit.cli.EvalCommand.Row;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;

/** The Markdown table and the PNG chart of {@code lowbit eval}. */
final class EvalReport {
    private EvalReport() {
    }

    static String markdown(List<Row> rows, int sentences, int calibSentences, boolean calibrated, boolean sym,
            double seconds) {
        StringBuilder b = new StringBuilder();
        b.append("# lowbit eval: all-MiniLM-L6-v2, all 36 Linear weights quantized\n\n");
        b.append(String.format(Locale.ROOT, "Mean (min) cosine of the sentence embeddings to the fp32 model's over %d "
                + "evaluation sentences; %s grids, F16 scales%s. Linears = the 36 quantized weights (fp32: %.1f MiB), "
                + "model = with the fp32 embeddings, LayerNorms and biases. Throughput = sentences embedded per "
                + "second (one batch of 32, best of %d runs) and its ratio to the fp32 model's, timed alternately "
                + "with it.\n\n",
                sentences, sym ? "symmetric" : "asymmetric", calibrated ? "; calibration on " + calibSentences
                        + " sentences disjoint from them" : "", rows.get(0).linearBytes() / (1024.0 * 1024),
                EvalCommand.TIMED_ROUNDS));
        b.append("| method | bits | group | mean cos | min cos | bits/weight | linears MiB | model MiB | sentences/s "
                + "| × fp32 | quantize s |\n");
        b.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "| %s | %s | %s | %.4f | %.4f | %.2f | %.2f | %.1f | %.0f | %.2f | %s |\n",
                    r.method(), r.bits() == 0 ? "—" : Integer.toString(r.bits()),
                    r.bits() == 32 ? "—" : r.group() == 0 ? "row" : Integer.toString(r.group()), r.mean(), r.min(),
                    r.bitsPerWeight(), r.linearBytes() / (1024.0 * 1024), r.modelBytes() / (1024.0 * 1024),
                    r.sentencesPerSecond(), r.speedup(),
                    r.bits() == 32 ? "—" : String.format(Locale.ROOT, "%.1f", r.quantizeSeconds())));
        }
        b.append(String.format(Locale.ROOT, "%n%s, %s; %.0f s in all.%n", LocalDate.now(), EvalCommand.machine(),
                seconds));
        return b.toString();
    }

    /** Mean cosine against bits per weight, one series per method. */
    static void chart(List<Row> rows, Path png) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560)
                .title("all-MiniLM-L6-v2: embedding cosine vs fp32 against weight size").xAxisTitle("bits per weight "
                        + "(36 Linears, scales and zero points included)").yAxisTitle("mean cosine to fp32").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE).setChartBackgroundColor(java.awt.Color.WHITE)
                .setMarkerSize(9).setDecimalPattern("0.###");
        Map<String, List<Row>> series = new LinkedHashMap<>();
        for (Row r : rows) {
            if (r.bits() == 32) {
                continue;
            }
            String key = r.method().startsWith("ggml") ? "ggml (reference encoder)" : r.method();
            series.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<Row>> e : series.entrySet()) {
            List<Row> l = new ArrayList<>(e.getValue());
            l.sort((a, c) -> Double.compare(a.bitsPerWeight(), c.bitsPerWeight()));
            double[] x = new double[l.size()];
            double[] y = new double[l.size()];
            for (int i = 0; i < l.size(); i++) {
                x[i] = l.get(i).bitsPerWeight();
                y[i] = l.get(i).mean();
            }
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            if (e.getKey().startsWith("ggml")) {
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            }
        }
        String name = png.toString();
        BitmapEncoder.saveBitmap(chart, name.endsWith(".png") ? name.substring(0, name.length() - 4) : name,
                BitmapEncoder.BitmapFormat.PNG);
    }
}

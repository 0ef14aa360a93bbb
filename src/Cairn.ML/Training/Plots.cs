using Cairn.Metrics;
using ScottPlot;
using SkiaSharp;

namespace Cairn.ML.Training;

/// <summary>The evaluation plots logged with a run, as PNG files (ScottPlot); the curves' points come from <see cref="BinaryCurves"/>.</summary>
public static class Plots
{
    private const int Width = 600, Height = 450;

    /// <summary>The ROC curve of positive-class scores against true labels, with its AUC in the title.</summary>
    public static void RocCurve(string path, IReadOnlyList<double> scores, IReadOnlyList<bool> labels, double auc)
    {
        var (fpr, tpr) = BinaryCurves.Roc([.. scores], [.. labels]);
        SaveCurve(path, fpr, tpr, stepped: false, chance: (0, 1), $"ROC curve (AUC = {auc:0.000})", "False positive rate", "True positive rate", top: 1);
    }

    /// <summary>A curve on the unit square with its dashed no-skill line from (0, chance.Left) to (1, chance.Right).</summary>
    private static void SaveCurve(string path, double[] x, double[] y, bool stepped, (double Left, double Right) chance, string title, string xLabel, string yLabel, double top)
    {
        (x, y) = Thin(x, y, 1.0 / (2 * Math.Max(Width, Height)));
        var plot = new Plot();
        var curve = plot.Add.Scatter(x, y);
        curve.MarkerSize = 0;
        curve.LineWidth = 2;
        if (stepped) curve.ConnectStyle = ConnectStyle.StepVertical;
        var line = plot.Add.Line(0, chance.Left, 1, chance.Right);
        line.LinePattern = LinePattern.Dashed;
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.Axes.SetLimits(0, 1, 0, top);
        Save(plot, path, Width, Height);
    }

    /// <summary>
    /// The points of a curve that move at least <paramref name="step"/> along an axis from the last point kept, plus the
    /// last: a curve over 20,000 held-out rows has thousands of points closer together than a pixel, which cost rendering
    /// time and change nothing in the picture.
    /// </summary>
    internal static (double[] X, double[] Y) Thin(double[] x, double[] y, double step)
    {
        if (x.Length <= 2) return (x, y);
        var (keptX, keptY) = (new List<double> { x[0] }, new List<double> { y[0] });
        for (var i = 1; i < x.Length - 1; i++)
        {
            if (Math.Abs(x[i] - keptX[^1]) < step && Math.Abs(y[i] - keptY[^1]) < step) continue;
            keptX.Add(x[i]);
            keptY.Add(y[i]);
        }
        keptX.Add(x[^1]);
        keptY.Add(y[^1]);
        return ([.. keptX], [.. keptY]);
    }

    private static readonly Lazy<Task> Prepared = new(() => Task.Run(Prepare));

    /// <summary>
    /// Loads the drawing engine (SkiaSharp's native library, the fonts, the code that draws) in the background, once per
    /// process, by drawing a small plot into memory, so the first real plot does not pay for it: training starts this
    /// while the model fits, and awaits it before drawing.
    /// </summary>
    public static Task PrepareAsync() => Prepared.Value;

    private static void Prepare()
    {
        var plot = new Plot();
        plot.Add.Scatter(new double[] { 0, 1 }, new double[] { 0, 1 });
        plot.Title("-");
        plot.XLabel("-");
        plot.YLabel("-");
        using var warm = Encode(plot, 64, 48);
    }

    /// <summary>
    /// Draws <paramref name="plot"/> and writes it as a PNG. ScottPlot's own PNG export compresses at zlib's default level,
    /// which takes most of a plot's time; level 1 with the "up" filter writes in a fifth of that, for files about half again
    /// as large (30 KB).
    /// </summary>
    private static void Save(Plot plot, string path, int width, int height)
    {
        using var png = Encode(plot, width, height);
        using var file = File.Create(path);
        png.SaveTo(file);
    }

    private static SKData Encode(Plot plot, int width, int height)
    {
        using var surface = SKSurface.Create(new SKImageInfo(width, height))
            ?? throw new InvalidOperationException($"Cannot create a {width}x{height} drawing surface.");
        plot.Render(surface.Canvas, width, height);
        using var image = surface.Snapshot();
        using var pixels = image.PeekPixels();
        return pixels.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.Up, 1)) ?? throw new InvalidOperationException("Encoding a plot as PNG failed.");
    }

    /// <summary>A confusion matrix: rows are actual classes, columns predicted, cells shaded by count.</summary>
    public static void ConfusionMatrix(string path, IReadOnlyList<string> classes, long[,] counts)
    {
        var plot = new Plot();
        var n = classes.Count;
        var max = Math.Max(1, counts.Cast<long>().Max());
        for (var actual = 0; actual < n; actual++)
            for (var predicted = 0; predicted < n; predicted++)
            {
                var top = n - actual;
                var cell = plot.Add.Rectangle(predicted, predicted + 1, top - 1, top);
                var shade = counts[actual, predicted] / (double)max;
                cell.FillColor = Colors.SteelBlue.WithAlpha(0.1 + 0.9 * shade);
                cell.LineColor = Colors.White;
                var label = plot.Add.Text(counts[actual, predicted].ToString(System.Globalization.CultureInfo.InvariantCulture), predicted + 0.5, top - 0.5);
                label.LabelFontSize = 18;
                label.LabelAlignment = Alignment.MiddleCenter;
                label.LabelFontColor = shade > 0.6 ? Colors.White : Colors.Black;
            }
        var ticks = Enumerable.Range(0, n).Select(i => new Tick(i + 0.5, classes[i])).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, n).Select(i => new Tick(n - i - 0.5, classes[i])).ToArray());
        plot.Title("Confusion matrix");
        plot.XLabel("Predicted");
        plot.YLabel("Actual");
        plot.Axes.SetLimits(0, n, 0, n);
        Save(plot, path, Width, Height);
    }

    /// <summary>Predicted against actual values, with the y = x line.</summary>
    public static void PredictedVsActual(string path, IReadOnlyList<double> actual, IReadOnlyList<double> predicted)
    {
        var plot = new Plot();
        var points = plot.Add.ScatterPoints(actual.ToArray(), predicted.ToArray());
        points.MarkerSize = 3;
        var low = Math.Min(actual.Min(), predicted.Min());
        var high = Math.Max(actual.Max(), predicted.Max());
        var ideal = plot.Add.Line(low, low, high, high);
        ideal.LinePattern = LinePattern.Dashed;
        plot.Title("Predicted vs actual");
        plot.XLabel("Actual");
        plot.YLabel("Predicted");
        Save(plot, path, Width, Height);
    }

    /// <summary>The precision-recall curve of positive-class scores, with the average precision in the title.</summary>
    public static void PrCurve(string path, IReadOnlyList<double> scores, IReadOnlyList<bool> labels, double averagePrecision)
    {
        var (recall, precision) = BinaryCurves.PrecisionRecall([.. scores], [.. labels]);
        var prevalence = labels.Count == 0 ? 0 : labels.Count(l => l) / (double)labels.Count;
        SaveCurve(path, recall, precision, stepped: true, chance: (prevalence, prevalence), $"Precision-recall curve (AP = {averagePrecision:0.000})",
            "Recall", "Precision", top: 1.02);
    }

    /// <summary>Permutation importances as horizontal bars, largest on top, with one standard deviation as error bars.</summary>
    public static void FeatureImportance(string path, IReadOnlyList<FeatureImportance.Entry> entries)
    {
        var sorted = entries.OrderBy(e => e.Mean).ToList(); // bottom to top
        var plot = new Plot();
        var bars = sorted.Select((e, i) => new Bar
        {
            Position = i,
            Value = e.Mean,
            Error = e.StdDev,
            FillColor = e.Mean >= 0 ? Colors.SteelBlue : Colors.Gray,
            Orientation = Orientation.Horizontal,
        }).ToList();
        plot.Add.Bars(bars);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(sorted.Select((e, i) => new Tick(i, e.Feature)).ToArray());
        plot.Title(entries.Count > 0 ? $"Permutation importance (drop in {entries[0].Metric})" : "Permutation importance");
        plot.XLabel($"Decrease of {(entries.Count > 0 ? entries[0].Metric : "the metric")} when the feature is shuffled");
        plot.Axes.Margins(left: 0.05, right: 0.1, bottom: 0.05, top: 0.05);
        Save(plot, path, Width, Math.Max(Height, 60 + 28 * entries.Count));
    }

    /// <summary>
    /// A feature's reference and current shares side by side (one pair of bars per bin or category), as PNG bytes for a
    /// report to embed.
    /// </summary>
    public static byte[] SharesPng(string title, IReadOnlyList<string> labels, IReadOnlyList<double> reference, IReadOnlyList<double> current)
    {
        var plot = new Plot();
        var bars = new List<Bar>(labels.Count * 2);
        for (var i = 0; i < labels.Count; i++)
        {
            bars.Add(new Bar { Position = i - 0.2, Value = reference[i], Size = 0.4, FillColor = Colors.SteelBlue });
            bars.Add(new Bar { Position = i + 0.2, Value = current[i], Size = 0.4, FillColor = Colors.OrangeRed });
        }
        plot.Add.Bars(bars);
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "reference", FillColor = Colors.SteelBlue });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "current", FillColor = Colors.OrangeRed });
        plot.ShowLegend(Alignment.UpperRight);
        // At most about 12 labels fit under the bars side by side; the others stay unlabelled.
        var every = Math.Max(1, (labels.Count + 9) / 10);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, labels.Count).Where(i => i % every == 0).Select(i => new Tick(i, labels[i])).ToArray());
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel("Share of rows");
        using var png = Encode(plot, Width, 360);
        return png.ToArray();
    }

    /// <summary>
    /// One bar per bin or category (a column's distribution), the <paramref name="flagged"/> ones (values an expectation
    /// refuses) in red, as PNG bytes for a report to embed.
    /// </summary>
    public static byte[] BarsPng(string title, IReadOnlyList<string> labels, IReadOnlyList<double> values, IReadOnlyList<bool> flagged, string yLabel)
    {
        var plot = new Plot();
        plot.Add.Bars(labels.Select((_, i) => new Bar
        {
            Position = i,
            Value = values[i],
            Size = 0.8,
            FillColor = flagged[i] ? Colors.OrangeRed : Colors.SteelBlue,
        }).ToList());
        var every = Math.Max(1, (labels.Count + 9) / 10);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, labels.Count).Where(i => i % every == 0).Select(i => new Tick(i, labels[i])).ToArray());
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel(yLabel);
        using var png = Encode(plot, Width, 320);
        return png.ToArray();
    }

    /// <summary>One bar per feature (its drift score), drifted features in red, as PNG bytes.</summary>
    public static byte[] ScoresPng(string title, IReadOnlyList<(string Feature, double Score, bool Drifted)> scores)
    {
        var plot = new Plot();
        var bars = scores.Select((s, i) => new Bar
        {
            Position = scores.Count - 1 - i,
            Value = double.IsFinite(s.Score) ? s.Score : 0,
            FillColor = s.Drifted ? Colors.OrangeRed : Colors.SteelBlue,
            Orientation = Orientation.Horizontal,
        }).ToList();
        plot.Add.Bars(bars);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            scores.Select((s, i) => new Tick(scores.Count - 1 - i, s.Feature)).ToArray());
        plot.Title(title);
        plot.Axes.Margins(left: 0, right: 0.1, bottom: 0.05, top: 0.05);
        using var png = Encode(plot, Width, Math.Max(200, 60 + 24 * scores.Count));
        return png.ToArray();
    }

    /// <summary>A held-out metric against the number of trees.</summary>
    public static void LearningCurve(string path, IReadOnlyList<CurvePoint> points, string metric)
    {
        var plot = new Plot();
        var line = plot.Add.Scatter(points.Select(p => (double)p.Trees).ToArray(), points.Select(p => p.Value).ToArray());
        line.MarkerSize = 3;
        line.LineWidth = 2;
        plot.Title($"Learning curve ({metric} on held-out rows)");
        plot.XLabel("Trees");
        plot.YLabel(metric);
        Save(plot, path, Width, Height);
    }

    /// <summary>
    /// Lines over time (one per series, x in Unix milliseconds, drawn on a date axis), as PNG bytes for a report to embed: a
    /// deployment's drift scores or performance window by window.
    /// </summary>
    public static byte[] SeriesOverTimePng(string title, string yLabel, IReadOnlyList<(string Name, IReadOnlyList<long> TimesMs, IReadOnlyList<double> Values)> series)
    {
        var plot = new Plot();
        foreach (var (name, times, values) in series)
        {
            var x = times.Select(t => DateTimeOffset.FromUnixTimeMilliseconds(t).UtcDateTime.ToOADate()).ToArray();
            var line = plot.Add.Scatter(x, values.Select(v => double.IsFinite(v) ? v : double.NaN).ToArray());
            line.LegendText = name;
            line.MarkerSize = 4;
            line.LineWidth = 2;
        }
        plot.Axes.DateTimeTicksBottom();
        if (series.Count > 1) plot.ShowLegend(Alignment.UpperLeft);
        plot.Title(title);
        plot.YLabel(yLabel);
        using var png = Encode(plot, Width, 360);
        return png.ToArray();
    }
}

using System.Globalization;
using System.Text;
using Cairn.ML.Training;
using Cairn.Monitoring;

namespace Cairn.ML.Monitoring;

/// <summary>
/// One monitoring window as a self-contained HTML page: what the window holds (deployment, model version, range, rows,
/// reference), its performance beside the training metrics, drift over time and performance over time across the
/// deployment's stored windows, then the window's drift report as <see cref="DriftHtmlReport"/> draws it (score per feature,
/// statistics, reference and current shares per feature) and the prediction's drift. Plots are PNGs embedded as base64.
/// </summary>
public static class MonitorHtmlReport
{
    /// <summary>Features drawn in the drift-over-time plot (those that drifted most often first).</summary>
    private const int FeaturesOverTime = 8;

    /// <summary>Writes the page to <paramref name="path"/> (through a temporary file moved into place).</summary>
    public static void Write(string path, MonitorWindow window, IReadOnlyList<MonitorWindow> history)
    {
        var html = Render(window, history);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, html, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// The page's HTML. <paramref name="history"/> is the deployment's stored windows of the same model version (any order);
    /// the over-time plots are drawn from it.
    /// </summary>
    public static string Render(MonitorWindow window, IReadOnlyList<MonitorWindow> history)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(history);
        var e = (Func<string, string>)DriftHtmlReport.Encode;
        var page = new StringBuilder();
        var version = window.ModelVersion is null ? "all model versions" : $"{window.ModelName} version {window.ModelVersion}{(window.Shadow ? " (shadow)" : "")}";
        DriftHtmlReport.Head(page, $"Monitoring window {window.Id}: {window.Deployment}");
        page.Append("<h1>Monitoring window ").Append(window.Id.ToString(CultureInfo.InvariantCulture)).Append(": ").Append(e(window.Deployment)).Append("</h1>\n");
        page.Append("<table id=\"window\">")
            .Append("<tr><th>Model</th><td>").Append(e(version)).Append("</td></tr>")
            .Append("<tr><th>Window</th><td>").Append(Time(window.Start)).Append(" to ").Append(Time(window.End)).Append("</td></tr>")
            .Append("<tr><th>Rows</th><td>").Append(window.Rows.ToString("N0", CultureInfo.InvariantCulture)).Append("</td></tr>")
            .Append("<tr><th>Rows with ground truth</th><td>").Append(window.LabeledRows.ToString("N0", CultureInfo.InvariantCulture)).Append("</td></tr>")
            .Append("<tr><th>Reference</th><td>").Append(window.Reference is { } r ? "<code>" + e(r) + "</code>" : "none (no drift computed)").Append("</td></tr>")
            .Append("<tr><th>Evaluated</th><td>").Append(Time(window.EvaluatedAt)).Append("</td></tr>")
            .Append("</table>\n");

        page.Append("<h2>Performance</h2>\n");
        var metrics = window.Performance.Keys.Union(window.TrainingPerformance.Keys).Order(StringComparer.Ordinal).ToList();
        if (metrics.Count == 0) page.Append("<p id=\"performance\">No ground truth for this window yet, and no training metrics.</p>\n");
        else
        {
            page.Append("<table id=\"performance\"><tr><th>Metric</th><th>This window</th><th>At training</th></tr>\n");
            foreach (var m in metrics)
                page.Append("<tr><td>").Append(e(m)).Append("</td><td>").Append(DriftHtmlReport.Number(window.Performance.TryGetValue(m, out var v) ? v : null))
                    .Append("</td><td>").Append(DriftHtmlReport.Number(window.TrainingPerformance.TryGetValue(m, out var t) ? t : null)).Append("</td></tr>\n");
            page.Append("</table>\n");
        }

        var ordered = history.Append(window).DistinctBy(w => w.Id).OrderBy(w => w.Start).ThenBy(w => w.Id).ToList();
        page.Append("<h2>Drift over time</h2>\n");
        var drifting = ordered.Where(w => w.InputDrift is not null).ToList();
        if (drifting.Count == 0) page.Append("<p id=\"drift-over-time\">No window of this deployment was compared with a reference.</p>\n");
        else
        {
            var series = new List<(string, IReadOnlyList<long>, IReadOnlyList<double>)>
            {
                ("drift share", drifting.Select(w => w.Start.ToUnixTimeMilliseconds()).ToList(), drifting.Select(w => w.InputDrift!.DriftShare).ToList()),
            };
            var features = drifting.SelectMany(w => w.InputDrift!.Features).GroupBy(f => f.Name)
                .OrderByDescending(g => g.Count(f => f.Drifted)).ThenBy(g => g.Key, StringComparer.Ordinal).Take(FeaturesOverTime).Select(g => g.Key).ToList();
            foreach (var name in features)
            {
                var points = drifting.Select(w => (w.Start, Feature: w.InputDrift!.Features.FirstOrDefault(f => f.Name == name)))
                    .Where(p => p.Feature?.Score is not null).ToList();
                series.Add((name, points.Select(p => p.Start.ToUnixTimeMilliseconds()).ToList(), points.Select(p => p.Feature!.Score!.Value).ToList()));
            }
            DriftHtmlReport.Image(page, "drift-over-time", Plots.SeriesOverTimePng("Drift share and feature drift scores per window", "score", series));
        }
        page.Append("<h2>Performance over time</h2>\n");
        var scored = ordered.Where(w => w.Performance.Count > 0).ToList();
        if (scored.Count == 0) page.Append("<p id=\"performance-over-time\">No window of this deployment has ground truth yet.</p>\n");
        else
        {
            var names = scored.SelectMany(w => w.Performance.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
            var series = names.Select(n =>
            {
                var points = scored.Where(w => w.Performance.ContainsKey(n)).ToList();
                return (n, (IReadOnlyList<long>)points.Select(w => w.Start.ToUnixTimeMilliseconds()).ToList(), (IReadOnlyList<double>)points.Select(w => w.Performance[n]).ToList());
            }).ToList();
            DriftHtmlReport.Image(page, "performance-over-time", Plots.SeriesOverTimePng("Performance per window (rows with ground truth)", "metric", series));
        }

        if (window.PredictionDrift is { } prediction)
        {
            page.Append("<h2>Prediction drift</h2>\n<p id=\"prediction-drift\">").Append(e(prediction.Name)).Append(": ")
                .Append(DriftOptions.NameOf(prediction.Method)).Append(' ').Append(DriftHtmlReport.Number(prediction.Score))
                .Append(prediction.Drifted ? " <strong>drifted</strong>" : " (no drift)").Append("</p>\n");
            if (prediction.Histogram is { } h)
                DriftHtmlReport.Image(page, "histogram", Plots.SharesPng($"{prediction.Name}: reference label vs predictions", h.Labels, h.Reference, h.Current));
        }
        if (window.InputDrift is { } drift)
        {
            page.Append("<h2>Input drift in this window</h2>\n");
            DriftHtmlReport.AppendReport(page, drift);
        }
        page.Append("</body></html>\n");
        return page.ToString();
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}

/// <summary>The window page of <see cref="MonitorHtmlReport"/> as the server's <see cref="IMonitorReportRenderer"/>.</summary>
public sealed class MonitorHtmlReportRenderer : IMonitorReportRenderer
{
    /// <inheritdoc/>
    public string Render(MonitorWindow window, IReadOnlyList<MonitorWindow> history) => MonitorHtmlReport.Render(window, history);
}

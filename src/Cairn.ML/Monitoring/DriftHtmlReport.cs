using System.Globalization;
using System.Net;
using System.Text;
using Cairn.Monitoring;
using Cairn.ML.Training;

namespace Cairn.ML.Monitoring;

/// <summary>
/// The drift report as one self-contained HTML page: a summary, the drift score per feature, a table of every statistic, and
/// per feature its reference and current shares side by side; the plots are PNGs (ScottPlot, <see cref="Plots"/>) embedded as
/// base64 data URIs, so the file needs nothing else. Every text from the data is HTML-encoded.
/// </summary>
public static class DriftHtmlReport
{
    /// <summary>Writes the report to <paramref name="path"/> (through a temporary file moved into place).</summary>
    public static void Write(string path, DriftReport report, string referenceName, string currentName)
    {
        ArgumentNullException.ThrowIfNull(report);
        var html = Render(report, referenceName, currentName);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, html, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The page's HTML.</summary>
    public static string Render(DriftReport report, string referenceName, string currentName)
    {
        ArgumentNullException.ThrowIfNull(report);
        var page = new StringBuilder();
        Head(page, "Drift report");
        page.Append("<h1>Drift report</h1>\n<p>Reference: <code>").Append(Encode(referenceName)).Append("</code><br>Current: <code>")
            .Append(Encode(currentName)).Append("</code></p>\n");
        AppendReport(page, report);
        page.Append("</body></html>\n");
        return page.ToString();
    }

    /// <summary>The page's head (title, style) and the opening body tag.</summary>
    internal static void Head(StringBuilder page, string title) =>
        page.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(Encode(title)).Append("</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}")
            .Append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}")
            .Append("tr.drifted{background:#fde2dc;font-weight:bold}section.feature{margin-top:2em}img{max-width:100%}")
            .Append("</style></head><body>\n");

    /// <summary>A drift report's part of a page: summary, score per feature, statistics, and each feature's picture.</summary>
    internal static void AppendReport(StringBuilder page, DriftReport report)
    {
        var drifted = report.Features.Count(f => f.Drifted);
        page.Append(CultureInfo.InvariantCulture, $"<p id=\"summary\">{drifted} of {report.Features.Count} features drifted (share {report.DriftShare:0.###}, threshold {report.DriftShareThreshold:0.###}): ")
            .Append(report.DatasetDrift ? "<strong>dataset drift</strong>" : "no dataset drift").Append(".</p>\n");
        var scored = report.Features.Where(f => f.Score is not null).ToList();
        if (scored.Count > 0)
        {
            page.Append("<h2>Drift score per feature</h2>\n");
            Image(page, "scores", Plots.ScoresPng("Drift score per feature (the deciding method's value)",
                scored.Select(f => (f.Name, f.Score!.Value, f.Drifted)).ToList()));
        }
        page.Append("<h2>Statistics</h2>\n<table id=\"statistics\"><tr><th>Feature</th><th>Type</th><th>n ref</th><th>n cur</th><th>Missing ref</th><th>Missing cur</th>")
            .Append("<th>KS p</th><th>Wasserstein</th><th>PSI</th><th>JS</th><th>Chi2 p</th><th>Method</th><th>Score</th><th>Threshold</th><th>Drift</th></tr>\n");
        foreach (var f in report.Features)
        {
            page.Append(f.Drifted ? "<tr class=\"drifted\">" : "<tr>").Append("<td>").Append(Encode(f.Name)).Append("</td><td>")
                .Append(f.Type == FeatureType.Numeric ? "numeric" : "categorical").Append("</td>");
            foreach (var cell in new[]
                     {
                         Count(f.ReferenceCount), Count(f.CurrentCount), Count(f.ReferenceMissing), Count(f.CurrentMissing), Number(f.Ks?.PValue),
                         Number(f.Wasserstein), Number(f.Psi), Number(f.Js), Number(f.Chi2?.PValue), DriftOptions.NameOf(f.Method), Number(f.Score),
                         Number(f.Threshold), f.Drifted ? "yes" : f.Note is { } note ? Encode(note) : "no",
                     })
                page.Append("<td>").Append(cell).Append("</td>");
            page.Append("</tr>\n");
        }
        page.Append("</table>\n");
        foreach (var f in report.Features)
        {
            page.Append("<section class=\"feature\" data-feature=\"").Append(Encode(f.Name)).Append("\"><h3>").Append(Encode(f.Name))
                .Append(f.Drifted ? " (drifted)" : "").Append("</h3>\n");
            if (f.Histogram is { } h)
                Image(page, "histogram", Plots.SharesPng($"{f.Name}: reference vs current", h.Labels, h.Reference, h.Current));
            else page.Append("<p>").Append(Encode(f.Note ?? "no values")).Append("</p>\n");
            page.Append("</section>\n");
        }
    }

    internal static void Image(StringBuilder page, string kind, byte[] png) =>
        page.Append("<img class=\"").Append(kind).Append("\" alt=\"").Append(kind).Append("\" src=\"data:image/png;base64,")
            .Append(Convert.ToBase64String(png)).Append("\">\n");

    internal static string Encode(string text) => WebUtility.HtmlEncode(text);

    internal static string Count(int value) => value.ToString("N0", CultureInfo.InvariantCulture);

    internal static string Number(double? value) => value is { } v ? v.ToString("G4", CultureInfo.InvariantCulture) : "-";
}

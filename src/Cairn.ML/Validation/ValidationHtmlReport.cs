using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Cairn.Data;
using Cairn.ML.Training;
using Cairn.Validation;

namespace Cairn.ML.Validation;

/// <summary>
/// A validation as one self-contained HTML page, in the drift report's style: a summary, a table of every expectation
/// (failures highlighted), and a section per expectation with its rule, what was observed, the unexpected values and a
/// picture of its column: the column's histogram or most frequent values with the values the expectation refuses in red,
/// or, for <c>distribution_close</c>, the reference and current shares side by side. Plots are PNGs (<see cref="Plots"/>)
/// embedded as base64; every text from the data is HTML-encoded.
/// </summary>
public static class ValidationHtmlReport
{
    /// <summary>Categories drawn for a text column.</summary>
    private const int TopCategories = 30;

    /// <summary>Writes the report to <paramref name="path"/> (through a temporary file moved into place).</summary>
    public static void Write(string path, ValidationReport report, IColumnSource data, string dataName, string suiteName)
    {
        var html = Render(report, data, dataName, suiteName);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, html, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The page's HTML.</summary>
    public static string Render(ValidationReport report, IColumnSource data, string dataName, string suiteName)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(data);
        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Validation report</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}")
            .Append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}tr.failed,section.failed h3{background:#fde2dc;font-weight:bold}")
            .Append("tr.warned,section.warned h3{background:#fff3cd}section.expectation{margin-top:2em}img{max-width:100%}")
            .Append("</style></head><body>\n");
        page.Append("<h1>Validation report</h1>\n<p>Data: <code>").Append(Encode(dataName)).Append("</code> (")
            .Append(report.RowCount.ToString("N0", CultureInfo.InvariantCulture)).Append(" rows)<br>Suite: <code>").Append(Encode(suiteName)).Append("</code></p>\n");
        page.Append(CultureInfo.InvariantCulture, $"<p id=\"summary\">{report.Passed} of {report.Results.Count} expectations passed; {report.FailedErrors} failed")
            .Append(CultureInfo.InvariantCulture, $", {report.FailedWarnings} failed as warnings: ")
            .Append(report.Success ? "<strong>valid</strong>" : "<strong>invalid</strong>").Append(".</p>\n");
        page.Append("<h2>Expectations</h2>\n<table id=\"results\"><tr><th>#</th><th>Kind</th><th>Column</th><th>Rule</th><th>Severity</th><th>Observed</th><th>Unexpected</th><th>Result</th></tr>\n");
        foreach (var r in report.Results)
        {
            var e = r.Expectation;
            page.Append("<tr").Append(RowClass(r)).Append('>');
            foreach (var cell in new[] { e.Index.ToString(CultureInfo.InvariantCulture), e.Kind, e.Column ?? "", e.Describe(), Severity(e), Observed(r), Unexpected(r), Verdict(r) })
                page.Append("<td>").Append(Encode(cell)).Append("</td>");
            page.Append("</tr>\n");
        }
        page.Append("</table>\n");
        var profiles = new ConcurrentDictionary<string, Profile>(StringComparer.Ordinal);
        foreach (var r in report.Results)
        {
            var e = r.Expectation;
            page.Append("<section class=\"expectation").Append(r.Success ? " passed" : r.FailsValidation ? " failed" : " warned")
                .Append(CultureInfo.InvariantCulture, $"\" data-index=\"{e.Index}\" data-kind=\"{e.Kind}\" data-column=\"").Append(Encode(e.Column ?? "")).Append("\">")
                .Append(CultureInfo.InvariantCulture, $"<h3>#{e.Index} {e.Kind}").Append(e.Column is { } c ? " · " + Encode(c) : "").Append(" — ").Append(Verdict(r)).Append("</h3>\n");
            page.Append("<table class=\"result\"><tr><th>Rule</th><td>").Append(Encode(e.Describe())).Append("</td></tr><tr><th>Observed</th><td>")
                .Append(Encode(Observed(r))).Append("</td></tr><tr><th>Unexpected</th><td>").Append(Encode(Unexpected(r))).Append("</td></tr>");
            if (r.UnexpectedExamples.Count > 0)
            {
                page.Append("<tr><th>Examples</th><td>");
                for (var i = 0; i < r.UnexpectedExamples.Count; i++)
                    page.Append(i > 0 ? "<br>" : "").Append(CultureInfo.InvariantCulture, $"row {r.UnexpectedRows[i]}: <code>").Append(Encode(r.UnexpectedExamples[i])).Append("</code>");
                page.Append("</td></tr>");
            }
            if (r.Note is { } note) page.Append("<tr><th>Note</th><td>").Append(Encode(note)).Append("</td></tr>");
            page.Append("</table>\n");
            if (Picture(r, data, profiles) is { } png) Image(page, png);
            page.Append("</section>\n");
        }
        page.Append("</body></html>\n");
        return page.ToString();
    }

    /// <summary>The picture of an expectation's column, or null (no column, no values).</summary>
    private static byte[]? Picture(ExpectationResult r, IColumnSource data, ConcurrentDictionary<string, Profile> profiles)
    {
        var e = r.Expectation;
        if (r.Drift?.Histogram is { } h) return Plots.SharesPng($"{e.Column}: reference vs current", h.Labels, h.Reference, h.Current);
        if (e.Column is not { } column || !data.Has(column)) return null;
        var profile = profiles.GetOrAdd(column, name => Profile.Of(data, name));
        if (profile.Numeric is { Histogram: { } histogram })
        {
            var labels = histogram.Counts.Select((_, i) => Number(histogram.Edges[i])).ToList();
            var flagged = histogram.Counts.Select((count, i) => count > 0 && e is BetweenExpectation b && !b.Bounds.Contains((histogram.Edges[i] + histogram.Edges[i + 1]) / 2)).ToList();
            return Plots.BarsPng($"{column}: values", labels, histogram.Counts.Select(x => (double)x).ToList(), flagged, "Rows");
        }
        if (profile.Text is { Top: { Count: > 0 } top })
        {
            var refused = top.Select(t => e switch
            {
                InSetExpectation s => !s.Values.Contains(t.Value, StringComparer.Ordinal),
                MatchesRegexExpectation m => !Matches(m.Regex, t.Value),
                _ => false,
            }).ToList();
            return Plots.BarsPng($"{column}: most frequent values", top.Select(t => t.Value).ToList(), top.Select(t => (double)t.Count).ToList(), refused, "Rows");
        }
        return null;
    }

    private static bool Matches(Regex regex, string value)
    {
        try
        {
            return regex.IsMatch(value);
        }
        catch (RegexMatchTimeoutException)
        {
            return false; // the validation itself reports a pattern that runs out of time; the picture only leaves the bar red
        }
    }

    /// <summary>A column's profile for its picture (<see cref="ColumnProfiler"/>): numbers or text.</summary>
    private sealed record Profile(ColumnProfile? Numeric, ColumnProfile? Text)
    {
        public static Profile Of(IColumnSource data, string column) => data.TryNumbers(column, out var numbers)
            ? new Profile(ColumnProfiler.OfNumbers(column, "numeric", numbers), null)
            : new Profile(null, ColumnProfiler.OfStrings(column, "categorical", data.Strings(column), TopCategories));
    }

    private static string RowClass(ExpectationResult r) => r.Success ? "" : r.FailsValidation ? " class=\"failed\"" : " class=\"warned\"";

    private static string Severity(Expectation e) => e.Severity == Cairn.Validation.Severity.Warn ? "warn" : "error";

    private static string Verdict(ExpectationResult r) => r.Success ? "passed" : r.FailsValidation ? "FAILED" : "failed (warning)";

    /// <summary>What was observed, as the table shows it.</summary>
    public static string Observed(ExpectationResult r) =>
        r.ObservedValue is { } v ? Number(v) + (r.Observed is { } label ? " (" + label + ")" : "") : r.Observed ?? "-";

    /// <summary>The unexpected count out of the values looked at, or "-" when it does not apply.</summary>
    public static string Unexpected(ExpectationResult r) =>
        r.Expectation is StatisticExpectation or RowCountExpectation or DistributionExpectation or ColumnExistsExpectation || (r.UnexpectedCount == 0 && r.ElementCount == 0) ? "-"
            : string.Create(CultureInfo.InvariantCulture, $"{r.UnexpectedCount:N0} of {r.ElementCount:N0}");

    private static void Image(StringBuilder page, byte[] png) =>
        page.Append("<img class=\"plot\" alt=\"plot\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(png)).Append("\">\n");

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private static string Number(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}

using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Cairn.Data;
using Cairn.Pipelines;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn plots</c>: renders the pipeline's plot files (CSV or JSON records) to PNG and an HTML page.</summary>
internal static class PlotsCommands
{
    /// <summary>Builds the <c>plots</c> command.</summary>
    public static Command Create(CliContext app)
    {
        var output = new Option<string>("--out", "-o") { Description = "Output folder", DefaultValueFactory = _ => "cairn_plots" };
        var x = new Option<string?>("--x") { Description = "Column for the x axis (default: 'step', 'epoch' or the row index)" };
        var cmd = new Command("plots", "Render plot files of cairn.yaml (CSV/JSON) to PNG and an index.html") { output, x };
        cmd.SetHandler(app, (pr, ctx, ct) =>
        {
            var (repo, pipeline) = PipelineCommands.Open(ctx);
            var files = pipeline.Stages.SelectMany(s => s.Plots).Select(p => p.Path)
                .Concat(pipeline.Stages.SelectMany(s => s.Metrics).Select(m => m.Path).Where(p => p.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)))
                .Distinct().Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new InvalidParameterValueException("cairn.yaml declares no plots (add 'plots: [file.csv]' to a stage)");
            string outDir = Path.GetFullPath(pr.GetValue(output)!, ctx.WorkingDirectory);
            Directory.CreateDirectory(outDir);
            var html = new StringBuilder("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Cairn plots</title>"
                + "<style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;margin:1em}</style></head><body>\n<h1>Cairn plots</h1>\n");
            int written = 0;
            foreach (var rel in files)
            {
                string full = repo.ToFull(rel);
                if (!File.Exists(full)) { ctx.Error.WriteLine($"warning: {rel} does not exist yet (run 'cairn repro')"); continue; }
                var table = ReadTable(full, rel);
                string png = Path.Combine(outDir, rel.Replace('/', '_') + ".png");
                Render(table, rel, pr.GetValue(x), png);
                html.Append("<figure><img src=\"data:image/png;base64,").Append(Convert.ToBase64String(File.ReadAllBytes(png)))
                    .Append("\" alt=\"").Append(WebUtility.HtmlEncode(rel)).Append("\"><figcaption>").Append(WebUtility.HtmlEncode(rel)).Append("</figcaption></figure>\n");
                ctx.Out.WriteLine($"{rel} -> {Path.GetRelativePath(ctx.WorkingDirectory, png)}");
                written++;
            }
            html.Append("</body></html>\n");
            string index = Path.Combine(outDir, "index.html");
            File.WriteAllText(index, html.ToString());
            ctx.Out.WriteLine($"{written} plot(s); open {Path.GetRelativePath(ctx.WorkingDirectory, index)}");
            return Task.FromResult(ExitCodes.Ok);
        });
        return cmd;
    }

    /// <summary>Column name → values (numbers; non-numeric cells become NaN).</summary>
    internal static List<(string Name, List<double> Values)> ReadTable(string full, string rel)
    {
        var columns = new List<(string Name, List<double> Values)>();
        if (rel.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(full));
            var rows = doc.RootElement.ValueKind == JsonValueKind.Array ? doc.RootElement
                : doc.RootElement.EnumerateObject().FirstOrDefault(p => p.Value.ValueKind == JsonValueKind.Array).Value;
            if (rows.ValueKind != JsonValueKind.Array) throw new InvalidParameterValueException($"{rel}: JSON plots must be a list of records (or an object holding one)");
            foreach (var row in rows.EnumerateArray())
            {
                foreach (var p in row.EnumerateObject())
                {
                    var col = columns.FirstOrDefault(c => c.Name == p.Name);
                    if (col.Name is null) { col = (p.Name, new List<double>()); columns.Add(col); }
                    col.Values.Add(p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() : double.NaN);
                }
            }
            return columns;
        }
        // The one CSV reader: quoted fields may hold commas; numbers in invariant culture, anything else NaN.
        using var reader = CsvReader.Open(full);
        if (!reader.Read()) return columns;
        columns.AddRange(reader.Record().Select(h => ((h ?? "").Trim(), new List<double>())));
        while (reader.Read())
        {
            for (int i = 0; i < columns.Count; i++)
                columns[i].Values.Add(i < reader.FieldCount && double.TryParse(reader.Field(i), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN);
        }
        return columns;
    }

    private static void Render(List<(string Name, List<double> Values)> table, string title, string? xName, string png)
    {
        var plot = new ScottPlot.Plot();
        var xCol = table.FirstOrDefault(c => c.Name == (xName ?? "step"));
        if (xCol.Name is null && xName is null) xCol = table.FirstOrDefault(c => c.Name is "epoch" or "iteration");
        if (xCol.Name is null && xName is not null) throw new InvalidParameterValueException($"--x: {title} has no column '{xName}' (columns: {string.Join(", ", table.Select(c => c.Name))})");
        int n = table.Count == 0 ? 0 : table.Max(c => c.Values.Count);
        double[] xs = xCol.Name is null ? Enumerable.Range(0, n).Select(i => (double)i).ToArray() : xCol.Values.ToArray();
        foreach (var (name, values) in table.Where(c => c.Name != xCol.Name && c.Values.Any(v => !double.IsNaN(v))))
        {
            var s = plot.Add.Scatter(xs.Take(values.Count).ToArray(), values.ToArray());
            s.LegendText = name;
        }
        plot.Title(title);
        plot.XLabel(xCol.Name ?? "row");
        plot.ShowLegend();
        plot.SavePng(png, 800, 500);
    }
}

using System.CommandLine;
using Cairn.Client;
using Cairn.Tracking;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn runs compare ID ID...</c>: params and latest metrics side by side, differences highlighted.</summary>
internal static class RunsCompareCommand
{
    private sealed record Row(string Kind, string Key, string?[] Values)
    {
        public bool Differs => Values.Distinct(StringComparer.Ordinal).Count() > 1;
    }

    public static Command Create(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var runIds = new Argument<string[]>("run-ids") { Description = "Two or more run ids.", Arity = ArgumentArity.OneOrMore };
        var onlyDiff = new Option<bool>("--only-diff") { Description = "Hide params and metrics that are the same in every run." };
        var command = new Command("compare", "Compare runs' params and metrics side by side.") { runIds, onlyDiff, trackingUri, json };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            var ids = parse.GetValue(runIds)!;
            if (ids.Length < 2) throw new InvalidParameterValueException("'cairn runs compare' needs at least two run ids.");
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var runs = new List<Run>();
            foreach (var id in ids) runs.Add(await client.Store.GetRunAsync(id, cancellationToken));

            var rows = new List<Row>();
            foreach (var key in runs.SelectMany(r => r.Data.Params).Select(p => p.Key).Distinct().Order(StringComparer.Ordinal))
                rows.Add(new Row("param", key, runs.Select(r => r.Data.Params.FirstOrDefault(p => p.Key == key)?.Value).ToArray()));
            foreach (var key in runs.SelectMany(r => r.Data.Metrics).Select(m => m.Key).Distinct().Order(StringComparer.Ordinal))
                rows.Add(new Row("metric", key, runs.Select(r => r.Data.Metrics.FirstOrDefault(m => m.Key == key) is { } m ? Number(m.Value) : null).ToArray()));
            if (parse.GetValue(onlyDiff)) rows.RemoveAll(r => !r.Differs);

            if (parse.GetValue(json))
            {
                WriteJson(ctx, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("run_ids");
                    foreach (var run in runs) w.WriteStringValue(run.Info.RunId);
                    w.WriteEndArray();
                    foreach (var kind in new[] { "param", "metric" })
                    {
                        w.WriteStartArray(kind + "s");
                        foreach (var row in rows.Where(r => r.Kind == kind))
                        {
                            w.WriteStartObject();
                            w.WriteString("key", row.Key);
                            w.WriteStartArray("values");
                            foreach (var value in row.Values)
                            {
                                if (value is null) w.WriteNullValue();
                                else if (kind == "metric") w.WriteRawValue(JsonNumber(value));
                                else w.WriteStringValue(value);
                            }
                            w.WriteEndArray();
                            w.WriteBoolean("differs", row.Differs);
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                    }
                    w.WriteEndObject();
                });
                return 0;
            }

            var table = new Table().AddColumn("").AddColumn("Key");
            foreach (var run in runs) table.AddColumn(new TableColumn($"{Markup.Escape(run.Info.RunName)}\n[dim]{Markup.Escape(run.Info.RunId[..Math.Min(8, run.Info.RunId.Length)])}[/]"));
            foreach (var row in rows)
            {
                // Differences stand out; what every run shares fades into the background.
                var style = row.Differs ? "bold yellow" : "dim";
                var cells = new List<string> { $"[{style}]{row.Kind}[/]", $"[{style}]{Markup.Escape(row.Key)}[/]" };
                cells.AddRange(row.Values.Select(v => $"[{style}]{Markup.Escape(v ?? "-")}[/]"));
                table.AddRow(cells.ToArray());
            }
            ctx.Console.Write(table);
            if (rows.Count == 0) ctx.Error.WriteLine(parse.GetValue(onlyDiff) ? "No differences." : "The runs have no params or metrics.");
            return 0;
        });
        return command;
    }

    /// <summary>Metric values as JSON numbers; NaN and infinities as MLflow writes them, strings.</summary>
    private static string JsonNumber(string value) =>
        double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
            ? value
            : $"\"{value}\"";
}

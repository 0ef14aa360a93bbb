using System.CommandLine;
using System.Text.Json;
using Cairn.Client;
using Cairn.Contracts;
using Cairn.Tracking;
using Cairn.Tracking.Search;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn runs list|show|compare</c>.</summary>
internal static class RunsCommand
{
    public static Command Create(CliContext app) => new("runs", "Search, inspect and compare runs.")
    {
        List(app), Show(app), RunsCompareCommand.Create(app),
    };

    private static Command List(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var view = ViewOption();
        var experiments = new Option<string[]>("--experiment", "-e")
        {
            Description = "Experiment id or name; repeat for several (default: the Default experiment, 0).",
            DefaultValueFactory = _ => ["0"],
        };
        var filter = new Option<string?>("--filter") { Description = "MLflow search filter, e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"." };
        var orderBy = new Option<string[]>("--order-by") { Description = "Sort key, e.g. \"metrics.acc DESC\"; repeat for ties.", DefaultValueFactory = _ => [] };
        var maxResults = new Option<int>("--max-results") { Description = "Most runs to show.", DefaultValueFactory = _ => 100 };
        var command = new Command("list", "List runs matching a filter.") { experiments, filter, orderBy, maxResults, view, trackingUri, json };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            var max = parse.GetValue(maxResults);
            if (max < 1) throw new InvalidParameterValueException($"Invalid value {max} for '--max-results': it must be at least 1.");
            // The filter and sort keys are checked before the store is opened: a typo exits 2 without touching anything.
            _ = SearchFilterParser.ParseRunFilter(parse.GetValue(filter));
            _ = SearchFilterParser.ParseRunOrderBy(parse.GetValue(orderBy));
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var ids = new List<string>();
            foreach (var e in parse.GetValue(experiments)!) ids.Add((await ResolveExperimentAsync(client.Store, e, cancellationToken)).ExperimentId);
            var search = new RunSearch(ids, parse.GetValue(filter), ParseView(parse.GetValue(view)!),
                Math.Min(max, TrackingLimits.SearchMaxResultsDefault), parse.GetValue(orderBy) is { Length: > 0 } order ? order : null);
            var runs = new List<Run>();
            await foreach (var run in client.Store.SearchAllRunsAsync(search, cancellationToken))
            {
                runs.Add(run);
                if (runs.Count == max) break;
            }
            if (parse.GetValue(json))
            {
                WriteJson(ctx, w => JsonSerializer.Serialize(w, new RunsPage { Runs = runs.Select(r => r.ToWire()).ToList() }, MlflowJson.Wire.RunsPage));
                return 0;
            }
            var table = new Table().AddColumns("Run ID", "Name", "Status", "Started", "Duration", "Metrics");
            foreach (var run in runs)
            {
                var metrics = string.Join("  ", run.Data.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Take(4).Select(m => $"{m.Key}={Number(m.Value)}"));
                if (run.Data.Metrics.Count > 4) metrics += $"  (+{run.Data.Metrics.Count - 4})";
                table.AddRow(Markup.Escape(run.Info.RunId), Markup.Escape(run.Info.RunName), StatusMarkup(run.Info.Status),
                    Time(run.Info.StartTime), Duration(run.Info.StartTime, run.Info.EndTime), Markup.Escape(metrics));
            }
            ctx.Console.Write(table);
            if (runs.Count == 0) ctx.Error.WriteLine("No runs match.");
            return 0;
        });
        return command;
    }

    private static Command Show(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var runId = new Argument<string>("run-id") { Description = "The run's id." };
        var command = new Command("show", "Show a run: info, params, metrics, tags and inputs.") { runId, trackingUri, json };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var run = await client.Store.GetRunAsync(parse.GetValue(runId)!, cancellationToken);
            if (parse.GetValue(json))
            {
                WriteJson(ctx, w => JsonSerializer.Serialize(w, new RunResponse { Run = run.ToWire() }, MlflowJson.Wire.RunResponse));
                return 0;
            }
            var info = run.Info;
            var grid = new Table().HideHeaders().AddColumns("Field", "Value");
            grid.Title = new TableTitle($"Run {Markup.Escape(info.RunId)}");
            grid.AddRow("Name", Markup.Escape(info.RunName));
            grid.AddRow("Experiment", Markup.Escape(info.ExperimentId));
            grid.AddRow("Status", StatusMarkup(info.Status));
            grid.AddRow("User", Markup.Escape(info.UserId ?? "-"));
            grid.AddRow("Started", Time(info.StartTime));
            grid.AddRow("Ended", Time(info.EndTime));
            grid.AddRow("Duration", Duration(info.StartTime, info.EndTime));
            grid.AddRow("Artifact URI", Markup.Escape(info.ArtifactUri));
            grid.AddRow("Stage", info.LifecycleStage == LifecycleStage.Active ? "active" : "[red]deleted[/]");
            ctx.Console.Write(grid);

            if (run.Data.Params.Count > 0)
                ctx.Console.Write(KeyValueTable("Params", run.Data.Params.Select(p => (p.Key, p.Value))));
            if (run.Data.Metrics.Count > 0)
            {
                var metrics = new Table().AddColumns("Key", "Value", "Step", "Logged");
                metrics.Title = new TableTitle("Metrics");
                foreach (var m in run.Data.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
                    metrics.AddRow(Markup.Escape(m.Key), Number(m.Value), m.Step.ToString(System.Globalization.CultureInfo.InvariantCulture), Time(m.Timestamp));
                ctx.Console.Write(metrics);
            }
            if (run.Data.Tags.Count > 0)
                ctx.Console.Write(KeyValueTable("Tags", run.Data.Tags.Select(t => (t.Key, t.Value))));
            if (run.Inputs.Count > 0)
            {
                var inputs = new Table().AddColumns("Dataset", "Digest", "Source type", "Source", "Tags");
                inputs.Title = new TableTitle("Inputs");
                foreach (var i in run.Inputs)
                    inputs.AddRow(Markup.Escape(i.Dataset.Name), Markup.Escape(i.Dataset.Digest), Markup.Escape(i.Dataset.SourceType),
                        Markup.Escape(i.Dataset.Source), Markup.Escape(string.Join(", ", i.Tags.Select(t => $"{t.Key}={t.Value}"))));
                ctx.Console.Write(inputs);
            }
            return 0;
        });
        return command;
    }

    private static Table KeyValueTable(string title, IEnumerable<(string Key, string Value)> rows)
    {
        var table = new Table().AddColumns("Key", "Value");
        table.Title = new TableTitle(title);
        foreach (var (key, value) in rows.OrderBy(r => r.Key, StringComparer.Ordinal)) table.AddRow(Markup.Escape(key), Markup.Escape(value));
        return table;
    }

    internal static string StatusMarkup(RunStatus status) => status switch
    {
        RunStatus.FINISHED => "[green]FINISHED[/]",
        RunStatus.FAILED => "[red]FAILED[/]",
        RunStatus.KILLED => "[red]KILLED[/]",
        RunStatus.RUNNING => "[blue]RUNNING[/]",
        _ => status.ToString(),
    };
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Cairn.Client;
using Cairn.ML.Monitoring;
using Cairn.Monitoring;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn monitor run|windows|report</c>: a server's monitoring windows of a deployment, through its REST API (the server
/// holds the prediction log, the monitoring file and the references): run one now, list the stored ones, write one as an
/// HTML page with drift and performance over time (docs/MONITORING.md).
/// </summary>
internal static class MonitorCommand
{
    /// <summary>Stored windows read for a report's over-time plots.</summary>
    private const int ReportHistory = 1000;

    public static Command Create(CliContext app)
    {
        var trackingUri = CliCommon.TrackingUriOption();
        trackingUri.Recursive = true;
        Option<string> DeploymentOption() => new("--deployment") { Description = "The deployment whose windows to use.", Required = true };

        var run = new Command("run", "Evaluate and store a monitoring window now: --start/--end, or --rows N (the next N rows after the newest window).");
        var runDeployment = DeploymentOption();
        var start = new Option<string?>("--start") { Description = "The window's start: ISO 8601 (2026-03-01T10:00:00Z) or Unix milliseconds." };
        var end = new Option<string?>("--end") { Description = "The window's end (exclusive); default now when --start is given." };
        var rows = new Option<int?>("--rows") { Description = "A row window: the next N logged rows after the deployment's newest window." };
        var runJson = CliCommon.JsonOption();
        run.Options.Add(runDeployment);
        run.Options.Add(start);
        run.Options.Add(end);
        run.Options.Add(rows);
        run.Options.Add(runJson);
        run.SetHandler(app, async (parse, ctx, ct) =>
        {
            var deployment = parse.GetValue(runDeployment)!;
            var rowCount = parse.GetValue(rows);
            var startText = parse.GetValue(start);
            var endText = parse.GetValue(end);
            if ((rowCount is not null) == (startText is not null || endText is not null))
                throw new InvalidParameterValueException("Invalid arguments: give either --start (and --end) or --rows.");
            if (rowCount is < 1 or > MonitorSettings.MaxWindowRows)
                throw new InvalidParameterValueException($"Invalid value '{rowCount}' for '--rows': it must be between 1 and {MonitorSettings.MaxWindowRows}.");
            DateTimeOffset? from = null, to = null;
            if (rowCount is null)
            {
                from = Time(startText ?? throw new InvalidParameterValueException("Missing value for '--start': a time window needs its start."), "--start");
                to = endText is null ? DateTimeOffset.UtcNow : Time(endText, "--end");
                if (to <= from) throw new InvalidParameterValueException("Invalid value for '--end': it must be after --start.");
            }
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var monitor = Remote(client);
            var asJson = parse.GetValue(runJson);
            var windows = await CliProgress.RunAsync(ctx, $"Evaluating a window of {deployment}", async bar =>
            {
                bar?.Indeterminate();
                return await monitor.RunAsync(deployment, from, to, rowCount, ct);
            }, enabled: !asJson);
            if (asJson) WriteJson(ctx, windows, null);
            else Table(ctx, windows);
            return ExitCodes.Ok;
        });

        var list = new Command("windows", "List a deployment's stored monitoring windows, newest first.");
        var listDeployment = DeploymentOption();
        var version = new Option<string?>("--model-version") { Description = "Only this model version's windows, or 'all' for the deployment-wide ones." };
        var max = new Option<int>("--max-results") { Description = "At most this many windows (1..1000).", DefaultValueFactory = _ => 50 };
        var listJson = CliCommon.JsonOption();
        list.Options.Add(listDeployment);
        list.Options.Add(version);
        list.Options.Add(max);
        list.Options.Add(listJson);
        list.SetHandler(app, async (parse, ctx, ct) =>
        {
            var maxResults = parse.GetValue(max);
            if (maxResults is < 1 or > 1000) throw new InvalidParameterValueException($"Invalid value '{maxResults}' for '--max-results': it must be between 1 and 1000.");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var (windows, token) = await Remote(client).ListAsync(parse.GetValue(listDeployment)!, null, null, parse.GetValue(version), maxResults, null, ct);
            if (parse.GetValue(listJson)) WriteJson(ctx, windows, token);
            else Table(ctx, windows);
            return ExitCodes.Ok;
        });

        var report = new Command("report", "Write one window as a self-contained HTML page: drift per feature, drift and performance over time.");
        var reportDeployment = DeploymentOption();
        var window = new Option<long>("--window") { Description = "The window id (see cairn monitor windows).", Required = true };
        var html = new Option<string>("--html") { Description = "The HTML file to write.", Required = true };
        report.Options.Add(reportDeployment);
        report.Options.Add(window);
        report.Options.Add(html);
        report.SetHandler(app, async (parse, ctx, ct) =>
        {
            var deployment = parse.GetValue(reportDeployment)!;
            var path = ctx.FullPath(parse.GetValue(html)!);
            if (Directory.Exists(path)) throw new InvalidParameterValueException($"Invalid value '{parse.GetValue(html)}' for '--html': it is a folder; name a file.");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var monitor = Remote(client);
            await CliProgress.RunAsync(ctx, $"Writing the report of window {parse.GetValue(window)}", async bar =>
            {
                bar?.Indeterminate();
                var one = await monitor.GetAsync(deployment, parse.GetValue(window), ct);
                // The same model version's windows (the deployment-wide ones for a deployment-wide window) give the over-time plots.
                var history = await monitor.ListAllAsync(deployment, one.ModelVersion ?? "all", ReportHistory, ct);
                MonitorHtmlReport.Write(path, one, history.Where(w => w.Shadow == one.Shadow && w.ModelName == one.ModelName).ToList());
                return 0;
            });
            ctx.Out.WriteLine($"HTML report: {path}");
            return ExitCodes.Ok;
        });

        return new Command("monitor", "Monitoring windows of a deployment on a server: run one, list them, write a report.") { trackingUri, run, list, report };
    }

    private static HttpMonitorClient Remote(CairnClient client) =>
        client.Stores.MonitorClient ?? throw new InvalidParameterValueException(
            $"cairn monitor talks to a server: '{SecretRedaction.StoreUri(client.TrackingUri)}' is a database. Start `cairn server --monitoring FILE` and pass --tracking-uri http://host:port.");

    private static DateTimeOffset Time(string text, string field)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms) && ms is >= -62135596800000 and <= 253402300799999)
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)) return time;
        throw new InvalidParameterValueException($"Invalid value '{text}' for '{field}': give an ISO 8601 time (2026-03-01T10:00:00Z) or Unix milliseconds.");
    }

    private static void Table(CliContext ctx, IReadOnlyList<MonitorWindow> windows)
    {
        var table = new Table().AddColumns("Id", "Model", "Start (UTC)", "End (UTC)", "Rows", "Labelled", "Drift share", "Dataset drift", "Prediction drift", "Performance");
        foreach (var w in windows)
        {
            var drift = w.InputDrift?.DatasetDrift == true;
            string[] cells =
            [
                w.Id.ToString(CultureInfo.InvariantCulture),
                w.ModelVersion is null ? "all" : $"{w.ModelName}/{w.ModelVersion}{(w.Shadow ? " (shadow)" : "")}",
                w.Start.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                w.End.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                w.Rows.ToString("N0", CultureInfo.InvariantCulture),
                w.LabeledRows.ToString("N0", CultureInfo.InvariantCulture),
                w.InputDrift is { } d ? d.DriftShare.ToString("0.###", CultureInfo.InvariantCulture) : "-",
                w.InputDrift is null ? "-" : drift ? "DRIFT" : "no",
                w.PredictionDrift is { } p ? (p.Drifted ? "DRIFT" : "no") : "-",
                string.Join(" ", w.Performance.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={m.Value.ToString("0.###", CultureInfo.InvariantCulture)}")),
            ];
            table.AddRow(cells.Select(c => drift ? new Markup($"[bold red]{Markup.Escape(c)}[/]") : new Markup(Markup.Escape(c))));
        }
        ctx.Console.Write(table);
        ctx.Out.WriteLine($"{windows.Count} window{(windows.Count == 1 ? "" : "s")}.");
    }

    /// <summary>The REST API's shape: <c>{"windows": [...], "next_page_token"}</c>.</summary>
    private static void WriteJson(CliContext ctx, IReadOnlyList<MonitorWindow> windows, string? token) =>
        ctx.Out.WriteLine(JsonSerializer.Serialize(new MonitorWindowsResponse { Windows = windows.Select(w => w.ToWire()).ToList(), NextPageToken = token },
            MonitorJson.Default.MonitorWindowsResponse));
}

using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Cairn.Client;
using Cairn.Monitoring;
using Cairn.Monitoring.Alerts;
using Cairn.Registry;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary>
/// The last part of the quickstart: the monitor measures the traffic the deployment has answered so far against the training
/// data (no drift), then the customers change (newer, dearer, calling support more), the next window drifts, the alert rule
/// fires and its retrain action runs a pipeline stage that trains on the newest data and registers a new version, and the
/// registry's gate decides whether it becomes the champion.
/// </summary>
internal static class QuickstartMonitoring
{
    public const string RuleName = "churn-drift";

    private const int ShiftedRequests = 600;

    /// <summary>How long the quickstart gives the server to log the rows of the answers it has just received.</summary>
    private static readonly TimeSpan AnswerToLog = TimeSpan.FromMilliseconds(300);

    private static string Folder(string home) => Path.Combine(home, "quickstart");

    private static string RetrainFolder(string home) => Path.Combine(Folder(home), "retrain");

    /// <summary>
    /// Writes the monitoring file the server starts with (the deployment's monitor against the training file, and the drift rule
    /// whose action retrains) and the retrain folder with its pipeline; returns the file's path.
    /// </summary>
    public static string Prepare(string home, string trackingUri)
    {
        var folder = Folder(home);
        Directory.CreateDirectory(folder);
        // Its own data repository: the pipeline's state stays in the folder whatever lies above it.
        Directory.CreateDirectory(Path.Combine(RetrainFolder(home), ".cairn"));
        WritePipeline(home, trackingUri);
        var file = Path.Combine(folder, "monitoring.yaml");
        File.WriteAllText(file, $"""
            # The quickstart's monitoring file (cairn server --monitoring FILE); docs/MONITORING.md
            monitors:
              - deployment: {QuickstartServing.DeploymentName}
                schedule: "0 * * * *"      # hourly windows; the quickstart also asks for windows itself
                window: 1h
                reference: churn.csv       # the training data
                label: churned
            alerts:
              - name: {RuleName}
                deployment: {QuickstartServing.DeploymentName}
                condition: drift.share > 0.3 and rows >= 300   # PSI over a few hundred rows is too noisy to act on
                actions:
                  - log
                  - retrain: {"{"}folder: retrain, stage: train, force: true{"}"}   # force: train again even if the data is unchanged
            """);
        return file;
    }

    /// <summary>The retrain pipeline: one stage training the churn recipe on the newest data and registering the result.</summary>
    public static void WritePipeline(string home, string trackingUri)
    {
        var folder = RetrainFolder(home);
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        File.WriteAllText(Path.Combine(folder, "recipe.yaml"), """
            experiment: quickstart-retraining
            run_name: churn-retrain
            task: binary
            data: data/churn-new.csv
            label: churned
            split: {test_fraction: 0.25, seed: 42}
            trainer: fasttree
            """);
        File.WriteAllText(Path.Combine(folder, "cairn.yaml"), $"""
            stages:
              train:
                cmd: {YamlString($"{CairnCommand()} train --recipe recipe.yaml --register {QuickstartModel.ModelName} --tracking-uri {trackingUri}")}
                deps: [recipe.yaml, data/churn-new.csv]
            """);
    }

    /// <summary>
    /// How a stage runs this same cairn: the installed command when this process is it, else <c>dotnet cairn.dll</c> (run
    /// through dotnet, or hosted by another program such as a test runner).
    /// </summary>
    private static string CairnCommand()
    {
        var cli = typeof(QuickstartMonitoring).Assembly;
        var process = Environment.ProcessPath;
        var isDotnet = process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet";
        if (process is not null && !isDotnet && System.Reflection.Assembly.GetEntryAssembly() == cli) return Quote(process);
        var dotnet = isDotnet ? process! : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        return $"{Quote(dotnet)} {Quote(cli.Location)}";
    }

    private static string YamlString(string text) =>
        "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string Quote(string path) => "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    public static async Task RunAsync(IAnsiConsole console, CairnClient client, string serverUrl, string home, DateTimeOffset trafficStart,
        CancellationToken cancellationToken)
    {
        var monitor = client.Stores.MonitorClient ?? throw new InvalidOperationException("The quickstart talks to its server over HTTP.");
        var deployment = QuickstartServing.DeploymentName;

        // 1. The traffic so far came from the training distribution. (The server hands a request's rows to the prediction
        // log just after its answer has gone out: a moment's wait lets the last answers' rows reach the log.)
        await Task.Delay(AnswerToLog, cancellationToken);
        var firstEnd = DateTimeOffset.UtcNow;
        var before = Overall(await monitor.RunAsync(deployment, trafficStart, firstEnd, null, cancellationToken));
        console.MarkupLine($"Monitor window 1 (the traffic above, [bold]{before.Rows:N0}[/] rows): " +
            $"drift share [bold]{Share(before)}[/] of the features against the training data: {(before.InputDrift?.DatasetDrift == true ? "[red]drift[/]" : "[green]no drift[/]")}");

        // 2. The customers change; the newest labelled data is what a retrain would learn from.
        var retrainData = Path.Combine(RetrainFolder(home), "data", "churn-new.csv");
        QuickstartModel.WriteChurnData(retrainData, rows: 4000, seed: 11, shifted: true);
        var traffic = Path.Combine(Folder(home), "churn-shifted.csv");
        QuickstartModel.WriteChurnData(traffic, rows: ShiftedRequests, seed: 12, shifted: true);
        var rows = QuickstartServing.ReadRows(traffic);
        using var http = new HttpClient { BaseAddress = new Uri(serverUrl + "/") };
        var path = $"api/cairn/v1/deployments/{deployment}/invocations";
        await console.Status().StartAsync($"{ShiftedRequests} requests from newer customers (shorter tenure, higher charges, more support calls)", async _ =>
        {
            foreach (var row in rows) await QuickstartServing.ScoreAsync(http, path, row, cancellationToken);
        });

        // 3. The next window drifts; the rule fires on it.
        await Task.Delay(AnswerToLog, cancellationToken);
        var after = Overall(await monitor.RunAsync(deployment, firstEnd, DateTimeOffset.UtcNow, null, cancellationToken));
        var table = new Table().Title($"monitor window 2: {after.Rows:N0} rows against the training data")
            .AddColumns("feature", "type", "PSI", "KS / chi² p-value", "drifted");
        foreach (var feature in after.InputDrift?.Features ?? [])
        {
            var p = (feature.Ks ?? feature.Chi2)?.PValue;
            var name = Markup.Escape(feature.Name);
            table.AddRow(feature.Drifted ? $"[red]{name}[/]" : name, feature.Type.ToString().ToLowerInvariant(), Number(feature.Psi, "0.000"),
                Number(p, "0.###E+0"), feature.Drifted ? "[red]yes[/]" : "no");
        }
        console.Write(table);
        console.MarkupLine($"Drift share [bold]{Share(after)}[/]: {(after.InputDrift?.DatasetDrift == true ? "[red]the dataset drifted[/]" : "[green]no dataset drift[/]")}");

        // 4. The alert's retrain runs in the server; wait for its outcome.
        var registry = client.Registry;
        var incident = await console.Status().StartAsync("the alert's retrain runs: cairn train on the newest data, registered on success",
            async _ => await WaitForRetrainAsync(client.Stores.Alerts, deployment, after.End, cancellationToken));
        if (incident is null)
        {
            console.MarkupLine($"[yellow]The rule '{RuleName}' did not fire on this window.[/]");
            return;
        }
        var value = incident.Values.TryGetValue("drift.share", out var share) && share is { } s ? s.ToString("0.00", CultureInfo.InvariantCulture) : "?";
        console.MarkupLine($"Alert [bold]{RuleName}[/] fired (incident {incident.Id}: {Markup.Escape(incident.Condition)} with drift.share = {value}); " +
            $"retrain {Outcome(incident.RetrainStatus)}{(incident.RetrainMessage is { } m ? ": " + Markup.Escape(m) : "")}");
        if (incident.RetrainStatus != "succeeded") return;

        var versions = await registry.SearchModelVersionsAsync(new ModelVersionSearch($"name = '{QuickstartModel.ModelName}'"), cancellationToken);
        var newest = versions.Items.MaxBy(v => int.Parse(v.Version, CultureInfo.InvariantCulture))!;
        console.MarkupLine($"The retrain registered [bold]{QuickstartModel.ModelName}[/] version {newest.Version} (run {newest.RunId}); the gate decides its promotion:");
        const string Gate = "metrics.auc >= champion";
        try
        {
            await registry.PromoteAsync(QuickstartModel.ModelName, newest.Version, "champion", [Gate], "quickstart", cancellationToken);
            console.MarkupLine($"  version {newest.Version} passed '{Gate}' and is [bold]@champion[/]: deployment {deployment} follows the alias to it");
        }
        catch (PromotionRefusedException refused)
        {
            console.MarkupLine($"  [yellow]{Markup.Escape(refused.Message)}[/]");
        }
    }

    /// <summary>The window over the deployment's answers (every version's; the one with the most rows).</summary>
    private static MonitorWindow Overall(IReadOnlyList<MonitorWindow> windows) =>
        windows.Where(w => !w.Shadow).MaxBy(w => w.Rows) ?? throw new InvalidOperationException("The monitor evaluated no window.");

    /// <summary>The rule's incident opened on the window ending at <paramref name="windowEnd"/>, once its retrain has ended.</summary>
    private static async Task<AlertIncident?> WaitForRetrainAsync(IAlertIncidentSource alerts, string deployment, DateTimeOffset windowEnd,
        CancellationToken cancellationToken)
    {
        // The rule hears the window as it is stored, so its incident is there at once; give it a few seconds all the same.
        var noIncidentBy = DateTimeOffset.UtcNow.AddSeconds(10);
        var deadline = DateTimeOffset.UtcNow.AddMinutes(10);
        while (true)
        {
            var incident = (await alerts.ListIncidentsAsync(deployment, openOnly: true, 100, cancellationToken))
                .FirstOrDefault(i => i.Rule == RuleName && i.WindowEnd >= windowEnd.AddMilliseconds(-1));
            if (incident is null && DateTimeOffset.UtcNow > noIncidentBy) return null;
            if (incident is { RetrainStatus: "succeeded" or "failed" or "skipped" or "cancelled" }) return incident;
            if (incident is not null && DateTimeOffset.UtcNow > deadline) return incident;
            await Task.Delay(250, cancellationToken);
        }
    }

    private static string Outcome(string? status) => status switch
    {
        "succeeded" => "[green]succeeded[/]",
        null => "not started",
        _ => $"[red]{Markup.Escape(status)}[/]",
    };

    private static string Share(MonitorWindow window) =>
        window.InputDrift is { } drift ? drift.DriftShare.ToString("0.00", CultureInfo.InvariantCulture) : "-";

    private static string Number(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
}

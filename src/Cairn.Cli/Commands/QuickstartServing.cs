using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cairn.Client;
using Cairn.ML.Training;
using Cairn.Registry;
using Cairn.Serving;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary>
/// The third part of the quickstart: serves the champion through a deployment of the running server, sends held-out rows
/// to it over HTTP as any caller would, puts the other version on a 10% canary and shows how the traffic splits, then
/// rolls the canary back and shows every answer coming from the champion again.
/// </summary>
internal static class QuickstartServing
{
    public const string DeploymentName = "churn";

    private const int CanaryPercent = 10;
    private const int CanaryRequests = 1000;

    public static async Task RunAsync(IAnsiConsole console, CairnClient client, string serverUrl, string home, CancellationToken cancellationToken)
    {
        var model = QuickstartModel.ModelName;
        var registered = await client.Registry.GetRegisteredModelAsync(model, cancellationToken);
        var champion = registered.Aliases.Single(a => a.Alias == "champion").Version;
        // The canary is the challenger when the gate kept one, else the newest other version (the one the champion replaced).
        string candidate;
        if (registered.Aliases.Any(a => a.Alias == "challenger" && a.Version != champion))
            candidate = $"models:/{model}@challenger";
        else
        {
            var versions = await client.Registry.SearchModelVersionsAsync(new ModelVersionSearch($"name = '{model}'"), cancellationToken);
            candidate = $"models:/{model}/{versions.Items.Select(v => int.Parse(v.Version, CultureInfo.InvariantCulture)).Where(v => v.ToString(CultureInfo.InvariantCulture) != champion).Max()}";
        }

        var deployments = client.Deployments;
        var championUri = $"models:/{model}@champion";
        // A quickstart run again on the same home starts the deployment over from the champion alone.
        if ((await deployments.ListDeploymentsAsync(cancellationToken)).Any(d => d.Name == DeploymentName))
            await deployments.UpdateDeploymentAsync(DeploymentName, new DeploymentUpdate(Routes: [DeploymentRoute.Primary(championUri, 100)]), "quickstart", cancellationToken);
        else
            await deployments.CreateDeploymentAsync(new DeploymentSpec(DeploymentName, [DeploymentRoute.Primary(championUri, 100)],
                Description: "the quickstart's churn model"), "quickstart", cancellationToken);
        var endpoint = $"{serverUrl}/api/cairn/v1/deployments/{DeploymentName}/invocations";
        console.MarkupLine($"Deployment [bold]{DeploymentName}[/] serves [bold]{championUri}[/] (version {champion}) at [bold]POST {Markup.Escape(endpoint)}[/]");

        var rows = ReadRows(QuickstartModel.TestDataPath(home));
        // A plain HTTP caller, as curl or any service would be: the scoring API needs no Cairn client.
        using var http = new HttpClient { BaseAddress = new Uri(serverUrl + "/") };
        var path = $"api/cairn/v1/deployments/{DeploymentName}/invocations";

        var answers = new Table().Title("three answers (MLflow's /invocations body, dataframe_split)")
            .AddColumns("tenure", "charges", "plan", "calls", "churn?", "probability", "version");
        for (var i = 0; i < 3; i++)
        {
            var answer = await ScoreAsync(http, path, rows[i], cancellationToken);
            answers.AddRow(rows[i].Tenure, rows[i].Charges, rows[i].Plan, rows[i].Calls, answer.Label ? "yes" : "no",
                answer.Probability.ToString("0.000", CultureInfo.InvariantCulture), answer.Version);
        }
        console.Write(answers);

        await deployments.CanaryAsync(DeploymentName, candidate, CanaryPercent, "quickstart", cancellationToken);
        var split = await SendAsync(console, http, path, rows, CanaryRequests, $"{CanaryRequests} requests through a {CanaryPercent}% canary", cancellationToken);
        console.MarkupLine($"Canary: [bold]{CanaryPercent}%[/] of the traffic to [bold]{candidate}[/], the rest to @champion");
        var table = new Table().Title($"{CanaryRequests} requests, answers by version").AddColumns("version", "route", "requests", "share");
        foreach (var (version, count) in split.OrderBy(p => int.Parse(p.Key, CultureInfo.InvariantCulture)))
            table.AddRow(version, version == champion ? "@champion" : "canary", count.ToString(CultureInfo.InvariantCulture),
                (100.0 * count / CanaryRequests).ToString("0.0", CultureInfo.InvariantCulture) + "%");
        console.Write(table);

        var rolledBack = await deployments.RollbackAsync(DeploymentName, "quickstart", cancellationToken);
        var after = await SendAsync(console, http, path, rows, 100, "100 requests after the rollback", cancellationToken);
        var byChampion = after.GetValueOrDefault(champion);
        var history = await deployments.GetHistoryAsync(DeploymentName, 3, cancellationToken);
        var restored = history[0].RestoredRevision;
        console.MarkupLine($"Rolled back (revision {rolledBack.Revision} restores revision {restored}'s routing): [bold]{byChampion} of 100[/] answers came from version {champion} (@champion)" +
            (after.Count > 1 ? $", [red]{100 - byChampion} from others[/]" : ""));
        foreach (var revision in history)
            console.MarkupLine($"  revision {revision.Revision}: {Markup.Escape(revision.Action)} by {Markup.Escape(revision.User ?? "-")} -> " +
                Markup.Escape(string.Join(", ", revision.Routes.Select(r => $"{r.ModelUri} {r.Weight}%"))));
    }

    internal sealed record Row(string Tenure, string Charges, string Plan, string Calls);

    internal sealed record Answer(bool Label, double Probability, string Version);

    internal static async Task<Answer> ScoreAsync(HttpClient http, string path, Row row, CancellationToken cancellationToken)
    {
        var body = $$$"""{"dataframe_split": {"columns": ["tenure_months", "monthly_charges", "plan", "support_calls"], "data": [[{{{row.Tenure}}}, {{{row.Charges}}}, "{{{row.Plan}}}", {{{row.Calls}}}]]}}""";
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync(path, content, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new CairnException(ErrorCode.INTERNAL_ERROR, $"The deployment answered {(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        var prediction = json.RootElement.GetProperty("predictions")[0];
        return new Answer(prediction.GetProperty("PredictedLabel").GetBoolean(), prediction.GetProperty("Probability").GetDouble(),
            json.RootElement.GetProperty("model_version").GetString()!);
    }

    /// <summary>Sends <paramref name="count"/> one-row requests (cycling through the rows) and counts the answers per version.</summary>
    private static async Task<Dictionary<string, int>> SendAsync(IAnsiConsole console, HttpClient http, string path, IReadOnlyList<Row> rows, int count,
        string what, CancellationToken cancellationToken)
    {
        var versions = new Dictionary<string, int>(StringComparer.Ordinal);
        await console.Status().StartAsync(what, async _ =>
        {
            for (var i = 0; i < count; i++)
            {
                var answer = await ScoreAsync(http, path, rows[i % rows.Count], cancellationToken);
                versions[answer.Version] = versions.GetValueOrDefault(answer.Version) + 1;
            }
        });
        return versions;
    }

    internal static List<Row> ReadRows(string csv)
    {
        var table = CsvTable.Read(csv, textColumns: ["plan"]);
        string?[] Column(string name) => table.Columns[table.IndexOf(name)];
        var (tenure, charges, plan, calls) = (Column("tenure_months"), Column("monthly_charges"), Column("plan"), Column("support_calls"));
        return Enumerable.Range(0, table.RowCount).Select(i => new Row(tenure[i]!, charges[i]!, plan[i]!, calls[i]!)).ToList();
    }
}

using System.Globalization;
using System.Text;
using Cairn.Client;
using Cairn.ML.Training;
using Cairn.Registry;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary>
/// The second half of the quickstart: trains two real ML.NET models on a generated churn file, registers both
/// as versions of one model, promotes the first to <c>champion</c> and lets the second try to take it
/// through a promotion gate, then shows the versions and the audit trail.
/// </summary>
internal static class QuickstartModel
{
    public const string ModelName = "quickstart-churn";
    public const string Experiment = "quickstart-training";

    public static async Task RunAsync(IAnsiConsole console, CairnClient client, string home, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(home, "quickstart");
        Directory.CreateDirectory(folder);
        var data = Path.Combine(folder, "churn.csv");
        WriteChurnData(data, rows: 4000, seed: 7);
        WriteChurnData(TestDataPath(home), rows: 1000, seed: 8);

        var results = new List<(string Trainer, TrainResult Result)>();
        foreach (var trainer in new[] { "fasttree", "lightgbm" })
        {
            var recipe = Recipe.Parse($"""
                experiment: {Experiment}
                run_name: churn-{trainer}
                task: binary
                data: {data}
                label: churned
                split: {"{"}test_fraction: 0.25, seed: 42{"}"}
                trainer: {trainer}
                """, "quickstart recipe");
            var result = await console.Status().StartAsync($"training {trainer} on {Path.GetFileName(data)} (4,000 rows)",
                _ => Trainer.RunAsync(recipe, client, ModelName, cancellationToken: cancellationToken));
            results.Add((trainer, result));
            console.MarkupLine($"Trained [bold]{trainer}[/]: auc {Metric(result, "auc")}, accuracy {Metric(result, "accuracy")}; " +
                $"registered as [bold]{ModelName}[/] version {result.Version!.Version}");
        }

        var registry = client.Registry;
        var first = results[0].Result.Version!.Version;
        var second = results[1].Result.Version!.Version;
        await registry.PromoteAsync(ModelName, first, "champion", ["metrics.auc >= 0.75"], "quickstart", cancellationToken);
        console.MarkupLine($"Promoted version {first} to [bold]@champion[/] (gate: metrics.auc >= 0.75)");
        const string Gate = "metrics.auc >= champion";
        try
        {
            await registry.PromoteAsync(ModelName, second, "champion", [Gate], "quickstart", cancellationToken);
            console.MarkupLine($"Version {second} passed the gate '{Gate}' and is now [bold]@champion[/]");
        }
        catch (PromotionRefusedException refused)
        {
            console.MarkupLine($"Version {second} stays a challenger: [yellow]{Markup.Escape(refused.Message)}[/]");
            await registry.SetRegisteredModelAliasAsync(ModelName, "challenger", second, "quickstart", cancellationToken);
        }

        var model = await registry.GetRegisteredModelAsync(ModelName, cancellationToken);
        var versions = new Table().Title($"registry: {ModelName}").AddColumns("version", "aliases", "trainer", "auc", "run");
        foreach (var (trainer, result) in results)
        {
            var aliases = model.Aliases.Where(a => a.Version == result.Version!.Version).Select(a => "@" + a.Alias);
            versions.AddRow(result.Version!.Version, string.Join(" ", aliases), trainer, Metric(result, "auc"), result.RunId);
        }
        console.Write(versions);
        var trail = await registry.GetAuditTrailAsync(ModelName, 5, cancellationToken);
        foreach (var entry in trail.Take(3))
            console.MarkupLine($"  audit: {entry.Action} @{Markup.Escape(entry.Alias ?? "")} {entry.FromVersion ?? "-"} -> {entry.ToVersion ?? "-"} by {Markup.Escape(entry.User)}");
    }

    /// <summary>Held-out rows from the same distribution, for trying <c>cairn evaluate</c> afterwards.</summary>
    public static string TestDataPath(string home) => Path.Combine(home, "quickstart", "churn-test.csv");

    private static string Metric(TrainResult result, string key) =>
        result.Metrics.TryGetValue(key, out var value) ? value.ToString("0.000", CultureInfo.InvariantCulture) : "-";

    /// <summary>
    /// A churn table whose label depends on tenure, charges, plan and support calls, plus noise; the same on every run.
    /// <paramref name="shifted"/> draws later customers: newer (tenure up to two years), on dearer plans, calling support more.
    /// </summary>
    internal static void WriteChurnData(string path, int rows, int seed, bool shifted = false)
    {
        var random = new Random(seed);
        string[] plans = ["basic", "standard", "premium"];
        var text = new StringBuilder("tenure_months,monthly_charges,plan,support_calls,churned\n");
        for (var i = 0; i < rows; i++)
        {
            var tenure = random.Next(1, shifted ? 25 : 73);
            var plan = plans[shifted ? random.Next(1, plans.Length) : random.Next(plans.Length)];
            var charges = Math.Round(20 + random.NextDouble() * 80 + (plan == "premium" ? 25 : 0) + (shifted ? 15 : 0), 2);
            var calls = random.Next(shifted ? 2 : 0, shifted ? 10 : 8);
            var logit = 1.2 - 0.06 * tenure + 0.025 * (charges - 60) + 0.45 * calls - (plan == "basic" ? 0 : 0.6) + Gaussian(random);
            text.Append(CultureInfo.InvariantCulture, $"{tenure},{charges},{plan},{calls},{(logit > 0 ? "yes" : "no")}\n");
        }
        File.WriteAllText(path, text.ToString());
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}

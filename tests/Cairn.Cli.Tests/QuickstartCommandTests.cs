using System.Text.Json;

namespace Cairn.Tests;

public sealed class QuickstartCommandTests
{
    [Fact]
    public async Task Quickstart_logs_a_sweep_trains_registers_promotes_serves_through_a_canary_rolls_back_and_says_where_to_look()
    {
        using var cli = new CliHarness();

        var result = (await cli.RunAsync("quickstart", "--port", "0")).Ok();

        Assert.Contains("Logged 6 runs into experiment quickstart", result.Out, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(cli.Home.Path, "cairn.db"), result.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(cli.Home.Combine("cairn.db")));
        // What it logged is in the embedded store, readable without the server.
        var listed = (await cli.RunAsync("runs", "list", "--experiment", "quickstart", "--json")).Ok();
        using var json = JsonDocument.Parse(listed.Out);
        var runs = json.RootElement.ValueKind == JsonValueKind.Array ? json.RootElement : json.RootElement.GetProperty("runs");
        Assert.Equal(6, runs.GetArrayLength());
        Assert.All(runs.EnumerateArray(), r => Assert.Equal("FINISHED", r.GetProperty("info").GetProperty("status").GetString()));

        // Two trained versions, one of them champion behind a gate, the promotion in the audit trail.
        var models = (await cli.RunAsync("models", "history", "quickstart-churn", "--json")).Ok();
        Assert.Contains("alias_promoted", models.Out, StringComparison.Ordinal);
        var champion = (await cli.RunAsync("models", "show", "quickstart-churn", "1", "--json")).Ok();
        Assert.Contains("champion", champion.Out, StringComparison.Ordinal);
        Assert.Contains("registered as quickstart-churn version 2", result.Out, StringComparison.Ordinal);
        // The champion scores the held-out file it points at, through the evaluate gate.
        var evaluated = await cli.RunAsync("evaluate", "--model", "models:/quickstart-churn@champion",
            "--data", cli.Home.Combine("quickstart", "churn-test.csv"), "--require", "auc >= 0.8");
        evaluated.Ok();

        // The champion served through a deployment: a 10% canary took about a tenth of 1,000 requests (sd 9.5: the bounds
        // are four of them), then the rollback sent all 100 to the champion again, in three revisions.
        var canary = System.Text.RegularExpressions.Regex.Match(result.Out, @"│ 2\s+│ canary\s+│ (\d+)\s+│");
        Assert.True(canary.Success, result.Out);
        Assert.InRange(int.Parse(canary.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 62, 138);
        Assert.Contains("100 of 100 answers came from version 1 (@champion)", result.Out, StringComparison.Ordinal);
        var history = (await cli.RunAsync("deployments", "history", "churn", "--json")).Ok();
        using var revisions = JsonDocument.Parse(history.Out);
        Assert.Equal(["rollback", "canary", "create"],
            revisions.RootElement.GetProperty("revisions").EnumerateArray().Select(r => r.GetProperty("action").GetString()));

        // Monitoring: the traffic from the training distribution does not drift, the newer customers' does, the rule fires
        // once and its retrain trains on the newest data and registers version 3.
        Assert.Matches(@"Monitor window 1 \(the traffic above, [\d,]+ rows\): drift share 0\.\d\d of the features against the training data: no drift", result.Out);
        Assert.True(result.Out.Contains("the dataset drifted", StringComparison.Ordinal), result.Out);
        Assert.True(result.Out.Contains("Alert churn-drift fired", StringComparison.Ordinal), result.Out);
        Assert.True(result.Out.Contains("The retrain registered quickstart-churn version 3", StringComparison.Ordinal), result.Out);
        var alerts = JsonDocument.Parse((await cli.RunAsync("alerts", "list", "--json")).Ok().Out).RootElement;
        var incident = Assert.Single(alerts.GetProperty("incidents").EnumerateArray());
        Assert.Equal(("churn-drift", "succeeded"), (incident.GetProperty("rule").GetString(), incident.GetProperty("retrain_status").GetString()));
        // Version 3's lineage names the retrain recipe's run.
        Assert.Contains("churn-retrain", (await cli.RunAsync("models", "show", "quickstart-churn", "3", "--json")).Ok().Out, StringComparison.Ordinal);
    }
}

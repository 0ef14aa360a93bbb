using System.Text.Json;
using Cairn.Registry;
using Cairn.Storage;
using Cairn.Tracking;

namespace Cairn.Tests;

/// <summary>`cairn models promote` and `rollback` as a user runs them, on an embedded store.</summary>
public sealed class ModelsCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Promote_refuses_on_a_failing_gate_then_promotes_and_rollback_moves_the_alias_back()
    {
        using var cli = new CliHarness();
        var home = cli.Home;
        using (var stores = await CairnStores.OpenAsync(home.Path, new CairnStoreOptions { DefaultArtifactRoot = home.Combine("artifacts") }, Ct))
        {
            var store = stores.Tracking;
            var registry = stores.Registry;
            var experiment = (await store.SearchExperimentsAsync(new ExperimentSearch(), Ct)).Items[0].ExperimentId;
            await registry.CreateRegisteredModelAsync("fraud", cancellationToken: Ct);
            foreach (var auc in new[] { 0.81, 0.79, 0.86 })
            {
                var run = await store.CreateRunAsync(new CreateRunRequest(experiment), Ct);
                await store.LogBatchAsync(run.Info.RunId, [new Metric("auc", auc, 1, 0)], cancellationToken: Ct);
                await registry.CreateModelVersionAsync(new("fraud", $"runs:/{run.Info.RunId}/model"), Ct);
            }
            await registry.SetRegisteredModelAliasAsync("fraud", "champion", "1", cancellationToken: Ct);
        }

        var refused = await cli.RunAsync("models", "promote", "fraud", "2", "--alias", "champion", "--require", "metrics.auc >= champion", "--require", "metrics.auc >= 0.80");
        // A failed gate is exit 6 (it was 2, bad input, before the CLI had one exit-code table).
        Assert.Equal(Cairn.Cli.ExitCodes.GateFailed, refused.ExitCode);
        Assert.Contains("metrics.auc >= champion", refused.Err);
        Assert.Contains("0.79", refused.Err);
        Assert.Single(refused.Err.Trim().Split('\n'));

        var promoted = await cli.RunAsync("models", "promote", "fraud", "3", "--alias", "champion", "--require", "metrics.auc >= champion", "--require", "metrics.auc >= 0.80", "--user", "erin", "--json");
        Assert.True(promoted.ExitCode == 0, promoted.Err);
        Assert.Equal("3", JsonDocument.Parse(promoted.Out).RootElement.GetProperty("model_version").GetProperty("version").GetString());

        var rolledBack = await cli.RunAsync("models", "rollback", "fraud@champion", "--user", "frank");
        Assert.True(rolledBack.ExitCode == 0, rolledBack.Err);
        Assert.Contains("version 1", rolledBack.Out);

        var history = await cli.RunAsync("models", "history", "fraud", "--json");
        Assert.True(history.ExitCode == 0, history.Err);
        var entries = JsonDocument.Parse(history.Out).RootElement.GetProperty("entries").EnumerateArray()
            .Select(e => $"{e.GetProperty("action").GetString()}:{e.GetProperty("user").GetString()}:{e.GetProperty("to_version").GetString()}").ToArray();
        Assert.Equal(["alias_rolled_back:frank:1", "alias_promoted:erin:3", $"alias_set:{RegistryLimits.UnknownUser}:1"], entries);

        var unknown = await cli.RunAsync("models", "rollback", "nope@champion");
        Assert.Equal(3, unknown.ExitCode);
    }
}

using System.Diagnostics;
using System.Text.Json;
using Cairn.Registry;
using Cairn.Storage;
using Cairn.Tracking;

namespace Cairn.Tests;

/// <summary>`cairn models promote` and `rollback` as a user runs them: the real `cairn` process on an embedded store.</summary>
public sealed class ModelsCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Promote_refuses_on_a_failing_gate_then_promotes_and_rollback_moves_the_alias_back()
    {
        using var home = new TempDirectory();
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

        var refused = await CairnAsync(home.Path, "models", "promote", "fraud", "2", "--alias", "champion", "--require", "metrics.auc >= champion", "--require", "metrics.auc >= 0.80");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("metrics.auc >= champion", refused.Stderr);
        Assert.Contains("0.79", refused.Stderr);
        Assert.Single(refused.Stderr.Trim().Split('\n'));

        var promoted = await CairnAsync(home.Path, "models", "promote", "fraud", "3", "--alias", "champion", "--require", "metrics.auc >= champion", "--require", "metrics.auc >= 0.80", "--user", "erin", "--json");
        Assert.True(promoted.ExitCode == 0, promoted.Stderr);
        Assert.Equal("3", JsonDocument.Parse(promoted.Stdout).RootElement.GetProperty("model_version").GetProperty("version").GetString());

        var rolledBack = await CairnAsync(home.Path, "models", "rollback", "fraud@champion", "--user", "frank");
        Assert.True(rolledBack.ExitCode == 0, rolledBack.Stderr);
        Assert.Contains("version 1", rolledBack.Stdout);

        var history = await CairnAsync(home.Path, "models", "history", "fraud", "--json");
        Assert.True(history.ExitCode == 0, history.Stderr);
        var entries = JsonDocument.Parse(history.Stdout).RootElement.GetProperty("entries").EnumerateArray()
            .Select(e => $"{e.GetProperty("action").GetString()}:{e.GetProperty("user").GetString()}:{e.GetProperty("to_version").GetString()}").ToArray();
        Assert.Equal(["alias_rolled_back:frank:1", "alias_promoted:erin:3", $"alias_set:{RegistryLimits.UnknownUser}:1"], entries);

        var unknown = await CairnAsync(home.Path, "models", "rollback", "nope@champion");
        Assert.Equal(3, unknown.ExitCode);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> CairnAsync(string home, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cairn.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["CAIRN_HOME"] = home;
        start.Environment.Remove("CAIRN_TRACKING_URI");
        start.Environment.Remove("MLFLOW_TRACKING_URI");
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!; // Process.Start with a ProcessStartInfo returns null only for shell-reused processes.
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        return (process.ExitCode, await stdout, await stderr);
    }
}

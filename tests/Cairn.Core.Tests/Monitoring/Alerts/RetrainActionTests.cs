using Cairn.Monitoring.Alerts;
using Cairn.Storage;

namespace Cairn.Tests.Monitoring.Alerts;

/// <summary>The retrain action runs a real pipeline stage (a shell command) through the pipeline runner and records its outcome on the incident.</summary>
public sealed class RetrainActionTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ListLogger _log = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private string Pipeline => _dir.Combine("churn");

    private async Task<(CairnStores Stores, SqlAlertStore Store, AlertEngine Engine)> StartAsync(string stageCmd)
    {
        Directory.CreateDirectory(Pipeline);
        File.WriteAllText(Path.Combine(Pipeline, "data.csv"), "tenure,churned\n1,0\n30,1\n");
        File.WriteAllText(Path.Combine(Pipeline, "cairn.yaml"), $"""
            stages:
              train:
                cmd: {stageCmd}
                deps: [data.csv]
                outs: [model]
            """);
        var rules = AlertRulesFile.Parse("""
            alerts:
              - name: tenure
                condition: psi(feature=tenure) > 0.2
                actions:
                  - log
                  - retrain: {folder: churn, stage: train}
            """, "monitoring.yaml", _dir.Path, _ => null);
        AlertRulesFile.CheckTargets(rules, "monitoring.yaml");
        var stores = await CairnStores.OpenAsync(_dir.Combine("cairn.db"), new CairnStoreOptions { DefaultArtifactRoot = _dir.Combine("artifacts") }, Ct);
        var store = new SqlAlertStore(stores.Database!);
        return (stores, store, new AlertEngine(rules, store, new AlertActions(store, _log), _log));
    }

    private static async Task WaitAsync(AlertEngine engine)
    {
        if (engine.Actions.Retrains.Running("tenure") is { } running) await running.WaitAsync(TimeSpan.FromSeconds(60), Ct);
    }

    [Fact]
    public async Task A_firing_rule_runs_the_pipeline_stage_and_records_the_run_on_the_incident()
    {
        var (stores, store, engine) = await StartAsync("mkdir -p model && wc -l < data.csv > model/rows.txt");
        using var _ = stores;
        await using (engine)
        {
            await engine.OnWindowAsync(AlertWindows.Psi(0, 0.3), Ct);
            await WaitAsync(engine);
        }
        Assert.Equal("3", File.ReadAllText(Path.Combine(Pipeline, "model", "rows.txt")).Trim());
        var incident = Assert.Single(await store.ListIncidentsAsync(null, false, 10, Ct));
        Assert.Equal("succeeded", incident.RetrainStatus);
        Assert.Equal("train: ran", incident.RetrainMessage);
        Assert.NotNull(incident.RetrainRunId);
        // The run the incident names is the pipeline run recorded beside the pipeline, and cairn.lock records the stage.
        Assert.Contains(incident.RetrainRunId, File.ReadAllText(Path.Combine(Pipeline, ".cairn", "runs", "runs.jsonl")), StringComparison.Ordinal);
        Assert.Contains("train:", File.ReadAllText(Path.Combine(Pipeline, "cairn.lock")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_stage_is_recorded_as_failed_with_its_exit_code()
    {
        var (stores, store, engine) = await StartAsync("echo no data >&2 && exit 3");
        using var _ = stores;
        await using (engine)
        {
            await engine.OnWindowAsync(AlertWindows.Psi(0, 0.3), Ct);
            await WaitAsync(engine);
        }
        var incident = Assert.Single(await store.ListIncidentsAsync(null, false, 10, Ct));
        Assert.Equal("failed", incident.RetrainStatus);
        Assert.Contains("stage train failed (exit code 3)", incident.RetrainMessage, StringComparison.Ordinal);
        Assert.NotNull(incident.RetrainRunId);
        Assert.Equal(1, _log.Count(4122));
    }

    [Fact]
    public async Task One_retrain_runs_at_a_time_per_rule_and_an_incident_meanwhile_records_skipped()
    {
        // The stage waits for a file the test writes, so the second incident opens while the first retrain runs.
        var (stores, store, engine) = await StartAsync("i=0; while [ ! -f release ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; mkdir -p model && date > model/at.txt");
        using var _ = stores;
        await using (engine)
        {
            await engine.OnWindowAsync(AlertWindows.Psi(0, 0.3, "churn-api"), Ct);
            Assert.NotNull(engine.Actions.Retrains.Running("tenure"));
            await engine.OnWindowAsync(AlertWindows.Psi(0, 0.3, "fraud-api"), Ct); // the same rule on another deployment
            File.WriteAllText(Path.Combine(Pipeline, "release"), "");
            await WaitAsync(engine);
        }
        var incidents = await store.ListIncidentsAsync(null, false, 10, Ct);
        Assert.Equal(2, incidents.Count);
        Assert.Equal("succeeded", incidents.Single(i => i.Deployment == "churn-api").RetrainStatus);
        var skipped = incidents.Single(i => i.Deployment == "fraud-api");
        Assert.Equal(("skipped", "a retrain of this rule was still running"), (skipped.RetrainStatus, skipped.RetrainMessage));
        Assert.True(File.Exists(Path.Combine(Pipeline, "model", "at.txt")));
    }

    [Fact]
    public async Task Stopping_cancels_a_running_retrain_and_records_it()
    {
        var (stores, store, engine) = await StartAsync("sleep 30; mkdir -p model && date > model/at.txt");
        using var _ = stores;
        await engine.OnWindowAsync(AlertWindows.Psi(0, 0.3), Ct);
        var started = DateTime.UtcNow;
        await engine.DisposeAsync();
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "stopping waited for the stage instead of cancelling it");
        Assert.Equal("cancelled", Assert.Single(await store.ListIncidentsAsync(null, false, 10, Ct)).RetrainStatus);
        Assert.False(File.Exists(Path.Combine(Pipeline, "model", "at.txt")));
    }
}

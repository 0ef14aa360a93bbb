using Cairn.Cli;
using Cairn.Storage;
using Cairn.Tracking;

namespace Cairn.Tests;

/// <summary>A CAIRN_HOME-like folder with a SQLite store and artifacts laid out as the server lays them out.</summary>
internal sealed class GcFixture : IDisposable
{
    private readonly CliHarness _cli = new();

    /// <summary>CAIRN_HOME of the harness.</summary>
    public string Home => _cli.Home.Path;

    public string Artifacts => Path.Combine(Home, "artifacts");

    public Task<CairnStores> OpenAsync() =>
        CairnStores.OpenAsync(Home, new CairnStoreOptions { DefaultArtifactRoot = "mlflow-artifacts:" }, TestContext.Current.CancellationToken);

    /// <summary>Writes a file where the proxy would put <paramref name="relative"/> under an mlflow-artifacts:/ location.</summary>
    public string WriteArtifact(string location, string relative)
    {
        var path = Path.Combine(Artifacts, location["mlflow-artifacts:/".Length..], relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "artifact");
        return path;
    }

    /// <summary>The folder behind an mlflow-artifacts:/ location: what gc removes (MLflow's delete_artifacts).</summary>
    public string FolderOf(string location) => Path.Combine(Artifacts, location["mlflow-artifacts:/".Length..]);

    public async Task<(int Exit, string Output, string Error)> GcAsync(params string[] args) => await GcAsync(ansi: false, args);

    /// <summary>With <paramref name="ansi"/>, gc writes to a terminal-like console (live progress).</summary>
    public async Task<(int Exit, string Output, string Error)> GcAsync(bool ansi, params string[] args)
    {
        var result = await _cli.RunAsync(ansi, ["gc", .. args]);
        return (result.ExitCode, result.Out, result.Err);
    }

    public void Dispose() => _cli.Dispose();
}

public sealed class GcCommandTests : IDisposable
{
    private readonly GcFixture _home = new();

    public void Dispose() => _home.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string[] Stores => ["--backend-store-uri", _home.Home, "--artifacts-destination", _home.Artifacts];

    [Fact]
    public async Task Gc_removes_deleted_runs_and_experiments_with_their_artifacts_and_leaves_live_ones()
    {
        string liveExperiment, deadExperiment, liveRun, deadRun, runOfDeadExperiment;
        string liveFile, deadFile, deadExperimentRunFile, deadExperimentFile, deadRunRoot, deadExperimentRoot;
        using (var stores = await _home.OpenAsync())
        {
            var store = stores.Tracking;
            liveExperiment = await store.CreateExperimentAsync("live", cancellationToken: Ct);
            deadExperiment = await store.CreateExperimentAsync("dead", cancellationToken: Ct);
            var live = await store.CreateRunAsync(new CreateRunRequest(liveExperiment), Ct);
            var dead = await store.CreateRunAsync(new CreateRunRequest(liveExperiment), Ct);
            var inDead = await store.CreateRunAsync(new CreateRunRequest(deadExperiment), Ct);
            (liveRun, deadRun, runOfDeadExperiment) = (live.Info.RunId, dead.Info.RunId, inDead.Info.RunId);
            liveFile = _home.WriteArtifact(live.Info.ArtifactUri, "model/model.onnx");
            deadFile = _home.WriteArtifact(dead.Info.ArtifactUri, "model/model.onnx");
            deadRunRoot = _home.FolderOf(dead.Info.ArtifactUri);
            deadExperimentRunFile = _home.WriteArtifact(inDead.Info.ArtifactUri, "metrics.txt");
            var deadLocation = (await store.GetExperimentAsync(deadExperiment, Ct)).ArtifactLocation;
            deadExperimentFile = _home.WriteArtifact(deadLocation, "notes.md");
            deadExperimentRoot = _home.FolderOf(deadLocation);
            await store.DeleteRunAsync(deadRun, Ct);
            await store.DeleteExperimentAsync(deadExperiment, Ct);
        }

        var (exit, output, error) = await _home.GcAsync(["--older-than", "0", .. Stores]);

        Assert.True(exit == 0, $"exit {exit}: {error}");
        Assert.Empty(error);
        Assert.Contains($"removed run {deadRun}: 1 artifact file(s)", output);
        Assert.Contains($"removed experiment {deadExperiment}", output);
        Assert.Contains("gc: removed 2 run(s), 1 experiment(s), 3 artifact file(s).", output);

        Assert.False(File.Exists(deadFile));
        Assert.False(Directory.Exists(deadRunRoot));
        Assert.False(File.Exists(deadExperimentRunFile));
        Assert.False(File.Exists(deadExperimentFile));
        Assert.False(Directory.Exists(deadExperimentRoot));
        Assert.True(File.Exists(liveFile));

        using var reopenedStores = await _home.OpenAsync();
        var reopened = reopenedStores.Tracking;
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => reopened.GetRunAsync(deadRun, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => reopened.GetRunAsync(runOfDeadExperiment, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => reopened.GetExperimentAsync(deadExperiment, Ct));
        Assert.Equal(LifecycleStage.Active, (await reopened.GetRunAsync(liveRun, Ct)).Info.LifecycleStage);
        Assert.Equal(LifecycleStage.Active, (await reopened.GetExperimentAsync(liveExperiment, Ct)).LifecycleStage);
    }

    [Fact]
    public async Task In_a_terminal_gc_draws_a_progress_bar_over_what_it_removes()
    {
        string runId;
        using (var stores = await _home.OpenAsync())
        {
            var store = stores.Tracking;
            var experiment = await store.CreateExperimentAsync("e", cancellationToken: Ct);
            var run = await store.CreateRunAsync(new CreateRunRequest(experiment), Ct);
            runId = run.Info.RunId;
            _home.WriteArtifact(run.Info.ArtifactUri, "a.txt");
            await store.DeleteRunAsync(runId, Ct);
        }

        var (exit, output, error) = await _home.GcAsync(ansi: true, ["--older-than", "0", .. Stores]);

        Assert.True(exit == 0, $"exit {exit}: {error}");
        Assert.Contains("collecting garbage", output);
        Assert.Contains("100%", output);
        Assert.Contains($"removed run {runId}", output);
        var (_, piped, _) = await _home.GcAsync(["--older-than", "0", .. Stores]);
        Assert.DoesNotContain("collecting garbage", piped);
    }

    [Fact]
    public async Task Recent_deletions_are_kept_until_they_are_older_than_asked()
    {
        string runId, file;
        using (var stores = await _home.OpenAsync())
        {
            var store = stores.Tracking;
            var experiment = await store.CreateExperimentAsync("e", cancellationToken: Ct);
            var run = await store.CreateRunAsync(new CreateRunRequest(experiment), Ct);
            runId = run.Info.RunId;
            file = _home.WriteArtifact(run.Info.ArtifactUri, "a.txt");
            await store.DeleteRunAsync(runId, Ct);
        }

        var (exit, output, _) = await _home.GcAsync(["--older-than", "1", .. Stores]);

        Assert.Equal(0, exit);
        Assert.Contains("gc: removed 0 run(s), 0 experiment(s), 0 artifact file(s).", output);
        Assert.True(File.Exists(file));
        using var reopenedStores = await _home.OpenAsync();
        var reopened = reopenedStores.Tracking;
        Assert.Equal(LifecycleStage.Deleted, (await reopened.GetRunAsync(runId, Ct)).Info.LifecycleStage);
    }

    [Fact]
    public async Task Dry_run_lists_what_would_go_and_removes_nothing()
    {
        string runId, file;
        using (var stores = await _home.OpenAsync())
        {
            var store = stores.Tracking;
            var experiment = await store.CreateExperimentAsync("e", cancellationToken: Ct);
            var run = await store.CreateRunAsync(new CreateRunRequest(experiment), Ct);
            runId = run.Info.RunId;
            file = _home.WriteArtifact(run.Info.ArtifactUri, "a.txt");
            await store.DeleteRunAsync(runId, Ct);
        }

        var (exit, output, _) = await _home.GcAsync(["--older-than", "0", "--dry-run", .. Stores]);

        Assert.Equal(0, exit);
        Assert.Contains($"would remove run {runId}", output);
        Assert.Contains("gc: would remove 1 run(s), 0 experiment(s).", output);
        Assert.True(File.Exists(file));
        using var reopenedStores = await _home.OpenAsync();
        var reopened = reopenedStores.Tracking;
        Assert.Equal(LifecycleStage.Deleted, (await reopened.GetRunAsync(runId, Ct)).Info.LifecycleStage);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-0.5")]
    public async Task Negative_days_fail_with_one_clear_line(string days)
    {
        var (exit, output, error) = await _home.GcAsync(["--older-than", days, .. Stores]);
        Assert.Equal(ExitCodes.InvalidInput, exit);
        Assert.Empty(output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains("'--older-than'", line);
        Assert.Contains("zero or more", line);
    }

    [Fact]
    public async Task A_location_that_cannot_be_cleaned_keeps_its_rows_and_fails_the_command()
    {
        string runId;
        using (var stores = await _home.OpenAsync())
        {
            var store = stores.Tracking;
            var experiment = await store.CreateExperimentAsync("s3", "s3://bucket/prefix", cancellationToken: Ct);
            runId = (await store.CreateRunAsync(new CreateRunRequest(experiment), Ct)).Info.RunId;
            await store.DeleteRunAsync(runId, Ct);
        }

        var (exit, output, error) = await _home.GcAsync(["--older-than", "0", .. Stores]);

        Assert.NotEqual(0, exit);
        Assert.Contains($"kept run {runId}", error);
        Assert.Contains("1 left in place", output);
        using var reopenedStores = await _home.OpenAsync();
        var reopened = reopenedStores.Tracking;
        Assert.Equal(LifecycleStage.Deleted, (await reopened.GetRunAsync(runId, Ct)).Info.LifecycleStage);
    }
}

/// <summary>Without --backend-store-uri and --artifacts-destination, gc works on the harness's CAIRN_HOME.</summary>
public sealed class GcCairnHomeTests
{
    [Fact]
    public async Task Without_flags_gc_works_on_CAIRN_HOME()
    {
        using var home = new GcFixture();
        var ct = TestContext.Current.CancellationToken;
        string runId, file, root;
        using (var stores = await home.OpenAsync())
        {
            var store = stores.Tracking;
            var experiment = await store.CreateExperimentAsync("e", cancellationToken: ct);
            var run = await store.CreateRunAsync(new CreateRunRequest(experiment), ct);
            runId = run.Info.RunId;
            file = home.WriteArtifact(run.Info.ArtifactUri, "a.txt");
            root = home.FolderOf(run.Info.ArtifactUri);
            await store.DeleteRunAsync(runId, ct);
        }

        var (exit, output, error) = await home.GcAsync("--older-than", "0");
        Assert.True(exit == 0, $"exit {exit}: {error}");
        Assert.Contains($"removed run {runId}", output);
        Assert.False(File.Exists(file));
        Assert.False(Directory.Exists(root));
        using var reopenedStores = await home.OpenAsync();
        var reopened = reopenedStores.Tracking;
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => reopened.GetRunAsync(runId, ct));
    }
}

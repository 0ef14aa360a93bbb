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
    public async Task An_experiment_located_outside_the_managed_roots_keeps_its_files_and_gc_says_so()
    {
        // A folder of the user's, named as an experiment's location: gc used to delete it recursively.
        using var users = new TempDirectory();
        var folder = Directory.CreateDirectory(Path.Combine(users.Path, "my-data")).FullName;
        var precious = Path.Combine(folder, "thesis.tex");
        File.WriteAllText(precious, "years of work");
        string outside, s3, whole, runId;
        using (var stores = await _home.OpenAsync())
        {
            var store = stores.Tracking;
            outside = await store.CreateExperimentAsync("mine", new Uri(folder).AbsoluteUri, cancellationToken: Ct);
            var run = await store.CreateRunAsync(new CreateRunRequest(outside), Ct);
            Directory.CreateDirectory(new Uri(run.Info.ArtifactUri).LocalPath);
            File.WriteAllText(Path.Combine(new Uri(run.Info.ArtifactUri).LocalPath, "model.onnx"), "m");
            s3 = await store.CreateExperimentAsync("s3", "s3://bucket/prefix", cancellationToken: Ct);
            runId = (await store.CreateRunAsync(new CreateRunRequest(s3), Ct)).Info.RunId;
            await store.DeleteRunAsync(runId, Ct);
            // The destination itself: deleting it would take every experiment's artifacts.
            whole = await store.CreateExperimentAsync("whole", "mlflow-artifacts:/", cancellationToken: Ct);
            _home.WriteArtifact("mlflow-artifacts:/0", "other-experiments-file.txt");
            foreach (var id in new[] { outside, whole }) await store.DeleteExperimentAsync(id, Ct);
        }

        var (exit, output, error) = await _home.GcAsync(["--older-than", "0", .. Stores]);

        Assert.True(exit == 0, $"exit {exit}: {error}");
        Assert.True(error.Length == 0, error);
        Assert.True(output.Contains("kept the files of 3 outside", StringComparison.Ordinal), output);
        Assert.True(File.Exists(precious));
        Assert.Single(Directory.GetDirectories(folder)); // the run's folder too
        Assert.True(File.Exists(Path.Combine(_home.Artifacts, "0", "other-experiments-file.txt")));
        Assert.Contains("gc: removed 2 run(s), 2 experiment(s), 0 artifact file(s); kept the files of 3 outside the artifact roots it manages.", output);
        Assert.Contains($"kept the files of experiment {outside}: Artifact location '{new Uri(folder).AbsoluteUri}' is outside the artifact roots", output);
        Assert.Contains($"kept the files of run {runId}: Artifact location 's3://bucket/prefix/{runId}/artifacts' is outside", output);
        Assert.Contains($"kept the files of experiment {whole}: Artifact location 'mlflow-artifacts:/' is a whole artifact root", output);
        // One line per experiment, not one per run of it.
        Assert.Equal(3, output.Split('\n').Count(line => line.StartsWith("kept the files of", StringComparison.Ordinal)));

        // The rows are the server's: they went.
        using var reopenedStores = await _home.OpenAsync();
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => reopenedStores.Tracking.GetExperimentAsync(outside, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => reopenedStores.Tracking.GetRunAsync(runId, Ct));
    }

    [Fact]
    public async Task An_allowed_artifact_root_is_cleaned_like_the_destination()
    {
        using var team = new TempDirectory();
        var location = Path.Combine(team.Path, "exp");
        string experiment;
        using (var stores = await _home.OpenAsync())
        {
            var store = stores.Tracking;
            experiment = await store.CreateExperimentAsync("team", location, cancellationToken: Ct);
            var run = await store.CreateRunAsync(new CreateRunRequest(experiment), Ct);
            Directory.CreateDirectory(run.Info.ArtifactUri);
            File.WriteAllText(Path.Combine(run.Info.ArtifactUri, "a.txt"), "a");
            await store.DeleteExperimentAsync(experiment, Ct);
        }

        var (exit, output, error) = await _home.GcAsync(["--older-than", "0", "--allowed-artifact-roots", team.Path, .. Stores]);

        Assert.True(exit == 0, $"exit {exit}: {error}");
        Assert.Contains($"removed experiment {experiment}", output);
        Assert.DoesNotContain("kept", output);
        Assert.False(Directory.Exists(location));
        Assert.True(Directory.Exists(team.Path));

        var (badExit, _, badError) = await _home.GcAsync(["--older-than", "0", "--allowed-artifact-roots", "/", .. Stores]);
        Assert.Equal(ExitCodes.InvalidInput, badExit);
        Assert.Contains("'--allowed-artifact-roots'", badError);
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

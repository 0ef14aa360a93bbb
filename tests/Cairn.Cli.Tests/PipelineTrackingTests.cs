using System.Text.RegularExpressions;
using Cairn.Client;
using Cairn.Tracking;
using Xunit;

namespace Cairn.Tests;

/// <summary>`cairn repro` and `cairn data add --name` record into the embedded tracking store beside the data cache.</summary>
public sealed class PipelineTrackingTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly CliHarness _cli;

    public PipelineTrackingTests() => _cli = CliHarness.InFolder(_dir.Path);

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    private const string TwoStages = """
        stages:
          prep:
            cmd: cp data/raw.csv prep.csv && echo prepared rows
            deps: [data/raw.csv]
            params: [prep.n]
            outs: [prep.csv]
          train:
            cmd: printf '{"acc":0.9,"nested":{"loss":0.25}}' > metrics.json && echo trained
            deps: [prep.csv]
            params: [train.lr]
            metrics:
            - metrics.json: {cache: false}
        """;

    private void Setup()
    {
        _dir.InitGit();
        _dir.Write("data/raw.csv", "a,b\n1,x\n2,y\n");
        _dir.Write("params.yaml", "prep:\n  n: 3\ntrain:\n  lr: 0.1\n");
        _dir.Write("cairn.yaml", TwoStages);
    }

    private async Task<CairnClient> OpenStoreAsync() => await CairnClient.OpenAsync(_dir[".cairn"], cancellationToken: TestContext.Current.CancellationToken);

    private static async Task<IReadOnlyList<Run>> RunsAsync(CairnClient client, string experiment)
    {
        var exp = await client.Store.FindExperimentByNameAsync(experiment, TestContext.Current.CancellationToken);
        if (exp is null) return [];
        return (await client.Store.SearchRunsAsync(new RunSearch([exp.ExperimentId]), TestContext.Current.CancellationToken)).Items;
    }

    private static string Tag(Run run, string key) => run.Data.Tags.Single(t => t.Key == key).Value;

    [Fact]
    public async Task Repro_records_a_parent_run_with_a_finished_child_run_per_stage()
    {
        Setup();
        var add = await _cli.RunAsync("data", "add", "data/raw.csv", "--name", "raw");
        Assert.Equal((0, ""), (add.ExitCode, add.Err));
        var repro = await _cli.RunAsync("repro");
        Assert.Equal((0, ""), (repro.ExitCode, repro.Err));

        using var client = await OpenStoreAsync();
        var runs = await RunsAsync(client, Path.GetFileName(_dir.Path));
        var parent = Assert.Single(runs, r => r.Data.Tags.Any(t => t.Key == "cairn.pipeline" && t.Value == "true"));
        Assert.Equal(RunStatus.FINISHED, parent.Info.Status);
        var children = runs.Where(r => r.Data.Tags.Any(t => t.Key == SystemTags.ParentRunId && t.Value == parent.Info.RunId)).ToList();
        Assert.Equal(["prep", "train"], children.Select(c => c.Info.RunName).Order(StringComparer.Ordinal));
        Assert.All(children, c => Assert.Equal(RunStatus.FINISHED, c.Info.Status));
        Assert.All(children, c => Assert.Equal("0", Tag(c, "cairn.exit_code")));
        Assert.All(children, c => Assert.Contains(c.Data.Metrics, m => m.Key == "duration_s" && m.Value >= 0));

        var prep = children.Single(c => c.Info.RunName == "prep");
        Assert.Equal("3", prep.Data.Params.Single(p => p.Key == "prep.n").Value);
        Assert.Matches("^[0-9a-f]{64}$", Tag(prep, "cairn.out.prep.csv"));
        string pointerDigest = Regex.Match(_dir.Read("data/raw.csv.cairn"), "digest: ([0-9a-f]{64})").Groups[1].Value;
        var input = Assert.Single(prep.Inputs);
        Assert.Equal(("raw", pointerDigest[..32], "local"), (input.Dataset.Name, input.Dataset.Digest, input.Dataset.SourceType));
        Assert.Contains(input.Tags, t => t.Key == "mlflow.data.context" && t.Value == "training");
        var log = await client.ListArtifactsAsync(prep.Info.RunId, "logs", TestContext.Current.CancellationToken);
        Assert.Equal(["logs/prep.log"], log.Files.Select(f => f.Path));
        var downloaded = await client.DownloadArtifactsAsync(prep.Info.RunId, "logs/prep.log", _dir["dl"], TestContext.Current.CancellationToken);
        Assert.Contains("prepared rows", File.ReadAllText(Assert.Single(downloaded)));

        var train = children.Single(c => c.Info.RunName == "train");
        Assert.Equal("0.1", train.Data.Params.Single(p => p.Key == "train.lr").Value);
        Assert.Equal(0.9, train.Data.Metrics.Single(m => m.Key == "acc").Value);
        Assert.Equal(0.25, train.Data.Metrics.Single(m => m.Key == "nested.loss").Value);
        Assert.Matches("^[0-9a-f]{64}$", Tag(train, "cairn.out.metrics.json"));
        Assert.Empty(train.Inputs); // prep.csv is not a registered dataset

        // The JSON-lines file is still written.
        Assert.Contains("\"stage_end\"", _dir.Read(".cairn/runs/runs.jsonl"));
    }

    [Fact]
    public async Task Exp_run_records_the_experiment_with_its_overridden_params()
    {
        Setup();
        _dir.Run("git", "add", "-A");
        _dir.Run("git", "commit", "-qm", "init");
        var run = await _cli.RunAsync("exp", "run", "-S", "train.lr=0.4", "--name", "lr04");
        Assert.Equal((0, ""), (run.ExitCode, run.Err));

        using var client = await OpenStoreAsync();
        var runs = await RunsAsync(client, Path.GetFileName(_dir.Path));
        var parent = Assert.Single(runs, r => r.Data.Tags.Any(t => t.Key == "cairn.pipeline"));
        Assert.Equal(("lr04", "lr04", RunStatus.FINISHED), (parent.Info.RunName, Tag(parent, "cairn.exp"), parent.Info.Status));
        var train = Assert.Single(runs, r => r.Info.RunName == "train");
        Assert.Equal("0.4", train.Data.Params.Single(p => p.Key == "train.lr").Value);
        var log = await client.ListArtifactsAsync(train.Info.RunId, "logs", TestContext.Current.CancellationToken);
        Assert.Equal(["logs/train.log"], log.Files.Select(f => f.Path));
    }

    [Fact]
    public async Task A_failing_stage_gives_a_failed_child_run()
    {
        _dir.Write("cairn.yaml", "stages:\n  train:\n    cmd: echo boom; exit 3\n    outs: [m.bin]\n");
        _cli.SetEnvironment("CAIRN_EXPERIMENT", "pipes");
        var r = await _cli.RunAsync("repro");
        Assert.Equal(1, r.ExitCode);
        Assert.DoesNotContain("warning", r.Err);

        using var client = await OpenStoreAsync();
        var runs = await RunsAsync(client, "pipes");
        var parent = Assert.Single(runs, r => r.Data.Tags.Any(t => t.Key == "cairn.pipeline"));
        Assert.Equal(RunStatus.FAILED, parent.Info.Status);
        var child = Assert.Single(runs, r => r.Info.RunName == "train");
        Assert.Equal(RunStatus.FAILED, child.Info.Status);
        Assert.Equal(parent.Info.RunId, Tag(child, SystemTags.ParentRunId));
        Assert.Equal("3", Tag(child, "cairn.exit_code"));
    }

    [Fact]
    public async Task No_track_writes_nothing_to_tracking()
    {
        Setup();
        var add = await _cli.RunAsync("data", "add", "data/raw.csv", "--name", "raw", "--no-track");
        Assert.Equal((0, ""), (add.ExitCode, add.Err));
        var repro = await _cli.RunAsync("repro", "--no-track");
        Assert.Equal((0, ""), (repro.ExitCode, repro.Err));
        Assert.False(File.Exists(_dir[".cairn/cairn.db"]));
        Assert.Contains("\"stage_end\"", _dir.Read(".cairn/runs/runs.jsonl"));
    }

    [Fact]
    public async Task Unreachable_tracking_prints_one_warning_and_the_pipeline_still_succeeds()
    {
        Setup();
        _cli.SetEnvironment("CAIRN_TRACKING_URI", "sqlite://bad");
        var repro = await _cli.RunAsync("repro");
        Assert.Equal(0, repro.ExitCode);
        var line = Assert.Single(repro.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("warning: pipeline run not recorded in tracking", line);
        Assert.Contains("\"pipeline_end\"", _dir.Read(".cairn/runs/runs.jsonl"));
    }

    [Fact]
    public async Task Data_add_with_a_name_registers_the_dataset_run()
    {
        Setup();
        var add = await _cli.RunAsync("data", "add", "data/raw.csv", "--name", "raw");
        Assert.Equal((0, ""), (add.ExitCode, add.Err));

        using var client = await OpenStoreAsync();
        var run = Assert.Single(await RunsAsync(client, "datasets"));
        Assert.Equal(("dataset:raw", RunStatus.FINISHED, "true"), (run.Info.RunName, run.Info.Status, Tag(run, "cairn.dataset")));
        string pointerDigest = Regex.Match(_dir.Read("data/raw.csv.cairn"), "digest: ([0-9a-f]{64})").Groups[1].Value;
        var input = Assert.Single(run.Inputs);
        Assert.Equal(("raw", pointerDigest[..32]), (input.Dataset.Name, input.Dataset.Digest));
        Assert.Contains("\"num_rows\":2", input.Dataset.Profile);
        Assert.Contains("mlflow_colspec", input.Dataset.Schema);
    }

    [Fact]
    public async Task Data_add_with_the_same_name_again_reuses_the_dataset_run()
    {
        Setup();
        (await _cli.RunAsync("data", "add", "data/raw.csv", "--name", "raw")).Ok();
        var again = await _cli.RunAsync("data", "add", "data/raw.csv", "--name", "raw");
        Assert.Equal((0, ""), (again.ExitCode, again.Err));

        using var client = await OpenStoreAsync();
        var run = Assert.Single(await RunsAsync(client, "datasets"));
        Assert.Single(run.Inputs);
    }
}

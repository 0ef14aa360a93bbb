using Cairn.Data;
using Cairn.Pipelines;
using Xunit;

namespace Cairn.Tests.Pipelines;

public sealed class ExperimentTests : IDisposable
{
    private readonly TempDir _dir = new();
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private DataRepository SetUp()
    {
        _dir.InitGit();
        _dir.Write("data/raw.csv", "1\n2\n3\n");
        _dir.Write("params.yaml", "# training knobs\ntrain:\n  lr: 0.1\n  trees: 100\n");
        _dir.Write("train.sh", "lr=$(grep 'lr:' params.yaml | awk '{print $2}')\ntrees=$(grep 'trees:' params.yaml | awk '{print $2}')\nmkdir -p model && echo \"$lr $trees\" > model/m.txt\necho \"{\\\"score\\\":$lr,\\\"trees\\\":$trees}\" > metrics.json\n");
        _dir.Write("cairn.yaml", "stages:\n  train:\n    cmd: sh train.sh\n    deps: [data/raw.csv, train.sh]\n    params: [train.lr, train.trees]\n    outs: [model]\n    metrics:\n    - metrics.json: {cache: false}\n");
        var repo = DataRepository.Open(_dir.Path);
        _dir.Run("git", "add", "-A");
        _dir.Run("git", "commit", "-qm", "pipeline");
        return repo;
    }

    [Fact]
    public async Task Exp_run_changes_params_only_in_its_own_workspace_and_records_the_result()
    {
        var repo = SetUp();
        string before = _dir.Read("params.yaml");
        var manager = new ExperimentManager(repo);
        var recorder = new JsonLinesRunRecorder(_dir[".cairn/runs/runs.jsonl"]);

        var rec = await manager.RunAsync(manager.ParseSetParams(["train.lr=0.3", "train.trees=200"]), "bigger", 1, recorder, null, Ct);

        Assert.Equal("succeeded", rec.Status);
        Assert.Equal(new Dictionary<string, string> { ["train.lr"] = "0.3", ["train.trees"] = "200" }, rec.Params);
        Assert.Equal("0.3", rec.Metrics["score"]);
        Assert.Equal(before, _dir.Read("params.yaml"));
        Assert.False(File.Exists(_dir["metrics.json"]));
        Assert.False(Directory.Exists(_dir[$".cairn/exps/{rec.Id}/ws"]));
        Assert.True(File.Exists(_dir[$".cairn/exps/{rec.Id}.lock"]));
        var start = recorder.ReadAll().First(e => e.GetProperty("event").GetString() == "pipeline_start");
        Assert.Equal("bigger", start.GetProperty("experiment").GetString());
        // The experiment's model is in the shared cache, so gc roots keep it.
        var model = LockFile.Load(_dir[$".cairn/exps/{rec.Id}.lock"]).Stages["train"].Outs.Single(o => o.Path == "model");
        Assert.True(repo.IsFullyCached(EntryKind.Dir, model.Digest));
        Assert.Contains(new CacheRoot(model.Digest, EntryKind.Dir), manager.CacheRoots());
    }

    [Fact]
    public async Task Queued_experiments_run_all_in_parallel()
    {
        var repo = SetUp();
        var manager = new ExperimentManager(repo);
        manager.Queue(manager.ParseSetParams(["train.lr=0.5"]), "a");
        manager.Queue(manager.ParseSetParams(["train.lr=0.7"]), "b");
        manager.Queue(manager.ParseSetParams(["params.yaml:train.trees=7"]), "c");
        Assert.Equal(3, manager.List().Count(e => e.Status == "queued"));

        var results = await manager.RunQueuedAsync(2, NullRunRecorder.Instance, null, Ct);

        Assert.All(results, r => Assert.Equal("succeeded", r.Status));
        Assert.Equal(["0.5", "0.7", "0.1"], manager.List().Select(e => e.Metrics["score"]));
        Assert.Equal("7", manager.List().Single(e => e.Name == "c").Metrics["trees"]);
        Assert.Empty(await manager.RunQueuedAsync(2, NullRunRecorder.Instance, null, Ct));
    }

    [Fact]
    public void An_unknown_param_key_is_refused_before_anything_runs()
    {
        var manager = new ExperimentManager(SetUp());
        var e = Assert.Throws<InvalidParameterValueException>(() => manager.ParseSetParams(["train.depth=3"]));
        Assert.Equal("--set-param train.depth: params.yaml has no key 'train.depth'", e.Message);
        Assert.Contains("expected key=value", Assert.Throws<InvalidParameterValueException>(() => manager.ParseSetParams(["train.lr"])).Message);
        Assert.Empty(manager.List());
    }
}

using System.Diagnostics;
using Cairn.Data;
using Cairn.Pipelines;
using Xunit;

namespace Cairn.Tests.Pipelines;

public sealed class PipelineRunnerTests : IDisposable
{
    private readonly TempDir _dir = new();
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private PipelineRunner Runner(string yaml)
    {
        _dir.Write("cairn.yaml", yaml);
        var repo = DataRepository.Open(_dir.Path);
        return new PipelineRunner(repo, Pipeline.Load(repo.Root));
    }

    private Task<ReproResult> Repro(PipelineRunner runner, int jobs = 1, string? target = null, IPipelineRunRecorder? recorder = null, CancellationToken? ct = null)
        => runner.ReproAsync(new ReproOptions { Jobs = jobs, Target = target, Recorder = recorder ?? NullRunRecorder.Instance }, ct ?? Ct);

    private static StageOutcomeKind Kind(ReproResult r, string stage) => r.Stages.Single(s => s.Stage == stage).Kind;

    // prepare -> train -> evaluate; "report" is independent. Each command appends its name to runs.log.
    private const string Chain = """
        stages:
          prepare:
            cmd: echo prepare >> runs.log && tr a-z A-Z < raw.txt > prepared.txt
            deps: [raw.txt]
            params: [prepare.upper]
            outs: [prepared.txt]
          train:
            cmd: echo train >> runs.log && mkdir -p model && cat prepared.txt > model/weights.txt && echo '{"acc":0.75,"loss":{"final":0.3}}' > metrics.json
            deps: [prepared.txt]
            params: [train.lr]
            outs: [model]
            metrics:
            - metrics.json: {cache: false}
          evaluate:
            cmd: echo evaluate >> runs.log && cat model/weights.txt > eval.txt
            deps: [model]
            outs: [eval.txt]
          report:
            cmd: echo report >> runs.log && cp raw.txt report.txt
            deps: [raw.txt]
            outs: [report.txt]
        """;

    private void WriteInputs(string lr = "0.1")
    {
        _dir.Write("raw.txt", "abc\n");
        _dir.Write("params.yaml", $"prepare:\n  upper: true\ntrain:\n  lr: {lr}\n");
    }

    private string[] RunsLog() => File.Exists(_dir["runs.log"]) ? File.ReadAllLines(_dir["runs.log"]) : [];

    private const string TwoLineCmd = """
        stages:
          two:
            cmd: |
              echo one >> runs.log
              cp raw.txt two.txt
            deps: [raw.txt]
            outs: [two.txt]
        """;

    [Fact]
    public async Task A_multi_line_cmd_is_up_to_date_after_one_repro()
    {
        WriteInputs();
        Assert.True((await Repro(Runner(TwoLineCmd))).Succeeded);
        var status = Assert.Single(await Runner(TwoLineCmd).StatusAsync(cancellationToken: Ct));
        Assert.Equal((StageState.UpToDate, 0), (status.State, status.Reasons.Count));
        Assert.Equal(StageOutcomeKind.Unchanged, Kind(await Repro(Runner(TwoLineCmd)), "two"));
        Assert.Single(RunsLog());
    }

    [Fact]
    public async Task A_lock_written_with_the_old_folded_cmd_reruns_once_then_is_stable()
    {
        WriteInputs();
        Assert.True((await Repro(Runner(TwoLineCmd))).Succeeded);
        // What earlier versions wrote: the cmd single-quoted across lines, which YAML reads back folded into one line.
        string yaml = _dir.Read("cairn.lock");
        string literal = "cmd: |\n      echo one >> runs.log\n      cp raw.txt two.txt\n";
        Assert.Contains(literal, yaml);
        _dir.Write("cairn.lock", yaml.Replace(literal, "cmd: 'echo one >> runs.log\ncp raw.txt two.txt\n'\n"));
        Assert.Equal("echo one >> runs.log cp raw.txt two.txt ", LockFile.Load(_dir["cairn.lock"]).Stages["two"].Cmd);

        var status = Assert.Single(await Runner(TwoLineCmd).StatusAsync(cancellationToken: Ct));
        Assert.Equal(["cmd changed"], status.Reasons);
        Assert.Equal(StageOutcomeKind.Ran, Kind(await Repro(Runner(TwoLineCmd)), "two"));
        Assert.Equal(StageState.UpToDate, Assert.Single(await Runner(TwoLineCmd).StatusAsync(cancellationToken: Ct)).State);
        Assert.Equal(StageOutcomeKind.Unchanged, Kind(await Repro(Runner(TwoLineCmd)), "two"));
    }

    [Fact]
    public async Task Repro_runs_everything_once_then_nothing_then_only_what_a_param_change_touches()
    {
        WriteInputs();
        var first = await Repro(Runner(Chain));
        Assert.True(first.Succeeded);
        Assert.Equal(4, first.Stages.Count(s => s.Kind == StageOutcomeKind.Ran));
        Assert.Equal("ABC\n", _dir.Read("eval.txt"));
        var ignored = _dir.Read(".gitignore").Split('\n');
        Assert.Contains("/prepared.txt", ignored);
        Assert.Contains("/model", ignored);
        Assert.DoesNotContain("/metrics.json", ignored);

        var second = await Repro(Runner(Chain));
        Assert.All(second.Stages, s => Assert.Equal(StageOutcomeKind.Unchanged, s.Kind));
        Assert.Equal(4, RunsLog().Length);

        WriteInputs(lr: "0.2");
        var status = await Runner(Chain).StatusAsync(cancellationToken: Ct);
        Assert.Equal(["param 'train.lr' changed: 0.1 -> 0.2"], status.Single(s => s.Stage == "train").Reasons);
        Assert.Equal(StageState.Stale, status.Single(s => s.Stage == "evaluate").State);
        Assert.Equal(StageState.UpToDate, status.Single(s => s.Stage == "prepare").State);

        var third = await Repro(Runner(Chain));
        Assert.Equal((StageOutcomeKind.Unchanged, StageOutcomeKind.Ran), (Kind(third, "prepare"), Kind(third, "train")));
        // train's outs came out identical, so evaluate's dep did not change: it stays unchanged.
        Assert.Equal(StageOutcomeKind.Unchanged, Kind(third, "evaluate"));
        Assert.Equal(["evaluate", "prepare", "report", "train", "train"], RunsLog().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Deleted_outs_come_back_from_the_cache_without_running()
    {
        WriteInputs();
        await Repro(Runner(Chain));
        Directory.Delete(_dir["model"], recursive: true);
        File.Delete(_dir["prepared.txt"]);

        var status = await Runner(Chain).StatusAsync(cancellationToken: Ct);
        Assert.Equal(StageState.Restorable, status.Single(s => s.Stage == "train").State);
        var r = await Repro(Runner(Chain));

        Assert.Equal(StageOutcomeKind.Restored, Kind(r, "prepare"));
        Assert.Equal(StageOutcomeKind.Restored, Kind(r, "train"));
        Assert.Equal(4, RunsLog().Length);
        Assert.Equal("ABC\n", _dir.Read("model/weights.txt"));
    }

    [Fact]
    public async Task A_failing_stage_stops_its_dependents_keeps_others_and_repro_resumes_there()
    {
        WriteInputs();
        string failing = Chain.Replace("echo train >> runs.log &&", "echo train >> runs.log && test -f fixed &&");
        var r = await Repro(Runner(failing), jobs: 2);

        Assert.False(r.Succeeded);
        Assert.Equal(StageOutcomeKind.Ran, Kind(r, "prepare"));
        Assert.Equal(StageOutcomeKind.Failed, Kind(r, "train"));
        Assert.Equal(1, r.Stages.Single(s => s.Stage == "train").ExitCode);
        Assert.Equal(StageOutcomeKind.Skipped, Kind(r, "evaluate"));
        Assert.Equal(StageOutcomeKind.Ran, Kind(r, "report"));
        var lf = LockFile.Load(_dir["cairn.lock"]);
        Assert.Equal(["prepare", "report"], lf.Stages.Keys.Order());

        _dir.Write("fixed", "");
        var again = await Repro(Runner(failing), jobs: 2);
        Assert.True(again.Succeeded);
        Assert.Equal((StageOutcomeKind.Unchanged, StageOutcomeKind.Ran, StageOutcomeKind.Ran, StageOutcomeKind.Unchanged),
            (Kind(again, "prepare"), Kind(again, "train"), Kind(again, "evaluate"), Kind(again, "report")));
    }

    [Fact]
    public async Task Independent_stages_run_in_parallel_up_to_jobs()
    {
        // Each stage waits for the other to have started: this only finishes in time when both run at once.
        string wait(string me, string other) =>
            $"touch {me}.started && i=0; while [ ! -f {other}.started ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; test -f {other}.started && echo ok > {me}.out";
        string yaml = $"stages:\n  a:\n    cmd: {wait("a", "b")}\n    outs: [a.out]\n  b:\n    cmd: {wait("b", "a")}\n    outs: [b.out]\n";
        var r = await Repro(Runner(yaml), jobs: 2);
        Assert.True(r.Succeeded, string.Join("; ", r.Stages.Select(s => s.Error)));
    }

    [Fact]
    public async Task A_second_repro_is_refused_while_one_is_running()
    {
        string yaml = "stages:\n  slow:\n    cmd: touch started && i=0; while [ ! -f release ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; echo done > out.txt\n    outs: [out.txt]\n";
        var first = Repro(Runner(yaml));
        var sw = Stopwatch.StartNew();
        while (!File.Exists(_dir["started"]) && sw.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(20, Ct);

        var e = await Assert.ThrowsAsync<CairnException>(() => Repro(Runner(yaml)));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, e.ErrorCode);
        Assert.Contains($"another 'cairn repro' is running in {_dir.Path} (pid {Environment.ProcessId}", e.Message);

        _dir.Write("release", "");
        Assert.True((await first).Succeeded);
        Assert.Single((await Repro(Runner(yaml))).Stages, s => s.Kind == StageOutcomeKind.Unchanged);
    }

    [Fact]
    public async Task Cancelling_kills_the_stage_and_discards_its_partial_outputs()
    {
        string yaml = "stages:\n  long:\n    cmd: mkdir -p out && echo partial > out/part.txt && sleep 30\n    outs: [out]\n";
        var runner = Runner(yaml);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var sw = Stopwatch.StartNew();
        var run = Repro(runner, ct: cts.Token);
        while (!File.Exists(_dir["out/part.txt"]) && sw.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(20, Ct);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"took {sw.Elapsed}");
        Assert.False(Directory.Exists(_dir["out"]));
        Assert.False(File.Exists(_dir["cairn.lock"]));
        // The lock is released: the next repro can start.
        Assert.Equal(StageState.Stale, (await Runner(yaml).StatusAsync(cancellationToken: Ct)).Single().State);
    }

    [Fact]
    public async Task Stage_runs_are_recorded_with_params_metrics_digests_and_exit_code()
    {
        WriteInputs();
        var recorder = new JsonLinesRunRecorder(_dir[".cairn/runs/runs.jsonl"]);
        await Repro(Runner(Chain), recorder: recorder);

        var events = recorder.ReadAll();
        Assert.Equal("pipeline_start", events[0].GetProperty("event").GetString());
        Assert.Equal("FINISHED", events[^1].GetProperty("status").GetString());
        var trainEnd = events.Single(e => e.GetProperty("event").GetString() == "stage_end" && e.GetProperty("stage").GetString() == "train");
        Assert.Equal(0, trainEnd.GetProperty("exit_code").GetInt32());
        Assert.Equal(0.75, trainEnd.GetProperty("metrics").GetProperty("acc").GetDouble());
        Assert.Equal(0.3, trainEnd.GetProperty("metrics").GetProperty("loss.final").GetDouble());
        Assert.Equal(64, trainEnd.GetProperty("out_digests").GetProperty("model").GetString()!.Length);
        Assert.True(File.Exists(trainEnd.GetProperty("log_file").GetString()));
        var trainStart = events.Single(e => e.GetProperty("event").GetString() == "stage_start" && e.GetProperty("stage").GetString() == "train");
        Assert.Equal("0.1", trainStart.GetProperty("params").GetProperty("train.lr").GetString());
    }

    [Fact]
    public async Task A_stage_that_does_not_write_its_out_fails_and_is_not_locked()
    {
        var r = await Repro(Runner("stages:\n  lazy:\n    cmd: 'true'\n    outs: [never.txt]\n"));
        var s = r.Stages.Single();
        Assert.Equal(StageOutcomeKind.Failed, s.Kind);
        Assert.Equal("stage 'lazy' did not produce its out 'never.txt'", s.Error);
        Assert.False(File.Exists(_dir["cairn.lock"]));
    }
}

using Xunit;

namespace Cairn.Tests;

public sealed class PipelineCliTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly CliHarness _cli;

    public PipelineCliTests() => _cli = CliHarness.InFolder(_dir.Path);

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    private const string Yaml = """
        stages:
          train:
            cmd: python3 -c "print('x')" > /dev/null; printf '{"acc":%s,"loss":0.5}' $(grep lr params.yaml | cut -d' ' -f4) > metrics.json
            params: [train.lr]
            metrics:
            - metrics.json: {cache: false}
        """;

    [Fact]
    public async Task Metrics_and_params_diff_compare_with_a_git_revision()
    {
        _dir.InitGit();
        _dir.Write("cairn.yaml", Yaml.Replace("python3 -c \"print('x')\" > /dev/null; ", ""));
        _dir.Write("params.yaml", "train:\n  lr: 0.1\n");
        Assert.Equal(0, (await _cli.RunAsync("repro")).ExitCode);
        _dir.Run("git", "add", "-A");
        _dir.Run("git", "commit", "-qm", "baseline");

        _dir.Write("params.yaml", "train:\n  lr: 0.3\n");
        var repro = await _cli.RunAsync("repro");
        Assert.Equal((0, ""), (repro.ExitCode, repro.Err));

        var metrics = await _cli.RunAsync("metrics", "diff");
        Assert.Equal(0, metrics.ExitCode);
        Assert.Matches(@"metrics\.json\s*│\s*acc\s*│\s*0\.1\s*│\s*0\.3\s*│\s*\+0\.2", metrics.Out);
        Assert.DoesNotContain("loss", metrics.Out);

        var ps = await _cli.RunAsync("params", "diff", "HEAD");
        Assert.Matches(@"params\.yaml\s*│\s*train\.lr\s*│\s*0\.1\s*│\s*0\.3", ps.Out);

        var show = await _cli.RunAsync("metrics", "show");
        Assert.Matches(@"acc\s*│\s*0\.3", show.Out);
        var bad = await _cli.RunAsync("params", "diff", "no-such-rev");
        Assert.Equal((2, $"error: 'no-such-rev' is not a git revision of {_dir.Path}" + Environment.NewLine), (bad.ExitCode, bad.Err));
    }

    [Fact]
    public async Task Status_explains_and_repro_reports_a_failure_with_exit_code_1()
    {
        _dir.Write("params.yaml", "train:\n  lr: 0.1\n");
        _dir.Write("cairn.yaml", "stages:\n  train:\n    cmd: echo boom >&2; exit 3\n    params: [train.lr]\n    outs: [m.bin]\n");
        var status = await _cli.RunAsync("status");
        Assert.Contains("train: stale", status.Out);
        Assert.Contains("never run (not in cairn.lock)", status.Out);

        var r = await _cli.RunAsync("repro");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("[train] boom", r.Out);
        Assert.StartsWith("error: stage 'train' failed with exit code 3 (log: .cairn/runs/", r.Err);
    }

    [Fact]
    public async Task A_bad_pipeline_prints_one_line_naming_file_and_rule()
    {
        _dir.Write("cairn.yaml", "stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o]\n");
        var r = await _cli.RunAsync("repro");
        Assert.Equal((2, "error: cairn.yaml: two stages write the same out 'o': 'a' and 'b' (an out may have one producer)" + Environment.NewLine), (r.ExitCode, r.Err));
        Assert.Equal("", r.Out);
    }

    [Fact]
    public async Task Dag_prints_mermaid_and_dot()
    {
        _dir.Write("in.txt", "1");
        _dir.Write("cairn.yaml", "stages:\n  a:\n    cmd: cp in.txt a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n  b:\n    cmd: cp a.txt b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n");
        Assert.Contains("s0 --> s1", (await _cli.RunAsync("dag", "--mermaid")).Out);
        Assert.Contains("\"a\" -> \"b\";", (await _cli.RunAsync("dag", "--format", "dot")).Out);
        Assert.Contains("b  <-  a", (await _cli.RunAsync("dag")).Out);
    }

    [Fact]
    public async Task Plots_render_png_and_html()
    {
        _dir.Write("cairn.yaml", "stages:\n  train:\n    cmd: printf 'step,loss\\n1,0.9\\n2,0.5\\n' > curve.csv\n    plots: [curve.csv]\n");
        Assert.Equal(0, (await _cli.RunAsync("repro")).ExitCode);
        var r = await _cli.RunAsync("plots", "-o", "out");
        Assert.Equal((0, ""), (r.ExitCode, r.Err));
        var png = File.ReadAllBytes(_dir["out/curve.csv.png"]);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.Contains("data:image/png;base64,", _dir.Read("out/index.html"));
    }
}

public sealed class ExpCliTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly CliHarness _cli;

    public ExpCliTests() => _cli = CliHarness.InFolder(_dir.Path);

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Exp_run_queue_run_all_and_show()
    {
        _dir.InitGit();
        _dir.Write("params.yaml", "train:\n  lr: 0.1\n");
        _dir.Write("cairn.yaml", "stages:\n  train:\n    cmd: printf '{\"acc\":%s}' $(grep lr params.yaml | cut -d' ' -f4) > metrics.json\n    params: [train.lr]\n    metrics:\n    - metrics.json: {cache: false}\n");
        _dir.Run("git", "add", "-A");
        _dir.Run("git", "commit", "-qm", "init");

        var run = await _cli.RunAsync("exp", "run", "--set-param", "train.lr=0.4", "--name", "lr04");
        Assert.Equal((0, ""), (run.ExitCode, run.Err));
        Assert.Contains("lr04: succeeded; metrics: acc=0.4", run.Out);
        Assert.Equal(0, (await _cli.RunAsync("exp", "run", "--queue", "-S", "train.lr=0.6", "-n", "q1")).ExitCode);
        Assert.Equal(0, (await _cli.RunAsync("exp", "run", "--queue", "-S", "train.lr=0.8", "-n", "q2")).ExitCode);
        var all = await _cli.RunAsync("exp", "run", "--run-all", "-j", "2");
        Assert.Equal((0, ""), (all.ExitCode, all.Err));

        var show = await _cli.RunAsync("exp", "show");
        Assert.Matches(@"lr04\s*│\s*succeeded\s*│\s*0\.4\s*│\s*0\.4", show.Out);
        Assert.Matches(@"q2\s*│\s*succeeded\s*│\s*0\.8\s*│\s*0\.8", show.Out);
        Assert.Equal("train:\n  lr: 0.1\n", _dir.Read("params.yaml"));

        var bad = await _cli.RunAsync("exp", "run", "-S", "train.nope=1");
        Assert.Equal((2, "error: --set-param train.nope: params.yaml has no key 'train.nope'" + Environment.NewLine), (bad.ExitCode, bad.Err));
    }
}

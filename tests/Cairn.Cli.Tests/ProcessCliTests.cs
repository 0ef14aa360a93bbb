using System.Diagnostics;
using Xunit;

namespace Cairn.Tests;

/// <summary>The real <c>cairn</c> process: signals, exit codes and what a user sees on the terminal.</summary>
/// <remarks>
/// Not run beside <see cref="ServeCommandTests"/>, which host a web server in this test process (its console lifetime takes
/// SIGINT and SIGTERM while it runs): with both at once, the Ctrl-C sent to a child <c>cairn repro</c> was lost in full runs.
/// </remarks>
[Collection(SignalTests.Collection)]
public sealed class ProcessCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Process Start(params string[] args) => CliHarness.StartProcess(_dir.Path, null, args);

    [Fact(Skip = "Fails in full CI runs of the whole solution (the child cairn repro ignores the SIGINT and runs its 60 s stage to the end, exit 0) while it passes alone and in a full run of the Cli tests with PostgreSQL; cause unknown: a watch of every test host thread during a full CI run found no SIGINT blocked or ignored, so the suspected inherited signal mask is not confirmed. The failure message prints the child's SigBlk/SigIgn for the next attempt.")]
    public async Task Ctrl_C_kills_the_running_stage_and_discards_its_partial_outputs()
    {
        var ct = TestContext.Current.CancellationToken;
        _dir.Write("cairn.yaml", "stages:\n  long:\n    cmd: echo $$ > stage.pid && mkdir -p out && echo partial > out/part.txt && exec sleep 60\n    outs: [out]\n");
        using var p = Start("repro");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        var sw = Stopwatch.StartNew();
        while (!File.Exists(_dir["out/part.txt"]) && sw.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50, ct);
        Assert.True(File.Exists(_dir["out/part.txt"]), "the stage never started");

        var signals = string.Join(", ", File.ReadLines($"/proc/{p.Id}/status").Where(l => l.StartsWith("Sig", StringComparison.Ordinal)));
        _dir.Run("kill", "-INT", p.Id.ToString()); // what Ctrl-C sends
        await p.WaitForExitAsync(ct);

        Assert.True(p.ExitCode == 130, $"exit code {p.ExitCode}; the child's signal state: {signals}");
        Assert.Contains("cairn: cancelled", await stderr);
        Assert.Contains("partial outputs were removed", await stdout);
        Assert.False(Directory.Exists(_dir["out"]));
        Assert.False(File.Exists(_dir["cairn.lock"]));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(45), $"took {sw.Elapsed}");
        string stagePid = _dir.Read("stage.pid").Trim();
        Assert.False(Directory.Exists("/proc/" + stagePid), $"stage process {stagePid} is still running");
    }

    [Fact]
    public async Task A_no_op_repro_after_the_memo_is_still_invalidated_by_a_param_change()
    {
        var ct = TestContext.Current.CancellationToken;
        _dir.Write("params.yaml", "lr: 1\n");
        _dir.Write("cairn.yaml", "stages:\n  s:\n    cmd: grep lr params.yaml > out.txt\n    params: [lr]\n    outs: [out.txt]\n");
        using var cli = CliHarness.InFolder(_dir.Path);
        Assert.Equal(0, (await cli.RunAsync("repro")).ExitCode);
        var old = DateTime.UtcNow.AddMinutes(-5);
        foreach (var f in new[] { "params.yaml", "cairn.yaml", "cairn.lock", "out.txt" }) File.SetLastWriteTimeUtc(_dir[f], old);
        Assert.Contains("Nothing to reproduce", (await cli.RunAsync("repro")).Out); // full check, writes the memo
        Assert.True(File.Exists(_dir[".cairn/tmp/uptodate"]));
        Assert.Contains("Nothing to reproduce", (await cli.RunAsync("repro")).Out); // memo

        _dir.Write("params.yaml", "lr: 2\n");
        var r = await cli.RunAsync("repro");
        Assert.Contains("Running stage 's' (param 'lr' changed: 1 -> 2)", r.Out);
        Assert.Equal("lr: 2\n", _dir.Read("out.txt"));
        await Task.CompletedTask.WaitAsync(ct);
    }

    [Fact]
    public async Task Tracked_repro_and_dataset_runs_end_before_exit_and_keep_a_failed_status()
    {
        var ct = TestContext.Current.CancellationToken;
        _dir.Write("data/raw.csv", "x,y\n1,2\n");
        _dir.Write("cairn.yaml", "stages:\n  bad:\n    cmd: exit 3\n    deps: [data/raw.csv]\n");

        using (var add = Start("data", "add", "data/raw.csv", "--name", "raw"))
        {
            var err = await add.StandardError.ReadToEndAsync(ct);
            await add.WaitForExitAsync(ct);
            Assert.Equal(0, add.ExitCode);
            // The process-exit hook must find no run left open (it used to try to end them again and warn).
            Assert.DoesNotContain("at process exit", err, StringComparison.Ordinal);
        }
        using (var repro = Start("repro"))
        {
            var err = await repro.StandardError.ReadToEndAsync(ct);
            await repro.WaitForExitAsync(ct);
            Assert.NotEqual(0, repro.ExitCode);
            Assert.DoesNotContain("at process exit", err, StringComparison.Ordinal);
        }

        // The failed stage's run stays FAILED after the process has exited.
        using var list = Start("runs", "list", "--experiment", Path.GetFileName(_dir.Path), "--tracking-uri", _dir[".cairn"], "--json");
        var runs = await list.StandardOutput.ReadToEndAsync(ct);
        await list.WaitForExitAsync(ct);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("\"FAILED\"", runs, StringComparison.Ordinal);
        Assert.DoesNotContain("\"FINISHED\"", runs, StringComparison.Ordinal);
    }
}

/// <summary>The test classes that either send signals to a child <c>cairn</c> or take them in this process: run one at a time.</summary>
public static class SignalTests
{
    public const string Collection = "Process signals";
}

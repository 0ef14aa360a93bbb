using Cairn.Cli;

namespace Cairn.Tests;

/// <summary>-C, Ctrl-C and shell completion: what every command gets from the one context and the one runner.</summary>
public sealed class CliContextTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Tracking_commands_resolve_a_relative_tracking_uri_against_C()
    {
        var project = Directory.CreateDirectory(_cli.Home.Combine("project")).FullName;
        (await _cli.RunAsync("-C", project, "experiments", "create", "here", "--tracking-uri", "./store")).Ok();
        Assert.True(File.Exists(Path.Combine(project, "store", "cairn.db")));
        Assert.Contains("here", (await _cli.RunAsync("experiments", "list", "--tracking-uri", Path.Combine(project, "store"))).Ok().Out);
        // --cwd is the long form; a relative -C is relative to the working folder.
        Assert.Contains("here", (await _cli.RunAsync("--cwd", "project", "experiments", "list", "--tracking-uri", "./store")).Ok().Out);
        Assert.Contains("here", (await _cli.RunAsync("experiments", "list", "-C", "project", "--tracking-uri", "sqlite:///store/cairn.db")).Ok().Out);
    }

    [Fact]
    public async Task A_relative_CAIRN_HOME_resolves_against_C()
    {
        var project = Directory.CreateDirectory(_cli.Home.Combine("project")).FullName;
        _cli.SetEnvironment("CAIRN_HOME", "home");
        (await _cli.RunAsync("-C", project, "experiments", "create", "in-home")).Ok();
        Assert.True(File.Exists(Path.Combine(project, "home", "cairn.db")));
        // CAIRN_TRACKING_URI relative too: CAIRN_HOME now points elsewhere, so only the -C resolution finds the store.
        _cli.SetEnvironment("CAIRN_HOME", "elsewhere");
        _cli.SetEnvironment("CAIRN_TRACKING_URI", "./home");
        Assert.Contains("in-home", (await _cli.RunAsync("-C", project, "experiments", "list")).Ok().Out);
        (await _cli.RunAsync("-C", project, "models", "list")).Ok();
        Assert.False(Directory.Exists(Path.Combine(project, "elsewhere")));
    }

    [Fact]
    public async Task Ctrl_C_stops_a_running_stage_and_exits_130_with_one_line()
    {
        using var dir = new TempDir();
        dir.Write("cairn.yaml", "stages:\n  long:\n    cmd: mkdir -p out && echo partial > out/part.txt && exec sleep 60\n    outs: [out]\n");
        using var cli = CliHarness.InFolder(dir.Path);
        using var ctrlC = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var running = cli.RunAsync(ctrlC.Token, "repro", "--no-track");
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!File.Exists(dir["out/part.txt"]) && waited.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.True(File.Exists(dir["out/part.txt"]), "the stage never started");

        await ctrlC.CancelAsync();
        var result = await running;

        Assert.Equal(ExitCodes.Cancelled, result.ExitCode);
        Assert.Equal("cairn: cancelled", Assert.Single(result.ErrLines).TrimEnd());
        Assert.False(Directory.Exists(dir["out"]));
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), $"took {waited.Elapsed}");
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _cairn_complete cairn")]
    [InlineData("zsh", "compdef _cairn_complete cairn")]
    public async Task Completion_prints_a_script_that_asks_the_suggest_directive(string shell, string hook)
    {
        var script = (await _cli.RunAsync("completion", shell)).Ok().Out;
        Assert.Contains(hook, script);
        Assert.Contains("cairn \"[suggest:${#line}]\" \"$line\"", script);
    }

    [Fact]
    public async Task The_suggest_directive_returns_subcommands_and_options()
    {
        var top = (await _cli.RunAsync("[suggest:8]", "cairn da")).Ok().Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // System.CommandLine suggests every command containing the text, not only those starting with it.
        Assert.Equal(["dag", "data", "validate"], top);
        var data = (await _cli.RunAsync("[suggest:11]", "cairn data ")).Ok().Out;
        foreach (var sub in new[] { "add", "checkout", "push", "pull", "remote" }) Assert.Contains(sub, data.Split('\n', StringSplitOptions.TrimEntries));
        var options = (await _cli.RunAsync("[suggest:19]", "cairn runs list --o")).Ok().Out;
        Assert.Contains("--order-by", options);
    }
}

using Xunit;

namespace Cairn.Tests;

public sealed class DataCliTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly CliHarness _cli;

    public DataCliTests() => _cli = CliHarness.InFolder(_dir.Path);

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Add_status_checkout_round_trip_through_the_cli()
    {
        _dir.Write("data/raw/a.txt", "a");
        _dir.Write("data/raw/b.txt", "b");

        var add = await _cli.RunAsync("data", "add", "data/raw");
        Assert.Equal(0, add.ExitCode);
        Assert.Contains("added data/raw (2 files, 2 B)", add.Out);
        Assert.True(File.Exists(_dir["data/raw.cairn"]));

        File.Delete(_dir["data/raw/a.txt"]);
        var status = await _cli.RunInAsync(_dir["data"], "data", "status");
        Assert.Contains("data/raw: modified (0 added, 0 modified, 1 deleted)", status.Out);
        Assert.Contains("deleted:  a.txt", status.Out);

        var co = await _cli.RunAsync("data", "checkout", "data/raw");
        Assert.Equal((0, ""), (co.ExitCode, co.Err));
        Assert.Equal("a", _dir.Read("data/raw/a.txt"));
        Assert.Contains("up to date", (await _cli.RunAsync("data", "status")).Out);
    }

    [Fact]
    public async Task In_a_terminal_add_and_checkout_draw_a_progress_bar_and_piped_output_has_none()
    {
        _dir.Write("data/big/a.bin", new string('a', 300_000));
        _dir.Write("data/big/b.bin", new string('b', 100_000));

        var add = await _cli.RunAsync(ansi: true, "data", "add", "data/big");
        Assert.Equal((0, ""), (add.ExitCode, add.Err));
        Assert.Contains("adding data/big", add.Out);
        Assert.Contains("100%", add.Out);
        Assert.Contains("added data/big (2 files, 390.6 KiB)", add.Out);

        Directory.Delete(_dir["data/big"], recursive: true);
        var checkout = await _cli.RunAsync(ansi: true, "data", "checkout");
        Assert.Equal((0, ""), (checkout.ExitCode, checkout.Err));
        Assert.Contains("checking out", checkout.Out);
        Assert.Contains("100%", checkout.Out);
        Assert.Equal("b", _dir.Read("data/big/b.bin")[..1]);

        Directory.Delete(_dir["data/big"], recursive: true);
        var piped = await _cli.RunAsync("data", "checkout");
        Assert.Equal("2 file(s) restored, 0 unchanged, 0 removed" + Environment.NewLine, piped.Out);
    }

    [Fact]
    public async Task A_missing_path_prints_one_line_and_exits_non_zero_without_stack_trace()
    {
        var r = await _cli.RunAsync("data", "add", "missing.csv");

        Assert.Equal(3, r.ExitCode);
        Assert.Equal("error: missing.csv: no such file or directory (cairn data add needs an existing path)" + Environment.NewLine, r.Err);
        Assert.DoesNotContain(" at ", r.Err);

        var verbose = await _cli.RunAsync("data", "add", "missing.csv", "--verbose");
        Assert.Contains(" at Cairn.Data.DataRepository", verbose.Err);
    }

    [Fact]
    public async Task Ls_lists_tracked_paths_and_gc_keeps_them()
    {
        _dir.Write("m.bin", "model v1");
        await _cli.RunAsync("data", "add", "m.bin");
        _dir.Write("m.bin", "model v2");
        await _cli.RunAsync("data", "add", "m.bin");

        var ls = await _cli.RunAsync("data", "ls");
        Assert.Contains("m.bin", ls.Out);
        var gc = await _cli.RunAsync("data", "gc");
        Assert.Equal(0, gc.ExitCode);
        Assert.Contains("removed 1 object(s)", gc.Out);
    }
}

public sealed class DataRemoteCliTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly CliHarness _cli;

    public DataRemoteCliTests() => _cli = CliHarness.InFolder(_dir.Path);

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Remote_add_push_and_pull_into_a_clone()
    {
        _dir.Write("a/data/x.csv", "1,2\n");
        Assert.Equal(0, (await _cli.RunInAsync(_dir["a"], "data", "add", "data/x.csv")).ExitCode);
        var add = await _cli.RunInAsync(_dir["a"], "data", "remote", "add", "store", "../remote", "--default");
        Assert.Equal((0, ""), (add.ExitCode, add.Err));
        var push = await _cli.RunInAsync(_dir["a"], "data", "push");
        Assert.Contains("push: 1 object(s) uploaded to 'store'", push.Out);

        Directory.CreateDirectory(_dir["b/data"]);
        Directory.CreateDirectory(_dir["b/.cairn"]);
        File.Copy(_dir["a/data/x.csv.cairn"], _dir["b/data/x.csv.cairn"]);
        File.Copy(_dir["a/.cairn/config.yaml"], _dir["b/.cairn/config.yaml"]);
        var pull = await _cli.RunInAsync(_dir["b"], "data", "pull");
        Assert.Equal((0, ""), (pull.ExitCode, pull.Err));
        Assert.Equal("1,2\n", _dir.Read("b/data/x.csv"));
    }

    [Fact]
    public async Task Push_without_a_remote_says_how_to_add_one()
    {
        _dir.Write("x.txt", "x");
        await _cli.RunAsync("data", "add", "x.txt");
        var r = await _cli.RunAsync("data", "push");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: no remote configured; run 'cairn data remote add NAME URL --default'" + Environment.NewLine, r.Err);
    }
}

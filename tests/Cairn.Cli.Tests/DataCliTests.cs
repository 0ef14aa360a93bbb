using Xunit;

namespace Cairn.Tests;

public sealed class DataCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Add_status_checkout_round_trip_through_the_cli()
    {
        _dir.Write("data/raw/a.txt", "a");
        _dir.Write("data/raw/b.txt", "b");

        var add = await CliHost.RunAsync(_dir.Path, "data", "add", "data/raw");
        Assert.Equal(0, add.Exit);
        Assert.Contains("added data/raw (2 files, 2 B)", add.Out);
        Assert.True(File.Exists(_dir["data/raw.cairn"]));

        File.Delete(_dir["data/raw/a.txt"]);
        var status = await CliHost.RunAsync(_dir["data"], "data", "status");
        Assert.Contains("data/raw: modified (0 added, 0 modified, 1 deleted)", status.Out);
        Assert.Contains("deleted:  a.txt", status.Out);

        var co = await CliHost.RunAsync(_dir.Path, "data", "checkout", "data/raw");
        Assert.Equal((0, ""), (co.Exit, co.Err));
        Assert.Equal("a", _dir.Read("data/raw/a.txt"));
        Assert.Contains("up to date", (await CliHost.RunAsync(_dir.Path, "data", "status")).Out);
    }

    [Fact]
    public async Task A_missing_path_prints_one_line_and_exits_non_zero_without_stack_trace()
    {
        var r = await CliHost.RunAsync(_dir.Path, "data", "add", "missing.csv");

        Assert.Equal(3, r.Exit);
        Assert.Equal("error: missing.csv: no such file or directory (cairn data add needs an existing path)" + Environment.NewLine, r.Err);
        Assert.DoesNotContain(" at ", r.Err);

        var verbose = await CliHost.RunAsync(_dir.Path, "data", "add", "missing.csv", "--verbose");
        Assert.Contains(" at Cairn.Data.DataRepository", verbose.Err);
    }

    [Fact]
    public async Task Ls_lists_tracked_paths_and_gc_keeps_them()
    {
        _dir.Write("m.bin", "model v1");
        await CliHost.RunAsync(_dir.Path, "data", "add", "m.bin");
        _dir.Write("m.bin", "model v2");
        await CliHost.RunAsync(_dir.Path, "data", "add", "m.bin");

        var ls = await CliHost.RunAsync(_dir.Path, "data", "ls");
        Assert.Contains("m.bin", ls.Out);
        var gc = await CliHost.RunAsync(_dir.Path, "data", "gc");
        Assert.Equal(0, gc.Exit);
        Assert.Contains("removed 1 object(s)", gc.Out);
    }
}

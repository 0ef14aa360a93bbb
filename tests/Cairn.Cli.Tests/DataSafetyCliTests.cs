using System.Diagnostics;
using Cairn.Data;
using Xunit;

namespace Cairn.Tests;

/// <summary>
/// What a user of the data commands sees when a pointer or manifest is hostile, and how the cache lock behaves between
/// real processes (the flock of one is seen by the other).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataSafetyCliTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly CliHarness _cli;

    public DataSafetyCliTests()
    {
        Directory.CreateDirectory(_dir["repo/.cairn"]);
        Directory.CreateDirectory(_dir["outside"]);
        _cli = CliHarness.InFolder(_dir["repo"]);
    }

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Process Start(params string[] args) => CliHarness.StartProcess(_dir["repo"], null, args);

    private static async Task<(int Code, string Out, string Err)> WaitAsync(Process p)
    {
        var stdout = p.StandardOutput.ReadToEndAsync(Ct);
        var stderr = p.StandardError.ReadToEndAsync(Ct);
        await p.WaitForExitAsync(Ct);
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Checkout_of_a_manifest_naming_a_path_outside_fails_with_one_line_and_exit_2()
    {
        var repo = DataRepository.Open(_dir["repo"]);
        string content = repo.Cache.AddBytes("payload"u8);
        string manifest = repo.Cache.AddBytes(System.Text.Encoding.UTF8.GetBytes($"cairn-manifest 1\n{content} 7 ../../outside/escaped.txt\n"));
        _dir.Write("repo/data/raw.cairn", $"path: raw\ntype: dir\nhash: sha256\ndigest: {manifest}\nsize: 7\nfiles: 1\n");

        foreach (var args in new[] { new[] { "data", "checkout" }, ["data", "checkout", "--force"] })
        {
            string line = (await _cli.RunAsync(args)).FailedWith(2);
            Assert.Equal($"error: {repo.Cache.ObjectPath(manifest)}: line 2: path '../../outside/escaped.txt' has a '..' segment; " +
                "paths in this file must be relative and stay inside the workspace", line);
        }
        Assert.Empty(Directory.GetFileSystemEntries(_dir["outside"]));
        Assert.False(Directory.Exists(_dir["repo/data/raw"]));
    }

    [Fact]
    public async Task A_pointer_whose_path_climbs_out_is_refused_by_every_data_command()
    {
        _dir.Write("repo/data/x.cairn", $"path: ../../outside/x\ntype: file\nhash: sha256\ndigest: {new string('a', 64)}\nsize: 1\n");
        foreach (var args in new[] { new[] { "data", "checkout", "--force" }, ["data", "status"], ["data", "gc"] })
        {
            string line = (await _cli.RunAsync(args)).FailedWith(2);
            Assert.Contains("data/x.cairn: field 'path' '../../outside/x' has a '..' segment", line);
        }
        Assert.Empty(Directory.GetFileSystemEntries(_dir["outside"]));
    }

    [Fact]
    public async Task Gc_in_another_process_refuses_or_waits_while_the_cache_is_held_and_add_waits_for_gc()
    {
        _dir.Write("repo/a.txt", "one");
        (await _cli.RunAsync("data", "add", "a.txt")).Ok();
        _dir.Write("repo/a.txt", "two");
        (await _cli.RunAsync("data", "add", "a.txt")).Ok();
        var repo = DataRepository.Open(_dir["repo"]);

        // This test process holds the cache as an add would; gc is a separate cairn process.
        using (repo.LockCache(cancellationToken: Ct))
        {
            var gc = await WaitAsync(Start("data", "gc"));
            Assert.Equal(5, gc.Code);
            Assert.Equal($"error: the data cache {repo.Cache.Root} is in use by another cairn command (data add, checkout, fetch, pull or repro); " +
                "run 'cairn data gc' again when it has finished, or pass --wait SECONDS", gc.Err.TrimEnd());
            Assert.Equal(2, repo.Cache.EnumerateDigests().Count());
        }

        var holder = repo.LockCache(cancellationToken: Ct);
        var sw = Stopwatch.StartNew();
        var waiting = Start("data", "gc", "--wait", "60");
        await Task.Delay(1500, Ct);
        Assert.False(waiting.HasExited, "gc --wait did not wait for the holder");
        holder.Dispose();
        var waited = await WaitAsync(waiting);
        Assert.Equal((0, ""), (waited.Code, waited.Err));
        Assert.Contains("removed 1 object(s)", waited.Out);
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(1.5));

        // gc (here: this process) holds the cache exclusively; an add in another process waits, then goes through.
        _dir.Write("repo/b.txt", "b");
        var gcLock = repo.LockCache(exclusive: true, cancellationToken: Ct);
        var add = Start("data", "add", "b.txt");
        await Task.Delay(1500, Ct);
        Assert.False(add.HasExited, "add did not wait for gc");
        Assert.False(File.Exists(_dir["repo/b.txt.cairn"]));
        gcLock.Dispose();
        var added = await WaitAsync(add);
        Assert.Equal((0, ""), (added.Code, added.Err));
        Assert.True(File.Exists(_dir["repo/b.txt.cairn"]));
    }

    [Fact]
    public async Task Add_fsyncs_the_object_before_renaming_it_and_its_folder_before_writing_the_pointer()
    {
        if (!File.Exists("/usr/bin/strace")) Assert.Skip("strace is not installed");
        _dir.WriteBytes("repo/big.bin", new byte[3 << 20]);
        File.WriteAllText(_dir["repo/.cairn/config.yaml"], "link_type: copy\n");
        string trace = _dir["trace.txt"];
        var start = new ProcessStartInfo("strace") { WorkingDirectory = _dir["repo"], RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-f", "-o", trace, "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "dotnet",
                     Path.Combine(AppContext.BaseDirectory, "cairn.dll"), "data", "add", "big.bin" })
            start.ArgumentList.Add(a);
        foreach (var name in new[] { "CAIRN_HOME", "CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI" }) start.Environment.Remove(name);
        var r = await WaitAsync(Process.Start(start)!);
        Assert.True(r.Code == 0, r.Err);

        var lines = File.ReadAllLines(trace);
        int objectRename = Array.FindIndex(lines, l => l.Contains("rename") && l.Contains(".part\"") && l.Contains("/objects/"));
        int pointerRename = Array.FindIndex(lines, l => l.Contains("rename") && l.Contains("big.bin.cairn\""));
        Assert.True(objectRename > 0, "no rename of a temp object into the cache:\n" + string.Join('\n', lines));
        Assert.True(pointerRename > objectRename, "the pointer was written before the object was in place");
        Assert.Contains(lines[..objectRename], l => l.Contains("fsync(") || l.Contains("fdatasync("));
        Assert.Contains(lines[objectRename..pointerRename], l => l.Contains("fsync("));
    }
}

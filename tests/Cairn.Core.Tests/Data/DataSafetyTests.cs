using Cairn.Data;
using Cairn.Data.Remotes;
using Cairn.Pipelines;
using Xunit;

namespace Cairn.Tests.Data;

/// <summary>
/// Pointer files, folder manifests and cairn.lock come from whoever can push to the repository or the remote: what they
/// name must stay inside the workspace. And the cache must hold only whole objects under their own digest, even when a
/// file changes while it is added or gc runs beside another command.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataSafetyTests : IDisposable
{
    private readonly TempDir _dir = new();
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private string RepoPath => _dir["repo"];

    private DataRepository Open(string? linkTypes = null, TimeProvider? clock = null, TimeSpan? lockWait = null)
    {
        Directory.CreateDirectory(Path.Combine(RepoPath, ".cairn"));
        return DataRepository.Open(RepoPath, new DataRepositoryOptions
        {
            LinkTypes = linkTypes is null ? null : DataConfig.ParseLinkTypes(linkTypes),
            TimeProvider = clock ?? TimeProvider.System,
            CacheLockWait = lockWait ?? TimeSpan.FromMinutes(1),
        });
    }

    /// <summary>Stores a hand-made manifest (as a hostile remote or commit would) and points data/raw.cairn at it.</summary>
    private string TrackHostileFolder(DataRepository repo, params string[] paths)
    {
        string content = repo.Cache.AddBytes("payload"u8);
        var lines = paths.Select(p => $"{content} 7 {p}").Order(StringComparer.Ordinal);
        string manifest = repo.Cache.AddBytes(System.Text.Encoding.UTF8.GetBytes("cairn-manifest 1\n" + string.Join("\n", lines) + "\n"));
        _dir.Write("repo/data/raw.cairn", $"path: raw\ntype: dir\nhash: sha256\ndigest: {manifest}\nsize: 7\nfiles: {paths.Length}\n");
        return manifest;
    }

    [Theory]
    [InlineData("../../outside/escaped.txt")]
    [InlineData("sub/../../../outside/escaped.txt")]
    [InlineData("..\\..\\outside\\escaped.txt")]
    [InlineData("ABSOLUTE")]
    public async Task A_manifest_path_that_leaves_the_folder_is_refused_and_nothing_is_written(string path)
    {
        Directory.CreateDirectory(_dir["outside"]);
        if (path == "ABSOLUTE") path = _dir["outside/escaped.txt"];
        var repo = Open();
        string manifest = TrackHostileFolder(repo, "fine.txt", path);

        foreach (var force in new[] { false, true })
        {
            var e = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Open().CheckoutAsync(force: force, cancellationToken: Ct));
            Assert.Contains(repo.Cache.ObjectPath(manifest), e.Message);
            Assert.Contains($"path '{path}'", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        Assert.Empty(Directory.GetFileSystemEntries(_dir["outside"]));
        Assert.False(File.Exists(_dir["escaped.txt"]));
        Assert.False(Directory.Exists(_dir["repo/data/raw"]));
    }

    [Fact]
    public void Manifest_lines_with_a_bad_digest_size_or_path_are_refused_naming_the_line()
    {
        string good = new('a', 64);
        var e = Assert.Throws<InvalidParameterValueException>(() => DirectoryManifest.Parse(
            System.Text.Encoding.UTF8.GetBytes($"cairn-manifest 1\n{good} 1 a\n{"../../../../etc/" + new string('x', 48)} 1 b\n"), "m"));
        Assert.Equal($"m: line 3: digest '../../../../etc/{new string('x', 48)}' must be 64 lowercase hex characters", e.Message);
        e = Assert.Throws<InvalidParameterValueException>(() => DirectoryManifest.Parse(
            System.Text.Encoding.UTF8.GetBytes($"cairn-manifest 1\n{good.ToUpperInvariant()} 1 a\n"), "m"));
        Assert.Contains("line 2: digest", e.Message);
        e = Assert.Throws<InvalidParameterValueException>(() => DirectoryManifest.Parse(
            System.Text.Encoding.UTF8.GetBytes($"cairn-manifest 1\n{good} 1 a\0b\n"), "m"));
        Assert.Equal("m: line 2: path 'a\\u0000b' contains a NUL character; paths in this file must be relative and stay inside the workspace", e.Message);
        Assert.Throws<InvalidStateException>(() => DirectoryManifest.Parse(System.Text.Encoding.UTF8.GetBytes($"cairn-manifest 1\n{good} -1 a\n"), "m"));
        // A name a checkout would refuse is not stored either (legal on Linux, a climb on Windows).
        Assert.Throws<InvalidParameterValueException>(() => new DirectoryManifest([new("..\\x", good, 1)]).Serialize());
    }

    [Theory]
    [InlineData("../raw")]
    [InlineData("..\\raw")]
    [InlineData("/etc/passwd")]
    [InlineData("C:/Windows/x")]
    [InlineData("a/../../b")]
    public void A_pointer_path_outside_its_folder_is_refused_naming_file_and_field(string path)
    {
        var e = Assert.Throws<InvalidParameterValueException>(() =>
            DataPointer.Parse($"path: '{path}'\ntype: file\ndigest: {new string('a', 64)}\nsize: 1\n", "data/x.cairn"));
        Assert.StartsWith($"data/x.cairn: field 'path' '{path}' ", e.Message);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("aaaa")]
    public void A_pointer_with_a_bad_hash_is_refused_before_it_becomes_a_cache_path(string digest)
    {
        _dir.Write("repo/x.cairn", $"path: x\ntype: file\nhash: sha256\ndigest: '{digest}'\nsize: 1\n");
        var e = Assert.Throws<InvalidParameterValueException>(() => Open().FindTracked());
        Assert.Equal($"{_dir["repo/x.cairn"]}: field 'digest' must be 64 lowercase hex characters", e.Message);
    }

    [Fact]
    public void A_lock_file_path_outside_the_workspace_or_a_bad_digest_is_refused()
    {
        string Lock(string path, string digest) =>
            $"schema: 1\nstages:\n  s:\n    cmd: x\n    outs:\n    - path: '{path}'\n      type: file\n      digest: {digest}\n      size: 1\n";
        var e = Assert.Throws<InvalidParameterValueException>(() => LockFile.Parse(Lock("../outside.bin", new string('a', 64)), "cairn.lock"));
        Assert.Equal("cairn.lock: stages.s: outs path '../outside.bin' has a '..' segment; paths in this file must be relative and stay inside the workspace", e.Message);
        Assert.Throws<InvalidParameterValueException>(() => LockFile.Parse(Lock("/tmp/x", new string('a', 64)), "cairn.lock"));
        e = Assert.Throws<InvalidParameterValueException>(() => LockFile.Parse(Lock("model.bin", "../../x"), "cairn.lock"));
        Assert.Contains("'model.bin' has no valid digest", e.Message);
    }

    [Fact]
    public async Task Checkout_force_does_not_write_or_delete_through_a_link_to_outside()
    {
        var outside = Directory.CreateDirectory(_dir["outside"]).FullName;
        File.WriteAllText(Path.Combine(outside, "keep.txt"), "precious");
        _dir.Write("repo/data/raw/sub/a.txt", "a");
        _dir.Write("repo/data/raw/b.txt", "b");
        var repo = Open();
        await repo.AddAsync(_dir["repo/data/raw"], cancellationToken: Ct);

        // A sub-folder of the tracked folder replaced by a link to elsewhere (a checked-out repository can hold links).
        Directory.Delete(_dir["repo/data/raw/sub"], recursive: true);
        Directory.CreateSymbolicLink(_dir["repo/data/raw/sub"], outside);
        var e = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Open().CheckoutAsync(force: true, cancellationToken: Ct));
        Assert.Contains("symbolic link leads outside the workspace", e.Message);
        Assert.Equal(["keep.txt"], Directory.GetFiles(outside).Select(Path.GetFileName));

        // The tracked folder itself a link to elsewhere: force would delete the files the manifest lacks.
        File.Delete(_dir["repo/data/raw/sub"]);
        Directory.Delete(_dir["repo/data/raw"], recursive: true);
        Directory.CreateSymbolicLink(_dir["repo/data/raw"], outside);
        e = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Open().CheckoutAsync(force: true, cancellationToken: Ct));
        Assert.StartsWith("data/raw: a symbolic link leads outside the workspace", e.Message);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(outside, "keep.txt")));
        Assert.Single(Directory.GetFileSystemEntries(outside));

        // A link that stays inside the workspace is fine.
        File.Delete(_dir["repo/data/raw"]);
        Directory.CreateDirectory(_dir["repo/elsewhere"]);
        Directory.CreateSymbolicLink(_dir["repo/data/raw"], "../elsewhere");
        var ok = await Open().CheckoutAsync(force: true, cancellationToken: Ct);
        Assert.Equal(2, ok.Linked);
        Assert.Equal("a", File.ReadAllText(_dir["repo/elsewhere/sub/a.txt"]));
    }

    [Theory]
    [InlineData("hardlink")]
    [InlineData("copy")]
    [InlineData("reflink,copy")]
    [InlineData("copy,hardlink")]
    public async Task A_file_changed_between_hash_and_store_does_not_enter_the_cache_under_the_old_digest(string linkTypes)
    {
        _dir.WriteBytes("repo/data.bin", new byte[200_000]);
        string oldDigest = await ContentHasher.HashFileAsync(_dir["repo/data.bin"], Ct);
        // A clock well past the file's mtime: the stat, not the "modified within a second" rehash, has to notice.
        var repo = Open(linkTypes, new Cairn.Tests.Data.ManualTimeProvider(DateTimeOffset.UtcNow.AddMinutes(5)));
        repo.BetweenHashAndStore = path => File.AppendAllText(path, "written by another program");

        var e = await Assert.ThrowsAsync<InvalidStateException>(() => repo.AddAsync(_dir["repo/data.bin"], cancellationToken: Ct));
        Assert.Equal("data.bin: the file changed while it was being added; add it again when nothing writes to it", e.Message);
        Assert.False(repo.Cache.Contains(oldDigest));
        Assert.All(repo.Cache.EnumerateDigests(), d => Assert.True(repo.Cache.Verify(d, Ct), $"object {d} does not hold its digest's content"));
        Assert.False(File.Exists(_dir["repo/data.bin.cairn"]));
        Assert.Empty(Directory.Exists(repo.Cache.TempDir) ? Directory.GetFiles(repo.Cache.TempDir) : []);

        // Nothing writes any more: the same add goes through.
        repo.BetweenHashAndStore = null;
        var r = await repo.AddAsync(_dir["repo/data.bin"], cancellationToken: Ct);
        Assert.True(repo.Cache.Verify(r.Entry.Pointer.Digest, Ct));
    }

    [Fact]
    public async Task Gc_refuses_or_waits_while_an_add_holds_the_cache_and_add_waits_for_gc()
    {
        _dir.Write("repo/a.txt", "one");
        var repo = Open();
        await repo.AddAsync(_dir["repo/a.txt"], cancellationToken: Ct);
        _dir.Write("repo/a.txt", "two");
        await repo.AddAsync(_dir["repo/a.txt"], cancellationToken: Ct); // "one" is garbage now

        var gcRepo = Open();
        using (repo.LockCache(cancellationToken: Ct)) // what add, checkout, fetch and repro hold
        {
            var e = Assert.Throws<CairnException>(() => gcRepo.CollectGarbage([], dryRun: false));
            Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, e.ErrorCode);
            Assert.Contains("is in use by another cairn command", e.Message);
            Assert.Equal(1, gcRepo.CollectGarbage([], dryRun: true).Removed); // a dry run deletes nothing and needs no lock
        }
        Assert.Equal(2, repo.Cache.EnumerateDigests().Count());

        // gc waits for the holder when told to.
        var holder = repo.LockCache(cancellationToken: Ct);
        var release = Task.Delay(300, Ct).ContinueWith(_ => holder.Dispose(), Ct);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var r = gcRepo.CollectGarbage([], dryRun: false, lockWait: TimeSpan.FromSeconds(30));
        await release;
        Assert.True(started.ElapsedMilliseconds >= 250, $"gc did not wait ({started.ElapsedMilliseconds} ms)");
        Assert.Equal(1, r.Removed);

        // While gc holds the cache, add waits for it (and gives up after its wait with a clear message).
        _dir.Write("repo/b.txt", "b");
        using (gcRepo.LockCache(exclusive: true, cancellationToken: Ct))
        {
            var e = await Assert.ThrowsAsync<CairnException>(() => Open(lockWait: TimeSpan.FromMilliseconds(200)).AddAsync(_dir["repo/b.txt"], cancellationToken: Ct));
            Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, e.ErrorCode);
            Assert.Contains("is locked by 'cairn data gc'", e.Message);
        }
        var gcLock = gcRepo.LockCache(exclusive: true, cancellationToken: Ct);
        var add = Open().AddAsync(_dir["repo/b.txt"], cancellationToken: Ct);
        await Task.Delay(300, Ct);
        Assert.False(add.IsCompleted);
        gcLock.Dispose();
        await add;
        Assert.True(File.Exists(_dir["repo/b.txt.cairn"]));
    }

    [Fact]
    public async Task Push_holds_the_cache_so_gc_cannot_delete_what_it_is_sending()
    {
        _dir.Write("repo/a.txt", "pushed");
        var repo = Open(lockWait: TimeSpan.FromMilliseconds(200));
        await repo.AddAsync(_dir["repo/a.txt"], cancellationToken: Ct);
        var roots = repo.PointerRoots().ToList();
        var remote = new FolderRemote("backup", _dir["remote"]);

        // While gc holds the cache, push waits for it and then gives up with gc's name in the message, sending nothing.
        using (Open().LockCache(exclusive: true, cancellationToken: Ct))
        {
            var e = await Assert.ThrowsAsync<CairnException>(() => new DataTransfer(repo, remote).PushAsync(roots, cancellationToken: Ct));
            Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, e.ErrorCode);
            Assert.Contains("is locked by 'cairn data gc'", e.Message);
        }
        Assert.False(Directory.Exists(_dir["remote"]) && Directory.EnumerateFiles(_dir["remote"], "*", SearchOption.AllDirectories).Any());

        // And gc cannot start while a push holds it.
        var pushing = repo.LockCache(cancellationToken: Ct);
        var gc = Assert.Throws<CairnException>(() => Open().CollectGarbage([], dryRun: false));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, gc.ErrorCode);
        pushing.Dispose();
        Assert.Equal(1, (await new DataTransfer(repo, remote).PushAsync(roots, cancellationToken: Ct)).Transferred);
    }

    [Fact]
    public void Objects_are_flushed_to_disk_before_rename_and_their_folders_after()
    {
        // The calls are what can be checked without cutting power: fsync succeeds on a cache file and folder.
        var repo = Open();
        string digest = repo.Cache.AddBytes("durable"u8);
        NativeFile.FlushToDisk(repo.Cache.ObjectPath(digest));
        NativeFile.FlushDirectoryToDisk(Path.GetDirectoryName(repo.Cache.ObjectPath(digest))!);
        repo.Cache.SyncDirectories();
        Assert.Throws<IOException>(() => NativeFile.FlushToDisk(_dir["missing"]));
    }
}

using Xunit;
using System.Security.Cryptography;
using Cairn.Data;

namespace Cairn.Tests.Data;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataRepositoryTests : IDisposable
{
    private readonly TempDir _dir = new();
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private DataRepository Open(string? linkTypes = null)
        => DataRepository.Open(_dir.Path, new DataRepositoryOptions { LinkTypes = linkTypes is null ? null : DataConfig.ParseLinkTypes(linkTypes) });

    private static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    private int ObjectCount(DataRepository repo) => repo.Cache.EnumerateDigests().Count();

    [Fact]
    public async Task Add_file_writes_pointer_gitignore_and_read_only_cache_object()
    {
        var bytes = RandomNumberGenerator.GetBytes(300_000);
        _dir.WriteBytes("data/model.bin", bytes);
        var repo = Open();

        var r = await repo.AddAsync(_dir["data/model.bin"], cancellationToken: Ct);

        Assert.Equal("data/model.bin", r.Entry.Path);
        Assert.Equal(Sha(bytes), r.Entry.Pointer.Digest);
        var pointer = DataPointer.Load(_dir["data/model.bin.cairn"]);
        Assert.Equal(new DataPointer("model.bin", EntryKind.File, Sha(bytes), bytes.Length), pointer);
        Assert.Contains("/model.bin", _dir.Read("data/.gitignore").Split('\n'));
        string obj = repo.Cache.ObjectPath(Sha(bytes));
        Assert.Equal(bytes, File.ReadAllBytes(obj));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(obj));
    }

    [Fact]
    public async Task Adding_twice_keeps_one_gitignore_line()
    {
        _dir.Write("a.txt", "a");
        var repo = Open();
        await repo.AddAsync(_dir["a.txt"], cancellationToken: Ct);
        await repo.AddAsync(_dir["a.txt"], cancellationToken: Ct);
        Assert.Single(_dir.Read(".gitignore").Split('\n'), l => l == "/a.txt");
    }

    [Fact]
    public async Task One_file_change_in_a_folder_stores_one_new_object_and_one_manifest()
    {
        for (int i = 0; i < 50; i++) _dir.Write($"raw/part{i / 10}/f{i}.txt", $"row {i}");
        var repo = Open();
        var first = await repo.AddAsync(_dir["raw"], cancellationToken: Ct);
        Assert.Equal(50, first.Entry.Pointer.Files);
        Assert.Equal(51, ObjectCount(repo)); // 50 files + manifest

        _dir.Write("raw/part3/f33.txt", "changed");
        var second = await repo.AddAsync(_dir["raw"], cancellationToken: Ct);

        Assert.NotEqual(first.Entry.Pointer.Digest, second.Entry.Pointer.Digest);
        Assert.Equal(53, ObjectCount(repo));
        var manifest = repo.Cache.LoadManifest(second.Entry.Pointer.Digest);
        Assert.Equal(Sha("changed"u8.ToArray()), manifest.Entries.Single(e => e.Path == "part3/f33.txt").Digest);
    }

    [Fact]
    public async Task Status_reports_added_modified_and_deleted_files()
    {
        for (int i = 0; i < 5; i++) _dir.Write($"raw/f{i}.txt", $"v{i}");
        var repo = Open();
        await repo.AddAsync(_dir["raw"], cancellationToken: Ct);
        Assert.Equal(DataChange.Unchanged, (await repo.StatusAsync(cancellationToken: Ct)).Single().Change);

        _dir.Write("raw/f1.txt", "edited");
        File.Delete(_dir["raw/f2.txt"]);
        _dir.Write("raw/sub/new.txt", "new");
        var s = (await Open().StatusAsync(cancellationToken: Ct)).Single();

        Assert.Equal(DataChange.Modified, s.Change);
        Assert.Equal(["sub/new.txt"], s.Added);
        Assert.Equal(["f1.txt"], s.Modified);
        Assert.Equal(["f2.txt"], s.Deleted);
    }

    [Fact]
    public async Task Status_trusts_the_stat_cache_and_does_not_rehash_files_with_unchanged_stat()
    {
        var stamp = new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        _dir.Write("raw/a.txt", "aaaa");
        File.SetLastWriteTimeUtc(_dir["raw/a.txt"], stamp);
        var repo = Open();
        await repo.AddAsync(_dir["raw"], cancellationToken: Ct);

        // Same size, same inode, same mtime: the stat cache answers and the content is not read.
        await using (var fs = new FileStream(_dir["raw/a.txt"], FileMode.Open, FileAccess.Write)) fs.Write("bbbb"u8);
        File.SetLastWriteTimeUtc(_dir["raw/a.txt"], stamp);
        Assert.Equal(DataChange.Unchanged, (await Open().StatusAsync(cancellationToken: Ct)).Single().Change);

        // A different mtime makes it hash the file and see the change.
        File.SetLastWriteTimeUtc(_dir["raw/a.txt"], stamp.AddSeconds(1));
        Assert.Equal(["a.txt"], (await Open().StatusAsync(cancellationToken: Ct)).Single().Modified);
    }

    [Fact]
    public async Task The_folder_snapshot_fast_path_still_sees_renames_additions_and_edits()
    {
        var old = DateTime.UtcNow.AddHours(-1);
        for (int i = 0; i < 30; i++) File.SetLastWriteTimeUtc(_dir.Write($"raw/s{i % 3}/f{i}.txt", $"v{i}"), old);
        var repo = Open();
        await repo.AddAsync(_dir["raw"], cancellationToken: Ct);
        Assert.Equal(DataChange.Unchanged, (await Open().StatusAsync(cancellationToken: Ct)).Single().Change); // writes the snapshot
        Assert.Single(Directory.GetFiles(_dir[".cairn/tmp/dirsnap"]));
        Assert.Equal(DataChange.Unchanged, (await Open().StatusAsync(cancellationToken: Ct)).Single().Change); // uses it

        File.Move(_dir["raw/s1/f4.txt"], _dir["raw/s1/g4.txt"]); // same inode, size and mtime: only the name differs
        var s = (await Open().StatusAsync(cancellationToken: Ct)).Single();
        Assert.Equal(["s1/g4.txt"], s.Added);
        Assert.Equal(["s1/f4.txt"], s.Deleted);
        File.Move(_dir["raw/s1/g4.txt"], _dir["raw/s1/f4.txt"]);
        Assert.Equal(DataChange.Unchanged, (await Open().StatusAsync(cancellationToken: Ct)).Single().Change);

        File.SetLastWriteTimeUtc(_dir.Write("raw/s2/extra.txt", "x"), old);
        Assert.Equal(["s2/extra.txt"], (await Open().StatusAsync(cancellationToken: Ct)).Single().Added);
        File.Delete(_dir["raw/s2/extra.txt"]);

        File.WriteAllText(_dir["raw/s0/f0.txt"], "V0");
        Assert.Equal(["s0/f0.txt"], (await Open().StatusAsync(cancellationToken: Ct)).Single().Modified);
    }

    [Fact]
    public async Task Checkout_restores_a_folder_and_refuses_to_drop_uncached_changes()
    {
        for (int i = 0; i < 4; i++) _dir.Write($"raw/f{i}.txt", $"v{i}");
        var repo = Open();
        await repo.AddAsync(_dir["raw"], cancellationToken: Ct);
        Directory.Delete(_dir["raw"], recursive: true);

        var r = await Open().CheckoutAsync(cancellationToken: Ct);
        Assert.Equal(4, r.Linked);
        Assert.Equal("v2", _dir.Read("raw/f2.txt"));

        _dir.Write("raw/f2.txt", "precious edit");
        var e = await Assert.ThrowsAsync<InvalidStateException>(() => Open().CheckoutAsync(cancellationToken: Ct));
        Assert.Contains("raw/f2.txt", e.Message);
        Assert.Equal("precious edit", _dir.Read("raw/f2.txt"));

        await Open().CheckoutAsync(force: true, cancellationToken: Ct);
        Assert.Equal("v2", _dir.Read("raw/f2.txt"));
    }

    [Fact]
    public async Task Editing_a_copied_checkout_never_alters_the_cache_object()
    {
        _dir.Write("m.bin", "original");
        var repo = Open("copy");
        var added = await repo.AddAsync(_dir["m.bin"], cancellationToken: Ct);
        File.Delete(_dir["m.bin"]);
        await Open("copy").CheckoutAsync(cancellationToken: Ct);

        File.AppendAllText(_dir["m.bin"], " + user edit");

        Assert.True(repo.Cache.Verify(added.Entry.Pointer.Digest, Ct));
        Assert.Equal("original", File.ReadAllText(repo.Cache.ObjectPath(added.Entry.Pointer.Digest)));
    }

    [Fact]
    public async Task Hardlinked_checkout_shares_the_read_only_object()
    {
        _dir.Write("m.bin", "shared");
        var repo = Open("hardlink,copy");
        var added = await repo.AddAsync(_dir["m.bin"], cancellationToken: Ct);
        File.Delete(_dir["m.bin"]);
        await Open("hardlink,copy").CheckoutAsync(cancellationToken: Ct);

        Assert.True(NativeFile.TryGetStat(_dir["m.bin"], out var ws));
        Assert.True(NativeFile.TryGetStat(repo.Cache.ObjectPath(added.Entry.Pointer.Digest), out var obj));
        Assert.Equal(obj.Inode, ws.Inode);
        Assert.False(File.GetUnixFileMode(_dir["m.bin"]).HasFlag(UnixFileMode.UserWrite));
    }

    [Fact]
    public async Task Corrupted_cache_object_is_detected_by_verify_and_by_checkout_verify()
    {
        _dir.Write("d/a.txt", "alpha");
        _dir.Write("d/b.txt", "beta");
        var repo = Open();
        await repo.AddAsync(_dir["d"], cancellationToken: Ct);
        string digest = Sha("beta"u8.ToArray());
        string obj = repo.Cache.ObjectPath(digest);
        File.SetUnixFileMode(obj, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(obj, "BETA"); // bit rot, same size

        File.Delete(_dir["d/b.txt"]);
        var e = await Assert.ThrowsAsync<InvalidStateException>(() => Open().CheckoutAsync(verify: true, cancellationToken: Ct));
        Assert.Contains(obj, e.Message);

        var bad = await Open().VerifyCacheAsync(cancellationToken: Ct);
        Assert.Equal([digest], bad);
        Assert.False(File.Exists(obj));
    }

    [Fact]
    public async Task Gc_removes_only_unreferenced_objects()
    {
        _dir.Write("a.txt", "one");
        var repo = Open();
        await repo.AddAsync(_dir["a.txt"], cancellationToken: Ct);
        _dir.Write("a.txt", "two");
        await repo.AddAsync(_dir["a.txt"], cancellationToken: Ct);
        _dir.Write("keep.txt", "kept by a lock file");
        string extra = repo.Cache.AddBytes("kept by a lock file"u8);

        var dry = repo.CollectGarbage([new CacheRoot(extra, EntryKind.File)], dryRun: true);
        Assert.Equal(1, dry.Removed);
        Assert.True(repo.Cache.Contains(Sha("one"u8.ToArray())));

        var r = repo.CollectGarbage([new CacheRoot(extra, EntryKind.File)], dryRun: false);
        Assert.Equal(new GcResult(1, 2, 3), r);
        Assert.False(repo.Cache.Contains(Sha("one"u8.ToArray())));
        Assert.True(repo.Cache.Contains(Sha("two"u8.ToArray())));
        Assert.True(repo.Cache.Contains(extra));
    }

    [Fact]
    public async Task Adding_a_missing_path_names_it()
    {
        var e = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => Open().AddAsync(_dir["nope/data.csv"], cancellationToken: Ct));
        Assert.Equal("nope/data.csv: no such file or directory (cairn data add needs an existing path)", e.Message);
    }

    [Fact]
    public void A_pointer_with_a_bad_digest_is_refused_naming_file_and_field()
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => DataPointer.Parse("path: a\ntype: file\ndigest: xyz\nsize: 1\n", "a.cairn"));
        Assert.Equal("a.cairn: field 'digest' must be 64 lowercase hex characters", e.Message);
        e = Assert.Throws<InvalidParameterValueException>(() => DataPointer.Parse("path: a\ntype: blob\n", "b.cairn"));
        Assert.Contains("'type'", e.Message);
    }

    [Fact]
    public async Task Dataset_registration_profiles_a_csv()
    {
        _dir.Write("iris.csv", "sepal,species,flag\n5.1,setosa,true\n4.9,,false\n6.3,virginica,true\n");
        var r = await Open().AddAsync(_dir["iris.csv"], new DataAddOptions { DatasetName = "iris", Source = "https://example.com/iris.csv" }, Ct);

        var ds = r.Dataset!;
        Assert.Equal(("iris", r.Entry.Pointer.Digest, "https", 3L), (ds.Name, ds.Digest, ds.SourceType, ds.Rows!.Value));
        Assert.Equal(["double", "string", "bool"], ds.Schema!.Select(c => c.Type));
        Assert.Equal(1, ds.Schema![1].Missing);
        Assert.Equal(4.9, ds.Schema![0].Min);
        Assert.Single(DatasetRecord.LoadAll(_dir[".cairn/datasets"]));
    }

    [Fact]
    public async Task Sha256_matches_sha256sum_on_the_same_file()
    {
        var bytes = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        string f = _dir.WriteBytes("big.bin", bytes);
        string reference = _dir.Run("sha256sum", f).Split(' ')[0];
        Assert.Equal(reference, await ContentHasher.HashFileAsync(f, Ct));
        Assert.Equal(reference, (await ContentHasher.HashFilesAsync([f, f], cancellationToken: Ct))[1]);
    }

    [Fact]
    public void Manifest_round_trips_and_rejects_duplicates()
    {
        var m = new DirectoryManifest([new("b c.txt", new string('b', 64), 2), new("a/x", new string('a', 64), 1)]);
        var back = DirectoryManifest.Parse(m.Serialize(), "test");
        Assert.Equal(m.Entries, back.Entries);
        Assert.Equal("a/x", back.Entries[0].Path);
        Assert.Throws<InvalidParameterValueException>(() => new DirectoryManifest([new("a", new string('a', 64), 1), new("a", new string('b', 64), 1)]));
    }
}

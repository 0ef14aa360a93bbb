using System.Security.Cryptography;
using System.Text;
using Cairn.Artifacts;

namespace Cairn.Tests.Artifacts;

public sealed class LocalArtifactStoreTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _root;
    private readonly string _outside;
    private readonly LocalArtifactStore _store;

    public LocalArtifactStoreTests()
    {
        _root = _temp.Combine("root");
        _outside = Directory.CreateDirectory(_temp.Combine("outside")).FullName;
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), "secret");
        _store = new LocalArtifactStore(_root);
    }

    public void Dispose() => _temp.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<long> WriteTextAsync(string path, string text) => _store.WriteAsync(path, new MemoryStream(Encoding.UTF8.GetBytes(text)), Ct);

    private async Task<string> ReadTextAsync(string path)
    {
        await using var stream = await _store.OpenReadAsync(path, Ct);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(Ct);
    }

    [Fact]
    public async Task Write_then_read_round_trips_in_nested_folders_created_on_demand()
    {
        Assert.Equal(5, await WriteTextAsync("a/b/c/file.txt", "hello"));
        Assert.Equal("hello", await ReadTextAsync("a/b/c/file.txt"));
        Assert.Equal("hello", await File.ReadAllTextAsync(Path.Combine(_root, "a", "b", "c", "file.txt"), Ct));
    }

    [Fact]
    public async Task List_is_non_recursive_sorted_with_sizes_for_files_only()
    {
        await WriteTextAsync("z.txt", "12345");
        await WriteTextAsync("b/inner.txt", "x");
        await WriteTextAsync("a.bin", "abc");
        await WriteTextAsync("b/deeper/more.txt", "y");

        var root = await _store.ListAsync("", Ct);
        Assert.Equal(
            [new ArtifactFileInfo("a.bin", false, 3), new ArtifactFileInfo("b", true, null), new ArtifactFileInfo("z.txt", false, 5)],
            root);
        var b = await _store.ListAsync("b", Ct);
        Assert.Equal([new ArtifactFileInfo("b/deeper", true, null), new ArtifactFileInfo("b/inner.txt", false, 1)], b);
    }

    [Fact]
    public async Task Listing_a_missing_folder_or_a_file_is_empty_as_in_MLflow()
    {
        Assert.Empty(await _store.ListAsync("nothing/here", Ct));
        Assert.Empty(await _store.ListAsync(null, Ct)); // root not created yet
        await WriteTextAsync("f.txt", "1");
        Assert.Empty(await _store.ListAsync("f.txt", Ct));
    }

    [Fact]
    public async Task Reading_a_missing_file_is_resource_does_not_exist()
    {
        var e = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => _store.OpenReadAsync("missing/file.txt", Ct));
        Assert.Contains("missing/file.txt", e.Message);
    }

    [Fact]
    public async Task Reading_a_folder_or_the_root_is_refused()
    {
        await WriteTextAsync("d/f.txt", "1");
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.OpenReadAsync("d", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.OpenReadAsync("", Ct));
    }

    [Fact]
    public async Task Write_replaces_an_existing_file()
    {
        await WriteTextAsync("f.txt", "first version, longer");
        await WriteTextAsync("f.txt", "second");
        Assert.Equal("second", await ReadTextAsync("f.txt"));
    }

    [Fact]
    public async Task A_write_failing_midway_keeps_the_old_file_and_leaves_no_partial_file()
    {
        await WriteTextAsync("d/model.bin", "old");
        var e = await Assert.ThrowsAsync<IOException>(() =>
            _store.WriteAsync("d/model.bin", new GeneratedStream(10 << 20, failAfter: 3 << 20), Ct));
        Assert.Contains("Generated failure", e.Message);

        Assert.Equal("old", await ReadTextAsync("d/model.bin"));
        Assert.Equal(["model.bin"], Directory.GetFileSystemEntries(Path.Combine(_root, "d")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_new_file_failing_midway_does_not_appear_at_all()
    {
        await Assert.ThrowsAsync<IOException>(() => _store.WriteAsync("d/new.bin", new GeneratedStream(10 << 20, failAfter: 1 << 20), Ct));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_root, "d")));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => _store.OpenReadAsync("d/new.bin", Ct));
    }

    [Fact]
    public async Task A_cancelled_write_leaves_nothing()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _store.WriteAsync("c/x.bin", new GeneratedStream(1 << 20), cts.Token));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_root, "c")));
    }

    [Fact]
    public async Task Partial_files_of_uploads_in_progress_are_hidden_and_their_names_reserved()
    {
        Directory.CreateDirectory(_root);
        await File.WriteAllTextAsync(Path.Combine(_root, ".x.abc" + LocalArtifactStore.PartialSuffix), "half", Ct);
        await WriteTextAsync("x", "whole");
        Assert.Equal([new ArtifactFileInfo("x", false, 5)], await _store.ListAsync("", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => WriteTextAsync("y" + LocalArtifactStore.PartialSuffix, "no"));
    }

    [Fact]
    public async Task Writing_over_a_folder_or_below_a_file_is_refused()
    {
        await WriteTextAsync("d/f.txt", "1");
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => WriteTextAsync("d", "x"));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => WriteTextAsync("d/f.txt/g.txt", "x"));
    }

    [Theory]
    [InlineData("../escape.txt")]
    [InlineData("a/../../escape.txt")]
    [InlineData("/tmp/escape.txt")]
    [InlineData("%2e%2e/escape.txt")]
    [InlineData("..\\escape.txt")]
    public async Task Traversal_is_refused_by_every_operation(string path)
    {
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => WriteTextAsync(path, "x"));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.OpenReadAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.ListAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.DeleteAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.DeletePrefixAsync(path, Ct));
        Assert.False(File.Exists(_temp.Combine("escape.txt")));
    }

    [Fact]
    public async Task A_symlink_to_a_folder_outside_is_refused_for_read_write_list_and_delete()
    {
        Directory.CreateDirectory(_root);
        Directory.CreateSymbolicLink(Path.Combine(_root, "link"), _outside);

        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.OpenReadAsync("link/secret.txt", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => WriteTextAsync("link/planted.txt", "x"));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.ListAsync("link", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.DeleteAsync("link/secret.txt", Ct));

        Assert.False(File.Exists(Path.Combine(_outside, "planted.txt")));
        Assert.True(File.Exists(Path.Combine(_outside, "secret.txt")));
        // The listing of the root does not describe where the link leads.
        Assert.Empty(await _store.ListAsync("", Ct));
    }

    [Fact]
    public async Task A_file_symlink_and_a_dangling_symlink_pointing_outside_are_refused()
    {
        Directory.CreateDirectory(_root);
        File.CreateSymbolicLink(Path.Combine(_root, "secret.txt"), Path.Combine(_outside, "secret.txt"));
        var plantedTarget = Path.Combine(_outside, "not-yet.txt");
        File.CreateSymbolicLink(Path.Combine(_root, "dangling"), plantedTarget);

        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.OpenReadAsync("secret.txt", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => WriteTextAsync("secret.txt", "overwritten"));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => WriteTextAsync("dangling", "planted"));

        Assert.Equal("secret", await File.ReadAllTextAsync(Path.Combine(_outside, "secret.txt"), Ct));
        Assert.False(File.Exists(plantedTarget));
    }

    [Fact]
    public async Task A_symlink_staying_inside_the_root_works()
    {
        await WriteTextAsync("real/f.txt", "inside");
        Directory.CreateSymbolicLink(Path.Combine(_root, "alias"), Path.Combine(_root, "real"));
        Assert.Equal("inside", await ReadTextAsync("alias/f.txt"));
        Assert.Contains(new ArtifactFileInfo("alias", true, null), await _store.ListAsync("", Ct));
    }

    [Fact]
    public async Task Delete_removes_files_and_folders_and_reports_whether_anything_was_there()
    {
        await WriteTextAsync("d/a.txt", "1");
        await WriteTextAsync("d/sub/b.txt", "2");
        await WriteTextAsync("keep.txt", "3");

        Assert.True(await _store.DeleteAsync("d/a.txt", Ct));
        Assert.False(File.Exists(Path.Combine(_root, "d", "a.txt")));
        Assert.True(await _store.DeleteAsync("d", Ct));
        Assert.False(Directory.Exists(Path.Combine(_root, "d")));
        Assert.False(await _store.DeleteAsync("d", Ct));
        Assert.Equal("3", await ReadTextAsync("keep.txt"));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.DeleteAsync("", Ct));
    }

    [Fact]
    public async Task DeletePrefix_counts_removed_files_refuses_the_root_and_does_not_follow_links_out()
    {
        await WriteTextAsync("1/run/artifacts/a.txt", "1");
        await WriteTextAsync("1/run/artifacts/m/b.txt", "2");
        await WriteTextAsync("1/other/c.txt", "3");
        Directory.CreateSymbolicLink(Path.Combine(_root, "1", "run", "artifacts", "out"), _outside);

        Assert.Equal(2, await _store.DeletePrefixAsync("1/run", Ct));
        Assert.False(Directory.Exists(Path.Combine(_root, "1", "run")));
        Assert.True(File.Exists(Path.Combine(_root, "1", "other", "c.txt")));
        Assert.True(File.Exists(Path.Combine(_outside, "secret.txt")));
        Assert.Equal(0, await _store.DeletePrefixAsync("1/run", Ct));

        var e = await Assert.ThrowsAsync<InvalidParameterValueException>(() => _store.DeletePrefixAsync("", Ct));
        Assert.Contains("whole artifact root", e.Message);
        Assert.True(File.Exists(Path.Combine(_root, "1", "other", "c.txt")));
    }

    [Fact]
    public async Task A_200MB_generated_file_streams_through_write_and_read_intact()
    {
        const long size = 200L << 20;
        var written = await _store.WriteAsync("big/blob.bin", new GeneratedStream(size, seed: 42), Ct);
        Assert.Equal(size, written);
        Assert.Equal(size, new FileInfo(Path.Combine(_root, "big", "blob.bin")).Length);

        var expected = await SHA256.HashDataAsync(new GeneratedStream(size, seed: 42), Ct);
        await using var read = await _store.OpenReadAsync("big/blob.bin", Ct);
        Assert.Equal(expected, await SHA256.HashDataAsync(read, Ct));
    }
}

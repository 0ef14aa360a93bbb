using System.Security.Cryptography;
using System.Text;
using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Tests.Data;

namespace Cairn.Tests.Artifacts;

/// <summary>The <see cref="IArtifactStore"/> behaviours of <see cref="S3ArtifactStore"/> against a real s3rver.</summary>
public sealed class S3ArtifactStoreTests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static S3ConnectionOptions S3rverOptions(string endpoint) => new()
    {
        Endpoint = endpoint,
        ChunkEncoding = false, // s3rver stores aws-chunked framing verbatim
        AccessKeyId = "S3RVER",
        SecretAccessKey = "S3RVER",
    };

    private async Task<S3ArtifactStore> StoreAsync()
    {
        if (s3.SkipReason is not null) Assert.Skip(s3.SkipReason);
        var store = new S3ArtifactStore($"s3://art-{Guid.NewGuid().ToString("N")[..10]}/team/mlflow", S3rverOptions(s3.Endpoint));
        await store.EnsureBucketAsync(Ct);
        return store;
    }

    private static async Task<string> ReadTextAsync(IArtifactStore store, string path)
    {
        await using var stream = await store.OpenReadAsync(path, Ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(Ct);
    }

    private static Task<long> WriteTextAsync(IArtifactStore store, string path, string text) =>
        store.WriteAsync(path, new MemoryStream(Encoding.UTF8.GetBytes(text)), Ct);

    [Fact]
    public async Task Write_read_list_and_delete_round_trip_with_nested_directories()
    {
        using var store = await StoreAsync();
        Assert.Equal(5, await WriteTextAsync(store, "1/run/artifacts/model/MLmodel", "hello"));
        await WriteTextAsync(store, "1/run/artifacts/model/data/weights.bin", "0123456789");
        await WriteTextAsync(store, "1/run/artifacts/metrics.json", "{}");
        await WriteTextAsync(store, "1/run/artifacts/b.txt", "");
        await WriteTextAsync(store, "1/run/artifactsX/other.txt", "not a child");
        // s3rver reports a common prefix only for a folder that directly holds an object (real S3 reports every one),
        // so the root listing below needs a file directly in "1/".
        await WriteTextAsync(store, "1/notes.txt", "n");

        Assert.Equal("hello", await ReadTextAsync(store, "1/run/artifacts/model/MLmodel"));
        Assert.Equal("", await ReadTextAsync(store, "./1/run//artifacts/b.txt"));

        Assert.Equal(
            [
                new ArtifactFileInfo("1/run/artifacts/b.txt", false, 0),
                new ArtifactFileInfo("1/run/artifacts/metrics.json", false, 2),
                new ArtifactFileInfo("1/run/artifacts/model", true, null),
            ],
            await store.ListAsync("1/run/artifacts", Ct));
        Assert.Equal(
            [
                new ArtifactFileInfo("1/run/artifacts/model/MLmodel", false, 5),
                new ArtifactFileInfo("1/run/artifacts/model/data", true, null),
            ],
            await store.ListAsync("1/run/artifacts/model/", Ct));
        Assert.Equal([new ArtifactFileInfo("1", true, null)], await store.ListAsync("", Ct));
        Assert.Empty(await store.ListAsync("missing", Ct));
        Assert.Empty(await store.ListAsync("1/run/artifacts/metrics.json", Ct)); // a file lists as empty

        // Replacing a file keeps one object with the new content.
        await WriteTextAsync(store, "1/run/artifacts/metrics.json", "{\"a\":1}");
        Assert.Equal("{\"a\":1}", await ReadTextAsync(store, "1/run/artifacts/metrics.json"));

        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.OpenReadAsync("1/run/artifacts/nope.txt", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.OpenReadAsync("1/run/artifacts/model", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => WriteTextAsync(store, "1/run/artifacts/model", "x"));

        Assert.True(await store.DeleteAsync("1/run/artifacts/model/MLmodel", Ct));
        Assert.False(await store.DeleteAsync("1/run/artifacts/model/MLmodel", Ct));
        Assert.True(await store.DeleteAsync("1/run/artifacts/model", Ct)); // a directory with everything under it
        Assert.Empty(await store.ListAsync("1/run/artifacts/model", Ct));
        Assert.Equal(2, (await store.ListAsync("1/run/artifacts", Ct)).Count);

        // gc: the prefix goes, its sibling with a longer name stays.
        Assert.Equal(2, await store.DeletePrefixAsync("1/run/artifacts", Ct));
        Assert.Equal([new ArtifactFileInfo("1/run/artifactsX", true, null)], await store.ListAsync("1/run", Ct));
        Assert.Equal(0, await store.DeletePrefixAsync("1/run/artifacts", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.DeletePrefixAsync("", Ct));
    }

    [Fact]
    public async Task Listing_pages_through_continuation_tokens()
    {
        using var store = await StoreAsync();
        // s3rver pages at 1000 keys: 1005 files need two pages.
        await Parallel.ForEachAsync(Enumerable.Range(0, 1005), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = Ct },
            async (i, ct) => await store.WriteAsync($"many/f{i:D4}", new MemoryStream([1, 2]), ct));
        var listed = await store.ListAsync("many", Ct);
        Assert.Equal(1005, listed.Count);
        Assert.Equal("many/f0000", listed[0].Path);
        Assert.Equal("many/f1004", listed[^1].Path);
        Assert.Equal(1005, await store.DeletePrefixAsync("many", Ct)); // two DeleteObjects batches
        Assert.Empty(await store.ListAsync("", Ct));
    }

    [Fact]
    public async Task A_20_MB_streamed_upload_goes_up_in_parts_and_reads_back_byte_identical()
    {
        using var store = await StoreAsync();
        const long size = 20_000_000;
        Assert.Equal(size, await store.WriteAsync("big/model.bin", new GeneratedStream(size), Ct));

        Assert.Equal([new ArtifactFileInfo("big/model.bin", false, size)], await store.ListAsync("big", Ct));
        await using var read = await store.OpenReadAsync("big/model.bin", Ct);
        Assert.Equal(await SHA256.HashDataAsync(new GeneratedStream(size), Ct), await SHA256.HashDataAsync(read, Ct));
    }

    [Fact]
    public async Task A_failed_multipart_upload_leaves_no_object_behind()
    {
        using var store = await StoreAsync();
        await Assert.ThrowsAsync<IOException>(() => store.WriteAsync("big/broken.bin", new GeneratedStream(20_000_000, failAfter: 12_000_000), Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.OpenReadAsync("big/broken.bin", Ct));
        Assert.Empty(await store.ListAsync("big", Ct));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("a/%2e%2e/b")]
    [InlineData("a%2f..%2fb")]
    [InlineData("a\\b")]
    [InlineData("C:/x")]
    [InlineData("a/\0b")]
    public async Task Traversal_paths_are_refused_before_any_request(string path)
    {
        // Nothing listens on the endpoint: a request would fail with a connection error, not a refusal.
        using var store = new S3ArtifactStore("s3://bucket/prefix", S3rverOptions("http://127.0.0.1:9"));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.ListAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.OpenReadAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.WriteAsync(path, new MemoryStream([1]), Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.DeleteAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.DeletePrefixAsync(path, Ct));
    }

    [Fact]
    public async Task The_root_is_refused_as_a_file_and_as_a_gc_prefix()
    {
        using var store = new S3ArtifactStore("s3://bucket", S3rverOptions("http://127.0.0.1:9"));
        Assert.Equal("s3://bucket", store.Location);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.OpenReadAsync("", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.DeleteAsync("/", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.DeletePrefixAsync(".", Ct));
    }

    [Fact]
    public void Destinations_must_name_a_bucket_and_a_safe_prefix()
    {
        Assert.Throws<InvalidParameterValueException>(() => new S3ArtifactStore("s3:///prefix", new S3ConnectionOptions { Endpoint = "http://127.0.0.1:9" }));
        Assert.Throws<InvalidParameterValueException>(() => new S3ArtifactStore("s3://bucket/a/../b", new S3ConnectionOptions { Endpoint = "http://127.0.0.1:9" }));
        using var store = new S3ArtifactStore("s3://bucket//a/b/", new S3ConnectionOptions { Endpoint = "http://127.0.0.1:9" });
        Assert.Equal(("bucket", "a/b"), (store.Bucket, store.Prefix));
        Assert.IsType<S3ArtifactStore>(ArtifactStores.Open("s3://bucket/x", new S3ConnectionOptions { Endpoint = "http://127.0.0.1:9" }), exactMatch: true);
        Assert.Throws<CairnException>(() => ArtifactStores.Open("gs://bucket/x"));
    }

    [Fact]
    public void Connection_options_come_from_MLflow_s_environment_variables()
    {
        var env = new Dictionary<string, string?>
        {
            ["CAIRN_S3_ENDPOINT_URL"] = "http://cairn:1",
            ["AWS_ACCESS_KEY_ID"] = "id",
            ["AWS_SECRET_ACCESS_KEY"] = "secret",
            ["CAIRN_S3_CHUNK_ENCODING"] = "false",
        };
        var options = S3ConnectionOptions.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Equal(new S3ConnectionOptions { Endpoint = "http://cairn:1", AccessKeyId = "id", SecretAccessKey = "secret", ChunkEncoding = false }, options);

        env["MLFLOW_S3_ENDPOINT_URL"] = "http://mlflow:2";
        env["CAIRN_S3_CHUNK_ENCODING"] = "true";
        options = S3ConnectionOptions.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Equal("http://mlflow:2", options.Endpoint);
        Assert.True(options.ChunkEncoding);

        Assert.Equal(new S3ConnectionOptions(), S3ConnectionOptions.FromEnvironment(_ => null));
    }

    [Fact]
    public void The_resolver_maps_s3_locations_under_the_destination_into_the_store()
    {
        using var store = new S3ArtifactStore("s3://bucket/mlflow", new S3ConnectionOptions { Endpoint = "http://127.0.0.1:9" });
        var resolver = new ArtifactLocationResolver(store);
        var location = resolver.Resolve("s3://bucket/mlflow/1/abc/artifacts");
        Assert.Same(store, location.Store);
        Assert.Equal("1/abc/artifacts", location.Prefix);
        Assert.Equal("1/abc/artifacts", resolver.Resolve("mlflow-artifacts:/1/abc/artifacts").Prefix);
        Assert.Throws<ArtifactLocationOutsideRootsException>(() => resolver.Resolve("s3://other/mlflow/1"));
        Assert.Throws<ArtifactLocationOutsideRootsException>(() => resolver.Resolve("s3://bucket/mlflowX/1"));
        Assert.Throws<ArtifactLocationOutsideRootsException>(() => resolver.Resolve("s3://bucket/mlflow"));
        Assert.Throws<InvalidParameterValueException>(() => resolver.Resolve("s3://bucket/mlflow/../secret"));
    }

    [Fact]
    public void An_allowed_s3_root_is_managed_beside_the_destination()
    {
        var options = new S3ConnectionOptions { Endpoint = "http://127.0.0.1:9" };
        using var store = new S3ArtifactStore("s3://bucket/mlflow", options);
        using var other = new S3ArtifactStore("s3://team/models", options);
        var resolver = new ArtifactLocationResolver(store, [other]);
        var location = resolver.Resolve("s3://team/models/3/abc/artifacts");
        Assert.Same(other, location.Store);
        Assert.Equal("3/abc/artifacts", location.Prefix);
        Assert.Throws<ArtifactLocationOutsideRootsException>(() => resolver.Resolve("s3://team/other/3"));
    }
}

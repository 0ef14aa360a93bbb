using Cairn.Artifacts;

namespace Cairn.Tests.Artifacts;

public sealed class ArtifactLocationResolverTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly LocalArtifactStore _proxied;
    private readonly ArtifactLocationResolver _resolver;

    public ArtifactLocationResolverTests()
    {
        _proxied = new LocalArtifactStore(_temp.Combine("destination"));
        _resolver = new ArtifactLocationResolver(_proxied);
    }

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("mlflow-artifacts:/1/abc/artifacts", "1/abc/artifacts")]
    [InlineData("mlflow-artifacts://server:5000/1/abc/artifacts", "1/abc/artifacts")]
    [InlineData("mlflow-artifacts:/0", "0")]
    [InlineData("http://localhost:5000/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts", "7/r/artifacts")]
    public void Proxied_uris_map_into_the_destination_store(string uri, string prefix)
    {
        var location = _resolver.Resolve(uri);
        Assert.Same(_proxied, location.Store);
        Assert.Equal(prefix, location.Prefix);
        Assert.Equal(prefix + "/model/MLmodel", location.PathOf("model/MLmodel"));
    }

    [Fact]
    public void File_uris_and_folders_map_to_a_local_store_at_the_parent()
    {
        var folder = _temp.Combine("mlruns", "1", "run", "artifacts");
        foreach (var uri in new[] { new Uri(folder).AbsoluteUri, folder })
        {
            var location = _resolver.Resolve(uri);
            var store = Assert.IsType<LocalArtifactStore>(location.Store);
            Assert.Equal(_temp.Combine("mlruns", "1", "run"), store.Root);
            Assert.Equal("artifacts", location.Prefix);
        }
    }

    [Fact]
    public async Task Resolved_local_locations_read_real_files()
    {
        var folder = Directory.CreateDirectory(_temp.Combine("runs", "r1", "artifacts")).FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "a.txt"), "abc", TestContext.Current.CancellationToken);
        var location = _resolver.Resolve("file://" + folder);
        var files = await location.Store.ListAsync(location.PathOf(null), TestContext.Current.CancellationToken);
        Assert.Equal([new ArtifactFileInfo("artifacts/a.txt", false, 3)], files);
    }

    [Theory]
    [InlineData("mlflow-artifacts:/1/../../etc")]
    [InlineData("/")]
    [InlineData("")]
    [InlineData("file://otherhost/x/y")]
    public void Bad_locations_are_refused(string uri) =>
        Assert.Throws<InvalidParameterValueException>(() => _resolver.Resolve(uri));

    [Theory]
    [InlineData("s3://bucket/prefix/1/abc/artifacts")]
    [InlineData("http://example.invalid/some/other/path")]
    public void Unsupported_schemes_are_not_implemented(string uri)
    {
        var e = Assert.Throws<CairnException>(() => _resolver.Resolve(uri));
        Assert.Equal(ErrorCode.NOT_IMPLEMENTED, e.ErrorCode);
    }

    [Fact]
    public void Proxied_uris_need_a_destination()
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => new ArtifactLocationResolver(null).Resolve("mlflow-artifacts:/1/a"));
        Assert.Contains("artifacts-destination", e.Message);
    }
}

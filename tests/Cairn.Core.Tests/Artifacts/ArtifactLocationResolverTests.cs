using Cairn.Artifacts;

namespace Cairn.Tests.Artifacts;

public sealed class ArtifactLocationResolverTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly LocalArtifactStore _proxied;
    private readonly LocalArtifactStore _allowed;
    private readonly ArtifactLocationResolver _resolver;

    public ArtifactLocationResolverTests()
    {
        _proxied = new LocalArtifactStore(_temp.Combine("destination"));
        _allowed = new LocalArtifactStore(_temp.Combine("mlruns"));
        _resolver = new ArtifactLocationResolver(_proxied, [_allowed]);
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
    public void File_uris_and_folders_map_into_the_managed_root_holding_them()
    {
        var folder = _temp.Combine("mlruns", "1", "run", "artifacts");
        foreach (var uri in new[] { new Uri(folder).AbsoluteUri, folder, _temp.Combine("mlruns", "1", "x", "..", "run", "artifacts") })
        {
            var location = _resolver.Resolve(uri);
            Assert.Same(_allowed, location.Store);
            Assert.Equal("1/run/artifacts", location.Prefix);
        }
        var inDestination = _resolver.Resolve(_temp.Combine("destination", "7"));
        Assert.Same(_proxied, inDestination.Store);
        Assert.Equal("7", inDestination.Prefix);
    }

    [Fact]
    public async Task Resolved_local_locations_read_real_files()
    {
        var folder = Directory.CreateDirectory(_temp.Combine("mlruns", "r1", "artifacts")).FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "a.txt"), "abc", TestContext.Current.CancellationToken);
        var location = _resolver.Resolve("file://" + folder);
        var files = await location.Store.ListAsync(location.PathOf(null), TestContext.Current.CancellationToken);
        Assert.Equal([new ArtifactFileInfo("r1/artifacts/a.txt", false, 3)], files);
    }

    [Theory]
    [InlineData("mlflow-artifacts:/1/../../etc")]
    [InlineData("mlflow-artifacts:/1/%2e%2e/%2e%2e/etc")]
    [InlineData("mlflow-artifacts://host:5000/%2E%2E/x")]
    [InlineData("")]
    [InlineData("file://otherhost/x/y")]
    [InlineData("file:///etc#")]
    [InlineData("file:///etc#/1/run/artifacts")]
    [InlineData("file:///etc?x=1")]
    public void Bad_locations_are_refused(string uri) =>
        Assert.Throws<InvalidParameterValueException>(() => _resolver.Resolve(uri));

    [Theory]
    [InlineData("/")]
    [InlineData("/etc")]
    [InlineData("file:///etc")]
    [InlineData("s3://bucket/prefix/1/abc/artifacts")]
    [InlineData("http://example.invalid/some/other/path")]
    [InlineData("gs://bucket/x")]
    [InlineData("dbfs:/databricks/mlflow")]
    public void Locations_outside_the_managed_roots_are_refused(string uri)
    {
        var e = Assert.Throws<ArtifactLocationOutsideRootsException>(() => _resolver.Resolve(uri));
        Assert.Equal(ErrorCode.PERMISSION_DENIED, e.ErrorCode);
        Assert.Contains("--allowed-artifact-roots", e.Message);
    }

    [Fact]
    public void Traversal_encoding_links_and_whole_roots_cannot_leave_or_take_a_root()
    {
        Directory.CreateDirectory(_temp.Combine("mlruns"));
        Directory.CreateDirectory(_temp.Combine("outside", "secret"));
        Directory.CreateSymbolicLink(_temp.Combine("mlruns", "link"), _temp.Combine("outside"));
        var escapes = new[]
        {
            _temp.Combine("mlruns", "..", "outside"),
            _temp.Combine("mlruns", "link", "secret"),
            new Uri(_temp.Combine("mlruns", "link")).AbsoluteUri,
            "file://" + _temp.Path + "/mlruns/%2e%2e/outside",
            _temp.Combine("mlruns"),
            _temp.Combine("destination"),
            new Uri(_temp.Combine("mlruns")).AbsoluteUri + "/",
        };
        foreach (var uri in escapes)
            Assert.Throws<ArtifactLocationOutsideRootsException>(() => _resolver.Resolve(uri));
        // A folder literally named "%2e%2e" is refused too, by ArtifactPath's rule for anything that decodes into traversal.
        Assert.Throws<InvalidParameterValueException>(() => _resolver.Resolve(_temp.Combine("mlruns", "%2e%2e", "x")));
    }

    [Fact]
    public void Without_allowed_roots_only_the_destination_is_managed()
    {
        var resolver = new ArtifactLocationResolver(_proxied);
        Assert.Throws<ArtifactLocationOutsideRootsException>(() => resolver.Resolve(_temp.Combine("mlruns", "1")));
        Assert.Equal("1", resolver.Resolve(new Uri(_temp.Combine("destination", "1")).AbsoluteUri).Prefix);
    }

    [Fact]
    public void Proxied_uris_need_a_destination()
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => new ArtifactLocationResolver(null).Resolve("mlflow-artifacts:/1/a"));
        Assert.Contains("artifacts-destination", e.Message);
    }
}

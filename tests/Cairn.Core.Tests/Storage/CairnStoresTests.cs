using Cairn.Client;
using Cairn.Registry;
using Cairn.Storage;
using Cairn.Storage.Sqlite;
using Cairn.Tracking;
using Microsoft.Extensions.Time.Testing;

namespace Cairn.Tests.Storage;

/// <summary>The one factory: each tracking URI form opens the right backend, with tracking and registry on one database.</summary>
public sealed class CairnStoresTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Folder_file_uri_and_sqlite_uri_open_sqlite_files_where_they_say()
    {
        var folder = _dir.Combine("home");
        using (var stores = await CairnStores.OpenAsync(folder, cancellationToken: Ct))
        {
            Assert.False(stores.IsRemote);
            Assert.IsType<SqliteDatabase>(stores.Database);
            await stores.Tracking.CreateExperimentAsync("in-folder", cancellationToken: Ct);
        }
        Assert.True(File.Exists(Path.Combine(folder, "cairn.db")));

        // file:// names the same folder, so the experiment is there.
        using (var stores = await CairnStores.OpenAsync(new Uri(folder).AbsoluteUri, cancellationToken: Ct))
            Assert.NotNull(await stores.Tracking.FindExperimentByNameAsync("in-folder", Ct));

        var file = _dir.Combine("named.db");
        using (var stores = await CairnStores.OpenAsync("sqlite:///" + file, cancellationToken: Ct))
        {
            var experiment = await stores.Tracking.GetExperimentAsync(await stores.Tracking.CreateExperimentAsync("in-file", cancellationToken: Ct), Ct);
            // The default artifact root is the artifacts folder beside the database.
            Assert.StartsWith(Path.Combine(_dir.Path, "artifacts"), experiment.ArtifactLocation);
        }
        Assert.True(File.Exists(file));
    }

    [Theory]
    [InlineData("ftp://host/db", "scheme is not supported")]
    [InlineData("sqlite://relative.db", "sqlite:///relative/path.db")]
    public async Task Unsupported_uri_is_refused_naming_it(string uri, string rule)
    {
        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => CairnStores.OpenAsync(uri, cancellationToken: Ct));
        Assert.Contains(uri, error.Message);
        Assert.Contains(rule, error.Message);
    }

    [Fact]
    public async Task Http_uri_opens_remote_stores_over_one_transport()
    {
        using var stores = await CairnStores.OpenAsync("http://127.0.0.1:9", cancellationToken: Ct);
        Assert.True(stores.IsRemote);
        Assert.Null(stores.Database);
        var tracking = Assert.IsType<HttpTrackingStore>(stores.Tracking);
        Assert.IsType<HttpRegistryStore>(stores.Registry);
        Assert.Equal(new Uri("http://127.0.0.1:9/"), tracking.BaseAddress);
    }

    [Fact]
    public async Task Tracking_and_registry_share_one_database_and_its_clock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));
        using var stores = await CairnStores.OpenAsync(_dir.Path, new CairnStoreOptions { TimeProvider = time }, Ct);
        Assert.Same(((SqlTrackingStore)stores.Tracking).Database, ((SqlRegistryStore)stores.Registry).Database);

        var run = await stores.Tracking.CreateRunAsync(new CreateRunRequest(SqlDatabase.DefaultExperimentId), Ct);
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), run.Info.StartTime);
        time.Advance(TimeSpan.FromSeconds(3));
        var model = await stores.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), model.CreationTimestamp);
        // The registry resolves runs:/ sources through the tracking store of the same set.
        var version = await stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("m", $"runs:/{run.Info.RunId}/model"), Ct);
        Assert.Equal(run.Info.RunId, version.RunId);
    }

    [Fact]
    public async Task Client_stamps_runs_with_its_clock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero));
        using var client = await CairnClient.OpenAsync(_dir.Path, new CairnClientOptions { TimeProvider = time }, Ct);
        using var run = await client.StartRunAsync("clocked", cancellationToken: Ct);
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), run.Info.StartTime);
        var experiment = await client.Store.GetExperimentByNameAsync("clocked", Ct);
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), experiment.CreationTime);
    }
}

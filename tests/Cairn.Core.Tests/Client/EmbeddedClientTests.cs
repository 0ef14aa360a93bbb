using Cairn.Client;
using Cairn.Tracking;

namespace Cairn.Tests.Client;

/// <summary>The client scenarios over a folder opened in-process (the embedded default).</summary>
public sealed class EmbeddedClientTests : ClientScenarios
{
    private readonly TempDirectory _dir = new();

    protected override Task<CairnClient> OpenClientAsync() => CairnClient.OpenAsync(_dir.Path, cancellationToken: Ct);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public void Tracking_uri_comes_from_cairn_then_mlflow_then_cairn_home()
    {
        var env = new Dictionary<string, string?>
        {
            ["CAIRN_TRACKING_URI"] = "http://cairn:5000",
            ["MLFLOW_TRACKING_URI"] = "http://mlflow:5000",
            ["CAIRN_HOME"] = _dir.Path,
        };
        Assert.Equal("http://cairn:5000", CairnClient.ResolveTrackingUri(k => env.GetValueOrDefault(k)));
        env["CAIRN_TRACKING_URI"] = "";
        Assert.Equal("http://mlflow:5000", CairnClient.ResolveTrackingUri(k => env.GetValueOrDefault(k)));
        env.Remove("MLFLOW_TRACKING_URI");
        Assert.Equal(_dir.Path, CairnClient.ResolveTrackingUri(k => env.GetValueOrDefault(k)));
        env.Remove("CAIRN_HOME");
        Assert.Equal(Path.GetFullPath(".cairn"), CairnClient.ResolveTrackingUri(k => env.GetValueOrDefault(k)));
    }

    [Fact]
    public async Task Folder_client_keeps_artifacts_under_the_folder_and_lists_them()
    {
        using var run = Client.StartRun("artifacts");
        var root = run.Info.ArtifactUri;
        Assert.StartsWith(_dir.Combine("artifacts"), root);
        Directory.CreateDirectory(Path.Combine(root, "model"));
        await File.WriteAllTextAsync(Path.Combine(root, "model", "MLmodel"), "flavors: {}", Ct);
        await File.WriteAllTextAsync(Path.Combine(root, "metrics.json"), "{}", Ct);

        var top = await Client.ListArtifactsAsync(run.RunId, cancellationToken: Ct);
        Assert.Equal([("metrics.json", false, (long?)2), ("model", true, null)], top.Files.Select(f => (f.Path, f.IsDir, f.FileSize)));
        var model = await Client.ListArtifactsAsync(run.RunId, "model", Ct);
        Assert.Equal("model/MLmodel", Assert.Single(model.Files).Path);

        var dest = _dir.Combine("download");
        var written = await Client.DownloadArtifactsAsync(run.RunId, null, dest, Ct);
        Assert.Equal(2, written.Count);
        Assert.Equal("flavors: {}", await File.ReadAllTextAsync(Path.Combine(dest, "model", "MLmodel"), Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => Client.DownloadArtifactsAsync(run.RunId, "nope", dest, Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => Client.DownloadArtifactsAsync(run.RunId, "../escape", dest, Ct));
    }

    [Fact]
    public async Task Sqlite_uri_opens_the_named_database()
    {
        var db = _dir.Combine("other", "tracking.db");
        Directory.CreateDirectory(Path.GetDirectoryName(db)!);
        using var client = await CairnClient.OpenAsync("sqlite:///" + db, cancellationToken: Ct);
        using (client.StartRun("sqlite-uri")) { }
        Assert.True(File.Exists(db));
        Assert.NotNull(await client.Store.FindExperimentByNameAsync("sqlite-uri", Ct));
        Assert.False(client.IsRemote);
    }
}

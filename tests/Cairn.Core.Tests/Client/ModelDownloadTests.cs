using Cairn.Client;
using Cairn.Registry;
using Cairn.Tracking;

namespace Cairn.Tests.Client;

/// <summary>
/// The one model resolver (<see cref="CairnClient.DownloadModelAsync"/> and <see cref="CairnClient.LocateModelAsync"/>):
/// every model URI form against a real SQLite store with a registered model whose package sits in a run's artifacts.
/// </summary>
public sealed class ModelDownloadTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private CairnClient _client = null!;
    private string _runId = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _client = await CairnClient.OpenAsync(_dir.Combine("store"), cancellationToken: Ct);
        var package = _dir.Combine("package", "model");
        Directory.CreateDirectory(Path.Combine(package, "code"));
        await File.WriteAllTextAsync(Path.Combine(package, "MLmodel"), "flavors: {mlnet: {model_file: model.zip}}\n", Ct);
        await File.WriteAllTextAsync(Path.Combine(package, "model.zip"), "weights", Ct);
        await File.WriteAllTextAsync(Path.Combine(package, "code", "notes.txt"), "nested", Ct);
        var run = await _client.StartRunAsync("models", cancellationToken: Ct);
        _runId = run.RunId;
        await _client.LogArtifactAsync(run.Info, package, "model", Ct);
        await _client.LogArtifactAsync(run.Info, Path.Combine(package, "model.zip"), "loose", Ct);
        await run.EndAsync(RunStatus.FINISHED, Ct);

        var registry = _client.Registry;
        await registry.CreateRegisteredModelAsync("churn", cancellationToken: Ct);
        // 1: registered from a runs:/ URI (as Cairn registers); 2: from the artifact location with its run (as MLflow's
        // Python client registers); 3: from another models:/ URI.
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", $"runs:/{_runId}/model", _runId), Ct);
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", $"{run.Info.ArtifactUri.TrimEnd('/')}/model", _runId), Ct);
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", "models:/churn/1"), Ct);
        await registry.SetRegisteredModelAliasAsync("churn", "champion", "2", cancellationToken: Ct);
        await registry.TransitionModelVersionStageAsync("churn", "1", "Production", cancellationToken: Ct);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        _dir.Dispose();
        await Task.CompletedTask;
    }

    [Theory]
    [InlineData("models:/churn/1", "1")]
    [InlineData("models:/churn@champion", "2")]
    [InlineData("models:/churn/Production", "1")]
    [InlineData("models:/churn/latest", "1")]
    [InlineData("models:/churn/3", "1")]
    [InlineData("runs:/{run}/model", null)]
    public async Task Every_model_uri_form_downloads_the_package_with_its_run_and_version(string uri, string? version)
    {
        var destination = _dir.Combine("out-" + Guid.NewGuid().ToString("N")[..8]);

        var location = await _client.DownloadModelAsync(uri.Replace("{run}", _runId, StringComparison.Ordinal), destination, Ct);

        Assert.Equal(Path.Combine(destination, "model"), location.Folder);
        Assert.Equal(_runId, location.RunId);
        Assert.Equal(version, location.Version?.Version);
        Assert.Equal("weights", await File.ReadAllTextAsync(Path.Combine(location.Folder, "model.zip"), Ct));
        Assert.Equal("nested", await File.ReadAllTextAsync(Path.Combine(location.Folder, "code", "notes.txt"), Ct));
        Assert.StartsWith("flavors:", await File.ReadAllTextAsync(Path.Combine(location.Folder, "MLmodel"), Ct));
        // Only the package is fetched, not the run's other artifacts.
        Assert.False(Directory.Exists(Path.Combine(destination, "loose")));
    }

    [Fact]
    public async Task A_local_folder_is_copied_by_download_and_used_in_place_by_locate()
    {
        var package = _dir.Combine("package", "model");

        var downloaded = await _client.DownloadModelAsync(package, _dir.Combine("copy"), Ct);
        var located = await _client.LocateModelAsync("file://" + package, _dir.Combine("scratch"), cancellationToken: Ct);

        Assert.Equal(_dir.Combine("copy", "model"), downloaded.Folder);
        Assert.Equal("nested", await File.ReadAllTextAsync(Path.Combine(downloaded.Folder, "code", "notes.txt"), Ct));
        Assert.Equal((package, (string?)null, (ModelVersion?)null), (located.Folder, located.RunId, located.Version));
        Assert.False(Directory.Exists(_dir.Combine("scratch")));
    }

    [Fact]
    public async Task Unknown_models_and_malformed_uris_are_clear_errors_naming_the_field()
    {
        var destination = _dir.Combine("nowhere");

        var version = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => _client.DownloadModelAsync("models:/churn/9", destination, Ct));
        var alias = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => _client.DownloadModelAsync("models:/churn@nobody", destination, Ct));
        var folder = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => _client.LocateModelAsync(_dir.Combine("missing"), destination, "--model", Ct));
        var malformed = await Assert.ThrowsAsync<InvalidParameterValueException>(() => _client.DownloadModelAsync("models:/churn", destination, Ct));
        var file = await Assert.ThrowsAsync<InvalidParameterValueException>(() => _client.DownloadModelAsync($"runs:/{_runId}/loose/model.zip", destination, Ct));

        Assert.Contains("churn", version.Message);
        Assert.Contains("nobody", alias.Message);
        Assert.Contains("'--model'", folder.Message);
        Assert.Contains("is not an existing folder", folder.Message);
        Assert.Contains("'model_uri'", malformed.Message);
        Assert.Contains("is a file, not a model package folder", file.Message);
    }
}

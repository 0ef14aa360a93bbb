using Cairn.Artifacts;
using Cairn.Client;
using Cairn.Registry;
using Cairn.Tests.Artifacts;
using Cairn.Tests.Data;
using Cairn.Tracking;

namespace Cairn.Tests.Client;

/// <summary>
/// The one model resolver reads every source a real MLflow client stores in a model version: <c>mlflow-artifacts:</c> (the
/// proxy's destination when the database is opened in-process), <c>s3://</c> (a real s3rver), <c>file:</c> and folders, with or
/// without a run that still exists; a source never leads outside its root.
/// </summary>
public sealed class ModelSourceTests(S3rverFixture s3) : IClassFixture<S3rverFixture>, IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private CairnClient _client = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _client = await CairnClient.OpenAsync(_dir.Combine("store"), new CairnClientOptions
        {
            S3 = s3.SkipReason is null ? S3ArtifactStoreTests.S3rverOptions(s3.Endpoint) : null,
        }, Ct);
        await _client.Registry.CreateRegisteredModelAsync("py", cancellationToken: Ct);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        _dir.Dispose();
        await Task.CompletedTask;
    }

    private static void WritePackage(string folder)
    {
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.WriteAllText(Path.Combine(folder, "MLmodel"), "flavors: {onnx: {onnx_model: model.onnx}}\n");
        File.WriteAllText(Path.Combine(folder, "model.onnx"), "graph");
        File.WriteAllText(Path.Combine(folder, "sub", "extra.txt"), "nested");
    }

    private async Task<string> RegisterAsync(string source, string? runId = null) =>
        (await _client.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("py", source, runId), Ct)).Version;

    [Fact]
    public async Task An_mlflow_artifacts_source_without_a_run_is_read_from_the_proxy_destination()
    {
        // Where a server with --artifacts-destination <store>/artifacts puts mlflow-artifacts:/1/<run>/artifacts/model.
        var run = Guid.NewGuid().ToString("N");
        var stored = _dir.Combine("store", "artifacts", "1", run, "artifacts", "model");
        WritePackage(stored);
        // A run id MLflow recorded but this store does not know: the source alone is enough.
        var version = await RegisterAsync($"mlflow-artifacts:/1/{run}/artifacts/model", Guid.NewGuid().ToString("N"));

        var downloaded = await _client.DownloadModelAsync($"models:/py/{version}", _dir.Combine("out"), Ct);
        var located = await _client.LocateModelAsync($"models:/py/{version}", _dir.Combine("scratch"), cancellationToken: Ct);

        Assert.Equal(_dir.Combine("out", "model"), downloaded.Folder);
        Assert.Equal("nested", File.ReadAllText(Path.Combine(downloaded.Folder, "sub", "extra.txt")));
        Assert.Equal(version, downloaded.Version?.Version);
        Assert.Equal(stored, located.Folder);
        Assert.False(Directory.Exists(_dir.Combine("scratch")));
    }

    [Fact]
    public async Task A_file_uri_source_is_used_in_place_and_an_unknown_scheme_is_one_clear_error()
    {
        var folder = _dir.Combine("elsewhere", "model");
        WritePackage(folder);
        var file = await RegisterAsync(new Uri(folder).AbsoluteUri);
        var hdfs = await RegisterAsync("hdfs://namenode/models/model");
        var missing = await RegisterAsync(_dir.Combine("gone", "model"));

        var located = await _client.LocateModelAsync($"models:/py/{file}", _dir.Combine("scratch"), cancellationToken: Ct);
        var unknown = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => _client.DownloadModelAsync($"models:/py/{hdfs}", _dir.Combine("x"), Ct));
        var gone = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => _client.DownloadModelAsync($"models:/py/{missing}", _dir.Combine("x"), Ct));

        Assert.Equal(folder, located.Folder);
        Assert.Contains("'hdfs://namenode/models/model', which is neither a folder nor a runs:/, models:/, mlflow-artifacts:, s3:// or file: URI", unknown.Message);
        Assert.Contains("'model_uri'", unknown.Message);
        Assert.Contains("is not an existing folder", gone.Message);
    }

    [Theory]
    [InlineData("mlflow-artifacts:/../outside/model")]
    [InlineData("mlflow-artifacts:/1/%2e%2e/%2e%2e/outside/model")]
    [InlineData("mlflow-artifacts:/1/link/model")]
    public async Task An_mlflow_artifacts_source_never_leads_outside_the_proxy_destination(string source)
    {
        var outside = _dir.Combine("outside", "model");
        WritePackage(outside);
        Directory.CreateDirectory(_dir.Combine("store", "artifacts", "1"));
        if (!File.Exists(_dir.Combine("store", "artifacts", "1", "link")))
            Directory.CreateSymbolicLink(_dir.Combine("store", "artifacts", "1", "link"), _dir.Combine("outside"));
        var version = await RegisterAsync(source);

        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => _client.DownloadModelAsync($"models:/py/{version}", _dir.Combine("x"), Ct));

        Assert.Contains("'model_uri'", error.Message);
        Assert.False(Directory.Exists(_dir.Combine("x")));
    }

    [Fact]
    public async Task S3_sources_and_runs_keeping_artifacts_in_s3_are_read_from_the_bucket()
    {
        if (s3.SkipReason is not null) Assert.Skip(s3.SkipReason);
        var bucket = $"models-{Guid.NewGuid().ToString("N")[..10]}";
        var experiment = await _client.Store.CreateExperimentAsync("s3-runs", $"s3://{bucket}/team/exp", cancellationToken: Ct);
        var run = await _client.Store.CreateRunAsync(new CreateRunRequest(experiment), Ct);
        Assert.Equal($"s3://{bucket}/team/exp/{run.Info.RunId}/artifacts", run.Info.ArtifactUri);
        using (var store = new S3ArtifactStore($"s3://{bucket}/team", S3ArtifactStoreTests.S3rverOptions(s3.Endpoint)))
        {
            await store.EnsureBucketAsync(Ct);
            var package = _dir.Combine("package", "model");
            WritePackage(package);
            foreach (var file in Directory.EnumerateFiles(package, "*", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(package, file).Replace('\\', '/');
                foreach (var prefix in new[] { "registry/model", $"exp/{run.Info.RunId}/artifacts/model" })
                {
                    await using var input = File.OpenRead(file);
                    await store.WriteAsync($"{prefix}/{relative}", input, Ct);
                }
            }
        }
        var version = await RegisterAsync($"s3://{bucket}/team/registry/model");

        var fromSource = await _client.DownloadModelAsync($"models:/py/{version}", _dir.Combine("a"), Ct);
        var fromRun = await _client.DownloadModelAsync($"runs:/{run.Info.RunId}/model", _dir.Combine("b"), Ct);
        var empty = await RegisterAsync($"s3://{bucket}/team/nothing/model");
        var missing = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => _client.DownloadModelAsync($"models:/py/{empty}", _dir.Combine("c"), Ct));

        Assert.Equal(_dir.Combine("a", "model"), fromSource.Folder);
        Assert.Equal("nested", File.ReadAllText(Path.Combine(fromSource.Folder, "sub", "extra.txt")));
        Assert.Equal(_dir.Combine("b", "model"), fromRun.Folder);
        Assert.Equal("graph", File.ReadAllText(Path.Combine(fromRun.Folder, "model.onnx")));
        Assert.Equal("nested", File.ReadAllText(Path.Combine(fromRun.Folder, "sub", "extra.txt")));
        Assert.Contains("holds no files in S3", missing.Message);
    }
}

using System.Net.Sockets;
using Cairn.Client;
using Cairn.Server.Hosting;
using Cairn.Tests.Client;
using Cairn.Tracking;

namespace Cairn.Tests;

/// <summary>The client scenarios through a real server on loopback, plus what only HTTP has: error mapping and retries.</summary>
public sealed class HttpTrackingStoreTests : ClientScenarios
{
    private readonly TempDirectory _dir = new();
    private CairnServer _server = null!; // started in OpenClientAsync

    private CairnServerOptions ServerOptions(int port) =>
        new() { Port = port, BackendStoreUri = _dir.Path, ArtifactsDestination = _dir.Combine("artifacts"), LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning };

    protected override async Task<CairnClient> OpenClientAsync()
    {
        _server = await CairnServer.StartAsync(ServerOptions(0), Ct);
        return await CairnClient.OpenAsync(_server.Address.ToString(), cancellationToken: Ct);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    private ITrackingStore Store => Client.Store;

    [Fact]
    public async Task Client_over_http_uses_the_http_store()
    {
        Assert.True(Client.IsRemote);
        Assert.IsType<HttpTrackingStore>(Store);
        using var run = Client.StartRun("remote");
        Assert.StartsWith("mlflow-artifacts:", run.Info.ArtifactUri);
    }

    [Fact]
    public async Task Unknown_run_is_resource_does_not_exist()
    {
        var error = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => Store.GetRunAsync("0123456789abcdef0123456789abcdef", Ct));
        Assert.Contains("0123456789abcdef0123456789abcdef", error.Message);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => Store.GetMetricHistoryAsync("0123456789abcdef0123456789abcdef", "loss", cancellationToken: Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => Store.GetExperimentAsync("424242", Ct));
    }

    [Fact]
    public async Task Unknown_experiment_name_is_null_from_find()
    {
        Assert.Null(await Store.FindExperimentByNameAsync("never-created", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => Store.GetExperimentByNameAsync("never-created", Ct));
    }

    [Fact]
    public async Task Duplicate_experiment_is_resource_already_exists()
    {
        var id = await Store.CreateExperimentAsync("dup", tags: [new ExperimentTag("owner", "me")], cancellationToken: Ct);
        await Assert.ThrowsAsync<ResourceAlreadyExistsException>(() => Store.CreateExperimentAsync("dup", cancellationToken: Ct));
        var experiment = await Store.GetExperimentAsync(id, Ct);
        Assert.Equal("dup", experiment.Name);
        Assert.Equal("me", experiment.Tags.Single(t => t.Key == "owner").Value);
    }

    [Fact]
    public async Task Param_overwrite_is_invalid_parameter_value()
    {
        var experimentId = await Store.CreateExperimentAsync("params", cancellationToken: Ct);
        var run = await Store.CreateRunAsync(new CreateRunRequest(experimentId), Ct);
        await Store.LogParamAsync(run.Info.RunId, "lr", "0.1", Ct);
        await Store.LogParamAsync(run.Info.RunId, "lr", "0.1", Ct); // the same value again is fine
        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Store.LogParamAsync(run.Info.RunId, "lr", "0.2", Ct));
        Assert.Contains("Changing param values is not allowed", error.Message);
    }

    [Fact]
    public async Task Run_in_deleted_experiment_is_refused_as_in_process()
    {
        var experimentId = await Store.CreateExperimentAsync("gone", cancellationToken: Ct);
        await Store.DeleteExperimentAsync(experimentId, Ct);
        // MLflow answers INVALID_PARAMETER_VALUE ("must be in the 'active' state"), as the SQL store throws in-process.
        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Store.CreateRunAsync(new CreateRunRequest(experimentId), Ct));
        Assert.Contains("active", error.Message);
        await Store.RestoreExperimentAsync(experimentId, Ct);
        Assert.Equal(LifecycleStage.Active, (await Store.GetExperimentAsync(experimentId, Ct)).LifecycleStage);
    }

    [Fact]
    public async Task Bad_filter_is_invalid_parameter_value()
    {
        await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            Store.SearchRunsAsync(new RunSearch(["0"], "metrics.acc >>> 1"), Ct));
    }

    [Fact]
    public async Task Gc_over_http_is_not_implemented_and_says_what_to_do()
    {
        var error = await Assert.ThrowsAsync<CairnException>(() => Store.FindDeletedAsync(0, Ct));
        Assert.Equal(ErrorCode.NOT_IMPLEMENTED, error.ErrorCode);
        Assert.Contains("--backend-store-uri", error.Message);
        Assert.Equal(ErrorCode.NOT_IMPLEMENTED, (await Assert.ThrowsAsync<CairnException>(() => Store.PurgeRunAsync("abc", Ct))).ErrorCode);
        Assert.Equal(ErrorCode.NOT_IMPLEMENTED, (await Assert.ThrowsAsync<CairnException>(() => Store.PurgeExperimentAsync("1", Ct))).ErrorCode);
    }

    [Fact]
    public async Task Experiments_search_update_and_tags_round_trip()
    {
        for (var i = 0; i < 5; i++) await Store.CreateExperimentAsync($"search-{i}", cancellationToken: Ct);
        var found = new List<Experiment>();
        await foreach (var e in Store.SearchAllExperimentsAsync(new ExperimentSearch(Filter: "name LIKE 'search-%'", MaxResults: 2), Ct)) found.Add(e);
        Assert.Equal(5, found.Count);
        var id = found[0].ExperimentId;
        await Store.RenameExperimentAsync(id, "renamed", Ct);
        await Store.SetExperimentTagAsync(id, "k", "v", Ct);
        var experiment = await Store.GetExperimentAsync(id, Ct);
        Assert.Equal("renamed", experiment.Name);
        Assert.Equal("v", experiment.Tags.Single(t => t.Key == "k").Value);
        await Store.DeleteExperimentTagAsync(id, "k", Ct);
        Assert.Empty((await Store.GetExperimentAsync(id, Ct)).Tags);
    }

    [Fact]
    public async Task Run_update_delete_restore_and_tags_round_trip()
    {
        var experimentId = await Store.CreateExperimentAsync("lifecycle", cancellationToken: Ct);
        var run = await Store.CreateRunAsync(new CreateRunRequest(experimentId, "r", Tags: [new RunTag("t", "1")]), Ct);
        Assert.True(run.Info.StartTime > 0);
        var info = await Store.UpdateRunAsync(run.Info.RunId, RunStatus.KILLED, 123, "renamed", Ct);
        Assert.Equal(RunStatus.KILLED, info.Status);
        Assert.Equal(123, info.EndTime);
        Assert.Equal("renamed", info.RunName);
        await Store.DeleteTagAsync(run.Info.RunId, "t", Ct);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => Store.DeleteTagAsync(run.Info.RunId, "t", Ct));
        await Store.DeleteRunAsync(run.Info.RunId, Ct);
        Assert.Empty((await Store.SearchRunsAsync(new RunSearch([experimentId]), Ct)).Items);
        Assert.Single((await Store.SearchRunsAsync(new RunSearch([experimentId], ViewType: ViewType.DELETED_ONLY), Ct)).Items);
        await Store.RestoreRunAsync(run.Info.RunId, Ct);
        Assert.Equal(LifecycleStage.Active, (await Store.GetRunAsync(run.Info.RunId, Ct)).Info.LifecycleStage);
    }

    [Fact]
    public async Task Nan_and_infinite_metrics_survive_the_wire()
    {
        var experimentId = await Store.CreateExperimentAsync("nan", cancellationToken: Ct);
        var run = await Store.CreateRunAsync(new CreateRunRequest(experimentId), Ct);
        await Store.LogBatchAsync(run.Info.RunId, [new Metric("x", double.NaN, 1, 0), new Metric("y", double.PositiveInfinity, 1, 0)], cancellationToken: Ct);
        var stored = await Store.GetRunAsync(run.Info.RunId, Ct);
        Assert.True(double.IsNaN(stored.Data.Metrics.Single(m => m.Key == "x").Value));
        Assert.True(double.IsPositiveInfinity(stored.Data.Metrics.Single(m => m.Key == "y").Value));
    }

    [Fact]
    public async Task Logging_survives_a_server_restart_mid_run()
    {
        var port = _server.Address.Port;
        using var run = Client.StartRun("restart");
        run.LogMetric("loss", 1, step: 0);
        await run.FlushAsync(Ct);

        await _server.DisposeAsync(); // connections now refused
        run.LogMetric("loss", 2, step: 1);
        var restart = Task.Run(async () =>
        {
            await Task.Delay(400, Ct);
            _server = await CairnServer.StartAsync(ServerOptions(port), Ct);
        }, Ct);
        await run.FlushAsync(Ct); // retried with backoff until the server is back
        await restart;

        var history = await Store.GetFullMetricHistoryAsync(run.RunId, "loss", Ct);
        Assert.Equal([1.0, 2.0], history.Select(m => m.Value));
    }

    [Fact]
    public async Task Unreachable_server_is_temporarily_unavailable_after_retries()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens on this port now
        using var store = new HttpTrackingStore($"http://127.0.0.1:{port}",
            new HttpTrackingStoreOptions { MaxRetries = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });
        var error = await Assert.ThrowsAsync<CairnException>(() => store.GetRunAsync("abc", Ct));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, error.ErrorCode);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }

    [Fact]
    public void Tracking_uri_must_be_http()
    {
        Assert.Throws<InvalidParameterValueException>(() => new HttpTrackingStore("ftp://host"));
    }
}

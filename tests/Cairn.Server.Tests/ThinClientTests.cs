using Cairn.Client;
using Cairn.Tracking;

namespace Cairn.Tests;

/// <summary>
/// An application that only logs to a server takes the Cairn.Client package: this logs a run to a real server with
/// nothing but that assembly's types (the HTTP store, the domain records and the store extensions).
/// </summary>
public sealed class ThinClientTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_run_logged_with_only_the_client_package_types_reaches_the_server()
    {
        // Every type this test logs with comes from the thin package, not from Cairn.Core.
        Type[] used = [typeof(HttpTrackingStore), typeof(ITrackingStore), typeof(TrackingStoreExtensions), typeof(CreateRunRequest),
            typeof(Metric), typeof(Param), typeof(RunTag), typeof(RunStatus), typeof(Run)];
        Assert.All(used, t => Assert.Equal("Cairn.Client", t.Assembly.GetName().Name));

        await using var server = await RunningServer.StartAsync();
        using ITrackingStore store = new HttpTrackingStore(server.BaseAddress.ToString());
        var experimentId = await store.GetOrCreateExperimentAsync("thin-client", Ct);
        var run = await store.CreateRunAsync(new CreateRunRequest(experimentId, RunName: "thin"), Ct);
        await store.LogBatchAsync(run.Info.RunId,
            metrics: [new Metric("loss", 0.5, 1_000, 0), new Metric("loss", 0.25, 2_000, 1)],
            parameters: [new Param("lr", "0.01")],
            tags: [new RunTag("team", "ml")], cancellationToken: Ct);
        await store.UpdateRunAsync(run.Info.RunId, RunStatus.FINISHED, endTime: 3_000, cancellationToken: Ct);

        // Read back over the server's own REST API, not through the store that wrote it.
        var (status, body) = await server.GetAsync($"runs/get?run_id={run.Info.RunId}");
        Assert.Equal(200, status);
        var logged = body.GetProperty("run");
        Assert.Equal("FINISHED", logged.GetProperty("info").GetProperty("status").GetString());
        Assert.Equal("thin", logged.GetProperty("info").GetProperty("run_name").GetString());
        var data = logged.GetProperty("data");
        var loss = Assert.Single(data.GetProperty("metrics").EnumerateArray());
        Assert.Equal(0.25, loss.GetProperty("value").GetDouble());
        Assert.Equal(1, loss.GetProperty("step").GetInt64());
        Assert.Contains(data.GetProperty("params").EnumerateArray(), p => p.GetProperty("key").GetString() == "lr" && p.GetProperty("value").GetString() == "0.01");
        Assert.Contains(data.GetProperty("tags").EnumerateArray(), t => t.GetProperty("key").GetString() == "team" && t.GetProperty("value").GetString() == "ml");
        var history = await store.GetMetricHistoryAsync(run.Info.RunId, "loss", cancellationToken: Ct);
        Assert.Equal([0.5, 0.25], history.Items.OrderBy(m => m.Step).Select(m => m.Value));
    }

    [Fact]
    public async Task An_active_run_from_the_client_package_batches_in_the_background_and_uploads_artifacts_through_the_proxy()
    {
        Type[] used = [typeof(ActiveRun), typeof(RunLoggerOptions), typeof(ProxyArtifactWriter), typeof(IRunArtifactWriter)];
        Assert.All(used, t => Assert.Equal("Cairn.Client", t.Assembly.GetName().Name));

        await using var server = await RunningServer.StartAsync();
        using var store = new HttpTrackingStore(server.BaseAddress.ToString());
        var experimentId = await store.GetOrCreateExperimentAsync("thin-active-run", Ct);
        var folder = Directory.CreateTempSubdirectory("cairn-thin-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "notes.txt"), "hello from the thin client", Ct);
            string runId;
            await using (var run = await ActiveRun.StartAsync(store, new CreateRunRequest(experimentId, RunName: "thin-active"),
                new RunLoggerOptions { QueueCapacity = 64 }, cancellationToken: Ct))
            {
                runId = run.RunId;
                for (var step = 0; step < 500; step++) run.LogMetric("loss", 1.0 / (step + 1), step);
                run.LogParams(new Dictionary<string, string> { ["lr"] = "0.1", ["depth"] = "6" });
                Assert.Equal(["notes.txt"], await run.LogArtifactAsync(Path.Combine(folder.FullName, "notes.txt"), cancellationToken: Ct));
                Assert.True(run.QueueLength <= 64);
            }

            var (status, body) = await server.GetAsync($"runs/get?run_id={runId}");
            Assert.Equal(200, status);
            Assert.Equal("FINISHED", body.GetProperty("run").GetProperty("info").GetProperty("status").GetString());
            var history = await store.GetMetricHistoryAsync(runId, "loss", cancellationToken: Ct);
            Assert.Equal(500, history.Items.Count);
            using var file = await server.Http.GetAsync(new Uri(server.BaseAddress,
                $"api/2.0/mlflow-artifacts/artifacts/{experimentId}/{runId}/artifacts/notes.txt"), Ct);
            Assert.Equal("hello from the thin client", await file.Content.ReadAsStringAsync(Ct));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}

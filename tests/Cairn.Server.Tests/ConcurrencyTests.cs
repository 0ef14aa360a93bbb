using System.Collections.Concurrent;
using System.Text.Json;

namespace Cairn.Tests;

public sealed class ConcurrencyTests
{
    [Fact]
    public async Task Thirty_two_parallel_writers_into_one_experiment_lose_nothing_and_never_get_a_5xx()
    {
        await using var server = await RunningServer.StartAsync();
        var experimentId = await server.CreateExperimentAsync("concurrent");
        const int writers = 32, batches = 10, perBatch = 50, singles = 20;
        var runIds = new string[writers];
        for (var i = 0; i < writers; i++) runIds[i] = await server.CreateRunAsync(experimentId, $"writer-{i}");
        var failures = new ConcurrentBag<string>();

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var step = 0;
            for (var b = 0; b < batches; b++)
            {
                var metrics = Enumerable.Range(0, perBatch).Select(_ => new { key = "loss", value = w + step * 0.001, timestamp = 1000 + step, step = step++ }).ToArray();
                var (status, body) = await server.PostAsync("runs/log-batch", new { run_id = runIds[w], metrics, @params = new[] { new { key = $"p{b}", value = "v" } } });
                if (status != 200) failures.Add($"log-batch {status} {body}");
                for (var s = 0; s < singles / batches; s++)
                {
                    var (single, singleBody) = await server.PostAsync("runs/log-metric", new { run_id = runIds[w], key = "loss", value = w + step * 0.001, timestamp = 1000 + step, step = step++ });
                    if (single != 200) failures.Add($"log-metric {single} {singleBody}");
                }
            }
        }, TestContext.Current.CancellationToken)));

        Assert.Empty(failures);
        var expected = batches * perBatch + singles;
        foreach (var runId in runIds)
        {
            var (status, history) = await server.GetAsync($"metrics/get-history?run_id={runId}&metric_key=loss");
            Assert.Equal(200, status);
            var steps = history.GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("step").GetInt64()).ToList();
            Assert.Equal(expected, steps.Count);
            Assert.Equal(Enumerable.Range(0, expected).Select(i => (long)i), steps);
            var (_, run) = await server.GetAsync($"runs/get?run_id={runId}");
            Assert.Equal(batches, run.GetProperty("run").GetProperty("data").GetProperty("params").GetArrayLength());
            Assert.Equal(expected - 1, run.GetProperty("run").GetProperty("data").GetProperty("metrics")[0].GetProperty("step").GetInt64());
        }
    }

    [Fact]
    public async Task Concurrent_creates_of_one_experiment_name_give_one_winner_and_clean_errors()
    {
        await using var server = await RunningServer.StartAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => server.PostAsync("experiments/create", new { name = "same" })));

        Assert.Single(results, r => r.Status == 200);
        Assert.All(results.Where(r => r.Status != 200), r =>
        {
            Assert.Equal(400, r.Status);
            Assert.Equal("RESOURCE_ALREADY_EXISTS", r.Body.GetProperty("error_code").GetString());
        });
    }
}

using System.Diagnostics;
using Cairn.Storage;
using Cairn.Tracking;

namespace Cairn.Bench;

/// <summary>The embedded store without HTTP: what the SDK gets when it logs into a local folder.</summary>
internal static class StoreBench
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var dir = Path.Combine(options.Work, "store");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        using var stores = await CairnStores.OpenAsync(options.Postgres ?? dir, new CairnStoreOptions { DefaultArtifactRoot = "mlflow-artifacts:" });
        var store = stores.Tracking;
        var exp = await store.GetOrCreateExperimentAsync("store-bench-" + Guid.NewGuid().ToString("N")[..6]);
        const int n = 2000;
        var sw = Stopwatch.StartNew();
        var runs = new string[n];
        for (var i = 0; i < n; i++) runs[i] = (await store.CreateRunAsync(new CreateRunRequest(exp))).Info.RunId;
        Console.WriteLine($"create-run, sequential: {n / sw.Elapsed.TotalSeconds:N0} runs/s");

        sw.Restart();
        for (var i = 0; i < n; i++) await store.LogMetricAsync(runs[0], "m", i, 1, i);
        Console.WriteLine($"log-metric, sequential: {n / sw.Elapsed.TotalSeconds:N0} /s");

        sw.Restart();
        await Parallel.ForAsync(0, n * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) => await store.LogMetricAsync(runs[i % 8 + 1], "m", i, 1, i, ct));
        Console.WriteLine($"log-metric, 8 parallel: {n * 4 / sw.Elapsed.TotalSeconds:N0} /s");

        var batch = Enumerable.Range(0, 1000).Select(i => new Metric("k" + (i % 10), i, 1, i)).ToList();
        sw.Restart();
        for (var i = 0; i < 50; i++) await store.LogBatchAsync(runs[100 + i], batch);
        Console.WriteLine($"log-batch 1000 metrics, sequential: {50_000 / sw.Elapsed.TotalSeconds:N0} points/s");

        sw.Restart();
        for (var i = 0; i < 500; i++)
            await store.LogBatchAsync(runs[200 + i], batch.Take(50).ToList(), [new("a", "1"), new("b", "2"), new("c", "3"), new("d", "4"), new("e", "5")], [new("t1", "x"), new("t2", "y"), new("t3", "z")]);
        Console.WriteLine($"log-batch 50 metrics + 5 params + 3 tags, sequential: {500 / sw.Elapsed.TotalSeconds:N0} batches/s");
        return 0;
    }
}

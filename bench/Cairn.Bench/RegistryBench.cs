using System.Diagnostics;
using Cairn.Registry;
using Cairn.Storage;

namespace Cairn.Bench;

/// <summary>
/// Registry latency: search-model-versions and alias resolution over 1,000 models x 20 versions,
/// through a real `cairn server` process, next to GET /health measured the same way.
/// </summary>
internal static class RegistryBench
{
    public static async Task<int> RunAsync(BenchOptions options, int models = 1000, int versions = 20)
    {
        var backend = options.Postgres ?? Path.Combine(options.Work, "registry");
        if (options.Postgres is null)
        {
            if (Directory.Exists(backend)) Directory.Delete(backend, recursive: true);
            Directory.CreateDirectory(backend);
        }
        Console.WriteLine($"# Cairn registry benchmark ({(options.Postgres is null ? "SQLite" : "PostgreSQL")}, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        var populate = Stopwatch.StartNew();
        var prefix = "bench-" + Guid.NewGuid().ToString("N")[..6];
        using (var stores = await CairnStores.OpenAsync(backend, new CairnStoreOptions { DefaultArtifactRoot = "mlflow-artifacts:" }))
        {
            var registry = stores.Registry;
            await Parallel.ForAsync(0, models, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (m, ct) =>
            {
                var name = $"{prefix}-model-{m}";
                await registry.CreateRegisteredModelAsync(name, cancellationToken: ct);
                for (var v = 0; v < versions; v++)
                    await registry.CreateModelVersionAsync(new CreateModelVersionRequest(name, $"s3://models/{name}/{v}"), ct);
                await registry.SetRegisteredModelAliasAsync(name, "champion", (versions / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), "bench", ct);
            });
        }
        Console.WriteLine($"populated {models:N0} models x {versions} versions in {populate.Elapsed.TotalSeconds:F1} s");

        await using var server = await ServerProcess.StartAsync(options.Cli, ServerProcess.ServerArgs(backend, Path.Combine(options.Work, "registry-artifacts")));
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var api = "api/2.0/mlflow/";
        var target = $"{prefix}-model-{models / 2}";
        var health = await TrackingBench.LatencyAsync(() => http.GetAsync("health"));
        var search = await TrackingBench.LatencyAsync(() => http.GetAsync($"{api}model-versions/search?filter={Uri.EscapeDataString($"name='{target}'")}"));
        var alias = await TrackingBench.LatencyAsync(() => http.GetAsync($"{api}registered-models/alias?name={Uri.EscapeDataString(target)}&alias=champion"));
        var models100 = await TrackingBench.LatencyAsync(() => http.GetAsync($"{api}registered-models/search?max_results=100&filter={Uri.EscapeDataString($"name LIKE '{prefix}-model-5%'")}"));
        Console.WriteLine($"model-versions/search name='{target}' (20 versions): median {search.Median:F2} ms, p90 {search.P90:F2} ms");
        Console.WriteLine($"registered-models/alias (resolve @champion):        median {alias.Median:F2} ms, p90 {alias.P90:F2} ms");
        Console.WriteLine($"registered-models/search LIKE, 100 results:         median {models100.Median:F2} ms, p90 {models100.P90:F2} ms");
        Console.WriteLine($"reference GET /health:                               median {health.Median:F2} ms");
        return 0;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cairn.Storage;
using Cairn.Tracking;

namespace Cairn.Bench;

/// <summary>
/// Ingest and search figures for the tracking server: a real `cairn server` process on loopback,
/// driven by HTTP clients in this process. Figures are medians over trials; the /health endpoint,
/// measured with the same clients in the same run, is the reference for what HTTP alone costs here.
/// </summary>
internal static class TrackingBench
{
    private static readonly string[] Models = ["rf", "gbt", "lr", "svm"];

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var backend = options.Postgres ?? Path.Combine(options.Work, "sqlite");
        var label = options.Postgres is null ? "SQLite" : "PostgreSQL";
        if (options.Postgres is null && !options.Reuse)
        {
            if (Directory.Exists(options.Work)) Directory.Delete(options.Work, recursive: true);
        }
        if (options.Postgres is null) Directory.CreateDirectory(backend);

        Console.WriteLine($"# Cairn tracking benchmark ({label}, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        Console.WriteLine();

        var populate = Stopwatch.StartNew();
        var experimentId = await PopulateAsync(backend, options.Runs);
        Console.WriteLine($"populated {options.Runs:N0} runs (5 params, 5 metrics x 10 steps, 3 tags each) in {populate.Elapsed.TotalSeconds:F1} s");

        await using var server = await ServerProcess.StartAsync(options.Cli, ServerProcess.ServerArgs(backend, Path.Combine(options.Work, "artifacts")));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = server.BaseAddress };
        var api = "api/2.0/mlflow/";

        var health = await MedianAsync(options, () => ThroughputAsync(8, options.Seconds, _ => http.GetAsync("health")));
        Console.WriteLine($"reference: GET /health, 8 clients: {health:N0} req/s (median of {options.Trials})");

        var ingestExperiment = await CreateExperimentAsync(http, api, "ingest-" + Guid.NewGuid().ToString("N")[..6]);
        var runId = await CreateRunAsync(http, api, ingestExperiment);
        var step = 0L;
        var single = await MedianAsync(options, () => ThroughputAsync(8, options.Seconds, _ =>
        {
            var body = $$"""{"run_id":"{{runId}}","key":"loss","value":{{Random.Shared.NextDouble().ToString(CultureInfo.InvariantCulture)}},"timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}},"step":{{Interlocked.Increment(ref step)}}}""";
            return http.PostAsync(api + "runs/log-metric", new StringContent(body, Encoding.UTF8, "application/json"));
        }));
        Console.WriteLine($"log-metric, 8 clients: {single:N0} req/s (median of {options.Trials}; {single / health:P0} of /health)");

        var batchRuns = new string[4];
        for (var i = 0; i < batchRuns.Length; i++) batchRuns[i] = await CreateRunAsync(http, api, ingestExperiment);
        var batchStep = 0L;
        var batches = await MedianAsync(options, () => ThroughputAsync(4, options.Seconds, worker =>
        {
            var first = Interlocked.Add(ref batchStep, 1000) - 1000;
            return http.PostAsync(api + "runs/log-batch", new StringContent(BatchBody(batchRuns[worker], first), Encoding.UTF8, "application/json"));
        }));
        Console.WriteLine($"log-batch of 1,000 metrics, 4 clients: {batches * 1000:N0} metric points/s ({batches:N0} req/s, median of {options.Trials})");

        var filter = "metrics.acc > 0.9 and params.model = 'rf'";
        var searchOther = await SearchLatencyAsync(http, api, experimentId, filter, "metrics.auc DESC");
        var searchSame = await SearchLatencyAsync(http, api, experimentId, filter, "metrics.acc DESC");
        var healthLatency = await LatencyAsync(() => http.GetAsync("health"));
        Console.WriteLine($"runs/search over {options.Runs:N0} runs, filter \"{filter}\", 100 results:");
        Console.WriteLine($"  order_by metrics.auc DESC: median {searchOther.Median:F1} ms, p90 {searchOther.P90:F1} ms");
        Console.WriteLine($"  order_by metrics.acc DESC: median {searchSame.Median:F1} ms, p90 {searchSame.P90:F1} ms");
        Console.WriteLine($"  reference GET /health: median {healthLatency.Median:F2} ms");

        var memory = server.Memory();
        Console.WriteLine($"server memory: RSS {memory.RssMb:N0} MB now, peak {memory.PeakMb:N0} MB");
        return 0;
    }

    private static string BatchBody(string runId, long firstStep)
    {
        var sb = new StringBuilder(80_000);
        sb.Append("{\"run_id\":\"").Append(runId).Append("\",\"metrics\":[");
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < 1000; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append("{\"key\":\"m").Append(i % 10).Append("\",\"value\":").Append((i * 0.001).ToString(CultureInfo.InvariantCulture))
              .Append(",\"timestamp\":").Append(ts).Append(",\"step\":").Append(firstStep + i).Append('}');
        }
        return sb.Append("]}").ToString();
    }

    private static async Task<string> PopulateAsync(string backend, int runs)
    {
        using var stores = await CairnStores.OpenAsync(backend, new CairnStoreOptions { DefaultArtifactRoot = "mlflow-artifacts:" });
        var store = stores.Tracking;
        var experimentId = await store.GetOrCreateExperimentAsync("search-bench");
        var existing = await store.SearchRunsAsync(new RunSearch([experimentId], MaxResults: 1));
        if (existing.Items.Count > 0) return experimentId; // reuse a populated PostgreSQL database
        var done = 0;
        var progress = Stopwatch.StartNew();
        await Parallel.ForAsync(0, runs, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var random = new Random(i);
            var run = await store.CreateRunAsync(new CreateRunRequest(experimentId, $"run-{i}", StartTime: 1_700_000_000_000 + i), ct);
            var metrics = new List<Metric>(50);
            foreach (var key in (string[])["acc", "auc", "loss", "f1", "rmse"])
            {
                var final = random.NextDouble();
                for (var s = 0; s < 10; s++) metrics.Add(new Metric(key, final * (s + 1) / 10, 1_700_000_000_000 + s, s));
            }
            await store.LogBatchAsync(run.Info.RunId, metrics,
                [new("model", Models[random.Next(Models.Length)]), new("depth", random.Next(1, 11).ToString(CultureInfo.InvariantCulture)),
                 new("lr", (random.Next(1, 100) / 1000.0).ToString(CultureInfo.InvariantCulture)), new("seed", i.ToString(CultureInfo.InvariantCulture)), new("features", "20")],
                [new("team", "team-" + (char)('a' + random.Next(3))), new("owner", "user" + random.Next(20)), new("stage", random.Next(2) == 0 ? "dev" : "prod")], ct);
            var n = Interlocked.Increment(ref done);
            if (n % 10_000 == 0) Console.Error.WriteLine($"  populate: {n:N0}/{runs:N0} runs, {n / progress.Elapsed.TotalSeconds:N0} runs/s");
        });
        return experimentId;
    }

    internal static async Task<string> CreateExperimentAsync(HttpClient http, string api, string name)
    {
        using var response = await http.PostAsJsonAsync(api + "experiments/create", new { name });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("experiment_id").GetString()!;
    }

    internal static async Task<string> CreateRunAsync(HttpClient http, string api, string experimentId)
    {
        using var response = await http.PostAsJsonAsync(api + "runs/create", new { experiment_id = experimentId });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
    }

    private static async Task<(double Median, double P90)> SearchLatencyAsync(HttpClient http, string api, string experimentId, string filter, string orderBy)
    {
        var body = JsonSerializer.Serialize(new { experiment_ids = new[] { experimentId }, filter, order_by = new[] { orderBy }, max_results = 100 });
        using (var check = await http.PostAsync(api + "runs/search", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            check.EnsureSuccessStatusCode();
            var runs = (await check.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runs").GetArrayLength();
            // With the default 100,000 runs a page is always full; a small --runs may match fewer, which is still worth timing.
            if (runs == 0) throw new InvalidOperationException("search returned no run: the data set does not match the benchmark's filter");
            if (runs < 100) Console.WriteLine($"note: '{filter}' matched {runs} runs, less than a page of 100 (--runs is small)");
        }
        return await LatencyAsync(() => http.PostAsync(api + "runs/search", new StringContent(body, Encoding.UTF8, "application/json")));
    }

    internal static async Task<(double Median, double P90)> LatencyAsync(Func<Task<HttpResponseMessage>> call)
    {
        for (var i = 0; i < 5; i++) (await call()).Dispose(); // warm-up
        var samples = new List<double>();
        for (var i = 0; i < 50; i++)
        {
            var sw = Stopwatch.StartNew();
            using var response = await call();
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
            samples.Add(sw.Elapsed.TotalMilliseconds);
        }
        samples.Sort();
        return (samples[samples.Count / 2], samples[(int)(samples.Count * 0.9)]);
    }

    private static async Task<double> MedianAsync(BenchOptions options, Func<Task<double>> trial)
    {
        await trial(); // warm-up: JIT, connection pool, SQLite page cache
        var results = new List<double>();
        for (var i = 0; i < options.Trials; i++) results.Add(await trial());
        results.Sort();
        return results[results.Count / 2];
    }

    /// <summary>Requests per second that <paramref name="clients"/> concurrent loops sustain for the given time.</summary>
    internal static async Task<double> ThroughputAsync(int clients, double seconds, Func<int, Task<HttpResponseMessage>> call)
    {
        var count = 0L;
        var stop = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(worker => Task.Run(async () =>
        {
            while (stop.Elapsed < deadline)
            {
                using var response = await call(worker);
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                Interlocked.Increment(ref count);
            }
        })));
        return count / stop.Elapsed.TotalSeconds;
    }
}

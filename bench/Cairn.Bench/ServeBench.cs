using System.Diagnostics;

namespace Cairn.Bench;

/// <summary>
/// `cairn serve` under wrk. Models (<see cref="ServeModels"/>): a FastTree binary classifier on 20 features trained on
/// generated rows, and an ONNX MLP of similar cost. Servers, all started before the first trial: the FastTree model on
/// `cairn serve` (single-row POST /invocations at 32 connections, GET /ping at 32 connections as the trivial-endpoint
/// ceiling, 10,000-row batches at 4 connections), the same with --log-predictions (single rows), a `cairn server` with three
/// deployments of it (<see cref="ServeDeployments"/>: one route; 90/10 A/B; 90/10 A/B plus a shadow), the ONNX model on `cairn serve`
/// (single rows and batches), and MLflow's scoring server when MLFLOW_SRC is set (<see cref="MlflowReference"/>). Each
/// trial runs every scenario once, in an order rotated from trial to trial; figures are medians of the trials and every
/// ratio is between scenarios of the same run (also given paired: the median of the per-trial ratios). wrk shares the
/// cores, so beside throughput each run records the CPU time the server's processes used per request, which other load
/// on the machine changes much less than it changes throughput.
/// </summary>
internal static class ServeBench
{
    private const int BatchRows = 10_000;

    /// <summary>
    /// One wrk load: a path on a server with its body, connections and rows per request, and the server's cheap GET path,
    /// asked after each run so requests still queued in the server (MLflow's sync workers finish those of closed
    /// connections) are done before the CPU time is read and the next scenario starts.
    /// </summary>
    private sealed record Scenario(string Key, string Label, ServerProcess Server, string Path, string? Script, int Connections, int RowsPerRequest, string Drain);

    /// <summary>One trial of a scenario: wrk's figures and the server's CPU milliseconds per request.</summary>
    private readonly record struct Trial(WrkResult Wrk, double CpuMs)
    {
        public double Rps => Wrk.Rps;
    }

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var work = Path.Combine(options.Work, "serve");
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        var seconds = Math.Max(3, (int)options.Seconds);
        Console.WriteLine($"# cairn serve benchmark ({Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load average {LoadAverage()})");

        var clock = Stopwatch.StartNew();
        var rows = ServeModels.Rows(options.Rows);
        var fastTree = ServeModels.TrainFastTree(Path.Combine(work, "model"), rows);
        Console.WriteLine($"trained FastTree on {options.Rows:N0} rows x {ServeModels.Features} features in {clock.Elapsed.TotalSeconds:0.0} s");
        var onnx = ServeModels.WriteOnnxMlp(Path.Combine(work, "onnx-mlp"));
        var random = new Random(1);
        var single = Wrk.Script(Path.Combine(work, "single.lua"), ServeModels.Body(random, 1));
        var batch = Wrk.Script(Path.Combine(work, "batch.lua"), ServeModels.Body(random, BatchRows));

        var servers = new List<ServerProcess>();
        try
        {
            var scenarios = new List<Scenario>();
            var plain = Started(servers, await ServerProcess.StartAsync(options.Cli, ["serve", fastTree], "ping"));
            scenarios.Add(new("single", "FastTree single-row, `cairn serve`", plain, "invocations", single, 32, 1, "ping"));
            scenarios.Add(new("ping", "GET /ping, same server", plain, "ping", null, 32, 0, "ping"));
            scenarios.Add(new("batch", "FastTree 10,000-row batches, 4 connections", plain, "invocations", batch, 4, BatchRows, "ping"));

            var logHome = Directory.CreateDirectory(Path.Combine(work, "predlog")).FullName;
            var logged = Started(servers, await ServerProcess.StartAsync(options.Cli, ["serve", fastTree, "--log-predictions", "--tracking-uri", logHome], "ping"));
            scenarios.Add(new("logged", "FastTree single-row, `cairn serve --log-predictions`", logged, "invocations", single, 32, 1, "ping"));

            var deployments = Started(servers, await ServeDeployments.StartAsync(options, Path.Combine(work, "server"), fastTree));
            scenarios.Add(new("route1", "FastTree single-row, deployment with one route", deployments, ServeDeployments.ScoringPath(ServeDeployments.Single), single, 32, 1, "health/live"));
            scenarios.Add(new("split", "FastTree single-row, deployment 90/10 A/B", deployments, ServeDeployments.ScoringPath(ServeDeployments.Split), single, 32, 1, "health/live"));
            scenarios.Add(new("abshadow", "FastTree single-row, deployment 90/10 A/B + shadow", deployments, ServeDeployments.ScoringPath(ServeDeployments.AbShadow), single, 32, 1, "health/live"));

            var onnxServer = Started(servers, await ServerProcess.StartAsync(options.Cli, ["serve", onnx], "ping"));
            scenarios.Add(new("onnx", "ONNX MLP single-row, `cairn serve`", onnxServer, "invocations", single, 32, 1, "ping"));
            scenarios.Add(new("onnxbatch", "ONNX MLP 10,000-row batches, 4 connections", onnxServer, "invocations", batch, 4, BatchRows, "ping"));

            if (MlflowReference.SkipReason() is { } skip)
                Console.WriteLine($"MLflow reference skipped: {skip}.");
            else
            {
                var mlflow = Started(servers, await MlflowReference.StartAsync(work, ServeModels.WriteCsv(Path.Combine(work, "train.csv"), rows)));
                scenarios.Add(new("mlflow", $"MLflow `models serve` (HistGradientBoosting, {MlflowReference.Workers()} workers) single-row", mlflow, "invocations", single, 32, 1, "ping"));
                scenarios.Add(new("mlflowbatch", "MLflow `models serve` 10,000-row batches, 4 connections", mlflow, "invocations", batch, 4, BatchRows, "ping"));
            }

            using var drain = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
            async Task<Trial> RunAsync(Scenario scenario, int duration)
            {
                var cpu = scenario.Server.CpuSeconds();
                var result = await Wrk.RunAsync(Url(scenario.Server, scenario.Path), scenario.Script, scenario.Connections, duration);
                (await drain.GetAsync(Url(scenario.Server, scenario.Drain))).EnsureSuccessStatusCode().Dispose();
                if (result.Errors > 0)
                    Console.WriteLine($"{scenario.Key}: {result.Errors:N0} of {result.Requests:N0} requests failed ({result.ErrorText}); one more now: "
                        + $"{await ProbeAsync(drain, scenario)}; the server's last stderr lines: {scenario.Server.LastErrors()}");
                // wrk keeps one request outstanding per connection: at its end those are in flight, and the drain waited for them.
                return new Trial(result, (scenario.Server.CpuSeconds() - cpu) * 1000 / (result.Requests + scenario.Connections));
            }

            // Warm-up: JIT, tiering, engine pools, the deployments' first load.
            foreach (var scenario in scenarios) await RunAsync(scenario, 3);

            var results = scenarios.ToDictionary(s => s.Key, _ => new List<Trial>());
            for (var trial = 0; trial < options.Trials; trial++)
            {
                var offset = trial * scenarios.Count / options.Trials;
                foreach (var scenario in scenarios.Skip(offset).Concat(scenarios.Take(offset)))
                    results[scenario.Key].Add(await RunAsync(scenario, seconds));
                Console.WriteLine($"trial {trial + 1} (from {scenarios[offset].Key}, load average {LoadAverage()}): "
                    + string.Join("; ", scenarios.Select(s => $"{s.Key} {Throughput(s, results[s.Key][^1].Rps)} p99 {results[s.Key][^1].Wrk.P99:0.00} ms")));
            }

            var logCheck = await PredictionLogCheckAsync(logged);
            var shadowsSkipped = await PrometheusScrape.SumAsync(deployments, "cairn_scoring_shadow_skipped_total");
            var shadowFailures = await PrometheusScrape.SumAsync(deployments, "cairn_scoring_shadow_failures_total");
            Report(options, scenarios, results, logCheck, shadowsSkipped, shadowFailures);
            return 0;
        }
        finally
        {
            foreach (var server in servers) await server.DisposeAsync();
        }
    }

    /// <summary>Sends the scenario's request once and describes the answer (status and the start of the body).</summary>
    private static async Task<string> ProbeAsync(HttpClient http, Scenario scenario)
    {
        using var request = new HttpRequestMessage(scenario.Script is null ? HttpMethod.Get : HttpMethod.Post, Url(scenario.Server, scenario.Path));
        if (scenario.Script is not null)
        {
            var script = File.ReadAllText(scenario.Script);
            var body = script[(script.IndexOf("[==[", StringComparison.Ordinal) + 4)..script.LastIndexOf("]==]", StringComparison.Ordinal)];
            request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        }
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return $"{(int)response.StatusCode} {text[..Math.Min(200, text.Length)]}";
    }

    private static ServerProcess Started(List<ServerProcess> servers, ServerProcess server)
    {
        servers.Add(server);
        return server;
    }

    private static string Url(ServerProcess server, string path) => new Uri(server.BaseAddress, path).ToString();

    private static string Throughput(Scenario scenario, double rps) =>
        scenario.RowsPerRequest > 1 ? $"{rps * scenario.RowsPerRequest:N0} rows/s" : $"{rps:N0} req/s";

    /// <summary>Rows the logging server scored, wrote to its log and dropped (requests), once the log has caught up.</summary>
    private static async Task<(double Scored, double Written, double Dropped)> PredictionLogCheckAsync(ServerProcess logged)
    {
        var scored = await PrometheusScrape.SumAsync(logged, "cairn_scoring_batch_size_sum");
        var written = -1.0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            var now = await PrometheusScrape.SumAsync(logged, "cairn_prediction_log_written_total");
            if (now == written || now >= scored) break; // caught up, or nothing moved in a second
            written = now;
            await Task.Delay(1000);
        }
        written = await PrometheusScrape.SumAsync(logged, "cairn_prediction_log_written_total");
        return (scored, written, await PrometheusScrape.SumAsync(logged, "cairn_prediction_log_dropped_total"));
    }

    private static void Report(BenchOptions options, List<Scenario> scenarios, Dictionary<string, List<Trial>> results,
        (double Scored, double Written, double Dropped) log, double shadowsSkipped, double shadowFailures)
    {
        double Rps(string key) => Median(results[key].Select(r => r.Rps));
        double P99(string key) => Median(results[key].Select(r => r.Wrk.P99));
        double Cpu(string key) => Median(results[key].Select(r => r.CpuMs));
        double Paired(string key, string reference) => Median(results[key].Zip(results[reference], (a, b) => a.Rps / b.Rps));
        bool Measured(string key) => results[key].All(r => r.Rps > 0);
        string Ratio(string key, string reference) => !Measured(reference) ? $"n/a: a trial of {reference} completed no request"
            : $"{Rps(key) / Rps(reference):0.000} (paired {Paired(key, reference):0.000}); CPU per request {Cpu(reference) / Cpu(key):0.000}";
        string Change(string key, string reference) => !Measured(reference) ? $"n/a: a trial of {reference} completed no request"
            : $"{(Rps(key) / Rps(reference) - 1) * 100:+0.0;-0.0} % (paired {(Paired(key, reference) - 1) * 100:+0.0;-0.0} %); "
              + $"CPU per request {(Cpu(key) / Cpu(reference) - 1) * 100:+0.0;-0.0} %";
        string CpuText(Scenario s) => s.RowsPerRequest > 1 ? $"{Cpu(s.Key) * 1000 / s.RowsPerRequest:0.00} µs/row" : $"{Cpu(s.Key) * 1000:0} µs/req";

        Console.WriteLine();
        Console.WriteLine($"| scenario (median of {options.Trials} trials) | throughput | p99 | server CPU | trials | failed requests |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var s in scenarios)
            Console.WriteLine($"| {s.Label} | **{Throughput(s, Rps(s.Key))}** | {P99(s.Key):0.00} ms | {CpuText(s)} | "
                + $"{string.Join(" / ", results[s.Key].Select(r => Throughput(s, r.Rps)))} | {results[s.Key].Sum(r => r.Wrk.Errors):N0} |");

        Console.WriteLine();
        Console.WriteLine("| figure, same run (throughput of medians, paired: median of per-trial ratios; CPU: server CPU time per request) | value | target |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| single-row req/s, `cairn serve` | {Rps("single"):N0} | >= 15,000 req/s |");
        Console.WriteLine($"| single-row p99 / ping p99 | {P99("single") / P99("ping"):0.00} | <= 2 |");
        Console.WriteLine($"| 10,000-row batches | {Rps("batch") * BatchRows:N0} rows/s | >= 1,000,000 rows/s |");
        Console.WriteLine($"| prediction logging on vs off, single-row req/s | {Change("logged", "single")} | loss <= 10 % |");
        Console.WriteLine($"| rows logged / rows scored (logging server, warm-up included) | {log.Written:N0} / {log.Scored:N0} = {log.Written / Math.Max(1, log.Scored):0.0000}; requests dropped {log.Dropped:N0} | all logged |");
        Console.WriteLine($"| deployment A/B + shadow vs one route | {Change("abshadow", "route1")} | overhead <= 10 % |");
        Console.WriteLine($"| deployment A/B (no shadow) vs one route | {Change("split", "route1")} | |");
        Console.WriteLine($"| deployment, one route vs plain `cairn serve` | {Change("route1", "single")} | |");
        Console.WriteLine($"| deployment A/B + shadow vs plain `cairn serve` | {Change("abshadow", "single")} | |");
        Console.WriteLine($"| shadow scorings skipped (all slots busy) / failed | {shadowsSkipped:N0} / {shadowFailures:N0} | |");
        Console.WriteLine($"| ONNX MLP / FastTree, single-row | {Ratio("onnx", "single")} | |");
        Console.WriteLine($"| ONNX MLP / FastTree, 10,000-row batches | {Ratio("onnxbatch", "batch")} | |");
        if (results.ContainsKey("mlflow"))
        {
            Console.WriteLine($"| `cairn serve` FastTree / MLflow, single-row | {Ratio("single", "mlflow")} | >= 40 |");
            Console.WriteLine($"| `cairn serve` FastTree / MLflow, 10,000-row batches | {Ratio("batch", "mlflowbatch")} | |");
        }
        Console.WriteLine($"load average after: {LoadAverage()}");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}

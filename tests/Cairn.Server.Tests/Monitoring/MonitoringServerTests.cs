using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Cairn.Access;
using Cairn.ML.Monitoring;
using Cairn.Monitoring;
using Cairn.Registry;
using Cairn.Server.Hosting;
using Cairn.Server.Monitoring;
using Cairn.Serving;
using Cairn.Storage;
using Cairn.Tests.Auth;
using Cairn.Tests.Scoring;
using Cairn.Tracking;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Monitoring;

/// <summary>
/// The monitor on a real <c>cairn server</c>: a classifier served through a deployment, its answers logged, ground truth posted,
/// windows run over REST and by the schedule, stored, listed, exported as gauges and handed to observers.
/// </summary>
public sealed class MonitoringServerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CairnStores Stores(RunningServer server) => server.Server.Services.GetRequiredService<ServerStores>().Inner;

    /// <summary>Hears windows (the alert rules' way in).</summary>
    private sealed class RecordingObserver : IMonitorWindowObserver
    {
        public ConcurrentQueue<MonitorWindow> Windows { get; } = new();

        public ValueTask OnWindowAsync(MonitorWindow window, CancellationToken cancellationToken)
        {
            Windows.Enqueue(window);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class FailingObserver : IMonitorWindowObserver
    {
        public int Calls;

        public ValueTask OnWindowAsync(MonitorWindow window, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            throw new InvalidOperationException("observer broke");
        }
    }

    /// <summary>A clock that works until <see cref="Fail"/> is set.</summary>
    private sealed class BreakableTime : TimeProvider
    {
        public volatile bool Fail;

        public override DateTimeOffset GetUtcNow() => Fail ? throw new InvalidOperationException("the clock broke") : base.GetUtcNow();
    }

    /// <summary>Registers churn version 1 (a FastTree classifier on a, b, c) and deploys it as <paramref name="deployment"/>.</summary>
    /// <remarks>With <paramref name="trainingMetrics"/>, the version comes from a run that logged them.</remarks>
    private static async Task DeployAsync(RunningServer server, string deployment, IReadOnlyDictionary<string, double>? trainingMetrics = null)
    {
        var registry = Stores(server).Registry;
        await registry.CreateRegisteredModelAsync("churn", cancellationToken: Ct);
        var package = ScoringModelsForTests.TrainClassifier(Path.Combine(server.Home, "packages", "churn"));
        string? runId = null;
        if (trainingMetrics is not null)
        {
            var tracking = Stores(server).Tracking;
            var experiment = await tracking.CreateExperimentAsync("training", cancellationToken: Ct);
            runId = (await tracking.CreateRunAsync(new CreateRunRequest(experiment), Ct)).Info.RunId;
            foreach (var (key, value) in trainingMetrics) await tracking.LogMetricAsync(runId, key, value, cancellationToken: Ct);
        }
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", package, runId), Ct);
        await Stores(server).Deployments.CreateDeploymentAsync(new DeploymentSpec(deployment, [DeploymentRoute.Primary("models:/churn/1", 100)]), "test", Ct);
    }

    /// <summary>Scores rows through the deployment; returns the request id the server answered with.</summary>
    private static async Task<string> ScoreAsync(RunningServer server, string deployment, double[][] rows)
    {
        var body = JsonSerializer.Serialize(new { dataframe_split = new { columns = new[] { "a", "b", "c" }, data = rows } });
        using var response = await server.Http.PostAsync($"api/cairn/v1/deployments/{deployment}/invocations", new StringContent(body, Encoding.UTF8, "application/json"), Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        return response.Headers.GetValues("X-Request-Id").Single();
    }

    private static async Task<(int Status, JsonElement Body)> SendAsync(RunningServer server, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await server.Http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static void AssertError(int status, string messagePart, (int Status, JsonElement Body) answer)
    {
        Assert.True(answer.Status == status, $"expected {status}, got {answer.Status}: {answer.Body}");
        Assert.Contains(messagePart, answer.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(status == 404 ? "RESOURCE_DOES_NOT_EXIST" : "INVALID_PARAMETER_VALUE", answer.Body.GetProperty("error_code").GetString());
    }

    private static async Task FlushAsync(RunningServer server) =>
        await server.Server.Services.GetRequiredService<ServerPredictionLog>().Log.FlushAsync(Ct);

    private static string WriteReference(string folder)
    {
        // The training distribution: a, b in [0, 1), c in [0, 2), and the label a + b > c.
        var random = new Random(3);
        var lines = new List<string> { "a,b,c,label" };
        for (var i = 0; i < 500; i++)
        {
            var (a, b, c) = (random.NextDouble(), random.NextDouble(), random.NextDouble() * 2);
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{a},{b},{c},{(a + b > c ? 1 : 0)}"));
        }
        var path = Path.Combine(folder, "reference.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public async Task A_window_run_over_rest_compares_with_the_reference_scores_late_labels_and_reaches_gauges_and_observers()
    {
        var dir = new TempDirectory();
        WriteReference(dir.Path);
        var file = Path.Combine(dir.Path, "monitoring.yaml");
        File.WriteAllText(file, """
            monitors:
              - deployment: churn-api
                schedule: "0 0 1 1 *"
                window: 1h
                reference: reference.csv
                label: label
                drift:
                  numeric_method: psi
                  thresholds: {psi: 0.2}
            alerts:
              - name: never-fires             # the alert rules read this section; the monitor leaves it to them
                condition: rows > 100000000
                actions: [log]
            """);
        var recording = new RecordingObserver();
        var failing = new FailingObserver();
        await using var server = await RunningServer.StartAsync(o => o.MonitoringFile = file, services: s =>
        {
            s.AddSingleton<IMonitorReferenceReader, TableReferenceReader>();
            s.AddSingleton<IMonitorWindowObserver>(failing); // first: its failure must not keep the next one from hearing
            s.AddSingleton<IMonitorWindowObserver>(recording);
        });
        await DeployAsync(server, "churn-api");
        var start = DateTimeOffset.UtcNow.AddMinutes(-1);
        // Live traffic drifted: c is now always large (so the model mostly says false).
        var first = await ScoreAsync(server, "churn-api", [[0.9, 0.8, 1.9], [0.2, 0.1, 1.8], [0.5, 0.5, 1.7]]);
        await ScoreAsync(server, "churn-api", [[0.6, 0.3, 1.95], [0.1, 0.9, 1.99]]);
        await FlushAsync(server);

        var range = $$"""{"start": {{start.ToUnixTimeMilliseconds()}}, "end": "{{DateTimeOffset.UtcNow.AddMinutes(1):O}}"}""";
        var (status, body) = await SendAsync(server, HttpMethod.Post, "api/cairn/v1/monitoring/deployments/churn-api/windows/run", range);
        Assert.True(status == 200, body.ToString());
        var window = Assert.Single(body.GetProperty("windows").EnumerateArray().ToList());
        Assert.Equal(5, window.GetProperty("rows").GetInt64());
        Assert.Equal("reference.csv", window.GetProperty("reference").GetString());
        var features = window.GetProperty("input_drift").GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(["a", "b", "c"], features.Select(f => f.GetProperty("name").GetString()));
        Assert.True(features[2].GetProperty("drifted").GetBoolean(), features[2].ToString());
        Assert.Equal(500, features[2].GetProperty("n_ref").GetInt32());
        Assert.Equal("PredictedLabel", window.GetProperty("prediction_drift").GetProperty("name").GetString());
        Assert.Equal(0, window.GetProperty("labeled_rows").GetInt64());
        Assert.Equal(1, failing.Calls);
        Assert.Equal(window.GetProperty("window_id").GetInt64(), Assert.Single(recording.Windows).Id);

        // Ground truth arrives late for the first request's three rows; the next run of the same range scores them.
        Assert.Equal(200, (await SendAsync(server, HttpMethod.Post, "api/cairn/v1/deployments/churn-api/feedback",
            $$"""{"request_id": "{{first}}", "ground_truth": [true, false, false]}""")).Status);
        (status, body) = await SendAsync(server, HttpMethod.Post, "api/cairn/v1/monitoring/deployments/churn-api/windows/run", range);
        Assert.Equal(200, status);
        var again = body.GetProperty("windows")[0];
        Assert.Equal(3, again.GetProperty("labeled_rows").GetInt64());
        var performance = again.GetProperty("performance");
        foreach (var metric in new[] { "accuracy", "precision", "recall", "f1" })
            Assert.InRange(performance.GetProperty(metric).GetDouble(), 0, 1);

        // Stored: listed newest first, read one by one.
        (status, body) = await SendAsync(server, HttpMethod.Get, "api/cairn/v1/monitoring/deployments/churn-api/windows?max_results=1");
        Assert.Equal(200, status);
        var listed = Assert.Single(body.GetProperty("windows").EnumerateArray().ToList());
        Assert.Equal(again.GetProperty("window_id").GetInt64(), listed.GetProperty("window_id").GetInt64());
        Assert.True(body.TryGetProperty("next_page_token", out var token));
        (status, body) = await SendAsync(server, HttpMethod.Get, $"api/cairn/v1/monitoring/deployments/churn-api/windows?max_results=1&page_token={token.GetString()}");
        Assert.Equal(window.GetProperty("window_id").GetInt64(), body.GetProperty("windows")[0].GetProperty("window_id").GetInt64());
        (status, body) = await SendAsync(server, HttpMethod.Get, $"api/cairn/v1/monitoring/deployments/churn-api/windows/{window.GetProperty("window_id").GetInt64()}");
        Assert.Equal(200, status);
        Assert.Equal(0, body.GetProperty("window").GetProperty("labeled_rows").GetInt64());

        // Gauges on /metrics, per deployment, version and feature.
        var metrics = await server.Http.GetStringAsync("metrics", Ct);
        AssertMetric(metrics, "cairn_monitor_window_rows", "deployment=\"churn-api\",model_version=\"all\",route=\"all\"} 5");
        AssertMetric(metrics, "cairn_monitor_window_labeled_rows", "deployment=\"churn-api\",model_version=\"all\",route=\"all\"} 3");
        AssertMetric(metrics, "cairn_monitor_feature_drifted", "deployment=\"churn-api\",feature=\"c\",model_version=\"all\",route=\"all\"} 1");
        AssertMetric(metrics, "cairn_monitor_performance", "deployment=\"churn-api\",metric=\"accuracy\",model_version=\"all\",route=\"all\"} ");
        AssertMetric(metrics, "cairn_monitor_drift_share", "deployment=\"churn-api\",model_version=\"all\",route=\"all\"} ");
        AssertMetric(metrics, "cairn_monitor_prediction_drift_score", "deployment=\"churn-api\",model_version=\"all\",route=\"all\"} ");
        dir.Dispose();
    }

    /// <summary>A series of <paramref name="name"/> whose labels (after the exporter's scope labels) and value start as <paramref name="labelsAndValue"/>.</summary>
    private static void AssertMetric(string metrics, string name, string labelsAndValue) =>
        Assert.True(metrics.Split('\n').Any(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains(labelsAndValue, StringComparison.Ordinal)),
            $"{name} {labelsAndValue} not in:\n" + string.Join("\n", metrics.Split('\n').Where(l => l.StartsWith("cairn_monitor", StringComparison.Ordinal))));

    [Fact]
    public async Task Without_a_reference_file_the_packages_reference_sample_is_the_reference()
    {
        await using var server = await RunningServer.StartAsync(services: s => s.AddSingleton<IMonitorReferenceReader, TableReferenceReader>());
        await DeployAsync(server, "churn-api", new Dictionary<string, double> { ["accuracy"] = 0.93, ["auc"] = 0.97, ["custom_loss"] = 4 });
        // What `cairn train` leaves beside the model: reference_sample.parquet with the training columns.
        var version = await Stores(server).Registry.GetModelVersionAsync("churn", "1", Ct);
        var columns = new[] { "a", "b", "c" }.Select(n => new Parquet.Schema.DataField<double>(n)).ToArray();
        await using (var stream = File.Create(Path.Combine(version.Source, MonitorModels.ReferenceSampleFile)))
        await using (var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(columns), stream, cancellationToken: Ct))
        {
            using var group = writer.CreateRowGroup();
            var random = new Random(5);
            foreach (var column in columns)
                await group.WriteAsync<double>(column, Enumerable.Range(0, 200).Select(_ => random.NextDouble()).ToArray(), cancellationToken: Ct);
        }
        var start = DateTimeOffset.UtcNow.AddMinutes(-1);
        await ScoreAsync(server, "churn-api", [[0.5, 0.5, 0.5], [0.4, 0.6, 0.2], [0.3, 0.3, 0.3]]);
        await FlushAsync(server);
        var (status, body) = await SendAsync(server, HttpMethod.Post, "api/cairn/v1/monitoring/deployments/churn-api/windows/run",
            $$"""{"start": {{start.ToUnixTimeMilliseconds()}}, "end": {{DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds()}}}""");
        Assert.True(status == 200, body.ToString());
        var window = body.GetProperty("windows")[0];
        Assert.Equal("models:/churn/1", window.GetProperty("reference").GetString());
        var features = window.GetProperty("input_drift").GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(["a", "b", "c"], features.Select(f => f.GetProperty("name").GetString()));
        Assert.All(features, f => Assert.Equal(200, f.GetProperty("n_ref").GetInt32()));
        Assert.All(features, f => Assert.Equal(3, f.GetProperty("n_cur").GetInt32()));
        // The training run's evaluation metrics, for comparison (only those a window reports).
        var training = window.GetProperty("training_performance");
        Assert.Equal(0.93, training.GetProperty("accuracy").GetDouble());
        Assert.Equal(0.97, training.GetProperty("auc").GetDouble());
        Assert.False(training.TryGetProperty("custom_loss", out _));
    }

    [Fact]
    public async Task The_server_serves_a_stored_windows_report_page_when_its_host_draws_them()
    {
        using var dir = new TempDirectory();
        WriteReference(dir.Path);
        var file = Path.Combine(dir.Path, "monitoring.yaml");
        File.WriteAllText(file, "monitors:\n  - deployment: churn-api\n    schedule: \"0 0 1 1 *\"\n    window: 1h\n    reference: reference.csv\n    label: label\n");
        await using var server = await RunningServer.StartAsync(o => o.MonitoringFile = file, services: s =>
        {
            s.AddSingleton<IMonitorReferenceReader, TableReferenceReader>();
            s.AddSingleton<IMonitorReportRenderer, MonitorHtmlReportRenderer>();
        });
        await DeployAsync(server, "churn-api");
        var start = DateTimeOffset.UtcNow.AddMinutes(-1);
        await ScoreAsync(server, "churn-api", [[0.5, 0.5, 0.5], [0.4, 0.6, 0.2], [0.3, 0.3, 0.3]]);
        await FlushAsync(server);
        var (status, body) = await SendAsync(server, HttpMethod.Post, "api/cairn/v1/monitoring/deployments/churn-api/windows/run",
            $$"""{"start": {{start.ToUnixTimeMilliseconds()}}, "end": {{DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds()}}}""");
        Assert.True(status == 200, body.ToString());
        var id = body.GetProperty("windows")[0].GetProperty("window_id").GetInt64();

        using var response = await server.Http.GetAsync($"api/cairn/v1/monitoring/deployments/churn-api/windows/{id}/report", Ct);
        var html = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, html);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"Monitoring window {id}: churn-api", html, StringComparison.Ordinal);
        // A section with its reference-vs-current picture for every input feature.
        foreach (var feature in new[] { "a", "b", "c" })
        {
            var at = html.IndexOf($"data-feature=\"{feature}\"", StringComparison.Ordinal);
            Assert.True(at >= 0, $"no section for {feature}");
            Assert.Contains("data:image/png;base64,", html[at..html.IndexOf("</section>", at, StringComparison.Ordinal)], StringComparison.Ordinal);
        }
        AssertError(404, "window", await SendAsync(server, HttpMethod.Get, $"api/cairn/v1/monitoring/deployments/churn-api/windows/{id + 1000}/report"));
        AssertError(400, "'id'", await SendAsync(server, HttpMethod.Get, "api/cairn/v1/monitoring/deployments/churn-api/windows/x/report"));
    }

    [Fact]
    public async Task A_host_that_draws_no_reports_says_so()
    {
        await using var server = await RunningServer.StartAsync();
        var (status, body) = await SendAsync(server, HttpMethod.Get, "api/cairn/v1/monitoring/deployments/any/windows/1/report");
        Assert.Equal((501, "NOT_IMPLEMENTED"), (status, body.GetProperty("error_code").GetString()));
        Assert.Contains("draws no monitoring reports", body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_requests_get_one_clear_error_naming_the_field()
    {
        await using var server = await RunningServer.StartAsync();
        await DeployAsync(server, "churn-api");
        const string run = "api/cairn/v1/monitoring/deployments/churn-api/windows/run";
        AssertError(400, "either 'start' and 'end' or 'rows'", await SendAsync(server, HttpMethod.Post, run, "{}"));
        AssertError(400, "either 'start' and 'end' or 'rows'", await SendAsync(server, HttpMethod.Post, run, """{"start": 1, "end": 2, "rows": 5}"""));
        AssertError(400, "'end'", await SendAsync(server, HttpMethod.Post, run, """{"start": 1}"""));
        AssertError(400, "'start'", await SendAsync(server, HttpMethod.Post, run, """{"start": "yesterday", "end": 2}"""));
        AssertError(400, "'start'", await SendAsync(server, HttpMethod.Post, run, """{"start": true, "end": 2}"""));
        AssertError(400, "'end': it must be after 'start'", await SendAsync(server, HttpMethod.Post, run, """{"start": 5000, "end": 5000}"""));
        AssertError(400, "at most 31 days", await SendAsync(server, HttpMethod.Post, run, """{"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}"""));
        AssertError(400, "'rows'", await SendAsync(server, HttpMethod.Post, run, """{"rows": 0}"""));
        AssertError(400, "'rows'", await SendAsync(server, HttpMethod.Post, run, """{"rows": 10}""")); // nothing logged yet
        AssertError(400, "'rows'", await SendAsync(server, HttpMethod.Post, run, """{"rows": "ten"}"""));
        AssertError(404, "ghost", await SendAsync(server, HttpMethod.Post, "api/cairn/v1/monitoring/deployments/ghost/windows/run", """{"start": 1, "end": 2}"""));
        const string list = "api/cairn/v1/monitoring/deployments/churn-api/windows";
        AssertError(400, "'max_results'", await SendAsync(server, HttpMethod.Get, list + "?max_results=0"));
        AssertError(400, "'max_results'", await SendAsync(server, HttpMethod.Get, list + "?max_results=5000"));
        AssertError(400, "'start'", await SendAsync(server, HttpMethod.Get, list + "?start=soon"));
        AssertError(400, "'end'", await SendAsync(server, HttpMethod.Get, list + "?start=10&end=5"));
        AssertError(400, "page_token", await SendAsync(server, HttpMethod.Get, list + "?page_token=bogus"));
        AssertError(400, "'id'", await SendAsync(server, HttpMethod.Get, list + "/first"));
        AssertError(404, "No monitoring window 77", await SendAsync(server, HttpMethod.Get, list + "/77"));
        // An empty window still runs and counts nothing.
        var (status, body) = await SendAsync(server, HttpMethod.Post, run, """{"start": 1000, "end": 2000}""");
        Assert.Equal(200, status);
        Assert.Equal(0, body.GetProperty("windows")[0].GetProperty("rows").GetInt64());
        Assert.False(body.GetProperty("windows")[0].TryGetProperty("input_drift", out _));
    }

    [Fact]
    public async Task The_schedule_evaluates_row_windows_and_survives_a_failing_observer()
    {
        var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "monitoring.yaml");
        File.WriteAllText(file, """
            monitors:
              - deployment: churn-api
                schedule: "* * * * * *"
                window: {rows: 4}
            """);
        var recording = new RecordingObserver();
        var failing = new FailingObserver();
        await using var server = await RunningServer.StartAsync(o => o.MonitoringFile = file, services: s =>
        {
            s.AddSingleton<IMonitorWindowObserver>(failing);
            s.AddSingleton<IMonitorWindowObserver>(recording);
        });
        await DeployAsync(server, "churn-api");
        for (var i = 0; i < 5; i++)
        {
            await ScoreAsync(server, "churn-api", [[0.1 * i, 0.2, 0.3], [0.5, 0.5, 0.5]]);
            // Requests in one millisecond join the same row window; apart, each window is exactly two requests.
            await Task.Delay(5, Ct);
        }
        await FlushAsync(server);
        // 10 rows logged: two windows of at least 4 rows (whole requests), the last 2 rows wait for more.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (recording.Windows.Count < 2 && DateTime.UtcNow < deadline) await Task.Delay(100, Ct);
        Assert.Equal([4L, 4L], recording.Windows.Select(w => w.Rows));
        Assert.True(failing.Calls >= 2);
        var (status, body) = await SendAsync(server, HttpMethod.Get, "api/cairn/v1/monitoring/deployments/churn-api/windows");
        Assert.Equal(200, status);
        var stored = body.GetProperty("windows").EnumerateArray().ToList();
        Assert.Equal(2, stored.Count);
        Assert.Equal(stored[1].GetProperty("end_time").GetInt64(), stored[0].GetProperty("start_time").GetInt64()); // tumbling
        var health = await server.Http.GetStringAsync("health/ready", Ct);
        Assert.Contains("\"monitor\":{\"status\":\"Healthy\"", health, StringComparison.Ordinal);
        dir.Dispose();
    }

    [Fact]
    public async Task A_monitor_loop_that_dies_shows_in_readiness()
    {
        var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "monitoring.yaml");
        File.WriteAllText(file, "monitors:\n  - deployment: churn-api\n    schedule: \"* * * * * *\"\n    window: 1h\n");
        var time = new BreakableTime();
        await using var server = await RunningServer.StartAsync(o => o.MonitoringFile = file, services: s => s.AddSingleton<TimeProvider>(time));
        var before = await server.Http.GetAsync("health/ready", Ct);
        Assert.Equal(200, (int)before.StatusCode);
        time.Fail = true;
        var scheduler = server.Server.Services.GetRequiredService<MonitorScheduler>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (scheduler.Problem is null && DateTime.UtcNow < deadline) await Task.Delay(50, Ct);
        time.Fail = false;
        using var after = await server.Http.GetAsync("health/ready", Ct);
        Assert.Equal(503, (int)after.StatusCode);
        Assert.Contains("the monitor loop stopped", await after.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        dir.Dispose();
    }

    [Theory]
    [InlineData("monitors: []\nrules: []\n", "unknown key 'rules'")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: '0 * * * *'\n", "'monitors[0].window': it is required")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: 'every hour'\n    window: 1h\n", "'monitors[0].schedule'")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: '0 * * * *'\n    window: 5x\n", "'monitors[0].window'")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: '0 * * * *'\n    window: {rows: 0}\n", "'monitors[0].window.rows'")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: '0 * * * *'\n    window: 1h\n    colour: red\n", "unknown key 'colour'")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: '0 * * * *'\n    window: 1h\n    drift: {thresholds: {psi: -1}}\n", "'monitors[0].drift'")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: '0 * * * *'\n    window: 1h\n  - deployment: a\n    schedule: '0 * * * *'\n    window: 1h\n", "monitored twice")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: '0 * * * *'\n    window: 1h\n    reference: ref.json\n", "'monitors[0].reference'")]
    [InlineData("monitors:\n  - deployment: a\n    schedule: '0 * * * *'\n    window: 1h\n    reference: ref.csv\n", "no reader for CSV or Parquet")]
    [InlineData("monitors: [unclosed\n", "not valid YAML")]
    public async Task A_bad_monitoring_file_stops_the_server_naming_the_key_and_the_rule(string yaml, string expected)
    {
        var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "monitoring.yaml");
        File.WriteAllText(file, yaml);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => RunningServer.StartAsync(o => o.MonitoringFile = file));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        dir.Dispose();
    }

    [Fact]
    public async Task Windows_obey_the_deployment_permissions()
    {
        await using var authz = await AuthzServer.StartAsync(defaultPermission: "NO_PERMISSIONS");
        var reader = await authz.CreateUserAsync("reader");
        var editor = await authz.CreateUserAsync("editor");
        await authz.CreateUserAsync("stranger");
        await authz.Stores.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await authz.Stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("m", "s3://b/m/1"), Ct);
        await authz.Stores.Deployments.CreateDeploymentAsync(new DeploymentSpec("dep", [DeploymentRoute.Primary("models:/m/1", 100)]), "admin", Ct);
        await authz.Permissions.GrantDeploymentAsync("dep", reader, Permission.Read, Ct);
        await authz.Permissions.GrantDeploymentAsync("dep", editor, Permission.Edit, Ct);
        const string list = "api/cairn/v1/monitoring/deployments/dep/windows";
        var body = new { start = 1000, end = 2000 };

        Assert.Equal(403, (await authz.SendAsync("stranger", HttpMethod.Get, list)).Status);
        Assert.Equal(403, (await authz.SendAsync("stranger", HttpMethod.Post, list + "/run", body)).Status);
        Assert.Equal(403, (await authz.SendAsync("stranger", HttpMethod.Get, list + "/1")).Status);
        Assert.Equal(403, (await authz.SendAsync("stranger", HttpMethod.Get, list + "/1/report")).Status);
        Assert.Equal(403, (await authz.SendAsync("reader", HttpMethod.Post, list + "/run", body)).Status);
        var (status, run) = await authz.SendAsync("editor", HttpMethod.Post, list + "/run", body);
        Assert.True(status == 200, run.ToString());
        var id = run.GetProperty("windows")[0].GetProperty("window_id").GetInt64();
        Assert.Equal(200, (await authz.SendAsync("reader", HttpMethod.Get, list)).Status);
        Assert.Equal(200, (await authz.SendAsync("reader", HttpMethod.Get, $"{list}/{id}")).Status);
        Assert.Equal(401, (await authz.SendAsync(null, HttpMethod.Get, list)).Status);
        // A deployment that does not exist answers the stranger as one that does (no existence leak).
        Assert.Equal(403, (await authz.SendAsync("stranger", HttpMethod.Get, "api/cairn/v1/monitoring/deployments/ghost/windows")).Status);
    }
}

using System.Text;
using System.Text.Json;
using Cairn.Registry;
using Cairn.Server.Hosting;
using Cairn.Server.Scoring;
using Cairn.Server.Scoring.Export;
using Cairn.Serving;
using Cairn.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Scoring.Export;

/// <summary>
/// The Grafana dashboard of <c>cairn serve --export grafana</c> against what real servers export: <c>cairn serve</c>'s host
/// (good, bad and Open Inference Protocol requests, a closed prediction log that drops) and <c>cairn server</c> scoring
/// through a deployment whose shadow always fails, both scraped on <c>/metrics</c>.
/// </summary>
public sealed class ScoringDashboardTests : IDisposable
{
    private const string Body = """{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[0.9, 0.8, 0.1], [0.1, 0.2, 1.9]]}}""";

    private readonly TempDirectory _dir = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Every_panel_and_variable_queries_only_metrics_and_labels_that_real_servers_export()
    {
        // cairn serve's host with a prediction log that is already closed: each answered request is dropped and counted.
        using var stores = await CairnStores.OpenAsync(_dir.Combine("log"), cancellationToken: Ct);
        var log = PredictionLog.Open(stores, new PredictionLogOptions());
        await log.DisposeAsync();
        var model = ServedModel.Load(ScoringModelsForTests.TrainClassifier(_dir.Combine("clf")), "dash-serve", "2", "models:/dash-serve/2");
        string serveText;
        await using (var serve = await ScoringHost.StartAsync(model, services: s => s.AddSingleton<IPredictionLog>(log)))
        {
            for (var i = 0; i < 3; i++) await serve.OkAsync("/invocations", Body);
            var (badStatus, _, badResponse) = await serve.PostAsync("/invocations", """{"dataframe_split": {"columns": ["a"], "data": [[1]]}}""");
            badResponse.Dispose();
            Assert.Equal(400, badStatus);
            await serve.OkAsync("/v2/models/dash-serve/infer",
                """{"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [0.9]}, {"name": "b", "shape": [1], "datatype": "FP32", "data": [0.8]}, {"name": "c", "shape": [1], "datatype": "FP32", "data": [0.1]}]}""");
            // The rows are handed to the log after the answer is flushed, so the last drop may trail the answer a little.
            for (var i = 0; i < 100 && log.Dropped < 4; i++) await Task.Delay(50, Ct);
            Assert.Equal(4, log.Dropped);
            serveText = await serve.Http.GetStringAsync("/metrics", Ct);
        }

        // cairn server scoring through a deployment whose shadow (an ONNX graph no dataframe of a, b, c fits) always fails.
        await using var server = await RunningServer.StartAsync();
        var registry = server.Server.Services.GetRequiredService<ServerStores>().Inner.Registry;
        await registry.CreateRegisteredModelAsync("dash-model", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("dash-model",
            ScoringModelsForTests.TrainClassifier(Path.Combine(server.Home, "packages", "dash-model"))), Ct);
        await registry.CreateRegisteredModelAsync("dash-broken", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new CreateModelVersionRequest("dash-broken",
            ScoringModelsForTests.WriteMlflowOnnx(Path.Combine(server.Home, "packages", "dash-broken"), new float[5, 1], [0f])), Ct);
        await server.Server.Services.GetRequiredService<ServerStores>().Inner.Deployments.CreateDeploymentAsync(
            new DeploymentSpec("dash", [DeploymentRoute.Primary("models:/dash-model/1", 100), DeploymentRoute.Shadow("models:/dash-broken/1")], null), "test", Ct);
        for (var i = 0; i < 3; i++)
        {
            using var response = await server.Http.PostAsync("api/cairn/v1/deployments/dash/invocations", new StringContent(Body, Encoding.UTF8, "application/json"), Ct);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        }
        var runtime = server.Server.Services.GetRequiredService<DeploymentRuntime>();
        for (var i = 0; i < 200 && runtime.ShadowFailures < 3; i++) await Task.Delay(50, Ct);
        Assert.Equal(3, runtime.ShadowFailures);
        var serverText = await server.Http.GetStringAsync("/metrics", Ct);

        // The series this test caused are there under its own names (other tests in the process share Cairn's meter).
        Assert.Contains("cairn_deployment=\"dash-serve\"", serveText, StringComparison.Ordinal);
        Assert.Contains(serverText.Split('\n'), l => l.StartsWith(ScoringDashboard.ShadowFailures + "{", StringComparison.Ordinal) && l.Contains("cairn_deployment=\"dash\"", StringComparison.Ordinal));
        Assert.Contains(serverText.Split('\n'), l => l.StartsWith(ScoringDashboard.Requests + "{", StringComparison.Ordinal) && l.Contains("cairn_deployment=\"dash\"", StringComparison.Ordinal)
            && l.Contains("cairn_model_name=\"dash-model\"", StringComparison.Ordinal));
        Assert.Contains(serveText.Split('\n'), l => l.StartsWith(ScoringDashboard.PredictionLogDropped, StringComparison.Ordinal));

        var scrape = new PrometheusScrape(serveText).With(new PrometheusScrape(serverText));
        var dashboard = ScoringDashboard.Build();
        var expressions = ScoringDashboard.Expressions(dashboard);
        var panels = dashboard.Panels.Where(p => p.Type != "row").ToList();
        Assert.True(panels.Count >= 8, $"{panels.Count} panels");
        Assert.All(panels, p => Assert.NotEmpty(p.Targets ?? []));
        Assert.Equal(panels.Sum(p => p.Targets!.Count) + 4, expressions.Count); // and the four label_values variables
        var problems = expressions.SelectMany(scrape.Check).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        // Every metric the dashboard promises is queried somewhere.
        var queried = expressions.SelectMany(e => PromQlReferences.Parse(e).Selectors.Select(s => s.Metric)).ToHashSet();
        foreach (var metric in new[] { ScoringDashboard.Requests, ScoringDashboard.Errors, ScoringDashboard.Duration + "_bucket", ScoringDashboard.BatchSize + "_bucket",
                     ScoringDashboard.PredictionValue + "_bucket", ScoringDashboard.ShadowFailures, ScoringDashboard.PredictionLogDropped })
            Assert.Contains(metric, queried);
    }

    [Fact]
    public void The_check_fails_a_query_of_a_metric_or_label_that_the_scrape_lacks()
    {
        var scrape = new PrometheusScrape("""
            # TYPE cairn_scoring_requests_total counter
            cairn_scoring_requests_total{cairn_model_name="m",cairn_model_version="1",http_response_status_code="200"} 3 1700000000000
            cairn_scoring_request_duration_seconds_bucket{cairn_model_name="m",le="0.1"} 1
            cairn_prediction_log_dropped_total 2
            """);

        Assert.Empty(scrape.Check("""sum by (cairn_model_name) (rate(cairn_scoring_requests_total{cairn_model_version=~"$version"}[$__rate_interval]))"""));
        Assert.Empty(scrape.Check("histogram_quantile(0.99, sum by (le, cairn_model_name) (rate(cairn_scoring_request_duration_seconds_bucket[5m])))"));
        Assert.Empty(scrape.Check("sum(rate(cairn_prediction_log_dropped_total[5m])) / 2"));
        Assert.Empty(scrape.Check("label_values(cairn_scoring_requests_total, cairn_model_version)"));

        Assert.Contains("not exported", Assert.Single(scrape.Check("sum(rate(cairn_scoring_requests_total[5m])) / sum(rate(cairn_scoring_nothing_total[5m]))")));
        Assert.Contains("cairn_deployment", Assert.Single(scrape.Check("sum by (cairn_deployment) (rate(cairn_scoring_requests_total[5m]))")));
        Assert.Contains("cairn_model_output", Assert.Single(scrape.Check("""rate(cairn_scoring_requests_total{cairn_model_output="x"}[5m])""")));
        Assert.Contains("cairn_deployment", Assert.Single(scrape.Check("label_values(cairn_scoring_requests_total, cairn_deployment)")));
        // The labels must sit on one series: le is on the bucket series, the status only on the counter.
        Assert.Single(scrape.Check("sum by (le, http_response_status_code) (rate(cairn_scoring_request_duration_seconds_bucket[5m]))"));

        // And the real dashboard fails against this scrape, which lacks most of its metrics.
        var problems = ScoringDashboard.Expressions(ScoringDashboard.Build()).SelectMany(scrape.Check).ToList();
        Assert.Contains(problems, p => p.Contains(ScoringDashboard.ShadowFailures, StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains(ScoringDashboard.BatchSize, StringComparison.Ordinal));
    }

    [Fact]
    public void The_dashboard_json_is_grafanas_model_with_variables_for_deployment_model_and_version()
    {
        using var json = JsonDocument.Parse(ScoringDashboard.ToJson());
        var root = json.RootElement;
        Assert.Equal("cairn-scoring", root.GetProperty("uid").GetString());
        Assert.Equal(39, root.GetProperty("schemaVersion").GetInt32());
        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!);
        Assert.Equal("datasource", variables["datasource"].GetProperty("type").GetString());
        foreach (var name in new[] { "deployment", "model", "version", "output" })
        {
            Assert.Equal("query", variables[name].GetProperty("type").GetString());
            Assert.StartsWith("label_values(", variables[name].GetProperty("query").GetString(), StringComparison.Ordinal);
        }
        var panels = root.GetProperty("panels").EnumerateArray().ToList();
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        var filtered = 0;
        foreach (var panel in panels.Where(p => p.GetProperty("type").GetString() != "row"))
        {
            var grid = panel.GetProperty("gridPos");
            Assert.InRange(grid.GetProperty("x").GetInt32() + grid.GetProperty("w").GetInt32(), 1, 24);
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                var expr = target.GetProperty("expr").GetString()!;
                if (expr.Contains("=~\"$model\"", StringComparison.Ordinal) && expr.Contains("=~\"$version\"", StringComparison.Ordinal)) filtered++;
            }
        }
        // Everything but the prediction log (one queue per process, unlabelled) and shadows (by deployment) follows the model filters.
        Assert.True(filtered >= 8, $"{filtered} queries filter by model and version");
        Assert.Equal(ScoringDashboard.Build().Panels.Count, panels.Count);
    }
}

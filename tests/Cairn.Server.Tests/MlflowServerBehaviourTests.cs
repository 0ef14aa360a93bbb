using System.Text;
using System.Text.Json;
using Cairn.Server.Endpoints;

namespace Cairn.Tests;

/// <summary>
/// What MLflow's own live-server tests (tests/tracking/test_rest_tracking.py and test_model_registry.py of MLflow 2.11)
/// expect of a server, over real HTTP, so CI guards it without Python: MLflow's wording of type and missing-field
/// errors, the UI's bulk metric, dataset and upload endpoints, registry sources, relative artifact locations and the
/// default order of model-version searches.
/// </summary>
public sealed class MlflowServerBehaviourTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await RunningServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(int Status, JsonElement Body)> SendAsync(HttpMethod method, string pathAndQuery, string? json = null, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        else if (content is not null) request.Content = content;
        using var response = await _server.Http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static void AssertBadRequest((int Status, JsonElement Body) answer, string messagePart)
    {
        Assert.True(answer.Status == 400, $"expected 400, got {answer.Status}: {answer.Body}");
        Assert.Equal("INVALID_PARAMETER_VALUE", answer.Body.GetProperty("error_code").GetString());
        Assert.Contains(messagePart, answer.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private Task LogMetricAsync(string runId, string key, double value, long timestamp, long step) =>
        _server.OkAsync("runs/log-metric", new { run_id = runId, key, value, timestamp, step });

    // ---- error wording -------------------------------------------------------------------------

    [Theory]
    [InlineData("experiments/create", """{"name": 123}""", "Invalid value 123 for parameter 'name' supplied. Hint: Value was of type 'int'.")]
    [InlineData("experiments/create", """{"name": "e", "artifact_location": 9.0}""", "Invalid value 9.0 for parameter 'artifact_location' supplied. Hint: Value was of type 'float'.")]
    [InlineData("experiments/create", """{"name": "e", "tags": "5"}""", "Invalid value 5 for parameter 'tags' supplied. Hint: Value was of type 'str'.")]
    [InlineData("experiments/create", """{}""", "Missing value for required parameter 'name'")]
    [InlineData("runs/log-metric", """{"run_id": 31, "key": "m", "value": 1, "timestamp": 1}""", "Invalid value 31 for parameter 'run_id' supplied")]
    [InlineData("runs/log-metric", """{"run_id": "abc", "key": "m", "value": 1, "timestamp": 1, "step": "foo"}""", "Invalid value foo for parameter 'step' supplied")]
    [InlineData("runs/log-metric", """{"run_id": null, "key": "m", "value": 1, "timestamp": 1}""", "Missing value for required parameter 'run_id'")]
    [InlineData("runs/set-tag", """{"run_id": "abc", "key": "k", "value": 41}""", "Invalid value 41 for parameter 'value' supplied")]
    [InlineData("runs/log-batch", """{"run_id": "abc", "params": "foo"}""", "Invalid value foo for parameter 'params' supplied")]
    [InlineData("runs/log-batch", """{"run_id": "abc", "metrics": [{"key": "mae", "value": 2.5}]}""", "Invalid value [{'key': 'mae', 'value': 2.5}] for parameter 'metrics' supplied")]
    [InlineData("runs/log-batch", """{"run_id": "abc", "tags": [{"value": "it's", "on": true, "n": null}]}""", """Invalid value [{'value': "it's", 'on': True, 'n': None}] for parameter 'tags' supplied""")]
    [InlineData("runs/log-inputs", """{"datasets": ["{\"dataset\": {}}"]}""", "Missing value for required parameter 'run_id'")]
    [InlineData("runs/log-inputs", """{"run_id": "abc"}""", "Missing value for required parameter 'datasets'")]
    public async Task Type_and_missing_field_errors_are_worded_as_mlflow_words_them(string path, string body, string message) =>
        AssertBadRequest(await _server.PostAsync(path, body), message);

    [Fact]
    public async Task A_huge_value_of_the_wrong_type_is_not_echoed_in_full()
    {
        var (status, body) = await _server.PostAsync("runs/log-metric", JsonSerializer.Serialize(new { run_id = "abc", key = "m", value = 1, timestamp = new string('9', 5000) + "x" }));
        Assert.Equal(400, status);
        Assert.True(body.GetProperty("message").GetString()!.Length < 1300);
    }

    // ---- metrics/get-history-bulk -----------------------------------------------------------------

    [Fact]
    public async Task Get_history_bulk_orders_by_run_then_timestamp_step_value_and_limits_results()
    {
        var experiment = await _server.CreateExperimentAsync("bulk");
        var runs = new[] { await _server.CreateRunAsync(experiment), await _server.CreateRunAsync(experiment) };
        foreach (var run in runs)
        {
            await LogMetricAsync(run, "a", 11, timestamp: 1, step: 3);
            await LogMetricAsync(run, "a", 10, timestamp: 1, step: 2);
            await LogMetricAsync(run, "a", 12, timestamp: 2, step: 1);
        }
        var sorted = runs.Order(StringComparer.Ordinal).ToArray();
        var (status, body) = await SendAsync(HttpMethod.Get, $"ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={runs[1]}&run_id={runs[0]}&metric_key=a");
        Assert.Equal(200, status);
        var got = body.GetProperty("metrics").EnumerateArray()
            .Select(m => $"{m.GetProperty("run_id").GetString()}:{m.GetProperty("timestamp").GetInt64()}/{m.GetProperty("step").GetInt64()}/{m.GetProperty("value").GetDouble()}").ToArray();
        Assert.Equal(sorted.SelectMany(r => new[] { $"{r}:1/2/10", $"{r}:1/3/11", $"{r}:2/1/12" }).ToArray(), got);

        var (_, limited) = await SendAsync(HttpMethod.Get, $"ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={runs[0]}&metric_key=a&max_results=2");
        Assert.Equal(2, limited.GetProperty("metrics").GetArrayLength());
        var (_, none) = await SendAsync(HttpMethod.Get, $"ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={runs[0]}&metric_key=nothing");
        Assert.Equal(0, none.GetProperty("metrics").GetArrayLength());
    }

    [Fact]
    public async Task Get_history_bulk_refuses_requests_as_mlflow_does()
    {
        const string url = "ajax-api/2.0/mlflow/metrics/get-history-bulk";
        AssertBadRequest(await SendAsync(HttpMethod.Get, $"{url}?metric_key=k"), "GetMetricHistoryBulk request must specify at least one run_id");
        var many = string.Join("&", Enumerable.Range(0, 101).Select(i => $"run_id=id_{i}"));
        AssertBadRequest(await SendAsync(HttpMethod.Get, $"{url}?{many}&metric_key=k"), "GetMetricHistoryBulk request cannot specify more than 100 run_ids");
        AssertBadRequest(await SendAsync(HttpMethod.Get, $"{url}?run_id=123"), "GetMetricHistoryBulk request must specify a metric_key");
    }

    // ---- metrics/get-history-bulk-interval ----------------------------------------------------------

    [Fact]
    public void Sampled_steps_match_mlflows_sampling()
    {
        // The values of MLflow's test_get_sampled_steps_from_steps, plus a range far too wide to walk step by step.
        Assert.Equal([1, 3, 5, 7, 9], MetricHistoryEndpoints.SampledSteps(1, 10, 5));
        Assert.Equal([1, 6, 11, 16], MetricHistoryEndpoints.SampledSteps(1, 20, 4));
        Assert.Equal([10, 20, 29, 38, 47, 56, 65, 74, 83, 92], MetricHistoryEndpoints.SampledSteps(10, 100, 10));
        Assert.Equal([0, 21, 41, 61, 81], MetricHistoryEndpoints.SampledSteps(0, 100, 5));
        Assert.Equal([0, 1, 2], MetricHistoryEndpoints.SampledSteps(0, 2, 5));
        var wide = MetricHistoryEndpoints.SampledSteps(0, long.MaxValue / 4, 2500);
        Assert.Equal(2500, wide.Count);
        Assert.Equal(0, wide[0]);
    }

    [Fact]
    public async Task Get_history_bulk_interval_samples_steps_across_runs_and_keeps_each_runs_last_step()
    {
        var experiment = await _server.CreateExperimentAsync("interval");
        var run1 = await _server.CreateRunAsync(experiment);
        var run2 = await _server.CreateRunAsync(experiment);
        var batch1 = Enumerable.Range(0, 10).Select(i => new { key = "a", value = 10.0, timestamp = 1, step = i }).ToArray();
        var batch2 = Enumerable.Range(0, 20).Select(i => new { key = "a", value = 10.0, timestamp = 1, step = i }).ToArray();
        await _server.OkAsync("runs/log-batch", new { run_id = run1, metrics = batch1 });
        await _server.OkAsync("runs/log-batch", new { run_id = run2, metrics = batch2 });
        const string url = "ajax-api/2.0/mlflow/metrics/get-history-bulk-interval";

        static string[] Steps(JsonElement body) => body.GetProperty("metrics").EnumerateArray()
            .Select(m => $"{m.GetProperty("run_id").GetString()![..4]}:{m.GetProperty("step").GetInt64()}").ToArray();

        var (status, one) = await SendAsync(HttpMethod.Get, $"{url}?run_ids={run1}&metric_key=a&max_results=5");
        Assert.Equal(200, status);
        Assert.Equal(new long[] { 0, 2, 4, 6, 8, 9 }.Select(s => $"{run1[..4]}:{s}"), Steps(one));
        var (_, ranged) = await SendAsync(HttpMethod.Get, $"{url}?run_ids={run1}&metric_key=a&start_step=0&end_step=4&max_results=5");
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }.Select(s => $"{run1[..4]}:{s}"), Steps(ranged));
        var (_, both) = await SendAsync(HttpMethod.Get, $"{url}?run_ids={run1}&run_ids={run2}&metric_key=a&max_results=5");
        long[] expected = [0, 4, 8, 9, 12, 16, 19];
        Assert.Equal(expected.Where(s => s < 10).Select(s => $"{run1[..4]}:{s}").Concat(expected.Select(s => $"{run2[..4]}:{s}")), Steps(both));
    }

    [Theory]
    [InlineData("metric_key=key", "Missing value for required parameter 'run_ids'.")]
    [InlineData("run_ids=123&metric_key=key&max_results=0", "max_results must be between 1 and 2500")]
    [InlineData("run_ids=123&metric_key=", "Missing value for required parameter 'metric_key'")]
    [InlineData("run_ids=123&max_results=5", "Missing value for required parameter 'metric_key'")]
    [InlineData("run_ids=123&metric_key=key&start_step=1&end_step=0&max_results=5", "end_step must be greater than start_step. ")]
    [InlineData("run_ids=123&metric_key=key&start_step=1&max_results=5", "If either start step or end step are specified, both must be specified.")]
    [InlineData("run_ids=123&metric_key=key&start_step=one&end_step=2", "Invalid value one for parameter 'start_step' supplied")]
    public async Task Get_history_bulk_interval_refuses_requests_as_mlflow_does(string query, string message) =>
        AssertBadRequest(await SendAsync(HttpMethod.Get, $"ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{query}"), message);

    [Fact]
    public async Task Get_history_bulk_interval_refuses_more_than_100_runs()
    {
        var many = string.Join("&", Enumerable.Range(0, 101).Select(i => $"run_ids=id_{i}"));
        AssertBadRequest(await SendAsync(HttpMethod.Get, $"ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{many}&metric_key=k"),
            "GetMetricHistoryBulkInterval request must specify at most 100 run_ids.");
    }

    // ---- experiments/search-datasets ------------------------------------------------------------------

    [Fact]
    public async Task Search_datasets_lists_each_dataset_and_context_once_per_experiment()
    {
        var experiment = await _server.CreateExperimentAsync("datasets");
        var other = await _server.CreateExperimentAsync("other");
        foreach (var (exp, context) in new[] { (experiment, "training"), (experiment, "training"), (other, "eval") })
        {
            var run = await _server.CreateRunAsync(exp);
            await _server.OkAsync("runs/log-inputs", new
            {
                run_id = run,
                datasets = new[] { new { tags = new[] { new { key = "mlflow.data.context", value = context } }, dataset = new { name = "iris", digest = "d1", source_type = "local", source = "/data/iris.csv" } } },
            });
        }
        var untagged = await _server.CreateRunAsync(experiment);
        await _server.OkAsync("runs/log-inputs", new
        {
            run_id = untagged,
            datasets = new[] { new { tags = Array.Empty<object>(), dataset = new { name = "wine", digest = "d2", source_type = "local", source = "/data/wine.csv" } } },
        });

        var (status, body) = await SendAsync(HttpMethod.Post, "ajax-api/2.0/mlflow/experiments/search-datasets", JsonSerializer.Serialize(new { experiment_ids = new[] { experiment } }));
        Assert.Equal(200, status);
        var summaries = body.GetProperty("dataset_summaries").EnumerateArray()
            .Select(s => $"{s.GetProperty("experiment_id").GetString()}/{s.GetProperty("name").GetString()}/{s.GetProperty("digest").GetString()}/{(s.TryGetProperty("context", out var c) ? c.GetString() : "-")}")
            .Order(StringComparer.Ordinal).ToArray();
        Assert.Equal([$"{experiment}/iris/d1/training", $"{experiment}/wine/d2/-"], summaries);
    }

    [Fact]
    public async Task Search_datasets_refuses_requests_as_mlflow_does()
    {
        const string url = "ajax-api/2.0/mlflow/experiments/search-datasets";
        AssertBadRequest(await SendAsync(HttpMethod.Post, url, "{}"), "SearchDatasets request must specify at least one experiment_id.");
        AssertBadRequest(await SendAsync(HttpMethod.Post, url, """{"experiment_ids": []}"""), "SearchDatasets request must specify at least one experiment_id.");
        var many = JsonSerializer.Serialize(new { experiment_ids = Enumerable.Range(0, 21).Select(i => $"id_{i}") });
        AssertBadRequest(await SendAsync(HttpMethod.Post, url, many), "SearchDatasets request cannot specify more than 20 experiment_ids");
    }

    // ---- upload-artifact and get-artifact ----------------------------------------------------------------

    [Fact]
    public async Task Upload_artifact_writes_the_body_under_the_runs_artifacts_and_get_artifact_reads_it()
    {
        var run = await _server.CreateRunAsync(await _server.CreateExperimentAsync("upload"));
        var (status, _) = await SendAsync(HttpMethod.Post, $"ajax-api/2.0/mlflow/upload-artifact?run_uuid={run}&path=dir/test.txt",
            content: new StringContent("hello world", Encoding.UTF8, "text/plain"));
        Assert.Equal(200, status);
        using var response = await _server.Http.GetAsync($"get-artifact?run_uuid={run}&path=dir/test.txt", Ct);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("hello world", await response.Content.ReadAsStringAsync(Ct));
        var (_, listed) = await _server.GetAsync($"artifacts/list?run_id={run}&path=dir");
        Assert.Equal("dir/test.txt", listed.GetProperty("files")[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task Upload_artifact_refuses_requests_as_mlflow_does()
    {
        var run = await _server.CreateRunAsync(await _server.CreateExperimentAsync("upload-bad"));
        const string url = "ajax-api/2.0/mlflow/upload-artifact";
        AssertBadRequest(await SendAsync(HttpMethod.Post, url), "Request must specify run_uuid.");
        AssertBadRequest(await SendAsync(HttpMethod.Post, $"{url}?run_uuid={run}"), "Request must specify path.");
        AssertBadRequest(await SendAsync(HttpMethod.Post, $"{url}?run_uuid={run}&path="), "Request must specify path.");
        AssertBadRequest(await SendAsync(HttpMethod.Post, $"{url}?run_uuid={run}&path=../test.txt", content: new StringContent("x")), "Invalid path");
        AssertBadRequest(await SendAsync(HttpMethod.Post, $"{url}?run_uuid={run}&path=test.txt"), "Request must specify data.");
        var tooLarge = new ByteArrayContent(new byte[MaxUpload + 1]);
        AssertBadRequest(await SendAsync(HttpMethod.Post, $"{url}?run_uuid={run}&path=big.bin", content: tooLarge), "Artifact size is too large. Max size is 10MB.");
        var (status, error) = await SendAsync(HttpMethod.Post, $"{url}?run_uuid=0123456789abcdef0123456789abcdef&path=a.txt", content: new StringContent("x"));
        Assert.Equal(404, status);
        Assert.Equal("RESOURCE_DOES_NOT_EXIST", error.GetProperty("error_code").GetString());
    }

    private const int MaxUpload = 10 * 1024 * 1024;

    // ---- registry and experiments ------------------------------------------------------------------------

    [Fact]
    public async Task Model_version_source_naming_an_unknown_run_is_stored_as_given()
    {
        await _server.OkAsync("registered-models/create", new { name = "m" });
        var version = (await _server.OkAsync("model-versions/create", new { name = "m", source = "runs:/run_id/model", run_id = "run_id_1" })).GetProperty("model_version");
        Assert.Equal("runs:/run_id/model", version.GetProperty("source").GetString());
        Assert.Equal("run_id_1", version.GetProperty("run_id").GetString());
        var (_, uri) = await _server.GetAsync("model-versions/get-download-uri?name=m&version=1");
        Assert.Equal("runs:/run_id/model", uri.GetProperty("artifact_uri").GetString());

        // A run this server has still gives the version its run id (promotion gates read that run's metrics).
        var run = await _server.CreateRunAsync(await _server.CreateExperimentAsync("reg"));
        var known = (await _server.OkAsync("model-versions/create", new { name = "m", source = $"runs:/{run}/model" })).GetProperty("model_version");
        Assert.Equal(run, known.GetProperty("run_id").GetString());
    }

    [Theory]
    [InlineData("mlflow-artifacts://host:9000/models/../../../")]
    [InlineData("http://host:9000/models/../../../")]
    [InlineData("s3a://my_bucket/api/2.0/mlflow-artifacts/artifacts/../../../")]
    [InlineData("mlflow-artifacts://host:9000/models/..%2f..%2fartifacts")]
    [InlineData("mlflow-artifacts://host:9000/models/artifact%00")]
    [InlineData("runs:/abc/./model")]
    public async Task Model_version_source_with_relative_references_is_refused(string source)
    {
        await _server.OkAsync("registered-models/create", new { name = "m" });
        AssertBadRequest(await _server.PostAsync("model-versions/create", JsonSerializer.Serialize(new { name = "m", source })),
            "If supplying a source as an http, https,");
    }

    [Fact]
    public async Task Model_version_source_on_the_servers_disk_must_be_inside_the_runs_artifact_folder()
    {
        await _server.OkAsync("registered-models/create", new { name = "m" });
        var run = await _server.CreateRunAsync(await _server.CreateExperimentAsync("local"));
        foreach (var source in new[] { "/tmp", "file:///etc", "relative/folder" })
        {
            AssertBadRequest(await _server.PostAsync("model-versions/create", JsonSerializer.Serialize(new { name = "m", source, run_id = run })),
                "To use a local path as a model version source");
            AssertBadRequest(await _server.PostAsync("model-versions/create", JsonSerializer.Serialize(new { name = "m", source })),
                "To use a local path as a model version source");
        }
        foreach (var source in new[] { "mlflow-artifacts:/models///", "mlflow-artifacts://host:9000/models/artifact/..../", "s3://bucket/a/b" })
            await _server.OkAsync("model-versions/create", new { name = "m", source, run_id = run });

        // An experiment whose location is a local folder: a source inside its run's folder is accepted, as in MLflow.
        var folder = Path.Combine(_server.Root, "local-exp");
        var experiment = (await _server.OkAsync("experiments/create", new { name = "on-disk", artifact_location = folder })).GetProperty("experiment_id").GetString()!;
        var localRun = await _server.CreateRunAsync(experiment);
        var (_, got) = await _server.GetAsync($"runs/get?run_id={localRun}");
        var artifactUri = got.GetProperty("run").GetProperty("info").GetProperty("artifact_uri").GetString()!;
        await _server.OkAsync("model-versions/create", new { name = "m", source = artifactUri + "/model", run_id = localRun });
        AssertBadRequest(await _server.PostAsync("model-versions/create", JsonSerializer.Serialize(new { name = "m", source = artifactUri + "/../../other", run_id = localRun })),
            "To use a local path as a model version source");
    }

    [Fact]
    public async Task Model_version_search_without_order_lists_the_most_recently_updated_first()
    {
        foreach (var name in new[] { "b", "a" }) await _server.OkAsync("registered-models/create", new { name });
        foreach (var name in new[] { "b", "a", "b" })
        {
            await _server.OkAsync("model-versions/create", new { name, source = "s3://bucket/model" });
            await Task.Delay(5, Ct);
        }
        var (_, page) = await _server.GetAsync("model-versions/search");
        var order = page.GetProperty("model_versions").EnumerateArray().Select(v => $"{v.GetProperty("name").GetString()}/{v.GetProperty("version").GetString()}");
        Assert.Equal(["b/2", "a/1", "b/1"], order);
        var (_, byName) = await _server.GetAsync("model-versions/search?order_by=name+ASC");
        Assert.Equal(["a/1", "b/2", "b/1"], byName.GetProperty("model_versions").EnumerateArray().Select(v => $"{v.GetProperty("name").GetString()}/{v.GetProperty("version").GetString()}"));
    }

    [Fact]
    public async Task A_relative_artifact_location_is_stored_absolute_against_the_servers_working_directory()
    {
        var id = (await _server.OkAsync("experiments/create", new { name = "rel", artifact_location = "my_location" })).GetProperty("experiment_id").GetString();
        var (_, got) = await _server.GetAsync($"experiments/get?experiment_id={id}");
        var expected = Path.GetFullPath("my_location");
        var location = got.GetProperty("experiment").GetProperty("artifact_location").GetString();
        Assert.Equal(OperatingSystem.IsWindows() ? new Uri(expected).AbsoluteUri : expected, location);

        var s3 = (await _server.OkAsync("experiments/create", new { name = "s3", artifact_location = "s3://bucket/prefix" })).GetProperty("experiment_id").GetString();
        var (_, s3Got) = await _server.GetAsync($"experiments/get?experiment_id={s3}");
        Assert.Equal("s3://bucket/prefix", s3Got.GetProperty("experiment").GetProperty("artifact_location").GetString());
    }
}

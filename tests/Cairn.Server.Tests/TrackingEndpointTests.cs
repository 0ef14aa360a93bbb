using System.Text.Json;

namespace Cairn.Tests;

/// <summary>MLflow's tracking endpoints over real HTTP: shapes, semantics and every error case.</summary>
public sealed class TrackingEndpointTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await RunningServer.StartAsync(o => o.MaxRequestBodyBytes = 256 * 1024);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static string Code(JsonElement body) => body.GetProperty("error_code").GetString()!;

    [Fact]
    public async Task Experiment_lifecycle_round_trips_in_mlflow_shapes()
    {
        var id = (await _server.OkAsync("experiments/create", new { name = "e1", tags = new[] { new { key = "team", value = "ml" } } })).GetProperty("experiment_id").GetString()!;
        var (status, got) = await _server.GetAsync($"experiments/get?experiment_id={id}");
        Assert.Equal(200, status);
        var experiment = got.GetProperty("experiment");
        Assert.Equal("e1", experiment.GetProperty("name").GetString());
        Assert.Equal($"mlflow-artifacts:/{id}", experiment.GetProperty("artifact_location").GetString());
        Assert.Equal("active", experiment.GetProperty("lifecycle_stage").GetString());
        Assert.Equal("ml", experiment.GetProperty("tags")[0].GetProperty("value").GetString());

        var (_, byName) = await _server.GetAsync("experiments/get-by-name?experiment_name=e1");
        Assert.Equal(id, byName.GetProperty("experiment").GetProperty("experiment_id").GetString());

        await _server.OkAsync("experiments/update", new { experiment_id = id, new_name = "e2" });
        await _server.OkAsync("experiments/set-experiment-tag", new { experiment_id = id, key = "stage", value = "dev" });
        await _server.OkAsync("experiments/delete", new { experiment_id = id });
        var (_, deleted) = await _server.PostAsync("experiments/search", new { view_type = "DELETED_ONLY" });
        Assert.Equal("e2", deleted.GetProperty("experiments").EnumerateArray().Single().GetProperty("name").GetString());
        await _server.OkAsync("experiments/restore", new { experiment_id = id });
        var (_, active) = await _server.PostAsync("experiments/search", new { filter = "name LIKE 'e%' AND tags.stage = 'dev'" });
        Assert.Equal(id, active.GetProperty("experiments").EnumerateArray().Single().GetProperty("experiment_id").GetString());
    }

    [Fact]
    public async Task Run_lifecycle_metrics_params_tags_and_inputs()
    {
        var exp = await _server.CreateExperimentAsync("runs");
        var created = await _server.OkAsync("runs/create", new { experiment_id = exp, run_name = "first", start_time = 1000, tags = new[] { new { key = "mlflow.user", value = "ana" } } });
        var runId = created.GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
        Assert.Equal(runId, created.GetProperty("run").GetProperty("info").GetProperty("run_uuid").GetString());
        Assert.Equal($"mlflow-artifacts:/{exp}/{runId}/artifacts", created.GetProperty("run").GetProperty("info").GetProperty("artifact_uri").GetString());

        // MLflow's Python client sends NaN/Infinity as strings and int64 as numbers; other clients send int64 as strings.
        await _server.OkAsync("runs/log-metric", new { run_id = runId, key = "loss", value = "NaN", timestamp = "5", step = "0" });
        await _server.OkAsync("runs/log-metric", new { run_uuid = runId, key = "loss", value = "Infinity", timestamp = 6, step = 1 });
        await _server.OkAsync("runs/log-parameter", new { run_id = runId, key = "lr", value = "0.1" });
        await _server.OkAsync("runs/set-tag", new { run_id = runId, key = "mlflow.runName", value = "renamed" });
        await _server.OkAsync("runs/log-inputs", new
        {
            run_id = runId,
            datasets = new[] { new { tags = new[] { new { key = "mlflow.data.context", value = "training" } }, dataset = new { name = "iris", digest = "abc123", source_type = "local", source = "/data/iris.csv", schema = "{}" } } },
        });
        await _server.OkAsync("runs/log-model", new { run_id = runId, model_json = """{"artifact_path":"model","flavors":{"onnx":{}}}""" });
        var updated = await _server.OkAsync("runs/update", new { run_id = runId, status = "FINISHED", end_time = 2000 });
        Assert.Equal("FINISHED", updated.GetProperty("run_info").GetProperty("status").GetString());

        var (_, got) = await _server.GetAsync($"runs/get?run_id={runId}");
        var run = got.GetProperty("run");
        Assert.Equal("renamed", run.GetProperty("info").GetProperty("run_name").GetString());
        Assert.Equal(2000, run.GetProperty("info").GetProperty("end_time").GetInt64());
        Assert.Equal("Infinity", run.GetProperty("data").GetProperty("metrics")[0].GetProperty("value").GetString());
        Assert.Contains(run.GetProperty("data").GetProperty("tags").EnumerateArray(), t => t.GetProperty("key").GetString() == "mlflow.log-model.history" && t.GetProperty("value").GetString()!.Contains("\"artifact_path\":\"model\"", StringComparison.Ordinal));
        var input = run.GetProperty("inputs").GetProperty("dataset_inputs")[0];
        Assert.Equal("abc123", input.GetProperty("dataset").GetProperty("digest").GetString());

        var (_, history) = await _server.GetAsync($"metrics/get-history?run_id={runId}&metric_key=loss");
        var values = history.GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("value").GetString()).ToList();
        Assert.Equal(["NaN", "Infinity"], values);

        var (_, found) = await _server.PostAsync("runs/search", new { experiment_ids = new[] { exp }, filter = "datasets.digest = 'abc123' and attributes.status = 'FINISHED' and params.lr = '0.1'" });
        Assert.Equal(runId, found.GetProperty("runs")[0].GetProperty("info").GetProperty("run_id").GetString());

        await _server.OkAsync("runs/delete-tag", new { run_id = runId, key = "mlflow.user" });
        await _server.OkAsync("runs/delete", new { run_id = runId });
        var (_, none) = await _server.PostAsync("runs/search", new { experiment_ids = new[] { exp } });
        Assert.False(none.TryGetProperty("runs", out _));
        var (_, all) = await _server.PostAsync("runs/search", new { experiment_ids = new[] { exp }, run_view_type = "ALL" });
        Assert.Single(all.GetProperty("runs").EnumerateArray());
    }

    [Fact]
    public async Task Search_pages_through_every_run_once()
    {
        var exp = await _server.CreateExperimentAsync("paging");
        var ids = new HashSet<string>();
        for (var i = 0; i < 25; i++) ids.Add(await _server.CreateRunAsync(exp));
        var seen = new List<string>();
        string? token = null;
        do
        {
            var (status, page) = await _server.PostAsync("runs/search", new { experiment_ids = new[] { exp }, max_results = 7, page_token = token, order_by = new[] { "attributes.run_name" } });
            Assert.Equal(200, status);
            seen.AddRange(page.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("info").GetProperty("run_id").GetString()!));
            token = page.TryGetProperty("next_page_token", out var t) ? t.GetString() : null;
        } while (token is not null);
        Assert.Equal(25, seen.Count);
        Assert.True(ids.SetEquals(seen));
    }

    [Fact]
    public async Task Both_api_prefixes_answer()
    {
        using var response = await _server.Http.GetAsync("ajax-api/2.0/mlflow/experiments/get?experiment_id=0", TestContext.Current.CancellationToken);
        Assert.Equal(200, (int)response.StatusCode);
        var health = await _server.Http.GetStringAsync("health", TestContext.Current.CancellationToken);
        Assert.Equal("OK", health);
    }

    [Theory]
    [InlineData("experiments/create", "{\"name\": ", 400, "MALFORMED_REQUEST")]
    [InlineData("experiments/create", "{}", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("experiments/create", "{\"name\": 5}", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("experiments/create", "[1,2]", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("runs/create", "{\"experiment_id\": \"424242\"}", 404, "RESOURCE_DOES_NOT_EXIST")]
    [InlineData("runs/log-metric", "{\"run_id\": \"ffffffffffffffffffffffffffffffff\", \"key\": \"a\", \"value\": 1, \"timestamp\": 1}", 404, "RESOURCE_DOES_NOT_EXIST")]
    [InlineData("runs/log-metric", "{\"run_id\": \"ffffffffffffffffffffffffffffffff\", \"key\": \"a\", \"value\": \"high\", \"timestamp\": 1}", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("runs/update", "{\"run_id\": \"ffffffffffffffffffffffffffffffff\", \"status\": \"DONE\"}", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("runs/search", "{\"experiment_ids\": [\"0\"], \"run_view_type\": \"SOME\"}", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("runs/search", "{\"experiment_ids\": [\"0\"], \"filter\": \"metrics.acc >> 1\"}", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("runs/search", "{\"experiment_ids\": [\"0\"], \"max_results\": 50001}", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("runs/search", "{\"experiment_ids\": [\"0\"], \"page_token\": \"garbage!\"}", 400, "INVALID_PARAMETER_VALUE")]
    [InlineData("experiments/delete", "{\"experiment_id\": \"0\"}", 400, "INVALID_PARAMETER_VALUE")]
    public async Task Bad_requests_get_one_mlflow_error(string path, string body, int status, string code)
    {
        var (actualStatus, error) = await _server.PostAsync(path, body);
        Assert.Equal(status, actualStatus);
        Assert.Equal(code, Code(error));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Unknown_ids_are_404_resource_does_not_exist()
    {
        foreach (var path in new[] { "experiments/get?experiment_id=999", "experiments/get-by-name?experiment_name=nope", "runs/get?run_id=0123456789abcdef0123456789abcdef", "metrics/get-history?run_id=0123456789abcdef0123456789abcdef&metric_key=x" })
        {
            var (status, error) = await _server.GetAsync(path);
            Assert.Equal(404, status);
            Assert.Equal("RESOURCE_DOES_NOT_EXIST", Code(error));
        }
        var (endpointStatus, endpointError) = await _server.GetAsync("no/such/endpoint");
        Assert.Equal(404, endpointStatus);
        Assert.Equal("ENDPOINT_NOT_FOUND", Code(endpointError));
    }

    [Fact]
    public async Task Duplicate_experiment_name_is_resource_already_exists_with_status_400()
    {
        await _server.CreateExperimentAsync("dup");
        var (status, error) = await _server.PostAsync("experiments/create", new { name = "dup" });
        Assert.Equal(400, status);
        Assert.Equal("RESOURCE_ALREADY_EXISTS", Code(error));
    }

    [Fact]
    public async Task Param_overwrite_is_refused_and_the_first_value_kept()
    {
        var runId = await _server.CreateRunAsync("0");
        await _server.OkAsync("runs/log-parameter", new { run_id = runId, key = "model", value = "rf" });
        await _server.OkAsync("runs/log-parameter", new { run_id = runId, key = "model", value = "rf" });
        var (status, error) = await _server.PostAsync("runs/log-batch", new { run_id = runId, @params = new[] { new { key = "model", value = "gbt" } }, metrics = new[] { new { key = "m", value = 1, timestamp = 1, step = 0 } } });
        Assert.Equal(400, status);
        Assert.Equal("INVALID_PARAMETER_VALUE", Code(error));
        Assert.Contains("model", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        var (_, run) = await _server.GetAsync($"runs/get?run_id={runId}");
        Assert.Equal("rf", run.GetProperty("run").GetProperty("data").GetProperty("params")[0].GetProperty("value").GetString());
        // The whole batch was refused: its metric is not there either.
        Assert.False(run.GetProperty("run").GetProperty("data").TryGetProperty("metrics", out _));
    }

    [Fact]
    public async Task Too_large_batch_is_refused_and_nothing_is_logged()
    {
        var runId = await _server.CreateRunAsync("0");
        var metrics = Enumerable.Range(0, 1001).Select(i => new { key = "m", value = i, timestamp = 1, step = i });
        var (status, error) = await _server.PostAsync("runs/log-batch", new { run_id = runId, metrics });
        Assert.Equal(400, status);
        Assert.Contains("1000", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        var (_, history) = await _server.GetAsync($"metrics/get-history?run_id={runId}&metric_key=m");
        Assert.Equal(0, history.GetProperty("metrics").GetArrayLength());
    }

    [Fact]
    public async Task Oversized_body_gets_413_with_an_mlflow_error()
    {
        var (status, error) = await _server.PostAsync("experiments/create", new { name = new string('x', 300 * 1024) });
        Assert.Equal(413, status);
        Assert.Equal("REQUEST_LIMIT_EXCEEDED", Code(error));
    }

    [Fact]
    public async Task Logging_to_a_deleted_run_is_refused()
    {
        var runId = await _server.CreateRunAsync("0");
        await _server.OkAsync("runs/delete", new { run_id = runId });
        var (status, error) = await _server.PostAsync("runs/log-metric", new { run_id = runId, key = "m", value = 1, timestamp = 1 });
        Assert.Equal(400, status);
        Assert.Contains("active", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Injection_through_the_filter_finds_nothing_and_breaks_nothing()
    {
        var runId = await _server.CreateRunAsync("0");
        await _server.OkAsync("runs/log-parameter", new { run_id = runId, key = "model", value = "rf" });
        var (status, body) = await _server.PostAsync("runs/search", new { experiment_ids = new[] { "0" }, filter = "params.model = 'x'' OR 1=1 --'" });
        Assert.Equal(200, status);
        Assert.False(body.TryGetProperty("runs", out _));
        var (_, still) = await _server.PostAsync("runs/search", new { experiment_ids = new[] { "0" }, filter = "params.model = 'rf'" });
        Assert.Single(still.GetProperty("runs").EnumerateArray());
    }

    [Fact]
    public async Task Concurrent_log_model_requests_keep_every_history_entry()
    {
        // The history is read, appended to and written back; done as two requests' worth of store calls it lost entries.
        var exp = (await _server.OkAsync("experiments/create", new { name = "log-model-race" })).GetProperty("experiment_id").GetString()!;
        for (var round = 0; round < 10; round++)
        {
            var runId = await _server.CreateRunAsync(exp);
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var posts = Enumerable.Range(0, 6).Select(i => Task.Run(async () =>
            {
                await go.Task;
                return await _server.PostAsync("runs/log-model", new { run_id = runId, model_json = "{\"artifact_path\":\"model-" + i + "\",\"flavors\":{}}" });
            })).ToList();
            go.SetResult();
            foreach (var (status, body) in await Task.WhenAll(posts)) Assert.True(status == 200, body.ToString());

            var (_, got) = await _server.GetAsync($"runs/get?run_id={runId}");
            var history = got.GetProperty("run").GetProperty("data").GetProperty("tags").EnumerateArray()
                .Single(t => t.GetProperty("key").GetString() == "mlflow.log-model.history").GetProperty("value").GetString()!;
            var paths = JsonDocument.Parse(history).RootElement.EnumerateArray().Select(m => m.GetProperty("artifact_path").GetString()).Order();
            Assert.Equal(Enumerable.Range(0, 6).Select(i => $"model-{i}"), paths);
        }

        var (badStatus, bad) = await _server.PostAsync("runs/log-model", new { run_id = await _server.CreateRunAsync(exp), model_json = "[1]" });
        Assert.Equal(400, badStatus);
        Assert.Equal("INVALID_PARAMETER_VALUE", Code(bad));
    }
}

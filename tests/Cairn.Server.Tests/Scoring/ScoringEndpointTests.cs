using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Cairn.ML.Models;
using Cairn.Serving;
using Cairn.Server.Scoring;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Scoring;

public sealed class ScoringEndpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private static readonly float[][] s_rows = [[0.9f, 0.8f, 0.1f], [0.1f, 0.2f, 1.9f], [0.5f, 0.4f, 0.7f]];

    private ServedModel Classifier(string name = "churn", string? version = "3") =>
        ServedModel.Load(ScoringModelsForTests.TrainClassifier(_dir.Combine("clf-" + Guid.NewGuid().ToString("N")[..6])), name, version, $"models:/{name}/{version}");

    private static string Split(float[][] rows, string[]? columns = null) => JsonSerializer.Serialize(new
    {
        dataframe_split = new { columns = columns ?? ["a", "b", "c"], data = rows },
    });

    /// <summary>The predictor's own answer for the rows, to compare the server's with.</summary>
    private static ColumnBatch Direct(ServedModel model, float[][] rows) => model.Predict(new ColumnBatch()
        .Add("a", rows.Select(r => r[0]).ToArray()).Add("b", rows.Select(r => r[1]).ToArray()).Add("c", rows.Select(r => r[2]).ToArray()));

    [Fact]
    public async Task Dataframe_split_answers_label_score_and_probability_per_row_with_the_model_version_and_request_id()
    {
        var model = Classifier();
        var expected = Direct(model, s_rows);
        await using var host = await ScoringHost.StartAsync(model);

        var (status, body, response) = await host.PostAsync("/invocations", Split(s_rows));

        Assert.Equal(200, status);
        Assert.Equal("3", response.Headers.GetValues("X-Cairn-Model-Version").Single());
        Assert.Equal("churn", response.Headers.GetValues("X-Cairn-Model-Name").Single());
        Assert.Matches("^[0-9a-f]{32}$", response.Headers.GetValues("X-Request-Id").Single());
        var predictions = body.GetProperty("predictions").EnumerateArray().ToList();
        Assert.Equal(3, predictions.Count);
        var probabilities = (float[])expected["Probability"];
        var labels = (bool[])expected["PredictedLabel"];
        for (var r = 0; r < 3; r++)
        {
            Assert.Equal(labels[r], predictions[r].GetProperty("PredictedLabel").GetBoolean());
            Assert.Equal(probabilities[r], predictions[r].GetProperty("Probability").GetSingle());
            Assert.True(predictions[r].TryGetProperty("Score", out _));
        }
        // The trained rule: a + b > c.
        Assert.True(predictions[0].GetProperty("PredictedLabel").GetBoolean());
        Assert.False(predictions[1].GetProperty("PredictedLabel").GetBoolean());

        // A caller's request id is echoed.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/invocations") { Content = new StringContent(Split(s_rows), System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Request-Id", "abc-123");
        using var echoed = await host.Http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal("abc-123", echoed.Headers.GetValues("X-Request-Id").Single());
    }

    [Fact]
    public async Task Records_instances_inputs_and_csv_bodies_give_the_same_predictions_as_dataframe_split()
    {
        await using var host = await ScoringHost.StartAsync(Classifier());
        var reference = (await host.OkAsync("/invocations", Split(s_rows))).GetProperty("predictions");
        var probabilities = reference.EnumerateArray().Select(p => p.GetProperty("Probability").GetSingle()).ToArray();
        var records = s_rows.Select(r => new Dictionary<string, float> { ["c"] = r[2], ["a"] = r[0], ["b"] = r[1], ["extra"] = 5 }).ToArray();

        var fromRecords = (await host.OkAsync("/invocations", JsonSerializer.Serialize(new { dataframe_records = records }))).GetProperty("predictions");
        Assert.Equal(probabilities, fromRecords.EnumerateArray().Select(p => p.GetProperty("Probability").GetSingle()));

        // CSV: a header line, then rows; column order is the body's.
        var csv = "c,b,a\n" + string.Join("\n", s_rows.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r[2]},{r[1]},{r[0]}"))) + "\n";
        var fromCsv = (await host.OkAsync("/invocations", csv, "text/csv")).GetProperty("predictions");
        Assert.Equal(probabilities, fromCsv.EnumerateArray().Select(p => p.GetProperty("Probability").GetSingle()));

        // instances / inputs: tensors in, a map of output name to values out (MLflow's answer for tensor input).
        foreach (var body in new[]
        {
            JsonSerializer.Serialize(new { instances = records }),
            JsonSerializer.Serialize(new { instances = s_rows }),
            JsonSerializer.Serialize(new { inputs = s_rows }),
            JsonSerializer.Serialize(new { inputs = new { a = s_rows.Select(r => r[0]), b = s_rows.Select(r => r[1]), c = s_rows.Select(r => r[2]) } }),
        })
        {
            var predictions = (await host.OkAsync("/invocations", body)).GetProperty("predictions");
            Assert.Equal(probabilities, predictions.GetProperty("Probability").EnumerateArray().Select(p => p.GetSingle()));
            Assert.Equal(3, predictions.GetProperty("PredictedLabel").GetArrayLength());
        }
    }

    [Theory]
    [InlineData("""{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}""", "missing column 'c'")]
    [InlineData("""{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [1, true, 3]]}}""", "column 'b' at row 1: wrong type")]
    [InlineData("""{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [1, 2, 3], [1, 2, "abc"]]}}""", "column 'c' at row 2: unparsable value \"abc\"")]
    [InlineData("""{"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "c": 3}]}""", "column 'b' at row 1: missing")]
    [InlineData("""{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2]]}}""", "row 0 of 'dataframe_split': expected a list of 3 values")]
    [InlineData("""{"instances": [[1, 2, 3]], "inputs": [[1, 2, 3]]}""", "exactly one of the fields")]
    [InlineData("""{"data": [[1, 2, 3]]}""", "exactly one of the fields")]
    [InlineData("""{"dataframe_split": """, "not valid JSON")]
    [InlineData("[1, 2, 3]", "must be a JSON object")]
    public async Task Input_that_does_not_match_the_signature_is_a_400_naming_the_column_and_row(string body, string message)
    {
        await using var host = await ScoringHost.StartAsync(Classifier());

        var (status, json, _) = await host.PostAsync("/invocations", body);

        Assert.Equal(400, status);
        Assert.Equal("BAD_REQUEST", json.GetProperty("error_code").GetString());
        Assert.Contains(message, json.GetProperty("message").GetString());
        // The server still answers.
        await host.OkAsync("/invocations", Split(s_rows));
    }

    [Fact]
    public async Task Csv_with_an_unparsable_value_names_the_column_and_row_and_other_content_types_get_415()
    {
        await using var host = await ScoringHost.StartAsync(Classifier());

        var (status, json, _) = await host.PostAsync("/invocations", "a,b,c\n1,2,3\n1,x2,3\n", "text/csv");
        Assert.Equal(400, status);
        Assert.Contains("column 'b' at row 1: unparsable value \"x2\"", json.GetProperty("message").GetString());

        (status, json, _) = await host.PostAsync("/invocations", "a=1", "application/x-www-form-urlencoded");
        Assert.Equal(415, status);
        Assert.Contains("application/json", json.GetProperty("message").GetString());
    }

    /// <summary>A model that fails inside: every call throws what a broken model would.</summary>
    private sealed class ThrowingPredictor : IModelPredictor
    {
        public string Flavor => "mlnet";
        public IReadOnlyList<ColumnSpec> Inputs { get; } = [new("a", "float")];
        public IReadOnlyList<ColumnSpec> Outputs { get; } = [new("Score", "float")];
        public int Calls;

        public ColumnBatch Predict(ColumnBatch input)
        {
            if (Interlocked.Increment(ref Calls) % 2 == 1) throw new InvalidOperationException("the model's native code failed");
            return new ColumnBatch().Add("Score", new float[input.RowCount]);
        }

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task A_model_that_throws_is_a_500_with_the_request_id_and_the_server_keeps_answering()
    {
        var predictor = new ThrowingPredictor();
        await using var host = await ScoringHost.StartAsync(new ServedModel(predictor, "broken", "1", "models:/broken/1"));
        var body = """{"dataframe_split": {"columns": ["a"], "data": [[1], [2]]}}""";

        var (status, json, response) = await host.PostAsync("/invocations", body);

        Assert.Equal(500, status);
        Assert.Equal("INTERNAL_ERROR", json.GetProperty("error_code").GetString());
        var requestId = response.Headers.GetValues("X-Request-Id").Single();
        Assert.Contains(requestId, json.GetProperty("message").GetString());
        Assert.DoesNotContain("native code", json.GetProperty("message").GetString());
        var second = await host.OkAsync("/invocations", body);
        Assert.Equal(2, second.GetProperty("predictions").GetArrayLength());
        using var ping = await host.Http.GetAsync("/ping", TestContext.Current.CancellationToken);
        Assert.Equal(200, (int)ping.StatusCode);
    }

    [Fact]
    public void A_model_with_only_python_flavors_is_refused_naming_them_and_how_to_export_onnx()
    {
        var folder = _dir.Combine("sk");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "MLmodel"), """
            artifact_path: model
            flavors:
              python_function:
                loader_module: mlflow.sklearn
                model_path: model.pkl
                python_version: 3.10.12
              sklearn:
                pickled_model: model.pkl
                sklearn_version: 1.4.0
            mlflow_version: 2.11.3
            """);

        var error = Assert.Throws<InvalidParameterValueException>(() => ServedModel.Load(folder, "sk", null, folder));

        Assert.Contains("python_function, sklearn", error.Message);
        Assert.Contains("mlflow.onnx.log_model", error.Message);
        Assert.Contains("skl2onnx", error.Message);
    }

    [Fact]
    public async Task An_mlflow_onnx_package_is_fed_column_by_column_and_agrees_with_a_float64_reference()
    {
        // Y = X·W + B, weights drawn here; the reference is computed in double precision.
        var random = new Random(5);
        const int inputs = 4, outputs = 2;
        var w = new float[inputs, outputs];
        for (var i = 0; i < inputs; i++)
            for (var j = 0; j < outputs; j++) w[i, j] = (float)(random.NextDouble() - 0.5);
        float[] b = [0.25f, -0.125f];
        var rows = Enumerable.Range(0, 50).Select(_ => Enumerable.Range(0, inputs).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
        double Reference(int r, int j)
        {
            var sum = (double)b[j];
            for (var i = 0; i < inputs; i++) sum += (double)rows[r][i] * w[i, j];
            return sum;
        }
        var model = ServedModel.Load(ScoringModelsForTests.WriteMlflowOnnx(_dir.Combine("onnx"), w, b), "linear", "2", "models:/linear/2");
        await using var host = await ScoringHost.StartAsync(model);

        // A dataframe with any column names feeds the single tensor X column by column.
        var split = await host.OkAsync("/invocations", JsonSerializer.Serialize(new { dataframe_split = new { columns = new[] { "f0", "f1", "f2", "f3" }, data = rows } }));
        var records = split.GetProperty("predictions").EnumerateArray().ToList();
        Assert.Equal(rows.Length, records.Count);
        for (var r = 0; r < rows.Length; r++)
        {
            var y = records[r].GetProperty("Y").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (var j = 0; j < outputs; j++) Assert.True(Math.Abs(y[j] - Reference(r, j)) <= 1e-6, $"row {r} output {j}: {y[j]} vs {Reference(r, j)}");
        }

        // Tensor input answers a map of output name to rows.
        var tensor = await host.OkAsync("/invocations", JsonSerializer.Serialize(new { inputs = new { X = rows } }));
        var y0 = tensor.GetProperty("predictions").GetProperty("Y")[7].EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.True(Math.Abs(y0[1] - Reference(7, 1)) <= 1e-6);

        // Open Inference Protocol: FP32 [N, 4] in, FP32 [N, 2] out.
        var infer = await host.OkAsync("/v2/models/linear/infer", JsonSerializer.Serialize(new
        {
            id = "req-1",
            inputs = new[] { new { name = "X", shape = new[] { rows.Length, inputs }, datatype = "FP32", data = rows.SelectMany(r => r).ToArray() } },
        }));
        Assert.Equal("linear", infer.GetProperty("model_name").GetString());
        Assert.Equal("2", infer.GetProperty("model_version").GetString());
        Assert.Equal("req-1", infer.GetProperty("id").GetString());
        var output = infer.GetProperty("outputs")[0];
        Assert.Equal("Y", output.GetProperty("name").GetString());
        Assert.Equal("FP32", output.GetProperty("datatype").GetString());
        Assert.Equal([rows.Length, outputs], output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        var data = output.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        for (var r = 0; r < rows.Length; r++)
            for (var j = 0; j < outputs; j++) Assert.True(Math.Abs(data[r * outputs + j] - Reference(r, j)) <= 1e-6);

        // The wrong number of columns names the tensor and the count.
        var (status, json, _) = await host.PostAsync("/invocations", JsonSerializer.Serialize(new { dataframe_split = new { columns = new[] { "f0", "f1" }, data = new[] { new[] { 1, 2 } } } }));
        Assert.Equal(400, status);
        Assert.Contains("'X' is a tensor of 4 values per row", json.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Open_inference_protocol_health_metadata_and_infer_on_a_model_of_named_columns()
    {
        await using var host = await ScoringHost.StartAsync(Classifier());
        var ct = TestContext.Current.CancellationToken;

        var ready = JsonDocument.Parse(await host.Http.GetStringAsync("/v2/health/ready", ct)).RootElement;
        Assert.True(ready.GetProperty("ready").GetBoolean());
        Assert.True(JsonDocument.Parse(await host.Http.GetStringAsync("/v2/health/live", ct)).RootElement.GetProperty("live").GetBoolean());
        var metadata = JsonDocument.Parse(await host.Http.GetStringAsync("/v2/models/churn", ct)).RootElement;
        Assert.Equal(["3"], metadata.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(["a", "b", "c"], metadata.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.All(metadata.GetProperty("inputs").EnumerateArray(), i => Assert.Equal("FP32", i.GetProperty("datatype").GetString()));
        Assert.Contains(metadata.GetProperty("outputs").EnumerateArray(), o => o.GetProperty("name").GetString() == "Probability");

        var columns = new[] { "a", "b", "c" }.Select((name, c) => new { name, shape = new[] { s_rows.Length }, datatype = "FP32", data = s_rows.Select(r => r[c]).ToArray() }).ToArray();
        var byColumn = await host.OkAsync("/v2/models/churn/infer", JsonSerializer.Serialize(new { inputs = columns }));
        var matrix = await host.OkAsync("/v2/models/churn/versions/3/infer", JsonSerializer.Serialize(new
        {
            inputs = new[] { new { name = "features", shape = new[] { s_rows.Length, 3 }, datatype = "FP32", data = s_rows } },
            outputs = new[] { new { name = "Probability" } },
        }));
        var expected = (float[])Direct(host.Server.Model!, s_rows)["Probability"];
        float[] Probabilities(JsonElement answer) => answer.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == "Probability")
            .GetProperty("data").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        Assert.Equal(expected, Probabilities(byColumn));
        Assert.Equal(expected, Probabilities(matrix));
        Assert.Single(matrix.GetProperty("outputs").EnumerateArray());
        Assert.Equal("3", byColumn.GetProperty("model_version").GetString());

        var (status, json, _) = await host.PostAsync("/v2/models/churn/infer", JsonSerializer.Serialize(new { inputs = columns.Take(2) }));
        Assert.Equal(400, status);
        Assert.Contains("missing input 'c'", json.GetProperty("error").GetString());
        (status, _, _) = await host.PostAsync("/v2/models/other/infer", JsonSerializer.Serialize(new { inputs = columns }));
        Assert.Equal(404, status);
        (status, _, _) = await host.PostAsync("/v2/models/churn/versions/9/infer", JsonSerializer.Serialize(new { inputs = columns }));
        Assert.Equal(404, status);
    }

    [Fact]
    public async Task Readiness_waits_for_the_model()
    {
        await using var host = await ScoringHost.StartAsync(null);
        var ct = TestContext.Current.CancellationToken;
        foreach (var path in new[] { "/ping", "/health", "/health/ready", "/v2/health/ready" })
            Assert.Equal(503, (int)(await host.Http.GetAsync(path, ct)).StatusCode);
        Assert.Equal(200, (int)(await host.Http.GetAsync("/health/live", ct)).StatusCode);
        var (status, json, _) = await host.PostAsync("/invocations", Split(s_rows));
        Assert.Equal(503, status);
        Assert.Equal("TEMPORARILY_UNAVAILABLE", json.GetProperty("error_code").GetString());

        host.Server.Serve(Classifier());

        foreach (var path in new[] { "/ping", "/health", "/health/ready", "/v2/health/ready" })
            Assert.Equal(200, (int)(await host.Http.GetAsync(path, ct)).StatusCode);
    }

    [Fact]
    public async Task With_an_api_key_scoring_needs_the_bearer_key_and_probes_do_not()
    {
        const string key = "0123456789abcdef-secret";
        await using var host = await ScoringHost.StartAsync(Classifier(), new Dictionary<string, string?> { ["Cairn:Scoring:ApiKey"] = key });

        var (status, json, response) = await host.PostAsync("/invocations", Split(s_rows));
        Assert.Equal(401, status);
        Assert.Equal("UNAUTHENTICATED", json.GetProperty("error_code").GetString());
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString());
        (status, _, _) = await host.PostAsync("/invocations", Split(s_rows), bearer: key + "x");
        Assert.Equal(401, status);
        (status, _, _) = await host.PostAsync("/v2/models/churn/infer", "{}", bearer: "wrong");
        Assert.Equal(401, status);
        (status, _, _) = await host.PostAsync("/invocations", Split(s_rows), bearer: key);
        Assert.Equal(200, status);
        Assert.Equal(200, (int)(await host.Http.GetAsync("/ping", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(200, (int)(await host.Http.GetAsync("/v2/health/ready", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(401, (int)(await host.Http.GetAsync("/metrics", TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_scoring_limit_is_a_413_and_a_short_key_is_refused_at_start()
    {
        await using var host = await ScoringHost.StartAsync(Classifier(), new Dictionary<string, string?> { ["Cairn:Scoring:MaxRequestBodyBytes"] = "2000" });
        var big = Split(Enumerable.Repeat(s_rows[0], 200).ToArray());
        Assert.True(big.Length > 2000);

        var (status, json, _) = await host.PostAsync("/invocations", big);

        Assert.Equal(413, status);
        Assert.Equal("REQUEST_LIMIT_EXCEEDED", json.GetProperty("error_code").GetString());
        await host.OkAsync("/invocations", Split(s_rows));

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            ScoringHost.StartAsync(null, new Dictionary<string, string?> { ["Cairn:Scoring:ApiKey"] = "short" }));
        Assert.Contains("Cairn:Scoring:ApiKey", error.Message);
    }

    [Fact]
    public async Task A_non_loopback_host_without_an_api_key_is_refused()
    {
        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            ScoringHost.StartAsync(null, new Dictionary<string, string?> { ["Cairn:Server:Host"] = "0.0.0.0" }));
        Assert.Contains("--api-key", error.Message);
        Assert.Contains("--insecure", error.Message);
    }

    [Fact]
    public async Task Prometheus_exports_requests_errors_latency_batch_sizes_and_prediction_values_per_model_and_version()
    {
        await using var host = await ScoringHost.StartAsync(Classifier("metered", "7"));
        for (var i = 0; i < 3; i++) await host.OkAsync("/invocations", Split(s_rows));
        await host.PostAsync("/invocations", """{"dataframe_split": {"columns": ["a"], "data": [[1]]}}""");

        var text = await host.Http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        var samples = text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l =>
        {
            var space = l.LastIndexOf(' ');
            return (Series: l[..space], Value: double.Parse(l[(space + 1)..], CultureInfo.InvariantCulture));
        }).ToList();
        double Sum(string metric, params string[] labels) => samples
            .Where(s => s.Series.StartsWith(metric + "{", StringComparison.Ordinal) && labels.All(s.Series.Contains)).Sum(s => s.Value);

        const string model = "cairn_model_name=\"metered\"", version = "cairn_model_version=\"7\"";
        Assert.Equal(3, Sum("cairn_scoring_requests_total", model, version, "http_response_status_code=\"200\""));
        Assert.Equal(1, Sum("cairn_scoring_errors_total", model, version, "http_response_status_code=\"400\""));
        Assert.Equal(4, Sum("cairn_scoring_request_duration_seconds_count", model, version));
        Assert.Equal(9, Sum("cairn_scoring_batch_size_sum", model, version));
        Assert.Equal(9, Sum("cairn_scoring_prediction_value_count", model, version, "cairn_model_output=\"Probability\""));
        Assert.Contains(samples, s => s.Series.StartsWith("cairn_scoring_request_duration_seconds_bucket{", StringComparison.Ordinal) && s.Series.Contains("le=\"+Inf\""));
    }

    private sealed class CollectingLog : IPredictionLog
    {
        public ConcurrentQueue<PredictionBatch> Batches { get; } = new();
        public long Dropped => 0;

        public bool TryAppend(PredictionBatch batch)
        {
            Batches.Enqueue(batch);
            return true;
        }
    }

    [Fact]
    public async Task A_registered_prediction_log_gets_each_request_rows_with_its_id_model_and_version()
    {
        var log = new CollectingLog();
        await using var host = await ScoringHost.StartAsync(Classifier("logged", "4"), services: s => s.AddSingleton<IPredictionLog>(log));

        var (_, _, response) = await host.PostAsync("/invocations", Split(s_rows));
        await host.PostAsync("/invocations", """{"dataframe_split": {"columns": ["a"], "data": [[1]]}}""");

        var batch = Assert.Single(log.Batches);
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), batch.RequestId);
        Assert.Equal(("logged", "logged", "4", 3), (batch.Deployment, batch.ModelName, batch.ModelVersion, batch.Rows));
        Assert.Equal(["a", "b", "c"], batch.Inputs.Select(c => c.Key));
        Assert.Equal(s_rows.Select(r => r[1]), (float[])batch.Inputs[1].Value);
        Assert.Contains(batch.Outputs, c => c.Key == "Probability");
        Assert.True(batch.LatencyMs > 0);
    }

    [Fact]
    public async Task Concurrent_requests_of_different_sizes_get_their_own_rows_back()
    {
        var model = Classifier();
        await using var host = await ScoringHost.StartAsync(model);
        var random = new Random(3);
        var batches = Enumerable.Range(0, 24).Select(i => Enumerable.Range(0, 1 + i % 7).Select(_ => new[] { (float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble() * 2 }).ToArray()).ToList();

        var answers = await Task.WhenAll(batches.Select(rows => host.OkAsync("/invocations", Split(rows))));

        for (var i = 0; i < batches.Count; i++)
            Assert.Equal((float[])Direct(model, batches[i])["Probability"],
                answers[i].GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("Probability").GetSingle()));
    }

    public void Dispose() => _dir.Dispose();
}

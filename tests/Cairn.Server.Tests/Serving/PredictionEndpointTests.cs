using System.Text.Json;
using Cairn.Serving;
using Cairn.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Serving;

/// <summary>Feedback and the prediction log read over HTTP on a real server, the rows logged through the server's own log.</summary>
public sealed class PredictionEndpointTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    private RunningServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        var log = _server.Server.Services.GetRequiredService<ServerPredictionLog>();
        Assert.Same(log, _server.Server.Services.GetRequiredService<IPredictionLog>());
        for (var i = 0; i < 5; i++)
        {
            Assert.True(log.TryAppend(new PredictionBatch($"req-{i}", "churn", "churn-model", i < 3 ? "1" : "2", T0.AddSeconds(i * 30), 1.25, i + 1,
                [new("age", Enumerable.Range(0, i + 1).Select(r => 30.0 + r).ToArray()), new("plan", Enumerable.Range(0, i + 1).Select(r => $"p{r}").ToArray())],
                [new("label", Enumerable.Range(0, i + 1).Select(r => r % 2 == 0).ToArray()),
                 new("probabilities", Enumerable.Range(0, i + 1).Select(_ => new[] { 0.25f, 0.75f }).ToArray())])));
        }
        Assert.True(log.TryAppend(new PredictionBatch("odd", "fraud", null, null, T0, 1, 1, [new("x", new[] { double.NaN })], [new("y", new[] { 1L })])));
        await log.Log.FlushAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private async Task<(int Status, JsonElement Body)> FeedbackAsync(string deployment, string json)
    {
        using var response = await _server.Http.PostAsync($"/api/cairn/v1/deployments/{deployment}/feedback",
            new StringContent(json, System.Text.Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await BodyAsync(response));
    }

    private async Task<(int Status, JsonElement Body)> GetAsync(string pathAndQuery)
    {
        using var response = await _server.Http.GetAsync(pathAndQuery, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await BodyAsync(response));
    }

    private static async Task<JsonElement> BodyAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static void AssertError(int expectedStatus, string expectedCode, string messagePart, (int Status, JsonElement Body) answer)
    {
        Assert.Equal(expectedStatus, answer.Status);
        Assert.Equal(expectedCode, answer.Body.GetProperty("error_code").GetString());
        Assert.Contains(messagePart, answer.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Feedback_records_ground_truth_per_row_for_the_window_reader()
    {
        var (status, body) = await FeedbackAsync("churn", """{"request_id": "req-2", "ground_truth": [1, 0, "yes"]}""");
        Assert.Equal(200, status);
        Assert.Equal(3, body.GetProperty("rows").GetInt32());
        Assert.Equal(200, (await FeedbackAsync("churn", """{"request_id": "req-0", "ground_truth": true}""")).Status);
        Assert.Equal(200, (await FeedbackAsync("churn", """{"request_id": "req-4", "ground_truth": [0.5, 0.5], "row": 4}""")).Status);

        var store = _server.Server.Services.GetRequiredService<ServerStores>().Inner.Predictions!;
        var truth = await store.ReadFeedbackAsync("churn", T0, T0.AddHours(1), TestContext.Current.CancellationToken);
        Assert.Equal([("req-0", 0, "true"), ("req-2", 0, "1"), ("req-2", 1, "0"), ("req-2", 2, "\"yes\""), ("req-4", 4, "[0.5, 0.5]")],
            truth.Select(t => (t.RequestId, t.Row, t.ValueJson)));
        Assert.Equal(T0.AddSeconds(60).ToUnixTimeMilliseconds(), truth[1].TimeMs);
    }

    [Fact]
    public async Task Bad_feedback_gets_one_clear_error_naming_the_field()
    {
        AssertError(404, "RESOURCE_DOES_NOT_EXIST", "request_id=ghost", await FeedbackAsync("churn", """{"request_id": "ghost", "ground_truth": 1}"""));
        AssertError(404, "RESOURCE_DOES_NOT_EXIST", "request_id=req-1", await FeedbackAsync("fraud", """{"request_id": "req-1", "ground_truth": [1, 0]}"""));
        AssertError(404, "RESOURCE_DOES_NOT_EXIST", "request_id=req-1", await FeedbackAsync("nope", """{"request_id": "req-1", "ground_truth": [1, 0]}"""));
        AssertError(400, "INVALID_PARAMETER_VALUE", "ground_truth has 3 values; request req-1 has 2 rows",
            await FeedbackAsync("churn", """{"request_id": "req-1", "ground_truth": [1, 0, 1]}"""));
        AssertError(400, "INVALID_PARAMETER_VALUE", "request req-1 has 2 rows: send a list",
            await FeedbackAsync("churn", """{"request_id": "req-1", "ground_truth": 1}"""));
        AssertError(400, "INVALID_PARAMETER_VALUE", "row 2 is out of range",
            await FeedbackAsync("churn", """{"request_id": "req-1", "ground_truth": 1, "row": 2}"""));
        AssertError(400, "INVALID_PARAMETER_VALUE", "'row'", await FeedbackAsync("churn", """{"request_id": "req-1", "ground_truth": 1, "row": -1}"""));
        AssertError(400, "INVALID_PARAMETER_VALUE", "'row'", await FeedbackAsync("churn", """{"request_id": "req-1", "ground_truth": 1, "row": "first"}"""));
        AssertError(400, "INVALID_PARAMETER_VALUE", "'request_id'", await FeedbackAsync("churn", """{"ground_truth": 1}"""));
        AssertError(400, "INVALID_PARAMETER_VALUE", "'ground_truth'", await FeedbackAsync("churn", """{"request_id": "req-1"}"""));
        AssertError(400, "INVALID_PARAMETER_VALUE", "'request_id'",
            await FeedbackAsync("churn", $$"""{"request_id": "{{new string('x', 300)}}", "ground_truth": 1}"""));
        AssertError(400, "MALFORMED_REQUEST", "Malformed JSON", await FeedbackAsync("churn", """{"request_id": "req-1", """));
        // Nothing was recorded by the refused requests.
        var store = _server.Server.Services.GetRequiredService<ServerStores>().Inner.Predictions!;
        Assert.Empty(await store.ReadFeedbackAsync("churn", T0, T0.AddHours(1), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Predictions_of_a_window_are_read_as_columns_in_bounded_pages()
    {
        var start = T0.ToUnixTimeMilliseconds();
        var end = T0.AddMinutes(10).ToUnixTimeMilliseconds();
        var (status, body) = await GetAsync($"/api/cairn/v1/deployments/churn/predictions?start={start}&end={end}&max_rows=100");
        Assert.Equal(200, status);
        Assert.False(body.TryGetProperty("next_page_token", out _));
        var parts = body.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(15, parts.Sum(p => p.GetProperty("count").GetInt32()));
        // Version 1's rows: a block holds one minute of one write, so two blocks, or three when the writer took req-0 alone
        // before req-1 was queued; in time order either way.
        var v1Parts = parts.Where(p => p.GetProperty("model_version").GetString() == "1").ToList();
        Assert.InRange(v1Parts.Count, 2, 3);
        Assert.Equal(["req-0", "req-1", "req-1", "req-2", "req-2", "req-2"], v1Parts.SelectMany(p => p.GetProperty("request_ids").EnumerateArray()).Select(e => e.GetString()));
        Assert.Equal([0, 0, 1, 0, 1, 2], v1Parts.SelectMany(p => p.GetProperty("rows").EnumerateArray()).Select(e => e.GetInt32()));
        Assert.Equal([30.0, 30, 31, 30, 31, 32], v1Parts.SelectMany(p => p.GetProperty("inputs").GetProperty("age").EnumerateArray()).Select(e => e.GetDouble()));
        JsonElement[] Column(string side, string name) => v1Parts.SelectMany(p => p.GetProperty(side).GetProperty(name).EnumerateArray()).ToArray();
        Assert.Equal("p1", Column("inputs", "plan")[2].GetString());
        Assert.Equal(0.75, Column("outputs", "probabilities")[0][1].GetDouble());
        Assert.False(Column("outputs", "label")[2].GetBoolean());

        // Paged: 4 rows a page, every row once; the ISO form of the times works too.
        var seen = 0;
        string? token = null;
        do
        {
            var url = $"/api/cairn/v1/deployments/churn/predictions?start=2026-03-01T10:00:00Z&end=2026-03-01T10:10:00Z&max_rows=4&model_version=2"
                + (token is null ? "" : "&page_token=" + Uri.EscapeDataString(token));
            (status, body) = await GetAsync(url);
            Assert.Equal(200, status);
            var rows = body.GetProperty("rows").EnumerateArray().Sum(p => p.GetProperty("count").GetInt32());
            Assert.InRange(rows, 1, 4);
            seen += rows;
            token = body.TryGetProperty("next_page_token", out var next) ? next.GetString() : null;
        } while (token is not null);
        Assert.Equal(4 + 5, seen);

        var odd = await GetAsync($"/api/cairn/v1/deployments/fraud/predictions?start={start}&end={end}");
        Assert.Equal("NaN", odd.Body.GetProperty("rows")[0].GetProperty("inputs").GetProperty("x")[0].GetString());
        Assert.Empty((await GetAsync($"/api/cairn/v1/deployments/none/predictions?start={start}&end={end}")).Body.GetProperty("rows").EnumerateArray());
    }

    [Fact]
    public async Task Bad_prediction_queries_name_the_parameter()
    {
        var path = "/api/cairn/v1/deployments/churn/predictions";
        AssertError(400, "INVALID_PARAMETER_VALUE", "'start'", await GetAsync($"{path}?end=1"));
        AssertError(400, "INVALID_PARAMETER_VALUE", "'end'", await GetAsync($"{path}?start=1&end=yesterday"));
        AssertError(400, "INVALID_PARAMETER_VALUE", "'max_rows'", await GetAsync($"{path}?start=1&end=2&max_rows=0"));
        AssertError(400, "INVALID_PARAMETER_VALUE", "'max_rows'", await GetAsync($"{path}?start=1&end=2&max_rows=1000000"));
        AssertError(400, "INVALID_PARAMETER_VALUE", "end must be after start", await GetAsync($"{path}?start=5&end=2"));
        AssertError(400, "INVALID_PARAMETER_VALUE", "page_token", await GetAsync($"{path}?start=1&end=2&page_token=zzz"));
    }

    [Fact]
    public async Task Readiness_includes_the_prediction_log()
    {
        var (status, body) = await GetAsync("/health/ready");
        Assert.Equal(200, status);
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("prediction_log").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Stopping_the_server_writes_what_the_log_still_holds()
    {
        using var dir = new TempDirectory();
        var options = new CairnServerOptions { Port = 0, BackendStoreUri = dir.Path, ArtifactsDestination = dir.Combine("artifacts"),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning };
        var settings = options.ToSettings();
        settings["CAIRN_HOME"] = dir.Path;
        var server = await CairnServer.StartAsync(settings, null, TestContext.Current.CancellationToken);
        var log = server.Services.GetRequiredService<ServerPredictionLog>();
        for (var i = 0; i < 500; i++)
            Assert.True(log.TryAppend(new PredictionBatch($"late-{i}", "churn", null, null, T0, 1, 1, [new("x", new[] { (double)i })], [new("y", new[] { 1L })])));
        await server.DisposeAsync(); // no flush: stopping must write them before the database closes

        using var stores = await Cairn.Storage.CairnStores.OpenAsync(dir.Path, cancellationToken: TestContext.Current.CancellationToken);
        var page = await stores.Predictions!.ReadPageAsync("churn", null, T0, T0.AddMinutes(1), 1000, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(500, page.RowCount);
    }
}

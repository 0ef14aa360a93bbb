using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Cairn.Tests;

/// <summary>
/// Hostile input over real HTTP (issue 11, items 3, 4 and 11): whatever a request holds, the answer is a 400 with
/// MLflow's error body naming the limit, quickly, and the server keeps answering.
/// </summary>
public sealed class InputLimitTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await RunningServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void AssertInvalid((int Status, JsonElement Body) answer, string rule)
    {
        Assert.True(answer.Status == 400, $"answered {answer.Status}: {answer.Body}");
        Assert.Equal("INVALID_PARAMETER_VALUE", answer.Body.GetProperty("error_code").GetString());
        Assert.Contains(rule, answer.Body.GetProperty("message").GetString());
    }

    private async Task AssertStillAnswersAsync()
    {
        var (status, _) = await _server.PostAsync("experiments/search", new { max_results = 1 });
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Twenty_thousand_nested_parentheses_are_a_400_and_the_server_still_answers()
    {
        var experiment = await _server.CreateExperimentAsync("deep");
        var deep = new string('(', 20_000) + "metrics.a > 1" + new string(')', 20_000);

        AssertInvalid(await _server.PostAsync("runs/search", new { experiment_ids = new[] { experiment }, filter = deep }), "more than 32 deep");
        AssertInvalid(await _server.PostAsync("experiments/search", new { filter = new string('(', 20_000) + "name = 'x'" + new string(')', 20_000) }), "more than 32 deep");
        AssertInvalid(await _server.GetAsync("registered-models/search?filter=" + Uri.EscapeDataString(new string('(', 200) + "name = 'x'" + new string(')', 200))), "more than 32 deep");
        AssertInvalid(await _server.GetAsync("model-versions/search?filter=" + Uri.EscapeDataString(new string('(', 200) + "name = 'x'" + new string(')', 200))), "more than 32 deep");
        await AssertStillAnswersAsync();
    }

    [Fact]
    public async Task Too_many_terms_too_long_a_filter_and_too_long_a_page_token_are_400s()
    {
        var experiment = await _server.CreateExperimentAsync("terms");
        var many = string.Join(" OR ", Enumerable.Range(0, 201).Select(i => $"params.p = 'v{i}'"));
        AssertInvalid(await _server.PostAsync("runs/search", new { experiment_ids = new[] { experiment }, filter = many }), "at most 200 comparisons");
        var huge = "params.p = '" + new string('x', 100_000) + "'";
        var answer = await _server.PostAsync("runs/search", new { experiment_ids = new[] { experiment }, filter = huge });
        AssertInvalid(answer, "a filter has at most 100000");
        Assert.True(answer.Body.GetProperty("message").GetString()!.Length < 1000, "the message quotes only the start of the filter");
        AssertInvalid(await _server.PostAsync("runs/search", new { experiment_ids = new[] { experiment }, order_by = Enumerable.Range(0, 11).Select(i => $"metrics.m{i}").ToArray() }), "at most 10 are allowed");
        AssertInvalid(await _server.PostAsync("runs/search", new { experiment_ids = new[] { experiment }, page_token = new string('A', 100_000) }), "page_token");
        await AssertStillAnswersAsync();
    }

    [Fact]
    public async Task Over_long_like_patterns_and_keys_are_400s_not_500s()
    {
        var experiment = await _server.CreateExperimentAsync("like");
        await _server.CreateRunAsync(experiment, "r");
        // 60,000 characters passed SQLite's LIKE/GLOB pattern limit (50,000) and failed in the database.
        AssertInvalid(await _server.PostAsync("runs/search", new { experiment_ids = new[] { experiment }, filter = $"tags.t LIKE '{new string('%', 60_000)}'" }), "a pattern has at most 8000");
        AssertInvalid(await _server.PostAsync("experiments/search", new { filter = $"name ILIKE '{new string('a', 60_000)}'" }), "a pattern has at most 8000");
        AssertInvalid(await _server.PostAsync("runs/search", new { experiment_ids = new[] { experiment }, filter = $"params.{new string('k', 5_000)} = 'x'" }), "a key has at most 250");
        var ok = await _server.PostAsync("runs/search", new { experiment_ids = new[] { experiment }, filter = $"attributes.run_name LIKE '{new string('%', 8_000)}'" });
        Assert.Equal(200, ok.Status);
        Assert.Single(ok.Body.GetProperty("runs").EnumerateArray());
    }

    [Fact]
    public async Task A_promotion_rule_with_fifty_thousand_spaces_is_refused_fast()
    {
        async Task<(int Status, JsonElement Body)> PromoteAsync(string rule)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/cairn/v1/registry/promote")
            {
                Content = new StringContent(JsonSerializer.Serialize(new { name = "m", version = "1", alias = "champion", requirements = new[] { rule } }),
                    Encoding.UTF8, "application/json"),
            };
            using var response = await _server.Http.SendAsync(request, Ct);
            return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone());
        }

        // The same request with a short bad rule first, so the timing below is the rule's alone, not the first request's.
        AssertInvalid(await PromoteAsync("metrics.a b >> champion"), "'>' is followed by '>'");
        var stopwatch = Stopwatch.StartNew();
        AssertInvalid(await PromoteAsync("metrics.a" + new string(' ', 50_000) + "b >= champion"), "at most 1000 characters");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"took {stopwatch.Elapsed}");
        await AssertStillAnswersAsync();
    }

    [Fact]
    public async Task Over_long_artifact_paths_are_400s_not_500s()
    {
        var longName = new string('n', 300);
        using (var put = await _server.Http.PutAsync($"/api/2.0/mlflow-artifacts/artifacts/dir/{longName}.txt", new ByteArrayContent("x"u8.ToArray()), Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
            var body = JsonDocument.Parse(await put.Content.ReadAsStringAsync(Ct)).RootElement;
            Assert.Equal("INVALID_PARAMETER_VALUE", body.GetProperty("error_code").GetString());
            Assert.Contains("longer than 255 bytes", body.GetProperty("message").GetString());
        }
        var deep = string.Join("/", Enumerable.Repeat("abcdefghij", 120));
        using (var list = await _server.Http.GetAsync($"/api/2.0/mlflow-artifacts/artifacts?path={deep}", Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, list.StatusCode);
            Assert.Contains("longer than 1024 bytes", await list.Content.ReadAsStringAsync(Ct));
        }
        var experiment = await _server.CreateExperimentAsync("artifacts");
        var run = await _server.CreateRunAsync(experiment);
        AssertInvalid(await _server.GetAsync($"artifacts/list?run_id={run}&path={longName}"), "longer than 255 bytes");
        await AssertStillAnswersAsync();
    }
}

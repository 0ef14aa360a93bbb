using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Cairn.Cli;

namespace Cairn.Tests;

/// <summary>
/// <c>cairn serve --validate SUITE</c> on a real Kestrel server: a request breaking the suite gets 400 naming the expectation
/// and column (<c>--on-invalid reject</c>), or is scored, marked and counted (<c>--on-invalid flag</c>); a suite serving cannot
/// run is refused before the server starts.
/// </summary>
[Collection(SignalTests.Collection)]
public sealed class ServeValidationTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private async Task TrainAsync()
    {
        await _cli.TrainTinyChurnAsync("serve", seed: 4, trees: 5);
        File.WriteAllText(_cli.Home.Combine("input.yaml"), "expectations:\n  - {kind: not_null, column: x1}\n  - {kind: between, column: x3, min: 0, max: 2}\n  - {kind: between, column: x2, max: 1, severity: warn}\n");
    }

    /// <summary>Serves the model with <paramref name="flags"/>, runs <paramref name="body"/> against it, then stops it.</summary>
    private async Task ServeAsync(string[] flags, Func<HttpClient, Task> body)
    {
        var port = CliHarness.FreePort();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var serve = _cli.RunAsync(stop.Token, ["serve", "models:/churn/1", "--port", port.ToString(CultureInfo.InvariantCulture), .. flags]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        var ready = false;
        for (var i = 0; i < 300 && !ready && !serve.IsCompleted; i++)
        {
            try
            {
                using var ping = await http.GetAsync("ping", TestContext.Current.CancellationToken);
                ready = ping.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (!ready) await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.True(ready, serve.IsCompleted ? (await serve).Err : "cairn serve did not answer /ping in 30 s");
        try
        {
            await body(http);
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(0, (await serve).ExitCode);
        }
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, string rows) =>
        http.PostAsync("invocations", new StringContent("{\"dataframe_split\": {\"columns\": [\"x1\", \"x2\", \"x3\"], \"data\": " + rows + "}}", Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);

    [Fact]
    public async Task Reject_answers_400_naming_the_expectation_and_column_and_flag_scores_and_counts()
    {
        await TrainAsync();
        await ServeAsync(["--validate", "input.yaml"], async http =>
        {
            using var good = await PostAsync(http, "[[0.9, 0.9, 0.1], [0.1, 0.1, 1.9]]");
            Assert.Equal(HttpStatusCode.OK, good.StatusCode);
            // x2 = 3 breaks only a warning: still scored.
            using var warned = await PostAsync(http, "[[0.9, 3, 0.1]]");
            Assert.Equal(HttpStatusCode.OK, warned.StatusCode);
            using var bad = await PostAsync(http, "[[0.9, 0.9, 0.1], [0.1, 0.1, 5]]");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            using var error = JsonDocument.Parse(await bad.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            Assert.Equal("BAD_REQUEST", error.RootElement.GetProperty("error_code").GetString());
            Assert.Equal("Input failed validation (input.yaml): expectation 1 (between) on column 'x3': 0 <= value <= 2; 1 of 2 values unexpected (row 2: '5').",
                error.RootElement.GetProperty("message").GetString());
            // The Open Inference Protocol route checks the same suite and answers in its own error shape.
            static string Infer(double x3) =>
                $$"""{"inputs": [{"name": "x1", "shape": [1], "datatype": "FP32", "data": [0.5]}, {"name": "x2", "shape": [1], "datatype": "FP32", "data": [0.5]}, {"name": "x3", "shape": [1], "datatype": "FP32", "data": [{{x3.ToString(CultureInfo.InvariantCulture)}}]}]}""";
            using var inferGood = await http.PostAsync("v2/models/churn/infer", new StringContent(Infer(1), Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, inferGood.StatusCode);
            using var inferBad = await http.PostAsync("v2/models/churn/infer", new StringContent(Infer(-1), Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.BadRequest, inferBad.StatusCode);
            using var inferError = JsonDocument.Parse(await inferBad.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            Assert.StartsWith("Input failed validation (input.yaml): expectation 1 (between) on column 'x3'", inferError.RootElement.GetProperty("error").GetString());
        });
        await ServeAsync(["--validate", "input.yaml", "--on-invalid", "flag"], async http =>
        {
            using var flagged = await PostAsync(http, "[[0.9, 0.9, 7]]");
            Assert.Equal(HttpStatusCode.OK, flagged.StatusCode);
            Assert.Equal("failed", flagged.Headers.GetValues("X-Cairn-Validation").Single());
            using var good = await PostAsync(http, "[[0.9, 0.9, 0.1]]");
            Assert.False(good.Headers.Contains("X-Cairn-Validation"));
            var metrics = await http.GetStringAsync("metrics", TestContext.Current.CancellationToken);
            Assert.Matches("cairn_scoring_invalid_inputs[_a-z]*\\{[^}]*cairn_validation_action=\"flag\"[^}]*\\} 1", metrics);
        });
    }

    [Fact]
    public async Task A_bad_serving_suite_or_action_is_refused_before_serving()
    {
        File.WriteAllText(_cli.Home.Combine("drift.yaml"), "expectations:\n  - {kind: distribution_close, column: x1, reference: train.csv}\n");
        var drift = (await _cli.RunAsync("serve", "nowhere", "--port", "0", "--validate", "drift.yaml")).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains("expectation 0 (distribution_close): not checked on serving input", drift);
        File.WriteAllText(_cli.Home.Combine("bad.yaml"), "expectations:\n  - {kind: between, column: x1, min: 3, max: 1}\n");
        Assert.Contains("expectation 0 (between): field 'min' (3) is greater than 'max' (1)", (await _cli.RunAsync("serve", "nowhere", "--port", "0", "--validate", "bad.yaml")).FailedWith(ExitCodes.InvalidInput));
        File.WriteAllText(_cli.Home.Combine("ok.yaml"), "expectations:\n  - {kind: not_null, column: x1}\n");
        Assert.Contains("expected reject or flag", (await _cli.RunAsync("serve", "nowhere", "--port", "0", "--validate", "ok.yaml", "--on-invalid", "drop")).FailedWith(ExitCodes.InvalidInput));
        Assert.Contains("'--on-invalid' goes with --validate SUITE", (await _cli.RunAsync("serve", "nowhere", "--port", "0", "--on-invalid", "flag")).FailedWith(ExitCodes.InvalidInput));
    }
}

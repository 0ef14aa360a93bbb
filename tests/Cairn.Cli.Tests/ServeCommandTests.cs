using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Cairn.Tests;

[Collection(SignalTests.Collection)]
public sealed class ServeCommandTests
{
    [Fact]
    public async Task Serve_a_registered_model_answers_invocations_with_its_version_until_stopped()
    {
        using var cli = new CliHarness();
        await cli.TrainTinyChurnAsync("serve", seed: 4);

        var port = CliHarness.FreePort();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        var serve = cli.RunAsync(stop.Token, "serve", "models:/churn/1", "--port", port.ToString(CultureInfo.InvariantCulture), "--log-predictions");
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

        using var response = await http.PostAsync("invocations", new StringContent(
            """{"dataframe_split": {"columns": ["x1", "x2", "x3"], "data": [[0.9, 0.9, 0.1], [0.1, 0.1, 1.9]]}}""", Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, body);
        Assert.Equal("1", response.Headers.GetValues("X-Cairn-Model-Version").Single());
        Assert.Equal("churn", response.Headers.GetValues("X-Cairn-Model-Name").Single());
        var predictions = JsonDocument.Parse(body).RootElement.GetProperty("predictions");
        Assert.Equal(2, predictions.GetArrayLength());
        Assert.True(predictions[0].TryGetProperty("Probability", out var probability) && probability.GetDouble() > 0.5, body);

        stop.Cancel();
        var result = await serve;
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Serving models:/churn/1 (churn, version 1, mlnet)", result.Err);

        // --log-predictions: both rows are in the tracking database under the model's name and version, with the request id
        // the server answered with (the log is flushed as the command stops).
        var requestId = response.Headers.GetValues("X-Request-Id").Single();
        using var stores = await Cairn.Storage.CairnStores.OpenAsync(cli.Home.Path, cancellationToken: TestContext.Current.CancellationToken);
        var page = await stores.Predictions!.ReadPageAsync("churn", "1", started, DateTimeOffset.UtcNow.AddSeconds(1), 100, null, TestContext.Current.CancellationToken);
        Assert.Equal(2, page.RowCount);
        Assert.All(page.Rows.SelectMany(r => r.RequestIds), id => Assert.Equal(requestId, id));
    }

    [Fact]
    public async Task Serve_refuses_a_public_host_without_an_api_key_a_missing_folder_and_a_python_only_model()
    {
        using var cli = new CliHarness();
        var folder = cli.Home.Combine("sk");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "MLmodel"), "artifact_path: model\nflavors:\n  sklearn:\n    pickled_model: model.pkl\n  python_function:\n    loader_module: mlflow.sklearn\n");

        var exposed = await cli.RunAsync("serve", "sk", "--host", "0.0.0.0", "--port", "0");
        Assert.NotEqual(0, exposed.ExitCode);
        Assert.Single(exposed.ErrLines);
        Assert.Contains("--api-key", exposed.Err);

        var missing = await cli.RunAsync("serve", "nowhere", "--port", "0");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("'nowhere' is neither a model folder", missing.Err);

        var python = await cli.RunAsync("serve", "sk", "--port", "0");
        Assert.NotEqual(0, python.ExitCode);
        Assert.Contains("sklearn, python_function", python.Err);
        Assert.Contains("mlflow.onnx.log_model", python.Err);

        var shortKey = await cli.RunAsync("serve", "sk", "--api-key", "abc");
        Assert.NotEqual(0, shortKey.ExitCode);
        Assert.Contains("at least 16 characters", shortKey.Err);

        // Micro-batching settings out of range: one line naming the flag and its bounds, before any model is loaded.
        foreach (var (flag, value, rule) in new[] { ("--micro-batch-max", "-1", "between 0 (off) and 65536 rows"), ("--micro-batch-wait-us", "200000", "between 0 and 100000 microseconds"), ("--micro-batch-queue", "0", "between 1 and 1000000 requests") })
        {
            var bad = await cli.RunAsync("serve", "sk", "--port", "0", flag, value);
            Assert.Equal(shortKey.ExitCode, bad.ExitCode);
            Assert.Single(bad.ErrLines);
            Assert.Contains(flag, bad.Err);
            Assert.Contains(rule, bad.Err);
        }
    }
}

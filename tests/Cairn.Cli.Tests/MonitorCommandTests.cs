using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cairn.Cli;
using Cairn.Client;
using Cairn.ML.Monitoring;
using Cairn.Monitoring;
using Cairn.Server.Hosting;
using Cairn.Serving;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests;

/// <summary><c>cairn monitor run|windows|report</c> against a real server on 127.0.0.1 with a monitoring file naming a reference CSV.</summary>
public sealed partial class MonitorCommandTests : IDisposable
{
    private readonly CliHarness _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    [GeneratedRegex("<img class=\"([a-z-]+)\" alt=\"[a-z-]+\" src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\">")]
    private static partial Regex Image();

    private async Task<(CairnServer Server, string Uri)> StartAsync()
    {
        var lines = new List<string> { "x,plan" };
        for (var i = 0; i < 300; i++) lines.Add(string.Create(CultureInfo.InvariantCulture, $"{i % 30},{(i % 3 == 0 ? "gold" : "basic")}"));
        File.WriteAllLines(_cli.Home.Combine("reference.csv"), lines);
        File.WriteAllText(_cli.Home.Combine("monitoring.yaml"), "monitors:\n  - deployment: api\n    schedule: '0 0 1 1 *'\n    window: 1h\n    reference: reference.csv\n");
        var server = await CairnServer.StartAsync(new CairnServerOptions
        {
            Port = 0,
            BackendStoreUri = _cli.Home.Combine("server"),
            ArtifactsDestination = _cli.Home.Combine("server", "artifacts"),
            MonitoringFile = _cli.Home.Combine("monitoring.yaml"),
        }.ToSettings(), null, s => s.AddSingleton<IMonitorReferenceReader, TableReferenceReader>(), Ct);
        var uri = server.Address.ToString().TrimEnd('/');
        using (var client = await CairnClient.OpenAsync(uri, cancellationToken: Ct))
        {
            await client.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
            // A package that is not there: the monitor goes on without it (no task, label or training metrics).
            await client.Registry.CreateModelVersionAsync(new("m", "mlflow-artifacts:/0/missing/artifacts/model"), Ct);
            await client.Deployments.CreateDeploymentAsync(new DeploymentSpec("api", [DeploymentRoute.Primary("models:/m/1", 100)]), "test", Ct);
        }
        // Two hours of traffic: the first like the reference, the second shifted (x up by 20).
        var log = server.Services.GetRequiredService<IPredictionLog>();
        for (var h = 0; h < 2; h++)
            for (var r = 0; r < 10; r++)
                Assert.True(log.TryAppend(new PredictionBatch($"h{h}-r{r}", "api", "m", "1", T0.AddHours(h).AddMinutes(r), 1, 30,
                    [new("x", Enumerable.Range(0, 30).Select(i => (double)(i + 20 * h)).ToArray()), new("plan", Enumerable.Range(0, 30).Select(i => i % 3 == 0 ? "gold" : "basic").ToArray())],
                    [new("Score", Enumerable.Range(0, 30).Select(i => (float)i).ToArray())])));
        using var http = new HttpClient { BaseAddress = server.Address };
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var page = await http.GetStringAsync($"api/cairn/v1/deployments/api/predictions?start={T0.ToUnixTimeMilliseconds()}&end={T0.AddHours(2).ToUnixTimeMilliseconds()}&max_rows=1000", Ct);
            if (JsonDocument.Parse(page).RootElement.GetProperty("rows").EnumerateArray().Sum(p => p.GetProperty("count").GetInt32()) == 600) break;
            await Task.Delay(50, Ct);
        }
        await PostTruthAsync(uri);
        return (server, uri);

        async Task PostTruthAsync(string u)
        {
            // Ground truth for the second hour's first request (regression: the truth is the score plus one).
            using var c = new HttpClient { BaseAddress = new Uri(u) };
            var truth = JsonSerializer.Serialize(new { request_id = "h1-r0", ground_truth = Enumerable.Range(0, 30).Select(i => i + 1.0).ToArray() });
            using var answer = await c.PostAsync("api/cairn/v1/deployments/api/feedback", new StringContent(truth, System.Text.Encoding.UTF8, "application/json"), Ct);
            Assert.True(answer.IsSuccessStatusCode, await answer.Content.ReadAsStringAsync(Ct));
        }
    }

    [Fact]
    public async Task Run_windows_and_report_show_drift_and_performance_over_time()
    {
        var (server, uri) = await StartAsync();
        await using var _ = server;
        var first = _cli.RunAsync("monitor", "run", "--tracking-uri", uri, "--deployment", "api", "--start", T0.ToString("O", CultureInfo.InvariantCulture),
            "--end", T0.AddHours(1).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), "--json");
        var one = JsonDocument.Parse((await first).Ok().Out).RootElement.GetProperty("windows")[0];
        Assert.Equal(300, one.GetProperty("rows").GetInt64());
        Assert.False(one.GetProperty("input_drift").GetProperty("dataset_drift").GetBoolean());
        var second = (await _cli.RunAsync("monitor", "run", "--tracking-uri", uri, "--deployment", "api", "--start", T0.AddHours(1).ToString("O", CultureInfo.InvariantCulture),
            "--end", T0.AddHours(2).ToString("O", CultureInfo.InvariantCulture))).Ok();
        Assert.Contains("DRIFT", second.Out, StringComparison.Ordinal);
        Assert.Contains("mae=1", second.Out, StringComparison.Ordinal);

        var listed = JsonDocument.Parse((await _cli.RunAsync("monitor", "windows", "--tracking-uri", uri, "--deployment", "api", "--json")).Ok().Out).RootElement;
        var windows = listed.GetProperty("windows").EnumerateArray().ToList();
        Assert.Equal([T0.AddHours(1).ToUnixTimeMilliseconds(), T0.ToUnixTimeMilliseconds()], windows.Select(w => w.GetProperty("start_time").GetInt64()));
        var table = (await _cli.RunAsync("monitor", "windows", "--tracking-uri", uri, "--deployment", "api")).Ok().Out;
        Assert.Contains("2 windows.", table, StringComparison.Ordinal);

        var id = windows[0].GetProperty("window_id").GetInt64().ToString(CultureInfo.InvariantCulture);
        var html = _cli.Home.Combine("window.html");
        (await _cli.RunAsync("monitor", "report", "--tracking-uri", uri, "--deployment", "api", "--window", id, "--html", html)).Ok();
        var page = await File.ReadAllTextAsync(html, Ct);
        var images = Image().Matches(page).Select(m => (Kind: m.Groups[1].Value, Png: Convert.FromBase64String(m.Groups[2].Value))).ToList();
        Assert.All(images, i => Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], i.Png.Take(4)));
        Assert.Single(images, i => i.Kind == "drift-over-time");
        Assert.Single(images, i => i.Kind == "performance-over-time");
        Assert.Single(images, i => i.Kind == "scores");
        Assert.Equal(2, images.Count(i => i.Kind == "histogram")); // x and plan
        Assert.Contains("data-feature=\"x\"", page, StringComparison.Ordinal);
        Assert.Contains("data-feature=\"plan\"", page, StringComparison.Ordinal);
        Assert.Contains("<td>mae</td><td>1</td>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_arguments_get_one_line_naming_the_option()
    {
        Assert.Contains("--rows", (await _cli.RunAsync("monitor", "run", "--tracking-uri", "http://127.0.0.1:9", "--deployment", "api", "--start", "1", "--rows", "5"))
            .FailedWith(ExitCodes.InvalidInput));
        Assert.Contains("--rows", (await _cli.RunAsync("monitor", "run", "--tracking-uri", "http://127.0.0.1:9", "--deployment", "api", "--rows", "0"))
            .FailedWith(ExitCodes.InvalidInput));
        Assert.Contains("--start", (await _cli.RunAsync("monitor", "run", "--tracking-uri", "http://127.0.0.1:9", "--deployment", "api", "--start", "soon"))
            .FailedWith(ExitCodes.InvalidInput));
        Assert.Contains("--end", (await _cli.RunAsync("monitor", "run", "--tracking-uri", "http://127.0.0.1:9", "--deployment", "api", "--start", "2000", "--end", "1000"))
            .FailedWith(ExitCodes.InvalidInput));
        Assert.Contains("--max-results", (await _cli.RunAsync("monitor", "windows", "--tracking-uri", "http://127.0.0.1:9", "--deployment", "api", "--max-results", "0"))
            .FailedWith(ExitCodes.InvalidInput));
        Assert.Contains("talks to a server", (await _cli.RunAsync("monitor", "windows", "--deployment", "api")).FailedWith(ExitCodes.InvalidInput));
        File.WriteAllText(_cli.Home.Combine("bad.yaml"), "monitors: []\nrules: []\n");
        Assert.Contains("unknown key 'rules'", (await _cli.RunAsync("server", "--port", "0", "--monitoring", "bad.yaml")).FailedWith(ExitCodes.InvalidInput));
    }

    [Fact]
    public async Task An_unknown_window_is_a_clear_not_found()
    {
        var (server, uri) = await StartAsync();
        await using var _ = server;
        var line = (await _cli.RunAsync("monitor", "report", "--tracking-uri", uri, "--deployment", "api", "--window", "999", "--html", "w.html"))
            .FailedWith(ExitCodes.NotFound);
        Assert.Contains("No monitoring window 999", line, StringComparison.Ordinal);
        Assert.False(File.Exists(_cli.Home.Combine("w.html")));
    }
}

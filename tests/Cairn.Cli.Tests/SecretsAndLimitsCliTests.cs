using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Cairn.Tracking;
using Npgsql;

namespace Cairn.Tests;

/// <summary>
/// Issue 11: a store URI's password never reaches the terminal or the server's log (item 9), and gc works on an
/// experiment with more runs than SQLite takes bound parameters (item 11).
/// </summary>
public sealed class SecretsAndLimitsCliTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("mysql://alice:hunter2-secret@db.example/d")]
    [InlineData("postgresql+psycopg2://alice:hunter2-secret@db.example/d")]
    [InlineData("sqlite://alice:hunter2-secret@db.example/d")]
    [InlineData("Host=127.0.0.1;Port=1;Username=alice;Password=hunter2-secret;Timeout=2")]
    [InlineData("postgresql://alice:hunter2-secret@127.0.0.1:1/d?Timeout=2")]
    public async Task A_store_that_cannot_be_opened_is_reported_without_its_password(string uri)
    {
        var result = await _cli.RunAsync("server", "--port", "0", "--backend-store-uri", uri);

        Assert.NotEqual(0, result.ExitCode);
        Assert.NotEmpty(result.Err);
        Assert.DoesNotContain("hunter2", result.Out + result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_start_up_line_and_log_never_show_the_postgresql_password()
    {
        var connectionString = Environment.GetEnvironmentVariable("CAIRN_TEST_POSTGRES");
        Assert.SkipWhen(string.IsNullOrWhiteSpace(connectionString), "CAIRN_TEST_POSTGRES is unset, so PostgreSQL is absent.");
        var password = new NpgsqlConnectionStringBuilder(connectionString).Password;
        Assert.SkipWhen(string.IsNullOrEmpty(password), "the test server's connection string has no password to hide.");

        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var lines = new ConcurrentQueue<string>();
        using var process = CliHarness.StartProcess(null, new Dictionary<string, string> { ["CAIRN_HOME"] = _cli.Home.Path, ["Logging__LogLevel__Default"] = "Debug" },
            "server", "--port", port.ToString(CultureInfo.InvariantCulture), "--backend-store-uri", connectionString!, "--artifacts-destination", _cli.Home.Combine("artifacts"));
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            for (var i = 0; !lines.Any(l => l.Contains("listening on", StringComparison.Ordinal)); i++)
            {
                Assert.False(process.HasExited, "cairn server exited: " + string.Join('\n', lines));
                Assert.True(i < 600, "cairn server did not start in 60 s: " + string.Join('\n', lines));
                await Task.Delay(100, Ct);
            }
            // A request that fails in the store, so its error path is in the log too.
            using var missing = await http.GetAsync("api/2.0/mlflow/runs/get?run_id=0123456789abcdef0123456789abcdef", Ct);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync(Ct);
        }

        var output = string.Join('\n', lines);
        Assert.Contains("Password=***", output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Password=" + password, output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(":" + password + "@", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gc_removes_an_experiment_of_40000_runs()
    {
        // Its runs come back as one page of 40,000, more than SQLite's 32,766 bound parameters.
        const int Runs = 40_000;
        string experiment;
        using (var stores = await Cairn.Storage.CairnStores.OpenAsync(_cli.Home.Path, new Cairn.Storage.CairnStoreOptions { DefaultArtifactRoot = "mlflow-artifacts:" }, Ct))
        {
            var store = stores.Tracking;
            experiment = await store.CreateExperimentAsync("big", cancellationToken: Ct);
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                for (var i = Interlocked.Increment(ref next); i < Runs; i = Interlocked.Increment(ref next))
                    await store.CreateRunAsync(new CreateRunRequest(experiment, $"r{i}", Tags: [new RunTag("i", i.ToString(CultureInfo.InvariantCulture))]), Ct);
            }, Ct)));
            await store.DeleteExperimentAsync(experiment, Ct);
        }

        var result = await _cli.RunAsync("gc", "--older-than", "0");

        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Err}");
        Assert.Matches(@"gc: removed \d+ run\(s\), 1 experiment\(s\)", result.Out);
        using var reopened = await Cairn.Storage.CairnStores.OpenAsync(_cli.Home.Path, cancellationToken: Ct);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => reopened.Tracking.GetExperimentAsync(experiment, Ct));
    }
}

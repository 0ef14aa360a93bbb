using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Cairn.Tests;

/// <summary>A real `cairn server` process killed with SIGKILL mid-ingest, then restarted on the same database.</summary>
public sealed class CrashSafetyTests
{
    [Fact]
    public async Task Server_killed_mid_ingest_restarts_with_a_sound_database_holding_every_acknowledged_write()
    {
        using var home = new TempDirectory();
        var ct = TestContext.Current.CancellationToken;
        string experimentId;
        var runIds = new List<string>();
        var acknowledged = new ConcurrentDictionary<string, ConcurrentBag<long>>();

        using (var first = await ServerProcess.StartAsync(home.Path))
        {
            using var http = new HttpClient { BaseAddress = first.Address };
            experimentId = await PostAsync(http, "experiments/create", new { name = "crash" }, e => e.GetProperty("experiment_id").GetString()!);
            for (var i = 0; i < 8; i++)
                runIds.Add(await PostAsync(http, "runs/create", new { experiment_id = experimentId }, e => e.GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!));

            using var stop = new CancellationTokenSource();
            var writers = runIds.Select(runId => Task.Run(async () =>
            {
                var acks = acknowledged.GetOrAdd(runId, _ => []);
                for (long step = 0; !stop.IsCancellationRequested; step++)
                {
                    try
                    {
                        using var response = await http.PostAsJsonAsync("api/2.0/mlflow/runs/log-batch",
                            new { run_id = runId, metrics = Enumerable.Range(0, 10).Select(k => new { key = "m" + k, value = step, timestamp = step, step }) }, CancellationToken.None);
                        if (response.StatusCode == HttpStatusCode.OK) acks.Add(step);
                    }
                    catch (HttpRequestException)
                    {
                        return; // the server is gone: whatever was not acknowledged may be lost
                    }
                }
            }, ct)).ToList();

            // Let ingest run, then kill the process without warning.
            while (acknowledged.Values.Sum(b => b.Count) < 400) await Task.Delay(20, ct);
            first.Kill();
            stop.Cancel();
            await Task.WhenAll(writers);
        }

        Assert.True(acknowledged.Values.Sum(b => b.Count) >= 400);
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(home.Path, "cairn.db")};Pooling=False"))
        {
            connection.Open();
            using var check = connection.CreateCommand();
            check.CommandText = "PRAGMA integrity_check";
            Assert.Equal("ok", (string?)check.ExecuteScalar());
        }

        using var second = await ServerProcess.StartAsync(home.Path);
        using var client = new HttpClient { BaseAddress = second.Address };
        foreach (var runId in runIds)
        {
            foreach (var key in new[] { "m0", "m9" })
            {
                var stored = await GetAsync(client, $"metrics/get-history?run_id={runId}&metric_key={key}",
                    e => e.TryGetProperty("metrics", out var m) ? m.EnumerateArray().Select(x => x.GetProperty("step").GetInt64()).ToHashSet() : []);
                var missing = acknowledged[runId].Where(step => !stored.Contains(step)).ToList();
                Assert.True(missing.Count == 0, $"run {runId} {key}: {missing.Count} acknowledged steps lost, e.g. {string.Join(",", missing.Take(5))}");
            }
        }
        // The restarted server still takes writes.
        await PostAsync(client, "runs/log-metric", new { run_id = runIds[0], key = "after", value = 1, timestamp = 1, step = 0 }, _ => 0);
    }

    [Fact]
    public async Task Server_stops_cleanly_on_SIGTERM()
    {
        using var home = new TempDirectory();
        using var server = await ServerProcess.StartAsync(home.Path);
        using (var kill = Process.Start("kill", ["-TERM", server.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await server.WaitForExitAsync(timeout.Token));
    }

    private static async Task<T> PostAsync<T>(HttpClient http, string path, object body, Func<JsonElement, T> read)
    {
        using var response = await http.PostAsJsonAsync("api/2.0/mlflow/" + path, body, TestContext.Current.CancellationToken);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {json}");
        return read(json);
    }

    private static async Task<T> GetAsync<T>(HttpClient http, string path, Func<JsonElement, T> read)
    {
        using var response = await http.GetAsync("api/2.0/mlflow/" + path, TestContext.Current.CancellationToken);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {json}");
        return read(json);
    }

    /// <summary>`dotnet cairn.dll server` from this test's output folder, on a free loopback port.</summary>
    private sealed class ServerProcess : IDisposable
    {
        private readonly Process _process;

        private ServerProcess(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<ServerProcess> StartAsync(string home)
        {
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }
            var process = CliHarness.StartProcess(null, new Dictionary<string, string> { ["CAIRN_HOME"] = home }, "server", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--backend-store-uri", home);
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var address = new Uri($"http://127.0.0.1:{port}/");
            using var http = new HttpClient { BaseAddress = address };
            for (var i = 0; i < 300; i++)
            {
                Assert.False(process.HasExited, $"cairn server exited with code {(process.HasExited ? process.ExitCode : 0)}");
                try
                {
                    using var response = await http.GetAsync("health");
                    if (response.IsSuccessStatusCode) return new ServerProcess(process, address);
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
                await Task.Delay(100);
            }
            process.Kill();
            throw new TimeoutException("cairn server did not answer /health in 30 s");
        }

        public int ProcessId => _process.Id;

        public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
        {
            await _process.WaitForExitAsync(cancellationToken);
            return _process.ExitCode;
        }

        /// <summary>SIGKILL: no shutdown hooks, no flush.</summary>
        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited) Kill();
            _process.Dispose();
        }
    }
}

using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cairn.Server.Hosting;

namespace Cairn.Tests;

/// <summary>A real Cairn server on 127.0.0.1 (free port) over a SQLite file in a temp folder, and a client for it.</summary>
public sealed class RunningServer : IAsyncDisposable
{
    private readonly TempDirectory _dir;

    private RunningServer(TempDirectory dir, CairnServer server, CairnServerOptions options)
    {
        _dir = dir;
        Server = server;
        Options = options;
        Http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
    }

    public CairnServer Server { get; }

    public CairnServerOptions Options { get; }

    public HttpClient Http { get; }

    /// <summary>The same client as <see cref="Http"/>.</summary>
    public HttpClient Client => Http;

    public Uri BaseAddress => Server.Address;

    /// <summary>The temp folder holding the backend store and (by default) <c>artifacts/</c>.</summary>
    public string Home => _dir.Path;

    public string Root => _dir.Path;

    /// <summary>
    /// Starts a server; <paramref name="configure"/> may change the options (paths already point into <see cref="Root"/>), and
    /// <paramref name="settings"/> adds configuration keys (CAIRN_HOME, CAIRN_ADMIN_PASSWORD, ...) over them.
    /// </summary>
    public static async Task<RunningServer> StartAsync(Action<CairnServerOptions>? configure = null, IReadOnlyDictionary<string, string?>? settings = null,
        Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? services = null)
    {
        var dir = new TempDirectory();
        var options = new CairnServerOptions { Port = 0, BackendStoreUri = dir.Path, ArtifactsDestination = dir.Combine("artifacts"), LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning };
        configure?.Invoke(options);
        try
        {
            var all = options.ToSettings();
            // CAIRN_HOME is the temp folder too (the first admin's password file goes there).
            all["CAIRN_HOME"] = dir.Path;
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) all[key] = value;
            return new RunningServer(dir, await CairnServer.StartAsync(all, options.S3, services, TestContext.Current.CancellationToken), options);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>POSTs raw JSON to /api/2.0/mlflow/{path}.</summary>
    public async Task<(int Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var response = await Http.PostAsync("api/2.0/mlflow/" + path, new StringContent(json, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await ReadAsync(response));
    }

    public Task<(int Status, JsonElement Body)> PostAsync(string path, object body) => PostAsync(path, JsonSerializer.Serialize(body));

    public async Task<(int Status, JsonElement Body)> GetAsync(string pathAndQuery)
    {
        using var response = await Http.GetAsync("api/2.0/mlflow/" + pathAndQuery, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await ReadAsync(response));
    }

    /// <summary>POSTs and insists on 200, returning the body.</summary>
    public async Task<JsonElement> OkAsync(string path, object body)
    {
        var (status, json) = await PostAsync(path, body);
        Assert.True(status == 200, $"{path} answered {status}: {json}");
        return json;
    }

    public async Task<string> CreateExperimentAsync(string name) =>
        (await OkAsync("experiments/create", new { name })).GetProperty("experiment_id").GetString()!;

    public async Task<string> CreateRunAsync(string experimentId, string? runName = null) =>
        (await OkAsync("runs/create", new { experiment_id = experimentId, run_name = runName, start_time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }))
            .GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        if (text.Length == 0) return default;
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(text);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        _dir.Dispose();
    }
}

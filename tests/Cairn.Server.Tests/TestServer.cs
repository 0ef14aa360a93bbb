using Cairn.Server.Hosting;

namespace Cairn.Tests;

/// <summary>
/// A real Cairn server on 127.0.0.1 with a free port, its stores in a fresh temp folder, and an HttpClient aimed at it.
/// Disposing stops the server and removes the folder.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly CairnServer _server;

    private TestServer(CairnServer server, CairnServerOptions options, string root)
    {
        _server = server;
        Options = options;
        Root = root;
        BaseAddress = server.Address;
        Client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
    }

    /// <summary>The temp folder holding the backend store and (by default) <c>artifacts/</c>.</summary>
    public string Root { get; }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public CairnServerOptions Options { get; }

    public IServiceProvider Services => _server.Services;

    /// <summary>Starts a server; <paramref name="configure"/> may change the options (paths already point into <see cref="Root"/>).</summary>
    public static async Task<TestServer> StartAsync(Action<CairnServerOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var root = Path.Combine(Path.GetTempPath(), "cairn-server-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var options = new CairnServerOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            BackendStoreUri = root,
            ArtifactsDestination = Path.Combine(root, "artifacts"),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
        };
        configure?.Invoke(options);
        try
        {
            return new TestServer(await CairnServer.StartAsync(options, cancellationToken), options, root);
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }
}

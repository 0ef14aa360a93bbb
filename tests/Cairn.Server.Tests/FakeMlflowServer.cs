using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cairn.Tests;

/// <summary>
/// A scripted HTTP server on a real loopback socket, for answers a real server does not give on demand
/// (503s, bodies that are not MLflow's) and for endpoints being built elsewhere (the artifact proxy).
/// </summary>
internal sealed class FakeMlflowServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private FakeMlflowServer(WebApplication app) => _app = app;

    public int Requests => Volatile.Read(ref _requests);

    public string Address => _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    /// <summary>Starts a server that answers every request with <paramref name="handler"/>, given the request's 1-based number.</summary>
    public static async Task<FakeMlflowServer> StartAsync(Func<HttpContext, int, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeMlflowServer(app);
        app.Run(context => handler(context, Interlocked.Increment(ref server._requests)));
        await app.StartAsync();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

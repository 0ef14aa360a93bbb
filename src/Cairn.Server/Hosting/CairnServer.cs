using Cairn.Artifacts;
using Cairn.Server.Endpoints;
using Cairn.Storage;
using Cairn.Tracking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cairn.Server.Hosting;

/// <summary>The Cairn server: MLflow's REST API over a tracking store, hosted by Kestrel.</summary>
public sealed class CairnServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CairnStores _store;

    private CairnServer(WebApplication app, CairnStores store)
    {
        _app = app;
        _store = store;
    }

    /// <summary>The address the server listens on, e.g. http://127.0.0.1:5000 (the real port when 0 was asked).</summary>
    public Uri Address => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public IServiceProvider Services => _app.Services;

    /// <summary>Opens the stores and starts listening.</summary>
    public static async Task<CairnServer> StartAsync(CairnServerOptions options, CancellationToken cancellationToken = default)
    {
        var store = await CairnStores.OpenAsync(options.BackendStoreUri, new CairnStoreOptions { DefaultArtifactRoot = "mlflow-artifacts:" }, cancellationToken).ConfigureAwait(false);
        try
        {
            var app = Build(options, store);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new CairnServer(app, store);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private static WebApplication Build(CairnServerOptions options, CairnStores store)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls($"http://{options.Host}:{options.Port}");
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        // Per-request framework logs would cost more than the requests themselves at ingest rates.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (options.LogFormat == "json") builder.Logging.AddJsonConsole(o => o.UseUtcTimestamp = true);
        else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(store.Tracking);
        builder.Services.AddSingleton(store.Registry);
        var artifacts = ArtifactStores.Open(options.ArtifactsDestination, options.S3);
        builder.Services.AddSingleton<IArtifactStore>(artifacts);
        builder.Services.AddSingleton(new ArtifactLocationResolver(artifacts));
        builder.Services.AddExceptionHandler<MlflowExceptionHandler>();
        builder.Services.AddProblemDetails();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseArtifactPathGuard();
        MapRoutes(app);
        return app;
    }

    private static void MapRoutes(WebApplication app)
    {
        app.MapGet("/health", () => Results.Text("OK"));
        app.MapGet("/version", () => Results.Text(typeof(CairnServer).Assembly.GetName().Version?.ToString() ?? "0"));

        foreach (var prefix in new[] { "/api/2.0/mlflow", "/ajax-api/2.0/mlflow" })
        {
            var api = app.MapGroup(prefix);
            api.MapExperimentEndpoints();
            api.MapRunEndpoints();
            api.MapArtifactListEndpoint();
            api.MapRegistryEndpoints();
        }
        foreach (var prefix in new[] { "/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts" })
            app.MapGroup(prefix).MapArtifactProxyEndpoints();
        app.MapGroup("/api/cairn/v1/registry").MapCairnRegistryEndpoints();

        // Unknown API paths answer in MLflow's error format rather than an empty 404.
        app.MapFallback("/api/{**path}", (HttpContext context) => NotFound(context));
        app.MapFallback("/ajax-api/{**path}", (HttpContext context) => NotFound(context));
    }

    private static Task NotFound(HttpContext context) =>
        MlflowExceptionHandler.WriteErrorAsync(context, 404, nameof(ErrorCode.ENDPOINT_NOT_FOUND),
            $"No endpoint {context.Request.Method} {context.Request.Path}.", context.RequestAborted);

    /// <summary>Blocks until the host is asked to stop (Ctrl-C, SIGTERM).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        var artifacts = _app.Services.GetService<IArtifactStore>();
        await _app.DisposeAsync().ConfigureAwait(false);
        (artifacts as IDisposable)?.Dispose();
        _store.Dispose();
    }
}

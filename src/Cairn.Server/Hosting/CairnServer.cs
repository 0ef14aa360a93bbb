using Cairn.Data.Remotes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>
/// The standalone Cairn server (<c>cairn server</c>): Kestrel hosting <c>AddCairnServer</c>/<c>MapCairnApi</c>. Configuration
/// comes from appsettings.json, the environment (<c>Cairn__Server__Port</c>, ...) and, above both, the settings it is started with.
/// </summary>
public sealed class CairnServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CairnServer(WebApplication app) => _app = app;

    /// <summary>The address the server listens on, e.g. http://127.0.0.1:5000 (the real port when 0 was asked).</summary>
    public Uri Address => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a server with every setting given in <paramref name="options"/> (they override configuration).</summary>
    public static Task<CairnServer> StartAsync(CairnServerOptions options, CancellationToken cancellationToken = default) =>
        StartAsync(options.ToSettings(), options.S3, cancellationToken);

    /// <summary>
    /// Opens the stores and starts listening. <paramref name="settings"/> are configuration keys (<c>Cairn:Server:Port</c>, ...)
    /// that override appsettings.json and the environment: the command line's flags. Bad options fail here, naming the key and the rule.
    /// </summary>
    public static Task<CairnServer> StartAsync(IReadOnlyDictionary<string, string?> settings, S3ConnectionOptions? s3 = null, CancellationToken cancellationToken = default) =>
        StartAsync(settings, s3, null, cancellationToken);

    /// <summary>
    /// Starts a server as <see cref="StartAsync(IReadOnlyDictionary{string, string?}, S3ConnectionOptions?, CancellationToken)"/> does, with
    /// <paramref name="services"/> adding to its services (the <c>cairn</c> command adds the monitor's reference file reader).
    /// </summary>
    public static async Task<CairnServer> StartAsync(IReadOnlyDictionary<string, string?> settings, S3ConnectionOptions? s3, Action<IServiceCollection>? services,
        CancellationToken cancellationToken = default)
    {
        var app = Build(settings, s3, services);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new CairnServer(app);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static WebApplication Build(IReadOnlyDictionary<string, string?> settings, S3ConnectionOptions? s3, Action<IServiceCollection>? services)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // HTTPS endpoints from Kestrel's configuration (Kestrel:Endpoints:*:Certificate, Kestrel:Certificates:Default), which the slim builder leaves out.
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddCairnLogging();
        builder.AddCairnListener();
        builder.Services.AddCairnServer(builder.Configuration, s3);
        services?.Invoke(builder.Services);
        var exposed = Cairn.Server.Auth.ExposureGuard.Check(builder.Configuration);

        var app = builder.Build();
        if (exposed)
            app.Logger.LogWarning("Listening on a non-loopback address without access control (--insecure): anyone who reaches the port can read, change and delete everything. Use --auth.");
        app.MapCairnApi();
        return app;
    }

    /// <summary>Blocks until the host is asked to stop (Ctrl-C, SIGTERM).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops listening, then closes the stores (the host's hosted service does, once requests have drained).</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The standalone host's own steps: its log and where Kestrel listens.</summary>
internal static class CairnServerBuilderExtensions
{
    public static void AddCairnLogging(this WebApplicationBuilder builder)
    {
        var logging = builder.Configuration.GetSection(CairnLoggingOptions.Section).Get<CairnLoggingOptions>() ?? new CairnLoggingOptions();
        builder.Services.AddOptions<CairnLoggingOptions>().Bind(builder.Configuration.GetSection(CairnLoggingOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<CairnLoggingOptions>, CairnOptionsValidation>();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(logging.Level);
        // Per-request framework logs would cost more than the requests themselves at ingest rates.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // A failed start reaches the caller as the exception (the CLI prints it as one line); the host's own log of it
        // would repeat it with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        if (logging.Format == "json") builder.Logging.AddJsonConsole(o => o.UseUtcTimestamp = true);
        else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
    }

    public static void AddCairnListener(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<CairnListenOptions>().Bind(builder.Configuration.GetSection(CairnListenOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<CairnListenOptions>, CairnOptionsValidation>();
        // Kestrel reads the validated options when it starts, which is after validation ran.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<CairnLimitsOptions>>((kestrel, limits) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = limits.Value.MaxRequestBodyBytes;
            // MLflow's UI asks for up to 100 runs in one GET (metrics/get-history-bulk-interval?run_ids=...&run_ids=...),
            // past Kestrel's 8 KB request line; longer lists must reach the endpoint, which refuses them in MLflow's words.
            kestrel.Limits.MaxRequestLineSize = 64 * 1024;
        });
        var listen = builder.Configuration.GetSection(CairnListenOptions.Section).Get<CairnListenOptions>() ?? new CairnListenOptions();
        builder.WebHost.UseUrls($"http://{listen.Host}:{listen.Port}");
    }
}

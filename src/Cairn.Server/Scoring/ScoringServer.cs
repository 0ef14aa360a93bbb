using Cairn.Server.Auth;
using Cairn.Server.Diagnostics;
using Cairn.Server.Hosting;
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

namespace Cairn.Server.Scoring;

/// <summary>
/// The standalone scoring server (<c>cairn serve</c>): Kestrel hosting <c>AddCairnScoring</c>/<c>MapCairnScoring</c>, the
/// health probes and <c>/metrics</c>. It starts without a model (not ready) and serves the one given to <see cref="Serve"/>.
/// Settings are configuration keys (<c>Cairn:Server:Host</c>, <c>Cairn:Scoring:ApiKey</c>, ...) over appsettings.json and
/// the environment. Stopping lets requests in flight finish within the host's shutdown timeout (30 s by default).
/// </summary>
public sealed class ScoringServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ScoringServer(WebApplication app) => _app = app;

    public Uri Address => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public IServiceProvider Services => _app.Services;

    /// <summary>The model served, or null while none is loaded.</summary>
    public ServedModel? Model => _app.Services.GetRequiredService<ScoringModels>().Current;

    /// <summary>Starts listening; bad options fail here naming the key and the rule.</summary>
    public static async Task<ScoringServer> StartAsync(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? services = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddCairnLogging();
        builder.AddCairnListener();
        builder.Services.AddCairnScoring(builder.Configuration);
        // After the listener's own limits: a scoring body may be larger than a tracking request.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<ScoringOptions>>((kestrel, scoring) =>
            kestrel.Limits.MaxRequestBodySize = scoring.Value.MaxRequestBodyBytes);
        builder.Services.AddExceptionHandler<MlflowExceptionHandler>();
        builder.Services.AddProblemDetails();
        builder.Services.AddCairnTelemetry(builder.Configuration);
        services?.Invoke(builder.Services);
        var exposed = CheckExposure(builder.Configuration);

        var app = builder.Build();
        if (exposed)
            app.Logger.LogWarning("Scoring on a non-loopback address without an API key (--insecure): anyone who reaches the port can use the model.");
        app.UseExceptionHandler();
        app.UseCairnScoringApiKey();
        app.MapCairnScoringHealth();
        app.MapCairnMetrics();
        app.MapCairnScoring();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new ScoringServer(app);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Serves <paramref name="model"/> from now on (the server becomes ready); returns the model served before, not disposed.</summary>
    public ServedModel? Serve(ServedModel model) => _app.Services.GetRequiredService<ScoringModels>().Set(model);

    /// <summary>
    /// A non-loopback host needs an API key or <c>--insecure</c> (<see cref="CairnListenOptions.Insecure"/>), as the tracking
    /// server needs <c>--auth</c>; returns whether to warn.
    /// </summary>
    private static bool CheckExposure(IConfiguration configuration)
    {
        var listen = configuration.GetSection(CairnListenOptions.Section).Get<CairnListenOptions>() ?? new CairnListenOptions();
        var key = configuration[ScoringOptions.Section + ":ApiKey"];
        if (!string.IsNullOrEmpty(key) || ExposureGuard.IsLoopback(listen.Host) || string.IsNullOrWhiteSpace(listen.Host) || Uri.CheckHostName(listen.Host) == UriHostNameType.Unknown) return false;
        if (listen.Insecure) return true;
        throw new InvalidParameterValueException(
            $"Refusing to serve on '{listen.Host}' without an API key: anyone who reaches the port could use the model. " +
            "Add --api-key (or CAIRN_SERVE_API_KEY), listen on 127.0.0.1, or add --insecure to accept the risk.");
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

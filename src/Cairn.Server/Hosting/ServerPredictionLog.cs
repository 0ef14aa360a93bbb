using Cairn.Serving;
using Cairn.Server.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>
/// The server's prediction log over its tracking database: opened on first use (after the stores opened), flushed and
/// closed when the host disposes it, which happens after the server stopped taking requests. Options from section
/// <c>Cairn:PredictionLog</c> (<see cref="PredictionLogOptions"/>).
/// </summary>
internal sealed class ServerPredictionLog(ServerStores stores, IOptions<PredictionLogOptions> options, ILogger<PredictionLog> logger)
    : IPredictionLog, IAsyncDisposable
{
    public const string Section = "Cairn:PredictionLog";

    private readonly Lock _lock = new();
    private PredictionLog? _log;

    /// <summary>The log, opened when first asked for.</summary>
    public PredictionLog Log
    {
        get
        {
            if (_log is { } log) return log;
            lock (_lock) return _log ??= PredictionLog.Open(stores.Inner, options.Value, logger);
        }
    }

    /// <summary>The log's problem, or null when it is healthy or was never opened.</summary>
    public string? Problem => _log?.Problem;

    public bool TryAppend(PredictionBatch batch) => Log.TryAppend(batch);

    public long Dropped => _log?.Dropped ?? 0;

    public async ValueTask DisposeAsync()
    {
        if (_log is { } log) await log.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Registers the server's prediction log and its readiness check.</summary>
internal static class ServerPredictionLogExtensions
{
    public static IServiceCollection AddCairnPredictionLog(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PredictionLogOptions>().Bind(configuration.GetSection(ServerPredictionLog.Section))
            .Validate(o => { o.Validate(); return true; }).ValidateOnStart();
        services.AddSingleton<ServerPredictionLog>();
        services.AddSingleton<IPredictionLog>(sp => sp.GetRequiredService<ServerPredictionLog>());
        services.AddHealthChecks().AddCheck<PredictionLogHealthCheck>("prediction_log", tags: [HealthEndpoints.ReadyTag]);
        return services;
    }
}

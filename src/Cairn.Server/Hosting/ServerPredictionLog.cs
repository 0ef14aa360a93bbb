using Cairn.Serving;
using Cairn.Server.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>
/// The server's prediction log over its tracking database: opened on first use (after the stores opened), flushed and
/// closed in <see cref="StoppedAsync"/>, after the server stopped taking requests and before <see cref="ServerStores"/>
/// (registered before it, so stopped after it) closes the database. Options from section <c>Cairn:PredictionLog</c>
/// (<see cref="PredictionLogOptions"/>).
/// </summary>
internal sealed class ServerPredictionLog(ServerStores stores, IOptions<PredictionLogOptions> options, ILogger<PredictionLog> logger)
    : IPredictionLog, IHostedLifecycleService, IAsyncDisposable
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

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Writes what is queued while the database is still open.</summary>
    public async Task StoppedAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        PredictionLog? log;
        lock (_lock) (log, _log) = (_log, null);
        if (log is not null) await log.DisposeAsync().ConfigureAwait(false);
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
        services.AddHostedService(sp => sp.GetRequiredService<ServerPredictionLog>());
        services.AddSingleton<IPredictionLog>(sp => sp.GetRequiredService<ServerPredictionLog>());
        services.AddHealthChecks().AddCheck<PredictionLogHealthCheck>("prediction_log", tags: [HealthEndpoints.ReadyTag]);
        return services;
    }
}

using Cairn.Monitoring;
using Cairn.Monitoring.Alerts;
using Cairn.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>
/// The server's alert rules: read from the <c>alerts:</c> section of the monitoring file (<see cref="Cairn.Server.Monitoring.MonitoringOptions.File"/>) when the host starts (after the stores
/// opened; a bad rule or a retrain folder without its stage fails the start with one line naming the rule), evaluated on
/// every window the monitor hands to <see cref="IMonitorWindowObserver"/>, their state and incidents kept in the server's
/// database. Stopped (webhooks given a moment, retrains cancelled) before <see cref="ServerStores"/> closes the database.
/// </summary>
internal sealed class ServerAlerts(ServerStores stores, IOptions<Cairn.Server.Monitoring.MonitoringOptions> options, ILogger<AlertEngine> logger)
    : IMonitorWindowObserver, IHostedLifecycleService, IAsyncDisposable
{
    private AlertEngine? _engine;
    private SqlAlertStore? _store;

    /// <summary>The engine, once the host started.</summary>
    public AlertEngine Engine => _engine ?? throw new InvalidOperationException("The alert rules are read when the host starts.");

    /// <summary>The incidents and rule states in the server's database.</summary>
    public SqlAlertStore Store => _store ??= new SqlAlertStore(stores.Inner.Database
        ?? throw new InvalidOperationException("The server's store has no database."));

    public ValueTask OnWindowAsync(MonitorWindow window, CancellationToken cancellationToken) => Engine.OnWindowAsync(window, cancellationToken);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<AlertRule> rules = [];
        if (options.Value.File is { Length: > 0 } file)
        {
            rules = AlertRulesFile.Load(file, Environment.GetEnvironmentVariable);
            AlertRulesFile.CheckTargets(rules, Path.GetFileName(file));
        }
        var engine = new AlertEngine(rules, Store, new AlertActions(Store, logger), logger);
        await engine.LoadAsync(cancellationToken).ConfigureAwait(false);
        _engine = engine;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        var engine = Interlocked.Exchange(ref _engine, null);
        if (engine is not null) await engine.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Registers the alert rules as a monitor window observer.</summary>
internal static class ServerAlertsExtensions
{
    public static IServiceCollection AddCairnAlerts(this IServiceCollection services)
    {
        services.AddSingleton<ServerAlerts>();
        services.AddHostedService(sp => sp.GetRequiredService<ServerAlerts>());
        services.AddSingleton<IMonitorWindowObserver>(sp => sp.GetRequiredService<ServerAlerts>());
        return services;
    }
}

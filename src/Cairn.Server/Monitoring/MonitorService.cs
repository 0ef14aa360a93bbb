using System.Collections.Concurrent;
using Cairn.Monitoring;
using Cairn.Server.Hosting;
using Cairn.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Monitoring;

/// <summary>
/// Evaluates, stores and announces monitoring windows of a deployment, on demand (REST) or for the schedule: reads the window
/// from the prediction log, compares it with the monitor's reference (the file its monitor names, else each version's package
/// sample), stores the windows (keeping <see cref="MonitoringOptions.MaxWindowsPerDeployment"/>), updates the gauges and then
/// calls every <see cref="IMonitorWindowObserver"/> in window order; an observer's exception is logged and goes no further.
/// One evaluation at a time per deployment.
/// </summary>
internal sealed partial class MonitorService(
    ServerStores stores,
    MonitorModels models,
    MonitoringConfigSource config,
    MonitorGauges gauges,
    ServerPredictionLog predictionLog,
    IServiceProvider services,
    IOptions<MonitoringOptions> options,
    ILogger<MonitorService> logger)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MonitorReference> _references = new(StringComparer.Ordinal);

    public TimeProvider Time { get; } = services.GetService<TimeProvider>() ?? TimeProvider.System;

    private SqlMonitorStore Windows => stores.Inner.Monitoring ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, "This server's store keeps no monitoring windows.");

    private WindowEvaluator Evaluator => new(stores.Inner.Predictions ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, "This server's store keeps no prediction log."));

    /// <summary>Evaluates the window [start, end) of the deployment and stores it.</summary>
    public async Task<IReadOnlyList<MonitorWindow>> RunAsync(string deployment, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(deployment, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await EvaluateAsync(deployment, start, end, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Evaluates the next row window: the first <paramref name="rows"/> primary rows after the deployment's newest stored window
    /// (or its first logged row). INVALID_PARAMETER_VALUE naming <c>rows</c> when fewer were logged since.
    /// </summary>
    public async Task<IReadOnlyList<MonitorWindow>> RunRowsAsync(string deployment, int rows, CancellationToken cancellationToken) =>
        await TryRunRowsAsync(deployment, rows, cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidParameterValueException($"Invalid value '{rows}' for 'rows': deployment {deployment} has logged fewer rows since its newest window.");

    /// <summary>The next row window, or null when fewer than <paramref name="rows"/> rows were logged since the newest window.</summary>
    public async Task<IReadOnlyList<MonitorWindow>?> TryRunRowsAsync(string deployment, int rows, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(deployment, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var start = await Windows.LastEndAsync(deployment, cancellationToken).ConfigureAwait(false) ?? DateTimeOffset.UnixEpoch;
            var end = await Evaluator.RowWindowEndAsync(deployment, start, Time.GetUtcNow().AddMilliseconds(1), rows, cancellationToken).ConfigureAwait(false);
            return end is { } e ? await EvaluateAsync(deployment, start, e, cancellationToken).ConfigureAwait(false) : null;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The end of the deployment's newest stored window (where a schedule resumes).</summary>
    public Task<DateTimeOffset?> LastEndAsync(string deployment, CancellationToken cancellationToken) => Windows.LastEndAsync(deployment, cancellationToken);

    private async Task<IReadOnlyList<MonitorWindow>> EvaluateAsync(string deployment, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var spec = config.Find(deployment);
        var settings = spec?.Settings ?? new MonitorSettings();
        if (end > Time.GetUtcNow() - FlushHorizon) await FlushLogAsync(cancellationToken).ConfigureAwait(false);
        var rows = await Evaluator.ReadAsync(deployment, start, end, cancellationToken).ConfigureAwait(false);
        var reference = spec?.ReferencePath is { } path ? await ReferenceAsync(path, cancellationToken).ConfigureAwait(false) : null;
        var known = new Dictionary<(string?, string?), MonitorModel>();
        foreach (var group in rows.Groups)
        {
            var facts = await models.GetAsync(group.ModelName, group.ModelVersion, cancellationToken).ConfigureAwait(false);
            known[(group.ModelName, group.ModelVersion)] = new MonitorModel(facts.Task, facts.Label, facts.Classes, facts.TrainingMetrics, reference ?? facts.Sample);
        }
        var computed = WindowEvaluator.Compute(rows, settings, known, predictionLog.Dropped, Time.GetUtcNow(), cancellationToken);
        var stored = await Windows.AddAsync(computed, options.Value.MaxWindowsPerDeployment, cancellationToken).ConfigureAwait(false);
        gauges.Record(stored);
        foreach (var window in stored)
            foreach (var observer in services.GetServices<IMonitorWindowObserver>())
            {
                try
                {
                    await observer.OnWindowAsync(window, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    LogObserverFailed(logger, e, observer.GetType().Name, deployment, window.Id);
                }
            }
        return stored;
    }

    /// <summary>How recent a window's end must be for rows of it to be still in the prediction log's queue.</summary>
    private static readonly TimeSpan FlushHorizon = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Gives the prediction log's writer a moment (at most 2 s: under steady traffic the queue is never empty) to write what
    /// was queued, so a window ending now holds the requests answered just before it.
    /// </summary>
    private async Task FlushLogAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await predictionLog.Log.FlushAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Still busy after 2 s: the window is read with what has been written.
        }
    }

    private async Task<MonitorReference> ReferenceAsync(string path, CancellationToken cancellationToken)
    {
        if (_references.TryGetValue(path, out var cached)) return cached;
        var reader = config.Reader ?? throw new InvalidParameterValueException($"The monitor names the reference file {Path.GetFileName(path)}, and this host cannot read CSV or Parquet files.");
        var reference = await reader.ReadAsync(path, Path.GetFileName(path), cancellationToken).ConfigureAwait(false);
        // One entry per monitor that names a file: bounded by the monitoring file's monitors.
        return _references.GetOrAdd(path, reference);
    }

    [LoggerMessage(EventId = 4102, Level = LogLevel.Error, Message = "Monitor observer {Observer} failed on window {WindowId} of deployment {Deployment}; the monitor goes on")]
    private static partial void LogObserverFailed(ILogger logger, Exception exception, string observer, string deployment, long windowId);
}

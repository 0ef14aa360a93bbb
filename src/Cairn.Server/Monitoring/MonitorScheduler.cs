using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Monitoring;

/// <summary>
/// The background monitor: at each occurrence of a monitor's cron schedule (UTC) it evaluates the windows of its deployment
/// that have finished since the newest stored one: time windows aligned on their length (at most
/// <see cref="MonitoringOptions.MaxCatchUpWindows"/> at once, the oldest skipped when further behind), or row windows of N rows
/// as long as N rows are there. A monitor that fails is logged and shows in readiness (degraded) until it succeeds again;
/// the loop itself never stops on a monitor's failure, and if it dies anyway readiness says so (unhealthy).
/// </summary>
internal sealed partial class MonitorScheduler(MonitorService monitor, MonitoringConfigSource config, IOptions<MonitoringOptions> options,
    ILogger<MonitorScheduler> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, string> _failures = new(StringComparer.Ordinal);
    private volatile string? _problem;

    /// <summary>Why the loop stopped, or null while it runs.</summary>
    public string? Problem => _problem;

    /// <summary>Monitors whose last evaluation failed, with the reason.</summary>
    public IReadOnlyDictionary<string, string> Failures => _failures;

    /// <summary>Evaluations done by the schedule since start (for tests and logs).</summary>
    public long Evaluations => Interlocked.Read(ref _evaluations);

    private long _evaluations;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var monitors = config.Config.Monitors;
        if (monitors.Count == 0) return;
        try
        {
            var time = monitor.Time;
            var next = monitors.ToDictionary(m => m, m => m.Schedule.GetNextOccurrence(time.GetUtcNow(), TimeZoneInfo.Utc));
            while (!stoppingToken.IsCancellationRequested)
            {
                var due = next.Where(n => n.Value is not null).OrderBy(n => n.Value).Select(n => n.Value).FirstOrDefault();
                if (due is not { } at) return; // no schedule ever fires again
                var wait = at - time.GetUtcNow();
                if (wait > TimeSpan.Zero) await Task.Delay(wait, time, stoppingToken).ConfigureAwait(false);
                var now = time.GetUtcNow();
                foreach (var spec in monitors.Where(m => next[m] is { } n && n <= now).ToList())
                {
                    await EvaluateDueAsync(spec, now, stoppingToken).ConfigureAwait(false);
                    next[spec] = spec.Schedule.GetNextOccurrence(now, TimeZoneInfo.Utc);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The server is stopping.
        }
        catch (Exception e)
        {
            _problem = $"the monitor loop stopped: {e.GetType().Name}: {e.Message}";
            LogLoopDied(logger, e);
        }
    }

    private async Task EvaluateDueAsync(MonitorSpec spec, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            var max = options.Value.MaxCatchUpWindows;
            if (spec.Rows is { } rows)
            {
                for (var i = 0; i < max; i++)
                {
                    if (await monitor.TryRunRowsAsync(spec.Deployment, rows, cancellationToken).ConfigureAwait(false) is null) break;
                    Interlocked.Increment(ref _evaluations);
                }
            }
            else
            {
                var length = spec.Duration!.Value;
                var current = Align(now, length); // the window in progress starts here
                var earliest = current - length * max;
                var start = await monitor.LastEndAsync(spec.Deployment, cancellationToken).ConfigureAwait(false) ?? current - length;
                if (start < earliest) start = earliest;
                while (true)
                {
                    var end = Align(start, length) + length;
                    if (end > now) break;
                    await monitor.RunAsync(spec.Deployment, start, end, cancellationToken).ConfigureAwait(false);
                    Interlocked.Increment(ref _evaluations);
                    start = end;
                }
            }
            _failures.TryRemove(spec.Deployment, out _);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _failures[spec.Deployment] = e.Message;
            LogMonitorFailed(logger, e, spec.Deployment);
        }
    }

    /// <summary>The start of the window of <paramref name="length"/> holding <paramref name="time"/> (windows are aligned on the Unix epoch).</summary>
    private static DateTimeOffset Align(DateTimeOffset time, TimeSpan length) =>
        DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds() / (long)length.TotalMilliseconds * (long)length.TotalMilliseconds);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Error, Message = "The monitor of deployment {Deployment} failed; it tries again at its next occurrence")]
    private static partial void LogMonitorFailed(ILogger logger, Exception exception, string deployment);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Critical, Message = "The monitor loop stopped; scheduled windows are no longer evaluated")]
    private static partial void LogLoopDied(ILogger logger, Exception exception);
}

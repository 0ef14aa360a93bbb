using System.Globalization;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Cairn.Tracking;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cairn.Client;

/// <summary>
/// A run being logged to, from <see cref="StartAsync"/> over any <see cref="ITrackingStore"/> (the thin client's <see cref="HttpTrackingStore"/>),
/// or from Cairn.Core's <c>CairnClient.StartRun</c>. <see cref="LogMetric"/>, <see cref="LogParam(string, string)"/>,
/// <see cref="SetTag"/> and <see cref="LogInput(DatasetInput)"/> only validate and enqueue (microseconds, no I/O); a background
/// task writes the queue in log-batch calls within MLflow's limits about every 100 ms, or sooner when a batch fills.
/// The queue is bounded (<see cref="RunLoggerOptions.QueueCapacity"/>): when the store cannot keep up, a Log call blocks
/// until there is room, or with <see cref="RunQueueFullMode.Drop"/> returns at once and <see cref="DroppedCount"/> grows.
/// <para>
/// Ending: <see cref="Dispose"/> writes everything still queued, then ends the run FINISHED, or FAILED when it runs
/// because an exception is propagating out of a <c>using</c> block. <c>await using</c> cannot see that exception
/// (the compiler has already caught it when <see cref="DisposeAsync"/> runs), so in async code call <see cref="Fail"/>
/// in a catch, call <see cref="End"/>/<see cref="EndAsync"/> yourself, or use Cairn.Core's <c>CairnClient.RunAsync</c>,
/// which ends the run FAILED (KILLED on cancellation) when the body throws.
/// </para>
/// <para>
/// Errors: a background write that fails is not swallowed: the next call to a Log method, <see cref="Flush"/> or
/// <see cref="Dispose"/> throws it (once). Invalid keys and values are refused at once by the Log method itself.
/// A writer that cannot go on (its store was disposed) stops for good: every later call, and a Log call blocked on a full
/// queue, throws INVALID_STATE naming the cause instead of waiting. What the process-exit hooks cannot throw to anyone goes
/// to <see cref="RunLoggerOptions.LoggerFactory"/>. When the process exits with the run still open, queued data is written and the run is ended
/// (FINISHED on a normal exit, KILLED after Ctrl-C, FAILED on an unhandled exception).
/// </para>
/// Thread-safe: several threads may log to one run.
/// </summary>
public sealed partial class ActiveRun : IDisposable, IAsyncDisposable
{
    private readonly ITrackingStore _store;
    private readonly TimeProvider _time;
    private readonly IRunArtifactWriter? _artifacts;
    private readonly Channel<object> _queue;
    private readonly RunQueueFullMode _fullMode;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _drainLock = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _flushInterval;
    private readonly Task _loop;
    private int _queued;
    private int _wakePending;
    private long _dropped;
    private Exception? _error;
    private Exception? _stopped;
    private RunStatus? _requestedStatus;
    private int _ended;

    private ActiveRun(ITrackingStore store, Run run, RunLoggerOptions options, IRunArtifactWriter? artifacts, TimeProvider time)
    {
        _store = store;
        _time = time;
        _artifacts = artifacts;
        Info = run.Info;
        _queue = CreateQueue(options);
        _fullMode = options.FullMode;
        _logger = options.LoggerFactory?.CreateLogger<ActiveRun>() ?? NullLogger<ActiveRun>.Instance;
        _flushInterval = options.FlushInterval;
        _loop = Task.Run(LoopAsync);
        RunExitHooks.Register(this);
    }

    /// <summary>
    /// Starts logging to <paramref name="run"/>, a run created already (status RUNNING), through <paramref name="store"/>.
    /// <paramref name="artifacts"/> uploads what <see cref="LogArtifact"/> is given; null picks the server's artifact proxy
    /// when <paramref name="store"/> is an <see cref="HttpTrackingStore"/>, and otherwise leaves artifact logging unavailable.
    /// <paramref name="timeProvider"/> stamps metrics and the end time (default: the system clock).
    /// </summary>
    public static ActiveRun Attach(ITrackingStore store, Run run, RunLoggerOptions? options = null, IRunArtifactWriter? artifacts = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(run);
        return new ActiveRun(store, run, options ?? new RunLoggerOptions(),
            artifacts ?? (store is HttpTrackingStore http ? new ProxyArtifactWriter(http) : null), timeProvider ?? TimeProvider.System);
    }

    /// <summary>
    /// Creates a run as <paramref name="request"/> says (its start time defaults to now) and starts logging to it; see
    /// <see cref="Attach"/>. This is how an application that references only the thin client logs a run to a server:
    /// <c>await using var run = await ActiveRun.StartAsync(new HttpTrackingStore(uri), new CreateRunRequest(experimentId));</c>.
    /// </summary>
    public static async Task<ActiveRun> StartAsync(ITrackingStore store, CreateRunRequest request, RunLoggerOptions? options = null,
        IRunArtifactWriter? artifacts = null, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(request);
        var time = timeProvider ?? TimeProvider.System;
        if (request.StartTime is null) request = request with { StartTime = time.GetUtcNow().ToUnixTimeMilliseconds() };
        var run = await store.CreateRunAsync(request, cancellationToken).ConfigureAwait(false);
        return Attach(store, run, options, artifacts, time);
    }

    /// <summary>The run's id.</summary>
    public string RunId => Info.RunId;

    /// <summary>The id of the run's experiment.</summary>
    public string ExperimentId => Info.ExperimentId;

    /// <summary>The run as it was when it started (status RUNNING).</summary>
    public RunInfo Info { get; }

    /// <summary>The store this run writes to, for calls the run does not wrap.</summary>
    public ITrackingStore Store => _store;

    /// <summary>True once the run has been ended.</summary>
    public bool IsEnded => Volatile.Read(ref _ended) != 0;

    /// <summary>Items queued and not yet taken by the writer; never more than <see cref="RunLoggerOptions.QueueCapacity"/>.</summary>
    public int QueueLength => _queue.Reader.Count;

    /// <summary>Items dropped because the queue was full (<see cref="RunQueueFullMode.Drop"/> only).</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>Queues one metric point. <paramref name="timestamp"/> defaults to now (ms since the epoch).</summary>
    public void LogMetric(string key, double value, long step = 0, long? timestamp = null)
    {
        var metric = new Metric(key, value, timestamp ?? _time.GetUtcNow().ToUnixTimeMilliseconds(), step);
        TrackingValidator.ValidateMetric(metric);
        Enqueue(metric);
    }

    /// <summary>
    /// Queues several metrics (a dictionary, as MLflow's <c>log_metrics</c>) at one step and one timestamp. Every pair is
    /// checked first, so an invalid one refuses the whole call and none is queued.
    /// </summary>
    public void LogMetrics(IEnumerable<KeyValuePair<string, double>> metrics, long step = 0)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var points = metrics.Select(m => new Metric(m.Key, m.Value, now, step)).ToList();
        foreach (var metric in points) TrackingValidator.ValidateMetric(metric);
        foreach (var metric in points) Enqueue(metric);
    }

    /// <summary>
    /// Queues a param. Params are immutable: logging a key again with another value fails as it would in-process
    /// (the error surfaces from a later call), while queued params keep their order so that check means the same.
    /// </summary>
    public void LogParam(string key, string value)
    {
        var param = new Param(key, value);
        TrackingValidator.ValidateParam(param);
        Enqueue(param);
    }

    /// <summary>Queues a param, formatting numbers and other values with the invariant culture.</summary>
    public void LogParam(string key, object value) =>
        LogParam(key, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");

    /// <summary>
    /// Queues several params (a dictionary, as MLflow's <c>log_params</c>), in the order given. Every pair is checked first,
    /// so an invalid one refuses the whole call and none is queued.
    /// </summary>
    public void LogParams(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters.Select(p => new Param(p.Key, p.Value)).ToList();
        foreach (var param in list) TrackingValidator.ValidateParam(param);
        foreach (var param in list) Enqueue(param);
    }

    /// <summary>Queues several params of any type (numbers, booleans, strings), formatted with the invariant culture.</summary>
    public void LogParams(IEnumerable<KeyValuePair<string, object>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        LogParams(parameters.Select(p => KeyValuePair.Create(p.Key, Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? "")));
    }

    /// <summary>Queues a tag; a later value for the same key replaces an earlier one.</summary>
    public void SetTag(string key, string value)
    {
        var tag = new RunTag(key, value);
        TrackingValidator.ValidateTag(tag);
        Enqueue(tag);
    }

    /// <summary>
    /// Queues several tags (a dictionary, as MLflow's <c>set_tags</c>); for a key given twice the later value wins.
    /// Every pair is checked first, so an invalid one refuses the whole call and none is queued.
    /// </summary>
    public void SetTags(IEnumerable<KeyValuePair<string, string>> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var list = tags.Select(t => new RunTag(t.Key, t.Value)).ToList();
        foreach (var tag in list) TrackingValidator.ValidateTag(tag);
        foreach (var tag in list) Enqueue(tag);
    }

    /// <summary>Queues a dataset input, e.g. the training data, tagged with MLflow's <c>mlflow.data.context</c> when <paramref name="context"/> is given.</summary>
    public void LogInput(Dataset dataset, string? context = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        LogInput(new DatasetInput(dataset, context is null ? [] : [new InputTag("mlflow.data.context", context)]));
    }

    /// <summary>Queues a dataset input.</summary>
    public void LogInput(DatasetInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        TrackingValidator.ValidateDatasetInput(input);
        Enqueue(input);
    }

    /// <summary>Writes everything queued so far and throws a pending background error, if any.</summary>
    public void Flush() => Task.Run(() => FlushAsync()).GetAwaiter().GetResult();

    /// <summary>
    /// Writes everything queued before the call and throws a pending background error, if any.
    /// <paramref name="cancellationToken"/> cancels the wait for a write in progress, not a write already started.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfEnded();
        ThrowIfStopped();
        try
        {
            await DrainAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException e)
        {
            Stop(e);
        }
        ThrowIfStopped();
        ThrowIfFailed();
    }

    /// <summary>Marks the run to end FAILED when it is disposed (or ends it now, with <paramref name="endNow"/>).</summary>
    public void Fail(bool endNow = false)
    {
        _requestedStatus = RunStatus.FAILED;
        if (endNow) End(RunStatus.FAILED);
    }

    /// <summary>Writes everything queued and ends the run with <paramref name="status"/>. Later calls do nothing.</summary>
    public void End(RunStatus status = RunStatus.FINISHED) => Task.Run(() => EndAsync(status)).GetAwaiter().GetResult();

    /// <summary>
    /// Writes everything queued and ends the run with <paramref name="status"/>, then throws a pending background error, if any,
    /// or INVALID_STATE when the writer had stopped (the run is still ended if the store allows).
    /// </summary>
    public async Task EndAsync(RunStatus status = RunStatus.FINISHED, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0) return;
        RunExitHooks.Unregister(this);
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false); // never throws: the loop turns its own death into Stop
        // Closed before the last drain, so everything accepted is written and a producer still blocked on a full queue
        // gets ObjectDisposedException instead of waiting for room that would come after the drain, for nothing.
        _queue.Writer.TryComplete();
        if (Volatile.Read(ref _stopped) is null)
        {
            try
            {
                await DrainAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (ObjectDisposedException e)
            {
                Stop(e);
            }
        }
        try
        {
            await _store.UpdateRunAsync(RunId, status, _time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (Volatile.Read(ref _stopped) is { } stopped)
        {
            // The store that stopped the writer usually refuses this too: report the first cause, which says why.
            throw StoppedError(stopped);
        }
        finally
        {
            _stop.Dispose();
        }
        if (DroppedCount > 0) LogDroppedTotal(_logger, RunId, DroppedCount);
        ThrowIfStopped();
        ThrowIfFailed();
    }

    /// <summary>
    /// Writes everything queued and ends the run: FAILED when <see cref="Fail"/> was called or an exception is
    /// propagating out of the <c>using</c> block, FINISHED otherwise. Throws a pending background error, if any.
    /// </summary>
    public void Dispose()
    {
        // Must be read here, synchronously, while the runtime is still unwinding the exception.
        var status = _requestedStatus ?? (Marshal.GetExceptionPointers() != IntPtr.Zero ? RunStatus.FAILED : RunStatus.FINISHED);
        End(status);
    }

    /// <summary>
    /// Writes everything queued and ends the run: FAILED when <see cref="Fail"/> was called, FINISHED otherwise.
    /// An exception leaving an <c>await using</c> block is invisible here; see the class remarks.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        var status = _requestedStatus ?? (Marshal.GetExceptionPointers() != IntPtr.Zero ? RunStatus.FAILED : RunStatus.FINISHED);
        return new ValueTask(EndAsync(status));
    }

    /// <summary>Called from process-exit hooks: write what is queued and end the run, within <paramref name="timeout"/>.</summary>
    internal void EndFromExitHook(RunStatus status, TimeSpan timeout)
    {
        try
        {
            if (!Task.Run(() => EndAsync(status)).Wait(timeout)) LogExitTimeout(_logger, RunId, timeout.TotalSeconds);
        }
#pragma warning disable CA1031 // the process is exiting: nobody is left to throw to, so it goes to the logger
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogExitFailed(_logger, (e as AggregateException)?.InnerException ?? e, RunId);
        }
    }

    /// <summary>Called from the Ctrl-C hook: write what is queued without ending the run.</summary>
    internal void FlushFromExitHook(TimeSpan timeout)
    {
        if (IsEnded) return;
        try
        {
            Task.Run(() => DrainAsync(CancellationToken.None)).Wait(timeout);
        }
#pragma warning disable CA1031 // a Ctrl-C handler has nobody to throw to
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogCancelFlushFailed(_logger, (e as AggregateException)?.InnerException ?? e, RunId);
        }
    }
}

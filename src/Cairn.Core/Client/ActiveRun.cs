using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>
/// A run being logged to, from <see cref="CairnClient.StartRun"/>. <see cref="LogMetric"/>, <see cref="LogParam(string, string)"/>,
/// <see cref="SetTag"/> and <see cref="LogInput(DatasetInput)"/> only validate and enqueue (microseconds, no I/O); a background
/// task writes the queue in log-batch calls within MLflow's limits about every 100 ms, or sooner when a batch fills.
/// <para>
/// Ending: <see cref="Dispose"/> writes everything still queued, then ends the run FINISHED, or FAILED when it runs
/// because an exception is propagating out of a <c>using</c> block. <c>await using</c> cannot see that exception
/// (the compiler has already caught it when <see cref="DisposeAsync"/> runs), so in async code call <see cref="Fail"/>
/// in a catch, call <see cref="End"/>/<see cref="EndAsync"/> yourself, or use <see cref="CairnClient.RunAsync"/>,
/// which ends the run FAILED (KILLED on cancellation) when the body throws.
/// </para>
/// <para>
/// Errors: a background write that fails is not swallowed: the next call to a Log method, <see cref="Flush"/> or
/// <see cref="Dispose"/> throws it (once). Invalid keys and values are refused at once by the Log method itself.
/// When the process exits with the run still open, queued data is written and the run is ended
/// (FINISHED on a normal exit, KILLED after Ctrl-C, FAILED on an unhandled exception).
/// </para>
/// Thread-safe: several threads may log to one run.
/// </summary>
public sealed class ActiveRun : IDisposable, IAsyncDisposable
{
    private readonly ITrackingStore _store;
    private readonly ConcurrentQueue<object> _queue = new();
    private readonly SemaphoreSlim _drainLock = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _flushInterval;
    private readonly Task _loop;
    private int _queued;
    private Exception? _error;
    private RunStatus? _requestedStatus;
    private int _ended;

    internal ActiveRun(ITrackingStore store, Run run, TimeSpan flushInterval)
    {
        _store = store;
        Info = run.Info;
        _flushInterval = flushInterval;
        _loop = Task.Run(LoopAsync);
        RunExitHooks.Register(this);
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

    /// <summary>Queues one metric point. <paramref name="timestamp"/> defaults to now (ms since the epoch).</summary>
    public void LogMetric(string key, double value, long step = 0, long? timestamp = null)
    {
        var metric = new Metric(key, value, timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), step);
        TrackingValidator.ValidateMetric(metric);
        Enqueue(metric);
    }

    /// <summary>Queues several metrics at one step and one timestamp.</summary>
    public void LogMetrics(IEnumerable<KeyValuePair<string, double>> metrics, long step = 0)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var (key, value) in metrics) LogMetric(key, value, step, now);
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

    /// <summary>Queues several params, in the order given.</summary>
    public void LogParams(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var (key, value) in parameters) LogParam(key, value);
    }

    /// <summary>Queues a tag; a later value for the same key replaces an earlier one.</summary>
    public void SetTag(string key, string value)
    {
        var tag = new RunTag(key, value);
        TrackingValidator.ValidateTag(tag);
        Enqueue(tag);
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
        await DrainAsync(cancellationToken).ConfigureAwait(false);
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

    /// <summary>Writes everything queued and ends the run with <paramref name="status"/>, then throws a pending background error, if any.</summary>
    public async Task EndAsync(RunStatus status = RunStatus.FINISHED, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0) return;
        RunExitHooks.Unregister(this);
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await DrainAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await _store.UpdateRunAsync(RunId, status, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _stop.Dispose();
        }
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
            if (!Task.Run(() => EndAsync(status)).Wait(timeout))
                Console.Error.WriteLine($"cairn: run {RunId} could not be ended within {timeout.TotalSeconds:0} s of process exit; queued data may be lost.");
        }
        catch (Exception e)
        {
            // The process is exiting: nobody is left to throw to, so say it on stderr.
            Console.Error.WriteLine($"cairn: ending run {RunId} at process exit failed: {(e as AggregateException)?.InnerException?.Message ?? e.Message}");
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
        catch (Exception e)
        {
            Console.Error.WriteLine($"cairn: flushing run {RunId} on Ctrl-C failed: {(e as AggregateException)?.InnerException?.Message ?? e.Message}");
        }
    }

    private void Enqueue(object item)
    {
        ThrowIfEnded();
        ThrowIfFailed();
        _queue.Enqueue(item);
        // Wake the writer early when a full batch is waiting, rather than at the next tick.
        if (Interlocked.Increment(ref _queued) % TrackingLimits.MaxMetricsPerBatch == 0) _wake.Release();
    }

    private void ThrowIfEnded() => ObjectDisposedException.ThrowIf(IsEnded, this);

    private void ThrowIfFailed()
    {
        if (Interlocked.Exchange(ref _error, null) is { } error) ExceptionDispatchInfo.Throw(error);
    }

    private void RecordError(Exception error) => Interlocked.CompareExchange(ref _error, error, null);

    private async Task LoopAsync()
    {
        var stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(_flushInterval, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (!_queue.IsEmpty) await DrainAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Writes the queue until it is empty. One drain at a time, so batches keep the order of the calls.</summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        await _drainLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var batch = new BatchBuilder();
            var inputs = new List<DatasetInput>();
            while (_queue.TryDequeue(out var item))
            {
                if (item is DatasetInput input)
                {
                    if (!batch.IsEmpty) await SendAsync(batch.Take()).ConfigureAwait(false);
                    inputs.Add(input);
                    continue;
                }
                if (inputs.Count > 0) await SendInputsAsync(Take(inputs)).ConfigureAwait(false);
                if (!batch.CanAdd(item)) await SendAsync(batch.Take()).ConfigureAwait(false);
                batch.Add(item);
            }
            if (!batch.IsEmpty) await SendAsync(batch.Take()).ConfigureAwait(false);
            if (inputs.Count > 0) await SendInputsAsync(Take(inputs)).ConfigureAwait(false);
        }
        finally
        {
            _drainLock.Release();
        }
    }

    private static List<T> Take<T>(List<T> list)
    {
        var copy = list.ToList();
        list.Clear();
        return copy;
    }

    private async Task SendAsync(Batch batch)
    {
        try
        {
            await _store.LogBatchAsync(RunId, batch.Metrics, batch.Params, batch.Tags).ConfigureAwait(false);
        }
        catch (InvalidParameterValueException) when (batch.Params.Count > 0 && batch.Count > 1)
        {
            // Most likely one param changing a stored value. A batch is all-or-nothing, so resend it in pieces:
            // the metrics and tags that came with the bad param are kept, and each param fails or passes alone.
            await TrySendAsync(batch.Metrics, [], []).ConfigureAwait(false);
            foreach (var param in batch.Params) await TrySendAsync([], [param], []).ConfigureAwait(false);
            await TrySendAsync([], [], batch.Tags).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            RecordError(e);
        }
    }

    private async Task TrySendAsync(List<Metric> metrics, List<Param> parameters, List<RunTag> tags)
    {
        if (metrics.Count + parameters.Count + tags.Count == 0) return;
        try
        {
            await _store.LogBatchAsync(RunId, metrics, parameters, tags).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            RecordError(e);
        }
    }

    private async Task SendInputsAsync(List<DatasetInput> inputs)
    {
        try
        {
            await _store.LogInputsAsync(RunId, inputs).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            RecordError(e);
        }
    }

    private sealed record Batch(List<Metric> Metrics, List<Param> Params, List<RunTag> Tags)
    {
        public int Count => Metrics.Count + Params.Count + Tags.Count;
    }

    /// <summary>Fills one log-batch call within MLflow's limits.</summary>
    private sealed class BatchBuilder
    {
        private List<Metric> _metrics = [];
        private List<Param> _params = [];
        private List<RunTag> _tags = [];
        private readonly Dictionary<string, string> _paramValues = new(StringComparer.Ordinal);

        public bool IsEmpty => _metrics.Count + _params.Count + _tags.Count == 0;

        public bool CanAdd(object item)
        {
            if (_metrics.Count + _params.Count + _tags.Count >= TrackingLimits.MaxEntitiesPerBatch) return false;
            return item switch
            {
                Metric => _metrics.Count < TrackingLimits.MaxMetricsPerBatch,
                // A second value for a key already in this batch goes in the next one, so the store sees the
                // first value stored before the second arrives: the same "changing param values" error as one call at a time.
                Param p => _params.Count < TrackingLimits.MaxParamsPerBatch &&
                           (!_paramValues.TryGetValue(p.Key, out var earlier) || earlier == p.Value),
                RunTag => _tags.Count < TrackingLimits.MaxTagsPerBatch,
                _ => throw new InvalidOperationException($"Unexpected queued item {item.GetType().Name}."),
            };
        }

        public void Add(object item)
        {
            switch (item)
            {
                case Metric m: _metrics.Add(m); break;
                case Param p: _params.Add(p); _paramValues[p.Key] = p.Value; break;
                case RunTag t: _tags.Add(t); break;
            }
        }

        public Batch Take()
        {
            var batch = new Batch(_metrics, _params, _tags);
            _metrics = [];
            _params = [];
            _tags = [];
            _paramValues.Clear();
            return batch;
        }
    }
}

using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>The bounded queue and the background writer behind the Log methods.</summary>
public sealed partial class ActiveRun
{
    private static Channel<object> CreateQueue(RunLoggerOptions options)
    {
        if (options.QueueCapacity < 1)
            throw new InvalidParameterValueException($"RunLoggerOptions.QueueCapacity: must be at least 1 (got {options.QueueCapacity})");
        // Wait mode for the channel itself: Drop is decided in Enqueue, so the dropped item is always the new one
        // (dropping queued items would reorder params, whose first value must reach the store first).
        return Channel.CreateBounded<object>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = false,
            SingleReader = false, // the loop and a caller's Flush take turns under _drainLock
        });
    }

    private void Enqueue(object item)
    {
        ThrowIfEnded();
        ThrowIfStopped();
        ThrowIfFailed();
        if (!_queue.Writer.TryWrite(item))
        {
            // Refused because the queue closed meanwhile (run ended, writer stopped), or because it is full.
            ThrowIfEnded();
            ThrowIfStopped();
            if (_fullMode == RunQueueFullMode.Drop)
            {
                if (Interlocked.Increment(ref _dropped) == 1) LogQueueFullDropping(_logger, RunId, _queue.Reader.Count);
                return;
            }
            // Full: have the writer send now rather than at its next tick, then wait for room.
            Wake();
            try
            {
                _queue.Writer.WriteAsync(item).AsTask().GetAwaiter().GetResult();
            }
            catch (ChannelClosedException)
            {
                // Closed while waiting: the run was ended by another thread, or the writer stopped.
                ThrowIfEnded();
                ThrowIfStopped();
                throw;
            }
        }
        // Wake the writer early when a full batch is waiting, rather than at the next tick.
        if (Interlocked.Increment(ref _queued) % TrackingLimits.MaxMetricsPerBatch == 0) Wake();
    }

    private void Wake()
    {
        // At most one pending wake-up: the semaphore never counts up past one, however many items arrive.
        if (Interlocked.Exchange(ref _wakePending, 1) != 0) return;
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // The loop timed out and cleared the flag while an earlier wake-up was still pending: one is enough.
        }
    }

    private void ThrowIfEnded() => ObjectDisposedException.ThrowIf(IsEnded, this);

    private void ThrowIfFailed()
    {
        if (Interlocked.Exchange(ref _error, null) is { } error) ExceptionDispatchInfo.Throw(error);
    }

    private void ThrowIfStopped()
    {
        if (Volatile.Read(ref _stopped) is { } stopped) throw StoppedError(stopped);
    }

    private CairnException StoppedError(Exception cause) =>
        new(ErrorCode.INVALID_STATE, $"The background logger of run {RunId} stopped ({cause.GetType().Name}: {cause.Message}); what was still queued was not written.", cause);

    private void RecordError(Exception error) => Interlocked.CompareExchange(ref _error, error, null);

    /// <summary>
    /// Stops the writer for good: the queue is closed, so producers blocked on a full queue and every later
    /// Log, Flush or End call throw instead of waiting for a writer that is gone.
    /// </summary>
    private void Stop(Exception cause)
    {
        if (Interlocked.CompareExchange(ref _stopped, cause, null) is not null) return;
        _queue.Writer.TryComplete(cause);
        LogWriterStopped(_logger, cause, RunId);
    }

    private async Task LoopAsync()
    {
        var stop = _stop.Token;
        try
        {
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
                Volatile.Write(ref _wakePending, 0);
                if (_queue.Reader.Count > 0) await DrainAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // a writer that dies must fail its waiters, whatever killed it
        catch (Exception e)
#pragma warning restore CA1031
        {
            Stop(e);
        }
    }

    /// <summary>
    /// Writes the queue until it is empty. One drain at a time, so batches keep the order of the calls. Store errors about
    /// the data are recorded for the next call to throw; a disposed store (nothing can be written any more) escapes.
    /// </summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        await _drainLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var batch = new BatchBuilder();
            var inputs = new List<DatasetInput>();
            while (_queue.Reader.TryRead(out var item))
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
        catch (Exception e) when (e is not ObjectDisposedException)
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
        catch (Exception e) when (e is not ObjectDisposedException)
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
        catch (Exception e) when (e is not ObjectDisposedException)
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

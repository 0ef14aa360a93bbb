using System.Threading.Channels;
using Cairn.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cairn.Serving;

/// <summary>
/// The prediction log: <see cref="TryAppend"/> puts a request's rows on a bounded queue and returns at once; one background
/// writer takes whatever is queued (up to <see cref="PredictionLogOptions.MaxRequestsPerWrite"/>) and writes it in one
/// transaction, so many small requests cost one commit. A full queue drops the new request and counts it (never blocks,
/// never grows). Sampling keeps or skips a request as a whole by the hash of its id, the same way in every process.
/// A failed write loses its rows (counted) and the writer goes on; a writer loop that dies closes the queue, so callers
/// get false at once, and <see cref="Problem"/> says why (readiness shows it). Dispose flushes what is queued.
/// </summary>
public sealed partial class PredictionLog : IPredictionLog, IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(30);

    // Set by the channel's drop callback, which runs on the thread of the TryWrite that dropped the item.
    [ThreadStatic] private static PredictionBatch? t_dropped;

    private readonly IPredictionStore _store;
    private readonly PredictionLogOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<PredictionBatch> _queue;
    private readonly Task _writer;
    private long _dropped;
    private long _sampledOut;
    private long _written;
    private long _failed;
    private long _pending;
    private long _lastPrune;
    private volatile string? _writeProblem;
    private volatile string? _loopProblem;

    internal PredictionLog(IPredictionStore store, PredictionLogOptions? options = null, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        _store = store;
        _options = options ?? new PredictionLogOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _lastPrune = _time.GetTimestamp();
        _queue = Channel.CreateBounded<PredictionBatch>(
            new BoundedChannelOptions(_options.QueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true },
            static dropped => t_dropped = dropped);
        _writer = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>A log over the tracking database of <paramref name="stores"/> (SQLite or PostgreSQL; not over HTTP).</summary>
    public static PredictionLog Open(Storage.CairnStores stores, PredictionLogOptions? options = null, ILogger? logger = null) =>
        new(stores.Predictions ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED,
            "The prediction log is stored in the tracking database; a store over HTTP has none."), options, logger, stores.Database?.TimeProvider);

    /// <inheritdoc/>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Requests left out by sampling.</summary>
    public long SampledOut => Interlocked.Read(ref _sampledOut);

    /// <summary>Rows written to the store.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Rows lost because their write failed.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Why the log is not writing, or null: its writer loop died, or its last write failed (until one succeeds).</summary>
    public string? Problem => _loopProblem ?? _writeProblem;

    /// <summary>Whether the request with this id is logged at <paramref name="rate"/>: the same answer for the same id everywhere.</summary>
    public static bool IsSampled(string requestId, double rate)
    {
        if (rate >= 1) return true;
        if (rate <= 0) return false;
        // FNV-1a over the id, then a splitmix finish so nearby ids spread; the top 53 bits as a fraction of 1.
        var hash = 14695981039346656037UL;
        foreach (var c in requestId) { hash ^= c; hash *= 1099511628211UL; }
        hash ^= hash >> 30; hash *= 0xbf58476d1ce4e5b9UL;
        hash ^= hash >> 27; hash *= 0x94d049bb133111ebUL;
        hash ^= hash >> 31;
        return (hash >> 11) * (1.0 / (1UL << 53)) < rate;
    }

    /// <inheritdoc/>
    public bool TryAppend(PredictionBatch batch)
    {
        Storage.SqlPredictionStore.Validate(batch);
        if (!IsSampled(batch.RequestId, batch.SampleRate ?? _options.SampleRate))
        {
            Interlocked.Increment(ref _sampledOut);
            return false;
        }
        t_dropped = null;
        Interlocked.Increment(ref _pending);
        if (_queue.Writer.TryWrite(batch) && !ReferenceEquals(t_dropped, batch)) return true;
        t_dropped = null;
        Interlocked.Decrement(ref _pending);
        Interlocked.Increment(ref _dropped);
        CairnTelemetry.PredictionLogDropped.Add(1);
        return false;
    }

    /// <summary>Waits until every request queued before the call is written (or failed).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        while (Interlocked.Read(ref _pending) > 0 && !_writer.IsCompleted)
            await Task.Delay(2, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes rows beyond the configured retention now; returns the rows deleted (0 without a retention).</summary>
    public Task<long> PruneAsync(CancellationToken cancellationToken = default) =>
        _options.MaxAge is null && _options.MaxRows is null
            ? Task.FromResult(0L)
            : _store.PruneAsync(_options.MaxAge is { } age ? _time.GetUtcNow() - age : null, _options.MaxRows, cancellationToken);

    private async Task RunAsync()
    {
        var group = new List<PredictionBatch>(_options.MaxRequestsPerWrite);
        try
        {
            var reader = _queue.Reader;
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                group.Clear();
                var rows = 0L;
                while (group.Count < _options.MaxRequestsPerWrite && rows < _options.MaxRowsPerWrite && reader.TryPeek(out var next)
                       && (group.Count == 0 || rows + next.Rows <= _options.MaxRowsPerWrite)
                       && reader.TryRead(out var batch))
                {
                    group.Add(batch);
                    rows += batch.Rows;
                }
                await WriteAsync(group, rows).ConfigureAwait(false);
                await PruneWhenDueAsync().ConfigureAwait(false);
                Interlocked.Add(ref _pending, -group.Count);
                group.Clear();
            }
        }
        catch (Exception e)
        {
            // Not a failed write (those are caught below): the loop itself. Close the queue so callers are refused at once.
            _loopProblem = "the prediction log's writer stopped: " + e.Message;
            _queue.Writer.TryComplete(e);
            Interlocked.Add(ref _pending, -group.Count);
            while (_queue.Reader.TryRead(out _)) Interlocked.Decrement(ref _pending);
            LogWriterStopped(_logger, e);
        }
    }

    private async Task WriteAsync(List<PredictionBatch> group, long rows)
    {
        try
        {
            await _store.AppendAsync(group, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Add(ref _written, rows);
            CairnTelemetry.PredictionLogWritten.Add(rows);
            _writeProblem = null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Add(ref _failed, rows);
            CairnTelemetry.PredictionLogFailed.Add(rows);
            _writeProblem = "the prediction log's last write failed: " + e.Message;
            LogWriteFailed(_logger, e, group.Count, rows);
        }
    }

    private async Task PruneWhenDueAsync()
    {
        if (_options.MaxAge is null && _options.MaxRows is null) return;
        if (_time.GetElapsedTime(_lastPrune) < _options.PruneInterval) return;
        _lastPrune = _time.GetTimestamp();
        try
        {
            await PruneAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogPruneFailed(_logger, e);
        }
    }

    /// <summary>Takes no more requests, writes what is queued (waiting up to 30 s) and stops the writer.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.WaitAsync(DisposeTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>For tests: the writer loop's task.</summary>
    internal Task Writer => _writer;

    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "The prediction log's writer stopped; new predictions are dropped until restart.")]
    private static partial void LogWriterStopped(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "A prediction log write of {Requests} requests ({Rows} rows) failed; the rows are lost.")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int requests, long rows);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Pruning the prediction log failed; it is tried again at the next interval.")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}

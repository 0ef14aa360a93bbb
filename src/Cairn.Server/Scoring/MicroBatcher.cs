using System.Diagnostics;
using Cairn.ML.Models;

namespace Cairn.Server.Scoring;

/// <summary>
/// Scores small concurrent requests of one model together: requests queue, and one drain at a time takes up to
/// <c>maxRows</c> rows of them (at least one request), scores them as one batch and hands each request its own rows.
/// Adaptive: with no wait, a batch is whatever arrived while the previous one was scored, so an idle server adds no
/// latency and a busy one scores in larger batches; a wait holds a batch open up to that long for more rows (spun, then
/// slept in 1 ms steps). The queue is bounded (a full queue refuses with TEMPORARILY_UNAVAILABLE); a failed batch fails
/// exactly its own requests, and a request cancelled while it waits is dropped from the queue.
/// </summary>
internal sealed class MicroBatcher
{
    private readonly Func<ColumnBatch, ColumnBatch> _predict;
    private readonly int _maxRows;
    private readonly long _waitTicks;
    private readonly int _queueLimit;
    private readonly Lock _gate = new();
    private readonly Queue<Waiter> _queue = new();
    private int _queuedRows;
    private bool _draining;

    /// <param name="predict">Scores one batch (the served model's predictor).</param>
    /// <param name="maxRows">Most rows in one batch.</param>
    /// <param name="wait">How long a batch is held open for more rows; zero takes what has queued.</param>
    /// <param name="queueLimit">Most requests waiting; past it requests are refused.</param>
    public MicroBatcher(Func<ColumnBatch, ColumnBatch> predict, int maxRows, TimeSpan wait, int queueLimit)
    {
        ArgumentNullException.ThrowIfNull(predict);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueLimit, 1);
        _predict = predict;
        _maxRows = maxRows;
        _waitTicks = (long)(wait.TotalSeconds * Stopwatch.Frequency);
        _queueLimit = queueLimit;
    }

    /// <summary>Requests waiting now (for tests and metrics).</summary>
    public int Queued
    {
        get
        {
            lock (_gate) return _queue.Count;
        }
    }

    /// <summary>
    /// Scores <paramref name="input"/> within a batch of concurrent requests and returns its rows of the answer. A full
    /// queue throws <see cref="CairnException"/> (TEMPORARILY_UNAVAILABLE); the batch's failure is this request's failure.
    /// </summary>
    public Task<ColumnBatch> ScoreAsync(ColumnBatch input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        cancellationToken.ThrowIfCancellationRequested();
        var waiter = new Waiter(input, Stopwatch.GetTimestamp(), cancellationToken);
        bool start;
        lock (_gate)
        {
            if (_queue.Count >= _queueLimit)
                throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
                    $"The scoring queue is full ({_queueLimit} requests waiting for a micro-batch, --micro-batch-queue); retry shortly.");
            _queue.Enqueue(waiter);
            _queuedRows += Math.Max(input.RowCount, 0);
            start = !_draining;
            _draining = true;
        }
        if (start) ThreadPool.UnsafeQueueUserWorkItem(static batcher => batcher.Drain(), this, preferLocal: false);
        return waiter.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Takes and scores batches until the queue is empty; only one drain runs at a time.</summary>
    private void Drain()
    {
        while (true)
        {
            List<Waiter> batch;
            try
            {
                HoldOpen();
                lock (_gate)
                {
                    batch = Take();
                    if (batch.Count == 0)
                    {
                        _draining = false;
                        return;
                    }
                }
            }
            catch (Exception e)
            {
                // Nothing above should throw; if it does, every waiter is failed rather than left hanging.
                FailAll(e);
                return;
            }
            Run(batch);
        }
    }

    /// <summary>With a wait set, lets rows gather until the batch is full or the oldest request has waited that long.</summary>
    private void HoldOpen()
    {
        if (_waitTicks <= 0) return;
        long oldest;
        lock (_gate)
        {
            if (_queue.Count == 0) return;
            oldest = _queue.Peek().Queued;
        }
        var spinner = new SpinWait();
        while (Volatile.Read(ref _queuedRows) < _maxRows && Stopwatch.GetTimestamp() - oldest < _waitTicks) spinner.SpinOnce();
    }

    /// <summary>Dequeues up to the row bound (at least one request), dropping requests whose caller has gone. Under the lock.</summary>
    private List<Waiter> Take()
    {
        var batch = new List<Waiter>();
        var rows = 0;
        while (_queue.TryPeek(out var next))
        {
            var size = Math.Max(next.Input.RowCount, 0);
            if (batch.Count > 0 && rows + size > _maxRows) break;
            _queue.Dequeue();
            _queuedRows -= size;
            if (next.Cancellation.IsCancellationRequested)
            {
                next.Completion.TrySetCanceled(next.Cancellation);
                continue;
            }
            batch.Add(next);
            rows += size;
        }
        return batch;
    }

    /// <summary>Scores one batch and completes each of its waiters, with its rows or with the batch's failure.</summary>
    private void Run(List<Waiter> batch)
    {
        try
        {
            if (batch.Count == 1)
            {
                batch[0].Completion.TrySetResult(Checked(_predict(batch[0].Input), batch[0].Input.RowCount));
                return;
            }
            if (Merge(batch) is not { } merged)
            {
                // Requests with different columns (a dataframe with extra columns beside a tensor request) are scored apart.
                foreach (var waiter in batch) Run([waiter]);
                return;
            }
            var output = Checked(_predict(merged), merged.RowCount);
            var offset = 0;
            foreach (var waiter in batch)
            {
                var rows = waiter.Input.RowCount;
                waiter.Completion.TrySetResult(Slice(output, offset, rows));
                offset += rows;
            }
        }
        catch (Exception e)
        {
            foreach (var waiter in batch) waiter.Completion.TrySetException(e);
        }
    }

    private static ColumnBatch Checked(ColumnBatch output, int rows) =>
        output.RowCount != rows && output.ColumnCount > 0 ? throw new InvalidOperationException($"The model answered {output.RowCount} rows for {rows}.") : output;

    /// <summary>The requests' rows one after another, or null when they do not have the same columns of the same types in the same order.</summary>
    private static ColumnBatch? Merge(List<Waiter> batch)
    {
        var first = batch[0].Input;
        var columns = first.ToList();
        var total = 0;
        foreach (var waiter in batch)
        {
            if (waiter.Input.ColumnCount != columns.Count) return null;
            var i = 0;
            foreach (var (name, values) in waiter.Input)
            {
                if (name != columns[i].Key || values.GetType() != columns[i].Value.GetType()) return null;
                i++;
            }
            total += waiter.Input.RowCount;
        }
        var merged = new ColumnBatch();
        foreach (var (name, sample) in columns)
        {
            var values = Array.CreateInstance(sample.GetType().GetElementType()!, total);
            var offset = 0;
            foreach (var waiter in batch)
            {
                var part = waiter.Input[name];
                Array.Copy(part, 0, values, offset, part.Length);
                offset += part.Length;
            }
            merged.Add(name, values);
        }
        return merged;
    }

    private static ColumnBatch Slice(ColumnBatch output, int offset, int rows)
    {
        var slice = new ColumnBatch();
        foreach (var (name, values) in output)
        {
            var part = Array.CreateInstance(values.GetType().GetElementType()!, rows);
            Array.Copy(values, offset, part, 0, rows);
            slice.Add(name, part);
        }
        return slice;
    }

    private void FailAll(Exception e)
    {
        lock (_gate)
        {
            while (_queue.TryDequeue(out var waiter)) waiter.Completion.TrySetException(e);
            _queuedRows = 0;
            _draining = false;
        }
    }

    private sealed class Waiter(ColumnBatch input, long queued, CancellationToken cancellation)
    {
        public ColumnBatch Input { get; } = input;

        public long Queued { get; } = queued;

        public CancellationToken Cancellation { get; } = cancellation;

        // Continuations run on the pool, not on the drain, so the next batch is not held up by answers being written.
        public TaskCompletionSource<ColumnBatch> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

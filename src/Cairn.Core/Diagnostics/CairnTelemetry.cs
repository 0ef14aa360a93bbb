using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Cairn.Diagnostics;

/// <summary>
/// Cairn's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named <c>Cairn</c>, and the instruments on it.
/// Hosts subscribe by that name (OpenTelemetry's <c>AddSource("Cairn")</c> / <c>AddMeter("Cairn")</c>); nothing is
/// recorded anywhere until a listener is attached, so the stores pay next to nothing without one.
/// </summary>
public static class CairnTelemetry
{
    /// <summary>The name of the activity source and of the meter.</summary>
    public const string Name = "Cairn";

    /// <summary>Traces of store operations and other work worth a span.</summary>
    public static readonly ActivitySource ActivitySource = new(Name, typeof(CairnTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>The meter every Cairn instrument hangs on.</summary>
    public static readonly Meter Meter = new(Name, typeof(CairnTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>Tag naming a store operation (the store method, e.g. <c>LogBatch</c>).</summary>
    public const string OperationTag = "cairn.store.operation";

    /// <summary>Tag with the exception type of a failed operation (OpenTelemetry's <c>error.type</c>).</summary>
    public const string ErrorTypeTag = "error.type";

    /// <summary>Duration of one store operation, by <see cref="OperationTag"/> (its count is the histogram's count).</summary>
    public static readonly Histogram<double> StoreOperationDuration = Meter.CreateHistogram<double>(
        "cairn.store.operation.duration", "s", "Duration of tracking and registry store operations.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    /// <summary>Writes waiting in the SQLite writer's queue (rises on enqueue, falls when a group takes them).</summary>
    public static readonly UpDownCounter<long> SqliteWriterQueueDepth = Meter.CreateUpDownCounter<long>(
        "cairn.sqlite.writer.queue.depth", "{write}", "Writes queued for the SQLite writer and not yet taken into a transaction.");

    /// <summary>Faults of the SQLite writer's loop (each takes the writer down until it restarts).</summary>
    public static readonly Counter<long> SqliteWriterFaults = Meter.CreateCounter<long>(
        "cairn.sqlite.writer.faults", "{fault}", "Faults of the SQLite writer outside any one write; each fails the waiting writes and restarts the writer.");

    /// <summary>Writes committed together in one SQLite transaction (group commit).</summary>
    public static readonly Histogram<int> SqliteWriterBatchSize = Meter.CreateHistogram<int>(
        "cairn.sqlite.writer.batch.size", "{write}", "Writes group-committed in one SQLite transaction.",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });

    /// <summary>Time from BEGIN to COMMIT of one SQLite write group.</summary>
    public static readonly Histogram<double> SqliteWriterCommitDuration = Meter.CreateHistogram<double>(
        "cairn.sqlite.writer.commit.duration", "s", "Duration of one SQLite group transaction, BEGIN to COMMIT.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });

    /// <summary>Scoring requests the prediction log dropped because its queue was full (or it was closed or down).</summary>
    public static readonly Counter<long> PredictionLogDropped = Meter.CreateCounter<long>(
        "cairn.prediction_log.dropped", "{request}", "Scoring requests the prediction log dropped because its queue was full, closed or down.");

    /// <summary>Scored rows the prediction log wrote to its store.</summary>
    public static readonly Counter<long> PredictionLogWritten = Meter.CreateCounter<long>(
        "cairn.prediction_log.written", "{row}", "Scored rows the prediction log wrote to its store.");

    /// <summary>Scored rows lost because the prediction log's write failed.</summary>
    public static readonly Counter<long> PredictionLogFailed = Meter.CreateCounter<long>(
        "cairn.prediction_log.failed", "{row}", "Scored rows lost because a prediction log write failed.");
}

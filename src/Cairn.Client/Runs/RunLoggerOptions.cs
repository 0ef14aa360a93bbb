using Microsoft.Extensions.Logging;

namespace Cairn.Client;

/// <summary>What <see cref="ActiveRun"/>'s Log methods do when its queue is full.</summary>
public enum RunQueueFullMode
{
    /// <summary>The Log call blocks until the background writer has made room (nothing is lost). The default.</summary>
    Wait,
    /// <summary>The Log call returns at once without queuing; <see cref="ActiveRun.DroppedCount"/> counts what was dropped.</summary>
    Drop,
}

/// <summary>Settings of the background logger of each <see cref="ActiveRun"/> (Cairn.Core's <c>CairnClientOptions.RunLogger</c>).</summary>
public sealed class RunLoggerOptions
{
    /// <summary>How often the background logger writes its queue (it also writes as soon as a batch is full).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Items (metrics, params, tags, inputs) a run queues at most before <see cref="FullMode"/> applies; at least 1.
    /// Bounds the memory a producer faster than the store can take (about 100 bytes per metric).
    /// </summary>
    public int QueueCapacity { get; set; } = 100_000;

    /// <summary>Block (default) or drop when the queue is full.</summary>
    public RunQueueFullMode FullMode { get; set; } = RunQueueFullMode.Wait;

    /// <summary>
    /// Receives what the logger cannot throw to anyone: data dropped on a full queue, a run that could not be ended at
    /// process exit, a logger stopped by its store. Null (the default) logs nothing.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}

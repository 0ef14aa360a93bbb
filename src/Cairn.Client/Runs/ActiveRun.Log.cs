using Microsoft.Extensions.Logging;

namespace Cairn.Client;

/// <summary>What a run's logger reports through <see cref="RunLoggerOptions.LoggerFactory"/> (stable event ids 3001-3006).</summary>
public sealed partial class ActiveRun
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Run {RunId} could not be ended within {Seconds} s of process exit; queued data may be lost")]
    private static partial void LogExitTimeout(ILogger logger, string runId, double seconds);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "Ending run {RunId} at process exit failed")]
    private static partial void LogExitFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Flushing run {RunId} on Ctrl-C failed")]
    private static partial void LogCancelFlushFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "The queue of run {RunId} is full ({Queued} items); new items are dropped until it drains")]
    private static partial void LogQueueFullDropping(ILogger logger, string runId, int queued);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Run {RunId} ended with {Dropped} logged items dropped on a full queue")]
    private static partial void LogDroppedTotal(ILogger logger, string runId, long dropped);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Error, Message = "The background logger of run {RunId} stopped; queued data is not written")]
    private static partial void LogWriterStopped(ILogger logger, Exception exception, string runId);
}

using Microsoft.Extensions.Logging;

namespace Cairn.Monitoring.Alerts;

/// <summary>The alert engine's and actions' log lines (event ids 4100-4199). Secrets never appear in them.</summary>
internal static partial class AlertLog
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning,
        Message = "Alert {Rule} fired on deployment {Deployment} ({Model}): {Condition} held in window {WindowStart:o}..{WindowEnd:o}; incident {IncidentId}; values {Values}")]
    public static partial void Fired(ILogger logger, string rule, string deployment, string model, string condition,
        DateTimeOffset windowStart, DateTimeOffset windowEnd, long incidentId, string values);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Alert {Rule} resolved on deployment {Deployment}: incident {IncidentId}")]
    public static partial void Resolved(ILogger logger, string rule, string deployment, long incidentId);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Error, Message = "Alert rule {Rule} could not be evaluated on a window of deployment {Deployment}")]
    public static partial void RuleFailed(ILogger logger, Exception exception, string rule, string deployment);

    [LoggerMessage(EventId = 4110, Level = LogLevel.Information, Message = "Webhook of alert {Rule} (incident {IncidentId}) to {Url}: {Status}")]
    public static partial void WebhookDone(ILogger logger, string rule, long incidentId, string url, string status);

    [LoggerMessage(EventId = 4111, Level = LogLevel.Warning, Message = "Webhook of alert {Rule} (incident {IncidentId}) to {Url} failed: {Status}")]
    public static partial void WebhookFailed(ILogger logger, string rule, long incidentId, string url, string status);

    [LoggerMessage(EventId = 4112, Level = LogLevel.Warning, Message = "Webhook of alert {Rule} (incident {IncidentId}) dropped: its queue of {Capacity} is full")]
    public static partial void WebhookDropped(ILogger logger, string rule, long incidentId, int capacity);

    [LoggerMessage(EventId = 4120, Level = LogLevel.Information, Message = "Retrain of alert {Rule} (incident {IncidentId}) started: stage {Stage} in {Folder}")]
    public static partial void RetrainStarted(ILogger logger, string rule, long incidentId, string stage, string folder);

    [LoggerMessage(EventId = 4121, Level = LogLevel.Information, Message = "Retrain of alert {Rule} (incident {IncidentId}): {Status}, pipeline run {RunId}")]
    public static partial void RetrainDone(ILogger logger, string rule, long incidentId, string status, string? runId);

    [LoggerMessage(EventId = 4122, Level = LogLevel.Warning, Message = "Retrain of alert {Rule} (incident {IncidentId}) failed: {Message}")]
    public static partial void RetrainFailed(ILogger logger, string rule, long incidentId, string message);

    [LoggerMessage(EventId = 4123, Level = LogLevel.Information, Message = "Retrain of alert {Rule} (incident {IncidentId}) skipped: a retrain of the rule is still running")]
    public static partial void RetrainSkipped(ILogger logger, string rule, long incidentId);

    [LoggerMessage(EventId = 4130, Level = LogLevel.Warning, Message = "Recording the outcome of an action of incident {IncidentId} failed")]
    public static partial void RecordFailed(ILogger logger, Exception exception, long incidentId);
}

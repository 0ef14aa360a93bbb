using System.Text.Json.Serialization;

namespace Cairn.Monitoring.Alerts;

/// <summary>An incident on the wire (REST, webhook, <c>cairn alerts list --json</c>); times in Unix milliseconds.</summary>
internal sealed class AlertIncidentMessage
{
    public long IncidentId { get; set; }
    public string Rule { get; set; } = "";
    public string Deployment { get; set; } = "";
    public string? ModelName { get; set; }
    public string? ModelVersion { get; set; }
    public string Condition { get; set; } = "";
    public string Status { get; set; } = "";
    public long OpenedTime { get; set; }
    public long? ResolvedTime { get; set; }
    public long WindowStartTime { get; set; }
    public long WindowEndTime { get; set; }
    public long LastWindowEndTime { get; set; }
    public int Windows { get; set; }

    /// <summary>The condition's signals in the opening window; null for a signal the window did not have.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public Dictionary<string, double?> Values { get; set; } = [];

    public string? WebhookStatus { get; set; }
    public string? RetrainStatus { get; set; }
    public string? RetrainRunId { get; set; }
    public string? RetrainMessage { get; set; }
}

/// <summary>The answer of GET /api/cairn/v1/monitoring/alerts.</summary>
internal sealed class AlertIncidentsResponse
{
    public List<AlertIncidentMessage>? Incidents { get; set; }
}

/// <summary>The body a webhook action POSTs when an incident opens.</summary>
internal sealed class AlertWebhookPayload
{
    /// <summary>What happened: <c>incident_opened</c>.</summary>
    public string Event { get; set; } = "incident_opened";

    public AlertIncidentMessage? Incident { get; set; }
}

/// <summary>Domain to wire.</summary>
internal static class AlertWire
{
    public static AlertIncidentMessage ToWire(this AlertIncident i) => new()
    {
        IncidentId = i.Id,
        Rule = i.Rule,
        Deployment = i.Deployment,
        ModelName = i.ModelName,
        ModelVersion = i.ModelVersion,
        Condition = i.Condition,
        Status = i.Status,
        OpenedTime = i.OpenedAt.ToUnixTimeMilliseconds(),
        ResolvedTime = i.ResolvedAt?.ToUnixTimeMilliseconds(),
        WindowStartTime = i.WindowStart.ToUnixTimeMilliseconds(),
        WindowEndTime = i.WindowEnd.ToUnixTimeMilliseconds(),
        LastWindowEndTime = i.LastWindowEnd.ToUnixTimeMilliseconds(),
        Windows = i.Windows,
        Values = new Dictionary<string, double?>(i.Values, StringComparer.Ordinal),
        WebhookStatus = i.WebhookStatus,
        RetrainStatus = i.RetrainStatus,
        RetrainRunId = i.RetrainRunId,
        RetrainMessage = i.RetrainMessage,
    };
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    // A statistic can be infinite (a Wasserstein distance of values near 1e308); it travels as "Infinity" as MLflow's numbers do.
    NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(AlertIncidentsResponse))]
[JsonSerializable(typeof(AlertWebhookPayload))]
[JsonSerializable(typeof(Dictionary<string, double?>))]
internal sealed partial class AlertJson : JsonSerializerContext;
